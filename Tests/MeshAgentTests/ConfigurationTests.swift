import Foundation
import MeshAgent
import MeshCore
import Testing

@Suite struct ConfigurationTests {
    /// The documented example must parse, and it documents exactly the defaults.
    @Test func exampleConfigurationParsesToTheDefaults() throws {
        let example = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("configs/meshd.yaml").path
        let configuration = try MeshdConfiguration.load(file: example)
        #expect(configuration == MeshdConfiguration())
    }

    /// Issue 12: the `routes` section, and what it refuses.
    @Test func readsTheRoutesSection() throws {
        let text = """
            routes:
              serve:
                - prefix: 192.168.10.0/24
                  priority: 150
                - prefix: 2001:db8:10::/64
                  check:
                    interface: lan1
                    target: 2001:db8:10::1
                    timeout_ms: 500
              accept: [192.168.0.0/16]
              table: 100
              proto: 80
              preempt: false
              hold_down: 30
              masquerade: false
            """
        let routes = try MeshdConfiguration.parse(yaml: text, file: "routes.yaml").routes
        #expect(routes.serve.count == 2 && routes.serve[0] == .init(prefix: IPPrefix("192.168.10.0/24")!, priority: 150))
        #expect(routes.serve[1].checkInterface == "lan1" && routes.serve[1].checkTarget == IPAddress("2001:db8:10::1") && routes.serve[1].checkTimeoutMilliseconds == 500)
        #expect(routes.accept == .within([IPPrefix("192.168.0.0/16")!]))
        #expect(routes.table == 100 && routes.proto == 80 && !routes.preempt && routes.holdDownSeconds == 30 && !routes.masquerade)
        #expect(try MeshdConfiguration.parse(yaml: "routes:\n  accept: true\n", file: "a.yaml").routes.accept == .all)
        var configuration = MeshdConfiguration()
        configuration.routes = routes
        #expect(try MeshdConfiguration.parse(yaml: configuration.yamlText, file: "rendered.yaml") == configuration)
        for (bad, problem) in [
            ("routes:\n  serve:\n    - prefix: 0.0.0.0/0\n", "a default route is an exit"),
            ("routes:\n  serve:\n    - priority: 5\n", "needs a prefix"),
            ("routes:\n  serve:\n    - prefix: 10.0.0.0/8\n      priority: 300\n", "out of range"),
            ("routes:\n  accept: maybe\n", "expected true, false or a list"),
            ("routes:\n  masqerade: false\n", "did you mean \"masquerade\""),
        ] {
            #expect(throws: ConfigurationError.self) { try MeshdConfiguration.parse(yaml: bad, file: "bad.yaml") }
            do { _ = try MeshdConfiguration.parse(yaml: bad, file: "bad.yaml") } catch { #expect("\(error)".contains(problem), "\(error)") }
        }
    }

    /// Issue 12 point 3: the `exit` section, and what it refuses.
    @Test func readsTheExitSection() throws {
        let text = """
            exit:
              serve: true
              priority: 200
              check:
                interface: wan0
                target: 192.0.2.1
              use: exit-2
              table: 1000
            """
        let exit = try MeshdConfiguration.parse(yaml: text, file: "exit.yaml").exit
        #expect(exit.serve && exit.priority == 200 && exit.checkInterface == "wan0" && exit.checkTarget == IPAddress("192.0.2.1"))
        #expect(exit.use == .member("exit-2") && exit.table == 1000)
        #expect(exit.servedRoutes.map(\.prefix) == IPPrefix.defaultRoutes && exit.servedRoutes.allSatisfy { $0.priority == 200 && $0.checkInterface == "wan0" })
        #expect(try MeshdConfiguration.parse(yaml: "exit:\n  use: auto\n", file: "a.yaml").exit.use == .auto)
        #expect(try MeshdConfiguration.parse(yaml: "exit:\n  use: false\n", file: "a.yaml").exit.use == .none)
        #expect(MeshdConfiguration().exit.servedRoutes.isEmpty)
        var configuration = MeshdConfiguration()
        configuration.exit = exit
        #expect(try MeshdConfiguration.parse(yaml: configuration.yamlText, file: "rendered.yaml") == configuration)
        for (bad, problem) in [
            ("exit:\n  use: \"two words\"\n", "expected none, auto or a member's name"),
            ("exit:\n  table: 254\n", "reserved table"),
            ("routes:\n  table: 51820\n", "also exit.table"),
            ("exit:\n  serve: sometimes\n", "expected true or false"),
        ] {
            do { _ = try MeshdConfiguration.parse(yaml: bad, file: "bad.yaml"); Issue.record("\(bad) parsed") } catch { #expect("\(error)".contains(problem), "\(error)") }
        }
    }

    /// Issue 13: the routing daemon mode, the namespace split, link-local and the underlay device.
    @Test func readsTheRoutingSectionAndTheNamespaceSplit() throws {
        let text = "interface:\n  netns: private\nrouting:\n  mode: daemon\n  table: 100\n  export_table: 0\n"
        let configuration = try MeshdConfiguration.parse(yaml: text, file: "routing.yaml")
        #expect(configuration.interface.netns == "private")
        #expect(configuration.routing.mode == .daemon && configuration.routing.table == 100 && configuration.routing.exportTable == 0)
        #expect(MeshdConfiguration().routing.exportTable == 51821 && MeshdConfiguration().routing.mode == .none)
        #expect(try MeshdConfiguration.parse(yaml: configuration.yamlText, file: "rendered") == configuration)
    }

    /// Issue 14: the metrics endpoint is off by default; `listen` takes ADDRESS:PORT.
    @Test func readsTheMetricsSection() throws {
        #expect(MeshdConfiguration().metrics.listen == nil)
        let configuration = try MeshdConfiguration.parse(yaml: "metrics:\n  listen: 127.0.0.1:9586\n  peer_series: 50\n", file: "metrics.yaml")
        #expect(configuration.metrics.listen == SocketEndpoint("127.0.0.1:9586") && configuration.metrics.peerSeries == 50)
        #expect(try MeshdConfiguration.parse(yaml: configuration.yamlText, file: "rendered") == configuration)
        #expect(try MeshdConfiguration.parse(yaml: "metrics:\n  listen: \"[::1]:9586\"\n", file: "m.yaml").metrics.listen == SocketEndpoint("[::1]:9586"))
    }

    @Test func emptyFileMeansDefaults() throws {
        #expect(try MeshdConfiguration.parse(yaml: "", file: "empty.yaml") == MeshdConfiguration())
        #expect(try MeshdConfiguration.parse(yaml: "# only a comment\n", file: "c.yaml") == MeshdConfiguration())
    }

    @Test func readsEverySetting() throws {
        let text = """
            state_dir: /srv/mesh
            control_socket: /run/mesh.sock
            log_level: debug
            interface:
              name: wg-mesh
              backend: userspace
              listen_port: 40000
              mtu: 1380
              fwmark: 0x51
              link_local: false
            gossip:
              port: 40001
              bind: ["192.0.2.1", "2001:db8::1"]
            underlay:
              bind_device: vrf-red
            endpoints:
              advertise: ["203.0.113.7:51820", "[2001:db8::7]:51820"]
              exclude_networks: [172.17.0.0/16, "fd00::/8"]
            """
        let configuration = try MeshdConfiguration.parse(yaml: text, file: "full.yaml")
        #expect(configuration.stateDirectory == "/srv/mesh")
        #expect(configuration.effectiveControlSocket == "/run/mesh.sock")
        #expect(configuration.logLevel == .debug)
        #expect(configuration.interface.name == "wg-mesh")
        #expect(configuration.interface.backend == .userspace)
        #expect(configuration.interface.listenPort == 40000)
        #expect(configuration.interface.mtu == 1380)
        #expect(configuration.interface.fwmark == 0x51)
        #expect(!configuration.interface.linkLocal && MeshdConfiguration().interface.linkLocal)
        #expect(configuration.underlay.bindDevice == "vrf-red" && MeshdConfiguration().underlay.bindDevice == nil)
        #expect(configuration.gossip.port == 40001)
        #expect(configuration.gossip.bind == [IPAddress("192.0.2.1"), IPAddress("2001:db8::1")].compactMap { $0 })
        #expect(configuration.endpoints.advertise.map(\.description) == ["203.0.113.7:51820", "[2001:db8::7]:51820"])
        #expect(configuration.endpoints.excludeNetworks.map(\.description) == ["172.17.0.0/16", "fd00::/8"])
        // What --check-config prints reads back to the same value.
        #expect(try MeshdConfiguration.parse(yaml: configuration.yamlText, file: "rendered") == configuration)
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        let yaml: String, line: Int?, key: String?, problem: String
        var testDescription: String { problem }
    }

    static let badCases: [BadCase] = [
        BadCase(yaml: "interface:\n  listen_prot: 1\n", line: 2, key: "interface.listen_prot",
                problem: "unknown key; did you mean \"listen_port\"?"),
        BadCase(yaml: "colour: blue\n", line: 1, key: "colour", problem: "unknown key; known keys here:"),
        BadCase(yaml: "interface:\n  listen_port: 70000\n", line: 2, key: "interface.listen_port",
                problem: "70000 is out of range (1–65535)"),
        BadCase(yaml: "gossip:\n  port: 0\n", line: 2, key: "gossip.port", problem: "0 is out of range (1–65535)"),
        BadCase(yaml: "gossip:\n  port: fast\n", line: 2, key: "gossip.port",
                problem: "expected an integer, found the string \"fast\""),
        BadCase(yaml: "interface:\n  mtu: [1420]\n", line: 2, key: "interface.mtu", problem: "expected an integer, found a list"),
        BadCase(yaml: "endpoints:\n  exclude_networks: [10.0.0.1/8]\n", line: 2, key: "endpoints.exclude_networks[0]",
                problem: "bits are set after the prefix length; did you mean 10.0.0.0/8?"),
        BadCase(yaml: "endpoints:\n  exclude_networks: [\"10.0.0.0/33\"]\n", line: 2, key: "endpoints.exclude_networks[0]",
                problem: "the length must be a number from 0 to 32"),
        BadCase(yaml: "endpoints:\n  exclude_networks: [banana]\n", line: 2, key: "endpoints.exclude_networks[0]",
                problem: "expected ADDRESS/LENGTH"),
        BadCase(yaml: "endpoints:\n  exclude_networks: 10.0.0.0/8\n", line: 2, key: "endpoints.exclude_networks",
                problem: "expected a list, found the string \"10.0.0.0/8\""),
        BadCase(yaml: "endpoints:\n  advertise: [\"203.0.113.7\"]\n", line: 2, key: "endpoints.advertise[0]",
                problem: "is not an endpoint"),
        BadCase(yaml: "interface:\n  backend: turbo\n", line: 2, key: "interface.backend",
                problem: "\"turbo\" is not one of: auto, kernel, userspace"),
        BadCase(yaml: "interface:\n  name: this-name-is-far-too-long\n", line: 2, key: "interface.name",
                problem: "longer than 15 bytes"),
        BadCase(yaml: "state_dir: relative/path\n", line: 1, key: "state_dir", problem: "must be an absolute path"),
        BadCase(yaml: "interface: mesh0\n", line: 1, key: "interface", problem: "expected a mapping of keys to values"),
        BadCase(yaml: "- just\n- a list\n", line: 1, key: nil, problem: "expected a mapping of keys to values, found a list"),
        BadCase(yaml: "interface:\n  name: [unclosed\n", line: 2, key: nil, problem: "not valid YAML: [ is not closed on this line"),
        BadCase(yaml: "interface:\n  link_local: maybe\n", line: 2, key: "interface.link_local",
                problem: "expected true or false, found the string \"maybe\""),
        BadCase(yaml: "underlay:\n  bind_device: \"vrf red\"\n", line: 2, key: "underlay.bind_device",
                problem: "cannot be an interface name"),
        BadCase(yaml: "underlay:\n  bind_devices: vrf0\n", line: 2, key: "underlay.bind_devices",
                problem: "did you mean \"bind_device\"?"),
        BadCase(yaml: "routing:\n  mode: bgp\n", line: 2, key: "routing.mode", problem: "\"bgp\" is not one of: none, daemon"),
        BadCase(yaml: "routes:\n  accept: true\nrouting:\n  mode: daemon\n", line: 4, key: "routing.mode",
                problem: "daemon mode and routes.accept both choose gateways"),
        BadCase(yaml: "exit:\n  use: auto\nrouting:\n  mode: daemon\n", line: 4, key: "routing.mode", problem: "set exit.use to none"),
        BadCase(yaml: "routing:\n  mode: daemon\n  export_table: 51820\n", line: 3, key: "routing.export_table", problem: "is also exit.table"),
        BadCase(yaml: "routing:\n  export_table: 254\n", line: 2, key: "routing.export_table", problem: "is a reserved table"),
        BadCase(yaml: "interface:\n  backend: userspace\n  netns: private\n", line: 3, key: "interface.netns", problem: "needs kernel WireGuard"),
        BadCase(yaml: "interface:\n  netns: a/b\n", line: 2, key: "interface.netns", problem: "is not a network namespace name"),
        BadCase(yaml: "interface:\n  netns: private\nexit:\n  use: auto\n", line: 2, key: "interface.netns",
                problem: "exit.use is not supported with the interface in namespace private yet"),
        BadCase(yaml: "metrics:\n  listen: 9586\n", line: 2, key: "metrics.listen", problem: "is not ADDRESS:PORT"),
        BadCase(yaml: "metrics:\n  peer_series: -1\n", line: 2, key: "metrics.peer_series", problem: "-1 is out of range (0–100000)"),
        BadCase(yaml: "log_level: loud\n", line: 1, key: "log_level", problem: "\"loud\" is not one of: trace, debug"),
    ]

    @Test(arguments: badCases)
    func badInputNamesFileKeyAndProblem(_ bad: BadCase) {
        do {
            _ = try MeshdConfiguration.parse(yaml: bad.yaml, file: "/etc/meshwork/meshd.yaml")
            Issue.record("accepted: \(bad.yaml)")
        } catch {
            #expect(error.file == "/etc/meshwork/meshd.yaml")
            #expect(error.key == bad.key)
            if let line = bad.line { #expect(error.line == line) }
            #expect(error.problem.contains(bad.problem), "\(error)")
            #expect(error.description.hasPrefix("/etc/meshwork/meshd.yaml:"))
        }
    }

    @Test func missingFileIsNamed() {
        #expect {
            try MeshdConfiguration.load(file: "/nonexistent/meshd.yaml")
        } throws: { error in
            "\(error)".contains("/nonexistent/meshd.yaml") && "\(error)".contains("cannot read the file")
        }
    }
}
