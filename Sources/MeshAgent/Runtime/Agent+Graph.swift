import MeshControl
import MeshCore

extension Agent {
    /// `meshctl graph`: every member this node knows, its path to each (as `peers` says), the
    /// relays each member's record says it reaches, and every routed prefix with its gateways.
    func graphReport() -> GraphReport {
        guard let node, let certificate = enrollment?.certificate else {
            return GraphReport(node: "", members: [], paths: [], relayLinks: [], routes: [])
        }
        var members = [GraphReport.Member(name: certificate.name, state: "alive", roles: certificate.roles.names, isSelf: true)]
        var relayLinks: [GraphReport.RelayLink] = []
        for member in node.members.all where member.id != node.id {
            members.append(GraphReport.Member(name: member.name, state: member.status.description, roles: member.certificate.roles.names, isSelf: false))
            guard member.status.isLive else { continue }
            for reach in member.record.relays {
                relayLinks.append(GraphReport.RelayLink(member: member.name, relay: memberName(reach.relay), rttMilliseconds: Double(reach.rttMilliseconds)))
            }
        }
        for reach in node.localRecord.relays {
            relayLinks.append(GraphReport.RelayLink(member: certificate.name, relay: memberName(reach.relay), rttMilliseconds: Double(reach.rttMilliseconds)))
        }
        let paths = peers().filter { $0.state == "alive" || $0.state == "suspect" }.map {
            GraphReport.Path(to: $0.name, kind: $0.path, relay: $0.relay, rttMilliseconds: $0.rttMilliseconds)
        }
        return GraphReport(node: certificate.name, members: members, paths: paths, relayLinks: relayLinks, routes: routeReports())
    }
}
