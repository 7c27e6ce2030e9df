extension MeshdConfiguration {
    /// The configuration as YAML that ``parse(yaml:file:)`` reads back to the same value;
    /// `meshd --check-config` prints it.
    public var yamlText: String {
        func list(_ items: [some CustomStringConvertible]) -> String {
            "[" + items.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        }
        var lines = ["state_dir: \"\(stateDirectory)\""]
        if let controlSocket { lines.append("control_socket: \"\(controlSocket)\"") }
        lines += [
            "log_level: \(logLevel.rawValue)",
            "interface:",
            "  name: \"\(interface.name)\"",
            "  backend: \(interface.backend.rawValue)",
            "  listen_port: \(interface.listenPort)",
            "  mtu: \(interface.mtu)",
            "  fwmark: \(interface.fwmark)",
            "  link_local: \(interface.linkLocal)",
        ]
        if let namespace = interface.netns { lines.append("  netns: \"\(namespace)\"") }
        lines += [
            "gossip:",
            "  port: \(gossip.port)",
            "  bind: \(list(gossip.bind))",
            "endpoints:",
            "  advertise: \(list(endpoints.advertise))",
            "  exclude_networks: \(list(endpoints.excludeNetworks))",
            "relay:",
            "  enabled: \(relay.enabled)",
            "  max_allocations: \(relay.maximumAllocations)",
            "  bandwidth_mbit: \(relay.bandwidthMegabits)",
            "  ports: \"\(relay.ports.lowerBound)-\(relay.ports.upperBound)\"",
            "routes:",
        ]
        if routes.serve.isEmpty {
            lines.append("  serve: []")
        } else {
            lines.append("  serve:")
            for served in routes.serve {
                lines += ["    - prefix: \"\(served.prefix)\"", "      priority: \(served.priority)"]
                if served.checkInterface != nil || served.checkTarget != nil { lines.append("      check:") }
                if let name = served.checkInterface { lines.append("        interface: \"\(name)\"") }
                if let target = served.checkTarget { lines += ["        target: \"\(target)\"", "        timeout_ms: \(served.checkTimeoutMilliseconds)"] }
            }
        }
        switch routes.accept {
        case .none: lines.append("  accept: false")
        case .all: lines.append("  accept: true")
        case let .within(prefixes): lines.append("  accept: \(list(prefixes))")
        }
        lines += [
            "  table: \(routes.table)",
            "  proto: \(routes.proto)",
            "  preempt: \(routes.preempt)",
            "  hold_down: \(routes.holdDownSeconds)",
            "  masquerade: \(routes.masquerade)",
            "exit:",
            "  serve: \(exit.serve)",
            "  priority: \(exit.priority)",
        ]
        if exit.checkInterface != nil || exit.checkTarget != nil { lines.append("  check:") }
        if let name = exit.checkInterface { lines.append("    interface: \"\(name)\"") }
        if let target = exit.checkTarget { lines += ["    target: \"\(target)\"", "    timeout_ms: \(exit.checkTimeoutMilliseconds)"] }
        lines += [
            "  use: \"\(exit.use)\"",
            "  table: \(exit.table)",
        ]
        if let device = underlay.bindDevice { lines += ["underlay:", "  bind_device: \"\(device)\""] }
        lines += ["routing:", "  mode: \(routing.mode.rawValue)", "  table: \(routing.table)", "  export_table: \(routing.exportTable)"]
        lines += ["metrics:"] + (metrics.listen.map { ["  listen: \"\($0)\""] } ?? []) + ["  peer_series: \(metrics.peerSeries)"]
        return lines.joined(separator: "\n") + "\n"
    }
}
