import MeshCore

/// Which announced WireGuard endpoint of a peer we use, and since when: when a candidate brings no
/// handshake in a few seconds, the next one is tried (sans-I/O: see ``decide(previous:candidates:kernelEndpoint:healthy:onRelay:receivedAt:now:)``).
package struct EndpointChoice: Equatable {
    package var candidates: [SocketEndpoint]
    package var index: Int
    package var since: Timestamp
    /// Set when WireGuard is moved off a relay onto `candidates[index]`: until data arrives there,
    /// the candidate is unproven, although the session (made through the relay) is fresh.
    package var leftRelayAt: Timestamp?

    package init(candidates: [SocketEndpoint], index: Int, since: Timestamp) {
        self.candidates = candidates
        self.index = index
        self.since = since
    }

    /// How long a candidate is given to bring a handshake (a WireGuard handshake retry is 5 s).
    package static let trial = Interval.seconds(6)
    /// Reconciles this close after leaving a relay belong to the same heal (a failed direct
    /// attempt takes longer: probes go unanswered for 0.45 s at least, then a relay must grant).
    package static let sameHeal = Interval.seconds(1)

    /// The next choice for a peer, and the endpoint to configure (nil: keep what the kernel has).
    ///
    /// - `candidates`: the peer's announced endpoints in the order worth trying (not empty);
    /// - `kernelEndpoint`: where WireGuard sends now; `healthy`: it had a recent handshake there
    ///   (and it is not a relay port); `onRelay`: it is a relay port left from a relayed period;
    /// - `receivedAt`: when data from the peer last arrived.
    ///
    /// A working endpoint is never replaced by a newly announced candidate: new candidates are
    /// tried only once it stops working. It is left only when the peer's own signed record no
    /// longer lists it (the peer moved). Back from a relay, a candidate is working only once data
    /// arrives; a direct attempt that ended on the relay again without any moves to the next
    /// candidate (else a candidate that cannot work, a NATed peer's inside address, was retried
    /// at every heal, and the pair never left the relay).
    package static func decide(
        previous: EndpointChoice?, candidates: [SocketEndpoint], kernelEndpoint: SocketEndpoint?, healthy: Bool, onRelay: Bool,
        receivedAt: Timestamp = .zero, now: Timestamp
    ) -> (choice: EndpointChoice, endpoint: SocketEndpoint?) {
        var choice = previous ?? EndpointChoice(candidates: candidates, index: 0, since: now)
        var healthy = healthy
        if let left = choice.leftRelayAt, !onRelay {
            if receivedAt > left { choice.leftRelayAt = nil } else { healthy = false }
        }
        if choice.candidates != candidates {
            let wasAnnounced = kernelEndpoint.map(choice.candidates.contains) ?? false
            if healthy, let current = kernelEndpoint, !candidates.contains(current), wasAnnounced {
                // The member moved away from the endpoint we use: follow it.
                return (EndpointChoice(candidates: candidates, index: 0, since: now), candidates[0])
            }
            // Keep a working endpoint; otherwise start again from the best candidate (keeping the
            // kernel's unproven one left a peer on its inside address once its outside one was announced).
            let index = healthy ? kernelEndpoint.flatMap(candidates.firstIndex) ?? 0 : 0
            var renewed = EndpointChoice(candidates: candidates, index: index, since: now)
            renewed.leftRelayAt = choice.leftRelayAt
            choice = renewed
        }
        if healthy {
            // Remember the working endpoint (a relayed period returns to it), and start the
            // clock for trying others only once it stops working.
            if let current = kernelEndpoint, let index = candidates.firstIndex(of: current) { choice.index = index }
            choice.since = now
            return (choice, nil)
        }
        if onRelay {
            // Back from a relayed period (WireGuard still points at the relay). If the last
            // attempt from a relay was never seen bringing data, the next candidate; else the
            // remembered working one. Either gets a fresh trial: the clock ran on while relayed,
            // and the first reconcile after healing moved on to a candidate that may not work
            // (10 s of loss after healing, seen in the failover benchmark).
            if let left = choice.leftRelayAt {
                // Reconciles of one heal all see the relay until the device is read again.
                guard now - left >= sameHeal else { return (choice, candidates[choice.index]) }
                choice.index = (choice.index + 1) % candidates.count
            }
            choice.leftRelayAt = now
            choice.since = now
            return (choice, candidates[choice.index])
        }
        // Off a relay, the path manager judges the attempt (and returns to the relay if it fails):
        // the trial clock runs only for a path never relayed.
        if choice.leftRelayAt == nil, now - choice.since >= trial {
            choice.index = (choice.index + 1) % candidates.count
            choice.since = now
        }
        return (choice, candidates[choice.index])
    }
}
