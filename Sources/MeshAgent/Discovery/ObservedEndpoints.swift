import MeshCore

/// Where peers' WireGuard sees this node (the outside of a NAT, from endpoint reports 0x20), and
/// which of those endpoints this node may announce in its signed record (sans-I/O: fed reports
/// with the time).
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
/// While fewer than two members are in WireGuard contact with this node (a host behind NAT that
/// only one public member reaches yet), the one member that can see it is enough: no other member
/// could corroborate, and NAT traversal needs the report to start (see ``requiredReporters(peersInContact:)``).
struct ObservedEndpoints {
    struct Settings {
        /// How long a report counts.
        var freshness = Interval.seconds(300)
        /// Most reporters remembered (one slot each).
        var maximumReporters = 1024
        /// Most observed endpoints announced.
        var maximumAnnounced = 2
        /// Distinct reporters an endpoint needs before it is announced.
        var corroboration = 2
    }

    /// What a report did.
    enum Outcome: Equatable {
        /// The reporter's report is new or changed: the announceable endpoints may have changed.
        case changed
        /// The same report again (refreshed).
        case refreshed
        /// Not a usable endpoint (counted).
        case refused(DropReason)
    }

    var settings = Settings()
    /// Each reporter's newest report.
    private(set) var reports: [NodeID: (endpoint: SocketEndpoint, at: Timestamp)] = [:]

    /// `reporter`'s WireGuard sees this node at `endpoint`.
    mutating func report(_ endpoint: SocketEndpoint, from reporter: NodeID, now: Timestamp) -> Outcome {
        guard endpoint.port != 0, !endpoint.address.isLocalOnly else { return .refused(.invalidEndpointReport) }
        let previous = reports[reporter]
        if previous == nil, reports.count >= settings.maximumReporters, let oldest = reports.min(by: { $0.value.at < $1.value.at }) {
            reports[oldest.key] = nil
        }
        reports[reporter] = (endpoint, now)
        return previous?.endpoint == endpoint ? .refreshed : .changed
    }

    /// Forgets `reporter`'s report (it left, died or was revoked).
    mutating func forget(_ reporter: NodeID) { reports[reporter] = nil }

    /// Forgets every report (this node moved: what peers saw before is stale).
    mutating func removeAll() { reports.removeAll() }

    /// How many distinct reporters an endpoint needs, given how many members have a recent
    /// WireGuard handshake with this node (only they can report): ``Settings/corroboration``, or
    /// fewer when fewer members could report at all (never less than one).
    func requiredReporters(peersInContact: Int) -> Int {
        max(1, min(settings.corroboration, peersInContact))
    }

    /// The WireGuard endpoints of this node's record: local, then configured (advertised), then
    /// observed in the slots left, at most ``Settings/maximumAnnounced`` of them (observed
    /// endpoints never push a local or configured one out); duplicates are announced once.
    static func recordEndpoints(
        local: [SocketEndpoint], advertised: [SocketEndpoint], observed: [SocketEndpoint],
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
        return endpoints
    }

    /// The observed endpoints to announce: fresh, reported by at least `required` distinct members,
    /// most reporters first (then the most recently reported), at most ``Settings/maximumAnnounced``.
    func announceable(now: Timestamp, required: Int) -> [SocketEndpoint] {
        var tally: [SocketEndpoint: (reporters: Int, newest: Timestamp)] = [:]
        for report in reports.values where now - report.at < settings.freshness {
            let entry = tally[report.endpoint] ?? (0, .zero)
            tally[report.endpoint] = (entry.reporters + 1, max(entry.newest, report.at))
        }
        return tally
            .filter { $0.value.reporters >= max(1, required) }
            .sorted { a, b in
                if a.value.reporters != b.value.reporters { return a.value.reporters > b.value.reporters }
                if a.value.newest != b.value.newest { return a.value.newest > b.value.newest }
                return a.key.description < b.key.description
            }
            .prefix(settings.maximumAnnounced)
            .map(\.key)
    }
}
