import MeshAgentCore
import MeshCore

extension Agent {
    /// Re-arms the one timer for ``nextDeadline(now:)`` when that is earlier than the wake
    /// already scheduled (a later deadline just finds nothing due and re-arms).
    func scheduleWake() {
        guard !stopping else { return }
        let now = clock.now
        // Never sooner than a millisecond: something reported due that nothing takes would
        // otherwise spin.
        let deadline = max(nextDeadline(now: now), now + AgentTiming.shortestWake)
        guard deadline < scheduledWake || wakeTask == nil, deadline < .distantFuture else { return }
        scheduledWake = deadline
        wakeTask?.cancel()
        let instant = clock.instant(of: deadline)
        wakeTask = Task { [weak self] in
            try? await Task.sleep(until: instant, clock: .continuous)
            guard !Task.isCancelled else { return }
            await self?.wake()
        }
    }

    /// When the agent next has something to do if no event comes first: a waiting control
    /// request's deadline, the protocol core's timers, a join's retry, the path timers, first handshakes, device reads and reconciles
    /// (unless a device turn is already coming), the periodic chores, a settling address change,
    /// the member snapshot and the certificate's renewal.
    func nextDeadline(now: Timestamp) -> Timestamp {
        var next = min(joining?.nextDeadline ?? .distantFuture, stateWaiters.nextDeadline)
        guard let node else { return next }
        next = min(next, node.nextDeadline, pathCore.paths.nextDeadline(after: now), chores.nextDeadline)
        if !deviceTurnPending { next = min(next, deviceWorkDeadline(now: now)) }
        if pendingLocalAddresses != nil { next = min(next, lastAddressPoll + AgentTiming.addressSettleInterval) }
        if snapshotDirty { next = min(next, snapshotDue) }
        if let certificate = enrollment?.certificate { next = min(next, renewal.nextDeadline(for: certificate, now: now)) }
        return next
    }

    /// The timer fired: everything due runs.
    private func wake() {
        scheduledWake = .distantFuture
        wakeTask = nil
        let now = clock.now
        if joining != nil { joinTick(now: now) }
        if let node {
            if now >= node.nextDeadline { node.tick(now: now) }
            runDueTimers(node: node, now: now)
        }
        drain()
    }

    private func runDueTimers(node: MeshNode, now: Timestamp) {
        if pendingLocalAddresses != nil, now - lastAddressPoll >= AgentTiming.addressSettleInterval { pollLocalAddresses(now: now) }
        for chore in chores.takeDue(now: now) {
            switch chore {
            case .relayReachability:
                let relays = reachableRelays()
                if PathCore.shouldAnnounceRelays(relays, announced: announcedRelays, sinceLastAnnouncement: now - lastRelayAnnouncement) {
                    lastRelayAnnouncement = now
                    announcedRelays = relays
                    announceIfChanged()
                }
            case .relayExpiry:
                for pair in relay?.expire(now: now) ?? [] {
                    logger.info("relay lease expired", metadata: ["pair": "\(memberName(pair.low))↔\(memberName(pair.high))"])
                }
            case .heapTrim:
                HeapTrim.release()
            }
        }
        apply(pathCore.tick(node: node, sessions: deviceSessions, now: now), now: now)
        renewCertificateIfDue(now: now)
        saveSnapshot(force: false)
        if !deviceTurnPending, deviceWorkDeadline(now: now) <= now { askForDeviceTurn() }
    }
}
