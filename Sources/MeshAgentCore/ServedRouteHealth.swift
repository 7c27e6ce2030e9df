import MeshCore

/// Which configured routes a gateway serves now (sans-I/O): a route whose health check fails is
/// withdrawn from the node's record at once — its LAN link is down (or gone) — and served again
/// when the check passes. Peers move the prefix to another gateway when the record changes.
package struct ServedRouteHealth {
    /// A route as configured: prefix, priority, and the link it depends on (nil: no check).
    package struct Configured: Equatable {
        package var route: ServedRoute
        package var link: String?

        package init(route: ServedRoute, link: String? = nil) {
            self.route = route
            self.link = link
        }
    }

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
