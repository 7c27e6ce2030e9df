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
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}
