import MeshCore

extension PathCore {
    /// When the shell's device work is next due, if no event comes first: a reconcile, a first
    /// handshake to hurry, or a device read — every `idleRead` (``AgentTiming/observationInterval(livePeers:)``),
    /// and every `readInUse` while a path is in use (its receive counter is what keeps it quiet).
    /// meshd's device loop and the simulator's device turn run when this has passed.
    package func deviceWorkDeadline(
        reconcileDue: Timestamp, lastRead: Timestamp, idleRead: Interval, readInUse: Interval, now: Timestamp
    ) -> Timestamp {
        // A better gateway's hold-down ending is a plan due (the prefix moves back then).
        var next = min(reconcileDue, firstHandshakes.nextDeadline, lastRead + idleRead, routes.nextDeadline(after: now))
        if paths.wantsReceiveCounters(now: now) { next = min(next, lastRead + readInUse) }
        return next
    }

    /// Whether a reconcile due now should read the device first: while a peer is relayed,
    /// WireGuard may have roamed it to where it moved and sends from now, which the reading shows
    /// (``sendsStraightFromNewAddress(_:endpoint:relays:)``) and the plan would otherwise undo.
    package func readsDeviceBeforePlanning(lastRead: Timestamp, now: Timestamp) -> Bool {
        lastRead < now && paths.anyRelayed
    }
}
