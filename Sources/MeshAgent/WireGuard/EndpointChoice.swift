import MeshCore

/// Which announced WireGuard endpoint of a peer we use, and since when: when a candidate brings no
/// handshake in a few seconds, the next one is tried (sans-I/O: see ``decide(previous:candidates:kernelEndpoint:healthy:onRelay:now:)``).
struct EndpointChoice: Equatable {
    var candidates: [SocketEndpoint]
    var index: Int
    var since: Timestamp

    /// How long a candidate is given to bring a handshake (a WireGuard handshake retry is 5 s).
    static let trial = Interval.seconds(6)

    /// The next choice for a peer, and the endpoint to configure (nil: keep what the kernel has).
    ///
    /// - `candidates`: the peer's announced endpoints in the order worth trying (not empty);
    /// - `kernelEndpoint`: where WireGuard sends now; `healthy`: it had a recent handshake there
    ///   (and it is not a relay port); `onRelay`: it is a relay port left from a relayed period.
    ///
    /// A working endpoint is never replaced by a newly announced candidate: new candidates are
    /// tried only once it stops working. It is left only when the peer's own signed record no
    /// longer lists it (the peer moved).
    static func decide(
        previous: EndpointChoice?, candidates: [SocketEndpoint], kernelEndpoint: SocketEndpoint?, healthy: Bool, onRelay: Bool, now: Timestamp
    ) -> (choice: EndpointChoice, endpoint: SocketEndpoint?) {
        var choice = previous ?? EndpointChoice(candidates: candidates, index: 0, since: now)
        if choice.candidates != candidates {
            let wasAnnounced = kernelEndpoint.map(choice.candidates.contains) ?? false
            if healthy, let current = kernelEndpoint, !candidates.contains(current), wasAnnounced {
                // The member moved away from the endpoint we use: follow it.
                return (EndpointChoice(candidates: candidates, index: 0, since: now), candidates[0])
            }
            choice = EndpointChoice(candidates: candidates, index: kernelEndpoint.flatMap(candidates.firstIndex) ?? 0, since: now)
        }
        if healthy {
            // Remember the working endpoint (a relayed period returns to it), and start the
            // clock for trying others only once it stops working.
            if let current = kernelEndpoint, let index = candidates.firstIndex(of: current) { choice.index = index }
            choice.since = now
            return (choice, nil)
        }
        // Back from a relayed period (WireGuard still points at the relay): the remembered working
        // endpoint gets a fresh 6 s. Its clock had run on while relayed, so the first reconcile
        // after healing moved on to the next candidate — one that may not work (10 s of loss
        // after healing, seen in the failover benchmark).
        if onRelay { choice.since = now }
        // No working path: give the current candidate its trial.
        if now - choice.since >= trial {
            choice.index = (choice.index + 1) % candidates.count
            choice.since = now
        }
        return (choice, candidates[choice.index])
    }
}
