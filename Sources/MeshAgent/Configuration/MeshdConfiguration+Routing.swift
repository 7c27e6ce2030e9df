extension MeshdConfiguration {
    /// The `routing` section: `mode` (none | daemon), `table`, `export_table`; and the settings it
    /// cannot share with (a daemon decides routes: `routes.accept` and `exit.use` must stay off).
    mutating func readRouting(_ top: YAMLSection) throws(ConfigurationError) {
        guard let section = try top.section("routing", knownKeys: ["mode", "table", "export_table"]) else { return }
        try section.finish()
        if let mode = try section.choice("mode", as: Routing.Mode.self) { routing.mode = mode }
        if let table = try section.integer("table", in: UInt32(1)...UInt32.max) { routing.table = table }
        if let table = try section.integer("export_table", in: UInt32(0)...UInt32.max) {
            if [UInt32(253), 254, 255].contains(table) {
                throw section.error(at: section.value("export_table"), key: "export_table", "\(table) is a reserved table (default, main, local): exported routes need a table of their own")
            }
            routing.exportTable = table
        }
        guard routing.mode == .daemon else { return }
        let clash: [(UInt32, String)] = [(routing.table, "routing.table"), (routes.table, "routes.table"), (exit.table, "exit.table")]
        if routing.exportTable != 0, let (_, name) = clash.first(where: { $0.0 == routing.exportTable }) {
            throw section.error(at: section.value("export_table"), key: "export_table", "\(routing.exportTable) is also \(name): exported routes need a table of their own")
        }
        if routes.accept != .none {
            throw section.error(at: section.value("mode"), key: "mode", "daemon mode and routes.accept both choose gateways: set routes.accept to false (the daemon learns served prefixes itself)")
        }
        if exit.use != .none {
            throw section.error(at: section.value("mode"), key: "mode", "daemon mode and exit.use both route the default route: set exit.use to none (the daemon can route 0.0.0.0/0 through an exit member)")
        }
    }
}
