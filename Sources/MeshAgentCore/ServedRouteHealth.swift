import MeshCore

/// Which configured routes a gateway serves now (sans-I/O): a route whose health check fails is
/// withdrawn from the node's record at once — its LAN link is down (or gone), or a target on the
/// LAN has not answered pings for the check's timeout — and served again when the check passes. Peers move the prefix to another gateway when the record changes.
package struct ServedRouteHealth {
    /// A route as configured: prefix, priority, and the link it depends on (nil: no check).
    package struct Configured: Equatable {
        package var route: ServedRoute
        package var link: String?
        /// An address on the LAN that must answer pings within `timeout`.
        package var target: IPAddress?
        package var timeout: Interval

        package init(route: ServedRoute, link: String? = nil, target: IPAddress? = nil, timeout: Interval = .milliseconds(300)) {
            self.route = route
            self.link = link
            self.target = target
            self.timeout = timeout
        }
    }

    /// When each target last answered a ping, and since when targets are pinged (a target not
    /// answered yet counts from then).
    package var answeredAt: [IPAddress: Timestamp] = [:]
    package var probingSince: Timestamp?

    /// Why each withdrawn prefix is withdrawn, and since when.
    package private(set) var withdrawn: [IPPrefix: (reason: String, since: Timestamp)] = [:]

    package init() {}

    /// The routes to serve now, given `configured` and each link's state (`links`: up or down;
    /// absent links are down). Returns them with the prefixes whose state changed (to log).
    package mutating func evaluate(_ configured: [Configured], links: [String: Bool], now: Timestamp) -> (
        served: [ServedRoute], changed: [(prefix: IPPrefix, withdrawn: String?)]
    ) {
        var served: [ServedRoute] = [], changed: [(prefix: IPPrefix, withdrawn: String?)] = []
        var still: [IPPrefix: (reason: String, since: Timestamp)] = [:]
        for entry in configured {
            let prefix = entry.route.prefix
            var failure: String?
            if let link = entry.link {
                switch links[link] {
                case true?: failure = nil
                case false?: failure = "health check: link \(link) is down"
                case nil: failure = "health check: link \(link) does not exist"
                }
            }
            if failure == nil, let target = entry.target, let since = probingSince {
                let last = max(answeredAt[target] ?? since, since)
                if now - last >= entry.timeout {
                    failure = "health check: \(target) unanswered for \(Int((entry.timeout.seconds * 1000).rounded())) ms"
                }
            }
            if let failure {
                let previous = withdrawn[prefix]
                still[prefix] = (failure, previous?.reason == failure ? previous!.since : now)
                if previous?.reason != failure { changed.append((prefix, failure)) }
            } else {
                served.append(entry.route)
                if withdrawn[prefix] != nil { changed.append((prefix, nil)) }
            }
        }
        withdrawn = still
        return (served, changed)
    }
}
