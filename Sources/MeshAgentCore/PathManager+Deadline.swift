import MeshCore

extension PathManager {
    /// The earliest time after `now` at which ``tick(now:relayCandidates:name:)`` may have something
    /// to do, if no event (a probe answer, a grant, a device read) comes first; `distantFuture` when
    /// nothing is scheduled. The shell sleeps until then instead of ticking on a fixed period: every
    /// condition the tick tests against the clock contributes the moment it turns true.
    ///
    /// Computed after a tick at `now` (or after an event): a probe that is due but was not sent
    /// waits for a probe token, so it contributes the moment the next token is there.
    package func nextDeadline(after now: Timestamp) -> Timestamp {
        var next = Timestamp.distantFuture
        var probeWaiting = false
        func consider(_ time: Timestamp) {
            if time > now, time < next { next = time }
        }
        func probe(dueAt time: Timestamp) {
            if time <= now { probeWaiting = true } else { consider(time) }
        }
        for path in peers.values where path.needsTick(now: now, activityWindow: settings.activityWindow) {
            let active = now - path.lastActivity < settings.activityWindow
            consider(path.lastActivity + settings.activityWindow)
            if let pending = path.pending { consider(pending.sentAt + settings.requestTimeout) }
            for until in path.failedRelays.values { consider(until) }
            if let hint = path.hint {
                consider(hint.receivedAt + settings.hintLifetime)
                if let since = path.unansweredSince { consider(since + settings.hintDoubt) }
            }
            switch path.route {
            case .direct, .unreachable:
                guard active else { break }
                for time in relayLegProbeTimes(path) { consider(time) }
                if path.route == .direct, path.unansweredSince == nil, !path.sendingWithoutAnswer, path.hint == nil { break }
                probe(dueAt: path.directProbeSentAt + settings.probeInterval)
                let timeout = failureTimeout(loss: path.directLoss)
                if let since = path.unansweredSince { consider(since + timeout) }
                consider(path.lastReceived + timeout)
            case .relayed:
                if active, path.relayUnansweredSince != nil || path.sendingThroughRelayWithoutAnswer {
                    probe(dueAt: path.relayProbeSentAt + settings.probeInterval)
                }
                if active, let since = path.relayUnansweredSince { consider(since + settings.failureTimeout) }
                probe(dueAt: max(path.nextDirectRetry, path.directProbeSentAt + settings.healProbeInterval))
                if active { consider(path.lastRefresh + settings.refreshInterval) }
                if let since = path.relayedSince { consider(since + settings.activityWindow) }
            }
        }
        if let oldest = outstanding.values.lazy.map(\.sentAt).min() { consider(oldest + settings.probeLossJudgedAfter) }
        if probeWaiting { next = min(next, nextProbeToken(after: now)) }
        return next
    }

    /// When a probe token is next available (`now` when one is).
    private func nextProbeToken(after now: Timestamp) -> Timestamp {
        guard let bucket = probeTokens else { return now }
        let missing = 1 - bucket.available(at: now.nanoseconds)
        guard missing > 0 else { return now }
        return now + .seconds(missing / bucket.rate)
    }
}
