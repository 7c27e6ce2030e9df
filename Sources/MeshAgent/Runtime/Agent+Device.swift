import MeshAgentCore
import MeshCore
import MeshCrypto

extension Agent {
    /// The only caller of the WireGuard device. Device calls run on the device's own thread (see
    /// ``DeviceController``) and this loop awaits them, so a slow or hung device (wireguard-go
    /// answering late, a netlink timeout) delays only device work: probes, gossip, relay answers and
    /// control requests go on meanwhile. One loop means device work never interleaves with itself.
    func deviceLoop() async {
        for await _ in deviceTurns {
            if Task.isCancelled { break }
            await deviceTurn()
            deviceTurnPending = false
            scheduleWake()
        }
    }

    /// Asks the device loop for a turn; asks made before it runs make one turn.
    nonisolated func requestDeviceTurn() {
        deviceTurnRequests.yield()
    }

    /// Asks for a device turn and notes that one is coming (due device work waits for it).
    func askForDeviceTurn() {
        deviceTurnPending = true
        requestDeviceTurn()
    }

    /// When device work is next due (``PathCore/deviceWorkDeadline(reconcileDue:lastRead:idleRead:readInUse:now:)``):
    /// at once for an interface to remove or peers to re-create.
    func deviceWorkDeadline(now: Timestamp) -> Timestamp {
        if interfaceRemovalRequested || !pendingRecreations.isEmpty { return now }
        return pathCore.deviceWorkDeadline(
            reconcileDue: reconcileDue, lastRead: lastObservation, idleRead: observationInterval, readInUse: observationIntervalInUse, now: now)
    }

    /// Reconciles now (a reroute, a join): the device loop runs at once.
    func reconcileNow(_ now: Timestamp) {
        reconcileDue = min(reconcileDue, now)
        askForDeviceTurn()
    }

    /// One turn: what is due, most urgent first — an interface removal (leaving), peers re-created
    /// for a fresh first handshake, a reconcile (a reroute waits on it) and the punches after it,
    /// first handshakes to hurry, then device reads.
    func deviceTurn() async {
        if interfaceRemovalRequested {
            do { try await device.removeInterface() } catch {
                logger.warning("cannot delete the WireGuard interface", metadata: ["error": "\(error)"])
            }
            interfaceRemovalRequested = false
            stateWaiters.wakeAll()
            return
        }
        guard node != nil else { return }
        if !pendingRecreations.isEmpty {
            let keys = pendingRecreations
            pendingRecreations = []
            if await removeForFreshHandshake(keys) { reconcileDue = min(reconcileDue, clock.now) }
        }
        if clock.now >= reconcileDue {
            if pathCore.readsDeviceBeforePlanning(lastRead: lastObservation, now: clock.now) { await observe(now: clock.now) }
            await reconcile(now: clock.now)
            let punches = pendingPunches
            pendingPunches = []
            punchHealedPaths(punches)
        }
        await hurryFirstHandshakes(now: clock.now)
        // A direct path with unanswered probes is judged by WireGuard's receive counter too.
        if clock.now - lastObservation >= observationIntervalInUse, paths.wantsReceiveCounters(now: clock.now) {
            await observe(now: clock.now)
        }
        if clock.now - lastObservation >= observationInterval { await observe(now: clock.now) }
        drain()
    }
}
