import ArgumentParser
import Foundation
import MeshControl

struct RoutesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routes",
        abstract: "Show every routed prefix this node knows: its gateways with priority and state, the active one and why.")

    @OptionGroup var daemon: DaemonOptions

    @Flag(help: "Print a JSON array (fields: prefix, active, reason, sinceSeconds, gateways [name, priority, state, reason], servedHere, accepted, source: mesh or daemon).")
    var json = false

    func run() throws {
        let routes = try daemon.send(ControlRequest.routes, expecting: [RouteReport].self)
        if json { return printJSON(routes) }
        guard !routes.isEmpty else { return print("no routed prefixes (no member serves one: routes.serve in meshd.yaml)") }
        var rows = [["PREFIX", "ACTIVE", "GATEWAYS", "SINCE"]]
        for route in routes {
            let gateways = route.gateways.map { route.source == "daemon" ? "\($0.name) (\($0.state))" : "\($0.name) (\($0.priority), \($0.state))" }
                .joined(separator: ", ")
            let since = route.active == nil ? "-" : route.source == "daemon" ? "daemon" : PeersCommand.age(route.sinceSeconds)
            rows.append([route.prefix, route.active ?? "-", gateways.isEmpty ? "-" : gateways, since])
        }
        print(table(rows))
        for route in routes {
            print("  \(route.prefix): \(route.reason)")
            for gateway in route.gateways where gateway.reason != nil {
                print("    \(gateway.name) \(gateway.reason ?? "")")
            }
        }
    }
}
