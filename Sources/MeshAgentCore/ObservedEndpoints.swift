import MeshCore

/// Where peers' WireGuard sees this node (the outside of a NAT, from endpoint reports 0x20), and
/// which of those endpoints this node may announce in its signed record (sans-I/O: fed reports,
/// contacts and the time).
///
/// A report is one member's unsigned claim, so it may change only where that member sends (its
/// own WireGuard learns the endpoint by roaming anyway). To be announced — and so tried by every
/// other member — an endpoint must be reported by ``Settings/corroboration`` distinct members:
/// - each reporter holds one slot (its newest report), so a flood from one member overwrites only
///   its own report and can neither outvote nor wipe the others';
/// - reports age out after ``Settings/freshness``; the map is capped at ``Settings/maximumReporters``;
/// - at most ``Settings/maximumAnnounced`` observed endpoints are announced, in the record's slots
///   left after the local and configured endpoints (``recordEndpoints(local:advertised:observed:maximumObserved:slots:)``).
///
/// Only peers that reach this node directly from outside its subnets can see its outside
/// endpoint (``OutsideContacts``). While fewer than two such peers exist in an address family (a
/// host behind NAT that one public member reaches so far), the one that can see it is enough:
/// nobody else could corroborate, and NAT traversal starts from that report. An endpoint once
/// announced stays while any fresh report keeps it (no flapping while the second reporter's
/// report is on its way; a punched path is not withdrawn from under the peer using it).
package struct ObservedEndpoints {
    package struct Settings {
        /// How long a report counts.
        package var freshness = Interval.seconds(300)
        /// Most reporters remembered (one slot each).
        package var maximumReporters = 1024
        /// Most observed endpoints announced.
        package var maximumAnnounced = 2
        /// Distinct reporters an endpoint needs before it is announced.
        package var corroboration = 2

        package init() {}
    }

    /// Peers with a recent WireGuard handshake that reach this node directly from outside its own
    /// subnets (not through a relay), per address family: the members that can report this node's
    /// outside endpoint.
    package struct OutsideContacts: Equatable {
        package var ipv4 = 0
        package var ipv6 = 0

        package init(ipv4: Int = 0, ipv6: Int = 0) {
            self.ipv4 = ipv4
            self.ipv6 = ipv6
        }

        package func count(for address: IPAddress) -> Int { address.isIPv4 ? ipv4 : ipv6 }
    }

    /// What a report did.
    package enum Outcome: Equatable {
        /// The reporter's report is new or changed: the announceable endpoints may have changed.
        case changed
        /// The same report again (refreshed).
        case refreshed
        /// Not a usable endpoint (counted).
        case refused(DropReason)
    }

    package var settings = Settings()

    package init() {}
    /// Each reporter's newest report.
    package private(set) var reports: [NodeID: (endpoint: SocketEndpoint, at: Timestamp)] = [:]

    /// `reporter`'s WireGuard sees this node at `endpoint`.
    package mutating func report(_ endpoint: SocketEndpoint, from reporter: NodeID, now: Timestamp) -> Outcome {
        guard endpoint.port != 0, !endpoint.address.isLocalOnly else { return .refused(.invalidEndpointReport) }
        let previous = reports[reporter]
        if previous == nil, reports.count >= settings.maximumReporters, let oldest = reports.min(by: { $0.value.at < $1.value.at }) {
            reports[oldest.key] = nil
        }
        reports[reporter] = (endpoint, now)
        return previous?.endpoint == endpoint ? .refreshed : .changed
    }

    /// Forgets `reporter`'s report (it left, died or was revoked).
    package mutating func forget(_ reporter: NodeID) { reports[reporter] = nil }

    /// Forgets every report (this node moved: what peers saw before is stale).
    package mutating func removeAll() {
        reports.removeAll()
        announced.removeAll()
    }

    /// How many distinct reporters an endpoint at `address` needs, given the peers that could
    /// report it: ``Settings/corroboration``, or fewer when fewer could report at all (never less than one).
    package func requiredReporters(for address: IPAddress, contacts: OutsideContacts) -> Int {
        max(1, min(settings.corroboration, contacts.count(for: address)))
    }

    /// The WireGuard endpoints of this node's record: local, then configured (advertised), then
    /// observed in the slots left, at most ``Settings/maximumAnnounced`` of them (observed
    /// endpoints never push a local or configured one out), then `reflexive` if a slot is left;
    /// duplicates are announced once.
    package static func recordEndpoints(
        local: [SocketEndpoint], advertised: [SocketEndpoint], observed: [SocketEndpoint], reflexive: SocketEndpoint? = nil,
        maximumObserved: Int = Settings().maximumAnnounced, slots: Int = NodeRecord.maximumEndpoints
    ) -> [AnnouncedEndpoint] {
        var seen = Set<SocketEndpoint>()
        var endpoints: [AnnouncedEndpoint] = []
        for (kind, list) in [(EndpointKind.local, local), (.advertised, advertised)] {
            for endpoint in list where endpoints.count < slots && seen.insert(endpoint).inserted {
                endpoints.append(AnnouncedEndpoint(kind, endpoint))
            }
        }
        var observedCount = 0
        for endpoint in observed where endpoints.count < slots && observedCount < maximumObserved && seen.insert(endpoint).inserted {
            endpoints.append(AnnouncedEndpoint(.observed, endpoint))
            observedCount += 1
        }
        if let reflexive, endpoints.count < slots, seen.insert(reflexive).inserted {
            endpoints.append(AnnouncedEndpoint(.reflexive, reflexive))
        }
        return endpoints
    }

    /// The observed endpoints announced (by the last ``update(now:contacts:)``).
    package private(set) var announced: [SocketEndpoint] = []

    /// Recomputes the observed endpoints to announce and returns them: fresh, reported by enough
    /// distinct members (``requiredReporters(for:contacts:)``) — or already announced and still
    /// reported — most reporters first (then the most recently reported), at most
    /// ``Settings/maximumAnnounced``.
    @discardableResult
    package mutating func update(now: Timestamp, contacts: OutsideContacts) -> [SocketEndpoint] {
        var tally: [SocketEndpoint: (reporters: Int, newest: Timestamp)] = [:]
        for report in reports.values where now - report.at < settings.freshness {
            let entry = tally[report.endpoint] ?? (0, .zero)
            tally[report.endpoint] = (entry.reporters + 1, max(entry.newest, report.at))
        }
        let previous = Set(announced)
        announced = tally
            .filter { endpoint, entry in
                previous.contains(endpoint) || entry.reporters >= requiredReporters(for: endpoint.address, contacts: contacts)
            }
            .sorted { a, b in
                if a.value.reporters != b.value.reporters { return a.value.reporters > b.value.reporters }
                if a.value.newest != b.value.newest { return a.value.newest > b.value.newest }
                return a.key.description < b.key.description
            }
            .prefix(settings.maximumAnnounced)
            .map(\.key)
        return announced
    }
}
