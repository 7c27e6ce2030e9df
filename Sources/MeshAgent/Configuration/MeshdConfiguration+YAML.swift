#if canImport(Glibc)
import Glibc
#endif
import Logging
import MeshCore
import SystemPackage

extension MeshdConfiguration {
    /// Where meshd looks for its configuration when `--config` is not given.
    public static let defaultFile = "/etc/meshwork/meshd.yaml"

    /// Reads a configuration file. Keys that are absent keep their defaults; unknown keys, wrong
    /// types and invalid values are errors that name the file, line, key and problem.
    public static func load(file: String) throws(ConfigurationError) -> MeshdConfiguration {
        let text: String
        do {
            let descriptor = try FileDescriptor.open(FilePath(file), .readOnly, options: [.closeOnExec])
            defer { try? descriptor.close() }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16384)
            while true {
                let count = try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) }
                if count == 0 { break }
                bytes += chunk[0..<count]
                guard bytes.count <= 1 << 20 else { throw ConfigurationProblem("the file is larger than 1 MiB") }
            }
            text = String(decoding: bytes, as: UTF8.self)
        } catch let problem as ConfigurationProblem {
            throw ConfigurationError(file: file, problem: problem.text)
        } catch {
            throw ConfigurationError(file: file, problem: "cannot read the file: \(error)")
        }
        return try parse(yaml: text, file: file)
    }

    /// Parses configuration text; `file` is used in error messages.
    public static func parse(yaml text: String, file: String) throws(ConfigurationError) -> MeshdConfiguration {
        let root: YAMLNode?
        do {
            root = try YAMLParser.parse(text)
        } catch {
            throw ConfigurationError(file: file, line: error.line, column: error.column, problem: "not valid YAML: \(error.problem)")
        }
        var configuration = MeshdConfiguration()
        guard let root else { return configuration }  // an empty file means all defaults
        try configuration.read(YAMLSection(
            file: file, path: "", node: root,
            knownKeys: ["state_dir", "control_socket", "interface", "gossip", "endpoints", "relay", "routes", "exit", "underlay", "routing", "metrics", "log_level"]))
        return configuration
    }

    private mutating func read(_ top: YAMLSection) throws(ConfigurationError) {
        try top.finish()
        if let value = try top.string("state_dir") {
            guard value.hasPrefix("/") else {
                throw top.error(at: top.value("state_dir"), key: "state_dir", "must be an absolute path")
            }
            stateDirectory = value
        }
        if let value = try top.string("control_socket") {
            guard value.hasPrefix("/") else {
                throw top.error(at: top.value("control_socket"), key: "control_socket", "must be an absolute path")
            }
            controlSocket = value
        }
        if let level = try top.choice("log_level", as: Logger.Level.self) { logLevel = level }

        if let section = try top.section("interface", knownKeys: ["name", "backend", "listen_port", "mtu", "fwmark", "link_local", "netns"]) {
            try section.finish()
            if let name = try section.string("name") {
                if let problem = Self.interfaceNameProblem(name) {
                    throw section.error(at: section.value("name"), key: "name", problem)
                }
                interface.name = name
            }
            if let backend = try section.choice("backend", as: Backend.self) { interface.backend = backend }
            if let port = try section.port("listen_port") { interface.listenPort = port }
            if let mtu = try section.integer("mtu", in: 1280...65535) { interface.mtu = mtu }
            if let mark = try section.integer("fwmark", in: 0...UInt32.max) { interface.fwmark = mark }
            if let flag = try section.bool("link_local") { interface.linkLocal = flag }
            if let name = try section.string("netns") {
                if name.isEmpty || name.utf8.count > 255 || name == "." || name == ".." || name.contains("/") {
                    throw section.error(at: section.value("netns"), key: "netns", "\"\(name)\" is not a network namespace name (as `ip netns add` takes: no '/')")
                }
                if interface.backend == .userspace {
                    throw section.error(at: section.value("netns"), key: "netns", "needs kernel WireGuard (backend kernel or auto): wireguard-go's socket would move with its interface")
                }
                interface.netns = name
            }
        }

        if let section = try top.section("gossip", knownKeys: ["port", "bind"]) {
            try section.finish()
            if let port = try section.port("port") { gossip.port = port }
            if let addresses = try section.list("bind", parse: { text in
                IPAddress(text).map(Result.success) ?? .failure(ConfigurationProblem("\"\(text)\" is not an IP address"))
            }) { gossip.bind = addresses }
        }

        if let section = try top.section("underlay", knownKeys: ["bind_device"]) {
            try section.finish()
            if let name = try section.string("bind_device") {
                if let problem = Self.interfaceNameProblem(name) {
                    throw section.error(at: section.value("bind_device"), key: "bind_device", problem)
                }
                underlay.bindDevice = name
            }
        }

        try readRelay(top)
        try readRoutes(top)
        try readExit(top)
        if exit.table == routes.table {
            throw top.error(at: top.value("routes"), key: "routes.table", "\(routes.table) is also exit.table: the exit's default routes need a table of their own")
        }
        try readRouting(top)
        try readMetrics(top)
        try checkNamespaceSplit(top)

        if let section = try top.section("endpoints", knownKeys: ["advertise", "exclude_networks"]) {
            try section.finish()
            if let advertised = try section.list("advertise", parse: { text in
                SocketEndpoint(text).map(Result.success)
                    ?? .failure(ConfigurationProblem("\"\(text)\" is not an endpoint: expected ADDRESS:PORT or [IPv6]:PORT"))
            }) { endpoints.advertise = advertised }
            if let excluded = try section.list("exclude_networks", parse: { text in
                Result { () throws(IPPrefixError) in try IPPrefix(parsing: text) }.mapError { ConfigurationProblem($0.description) }
            }) { endpoints.excludeNetworks = excluded }
        }
    }

    private mutating func readRelay(_ top: YAMLSection) throws(ConfigurationError) {
        guard let section = try top.section("relay", knownKeys: ["enabled", "max_allocations", "bandwidth_mbit", "ports"]) else { return }
        try section.finish()
        if let flag = try section.bool("enabled") { relay.enabled = flag }
        if let count = try section.integer("max_allocations", in: 0...65535) { relay.maximumAllocations = count }
        if let megabits = try section.integer("bandwidth_mbit", in: 1...1_000_000) { relay.bandwidthMegabits = megabits }
        if let text = try section.string("ports"), let node = section.value("ports") {
            let bounds = text.split(separator: "-", omittingEmptySubsequences: false).map { UInt16($0.filter { $0 != " " }) }
            guard bounds.count == 2, let low = bounds[0], let high = bounds[1], low > 0, low <= high else {
                throw section.error(at: node, key: "ports", "\"\(text)\" is not a port range; write FIRST-LAST, e.g. 40000-49999")
            }
            relay.ports = low...high
        }
    }

    /// With `interface.netns`, what meshd cannot do yet in the other namespace: serve routes or an
    /// exit (its forwarding and nftables tables are set in meshd's own), or use an exit (its
    /// policy rules and `src_valid_mark`).
    private func checkNamespaceSplit(_ top: YAMLSection) throws(ConfigurationError) {
        guard let namespace = interface.netns else { return }
        let unsupported = [
            (!routes.serve.isEmpty, "routes.serve"), (exit.serve, "exit.serve"), (exit.use != .none, "exit.use"),
        ].filter(\.0).map(\.1)
        if let key = unsupported.first {
            throw top.error(at: top.value("interface"), key: "interface.netns", "\(key) is not supported with the interface in namespace \(namespace) yet")
        }
    }

    /// Why `name` cannot be a Linux interface name, or `nil` if it can.
    public static func interfaceNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "an interface name cannot be empty" }
        if name.utf8.count > 15 { return "\"\(name)\" is longer than 15 bytes, the Linux limit for interface names" }
        if name == "." || name == ".." || name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) {
            return "\"\(name)\" cannot be an interface name (no '/', ':' or spaces)"
        }
        return nil
    }
}
