import MeshCore

extension MeshdConfiguration {
    /// The `routes` section: `serve` (a list of `prefix` with an optional `priority`), `accept`
    /// (true, false, or a list of prefixes), `table`, `proto`, `preempt`, `hold_down` (seconds),
    /// `masquerade`.
    mutating func readRoutes(_ top: YAMLSection) throws(ConfigurationError) {
        guard let section = try top.section("routes", knownKeys: ["serve", "accept", "table", "proto", "preempt", "hold_down", "masquerade"]) else { return }
        try section.finish()
        if let node = section.value("serve") {
            guard case let .sequence(items) = node.kind else {
                throw section.error(at: node, key: "serve", "expected a list of prefixes served, found \(node.kindDescription)")
            }
            routes.serve = []
            for (index, item) in items.enumerated() {
                let entry = try YAMLSection(file: section.file, path: section.fullKey("serve[\(index)]"), node: item, knownKeys: ["prefix", "priority", "check"])
                try entry.finish()
                guard let text = try entry.string("prefix"), let prefixNode = entry.value("prefix") else {
                    throw section.error(at: item, key: "serve[\(index)].prefix", "each served route needs a prefix")
                }
                let prefix: IPPrefix
                do { prefix = try IPPrefix(parsing: text) } catch { throw entry.error(at: prefixNode, key: "prefix", error.description) }
                guard prefix.length > 0 else {
                    throw entry.error(at: prefixNode, key: "prefix", "a default route is an exit, not a served route")
                }
                var served = Routes.Served(prefix: prefix)
                if let priority = try entry.integer("priority", in: UInt8(0)...UInt8.max) { served.priority = priority }
                if let check = try Self.readCheck(entry) {
                    (served.checkInterface, served.checkTarget) = (check.interface, check.target)
                    if let timeout = check.timeout { served.checkTimeoutMilliseconds = timeout }
                }
                routes.serve.append(served)
            }
        }
        if let node = section.value("accept") {
            if let flag = node.bool {
                routes.accept = flag ? .all : .none
            } else if case .sequence = node.kind, let prefixes = try section.list("accept", parse: { text in
                Result { () throws(IPPrefixError) in try IPPrefix(parsing: text) }.mapError { ConfigurationProblem($0.description) }
            }) {
                routes.accept = .within(prefixes)
            } else {
                throw section.error(at: node, key: "accept", "expected true, false or a list of prefixes, found \(node.kindDescription)")
            }
        }
        if let table = try section.integer("table", in: UInt32(1)...UInt32.max) { routes.table = table }
        if let proto = try section.integer("proto", in: UInt8(5)...UInt8.max) { routes.proto = proto }
        if let flag = try section.bool("preempt") { routes.preempt = flag }
        if let seconds = try section.integer("hold_down", in: 0...3600) { routes.holdDownSeconds = seconds }
        if let flag = try section.bool("masquerade") { routes.masquerade = flag }
    }
}

extension MeshdConfiguration {
    /// Every route this node is configured to serve: `routes.serve` and, with `exit.serve`, the
    /// default routes.
    var servedRoutes: [Routes.Served] { routes.serve + exit.servedRoutes }

    /// The `exit` section: `serve`, `priority`, `check` (as a served route's), `use` (none, auto
    /// or a member's name) and `table`.
    mutating func readExit(_ top: YAMLSection) throws(ConfigurationError) {
        guard let section = try top.section("exit", knownKeys: ["serve", "priority", "check", "use", "table"]) else { return }
        try section.finish()
        if let flag = try section.bool("serve") { exit.serve = flag }
        if let priority = try section.integer("priority", in: UInt8(0)...UInt8.max) { exit.priority = priority }
        if let check = try Self.readCheck(section) {
            (exit.checkInterface, exit.checkTarget) = (check.interface, check.target)
            if let timeout = check.timeout { exit.checkTimeoutMilliseconds = timeout }
        }
        if let node = section.value("use") {
            // `use: no` or `use: false` reads as a boolean in YAML: take it as none.
            if node.bool == false {
                exit.use = .none
            } else if let text = try section.string("use") {
                switch text {
                case "none": exit.use = .none
                case "auto": exit.use = .auto
                default:
                    if let problem = NodeName.problem(text) {
                        throw section.error(at: node, key: "use", "expected none, auto or a member's name: \(problem)")
                    }
                    exit.use = .member(text)
                }
            }
        }
        if let table = try section.integer("table", in: UInt32(1)...UInt32.max) {
            guard ![UInt32(253), 254, 255].contains(table) else {
                throw section.error(at: section.value("table"), key: "table", "\(table) is a reserved table (default, main, local): the exit's default routes need a table of their own")
            }
            exit.table = table
        }
    }

    /// A served route's (or the exit's) `check` section: `interface`, `target`, `timeout_ms`.
    static func readCheck(_ parent: YAMLSection) throws(ConfigurationError) -> (interface: String?, target: IPAddress?, timeout: Int?)? {
        guard let check = try parent.section("check", knownKeys: ["interface", "target", "timeout_ms"]) else { return nil }
        try check.finish()
        var result: (interface: String?, target: IPAddress?, timeout: Int?) = (nil, nil, nil)
        if let name = try check.string("interface") {
            if let problem = Self.interfaceNameProblem(name) { throw check.error(at: check.value("interface"), key: "interface", problem) }
            result.interface = name
        }
        if let text = try check.string("target") {
            guard let address = IPAddress(text) else { throw check.error(at: check.value("target"), key: "target", "\"\(text)\" is not an IP address") }
            result.target = address
        }
        result.timeout = try check.integer("timeout_ms", in: 100...60000)
        return result
    }
}
