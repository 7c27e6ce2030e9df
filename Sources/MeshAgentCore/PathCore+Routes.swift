import MeshCore

/// Routed prefixes in the device plan: which members serve which accepted prefix, and which one
/// carries it (``RouteChoice``).
extension PathCore {
    /// Every accepted prefix another member serves, with its gateways and whether each can carry
    /// it now; and the served prefixes refused for safety: one covering a member's overlay address
    /// (this node's included), or one of this host's own underlay addresses (its traffic to the
    /// mesh would be routed into the mesh). The default routes are offered by exit nodes and taken
    /// only as ``RouteChoice/Settings/exit`` says (not by `routes.accept`); they cover every
    /// address, and WireGuard's longest match keeps each member's own addresses with it.
    /// Prefixes this node serves itself are its own LAN: never routed into the mesh here.
    func routeOffers(node: MeshNode, host: PlanningHost, addressBook: OverlayAddressBook) -> (
        offers: [IPPrefix: [RouteChoice.Candidate]], refused: [(member: NodeID, prefix: IPPrefix)]
    ) {
        var offers: [IPPrefix: [RouteChoice.Candidate]] = [:]
        var refused: [(member: NodeID, prefix: IPPrefix)] = []
        let acceptance = routes.settings.acceptance
        let exit = routes.settings.exit
        guard acceptance != .none || exit != .none else { return ([:], []) }
        let ownRoutes = Set(node.localRecord.servedRoutes.map(\.prefix))
        for member in node.members.all where member.id != host.nodeID && !member.record.servedRoutes.isEmpty {
            for route in member.record.servedRoutes where !ownRoutes.contains(route.prefix) {
                if route.prefix.isDefault {
                    // An exit (its record was checked against its certificate's exit role).
                    guard exit != .none, member.certificate.roles.contains(.exit) else { continue }
                } else {
                    guard acceptance.accepts(route.prefix) else { continue }
                    let coversUnderlay = host.localAddresses.contains { route.prefix.contains($0) }
                    if coversUnderlay || !addressBook.filter([route.prefix], of: member.id).refused.isEmpty {
                        refused.append((member.id, route.prefix))
                        continue
                    }
                }
                var unusable: String?, doubt: String?
                if !member.status.isLive {
                    unusable = "is \(member.status)"
                } else if paths.silentSinceFailure(member.id) {
                    doubt = "has no path (\(paths.reason(for: member.id) ?? "unreachable"))"
                }
                let preferred = route.prefix.isDefault && exit == .member(member.name)
                offers[route.prefix, default: []].append(
                    RouteChoice.Candidate(member: member.id, priority: route.priority, unusable: unusable, doubt: doubt, preferred: preferred))
            }
        }
        return (offers, refused)
    }
}
