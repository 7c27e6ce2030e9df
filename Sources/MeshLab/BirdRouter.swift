import Foundation

/// BIRD 2 (Debian's `bird2`) in a lab namespace, speaking eBGP or OSPFv3 to mesh members over the
/// mesh interface's link-local addresses — the recipes of docs/operations.md ("Under a routing
/// daemon"). It announces the prefixes of its LAN interface and installs what it learns in the
/// main table (proto bird): with BGP, IPv4 routes through IPv6 link-local next hops (extended next
/// hop); with OSPFv3, IPv6 only.
public final class BirdRouter: @unchecked Sendable {
    // Mutated only by the thread driving the lab.
    /// One BGP neighbour: a member's name, its link-local address and its AS number.
    public struct Neighbor: Sendable {
        public var name: String, linkLocal: String, autonomousSystem: Int
        public init(name: String, linkLocal: String, autonomousSystem: Int) {
            self.name = name
            self.linkLocal = linkLocal
            self.autonomousSystem = autonomousSystem
        }
    }

    /// What BIRD speaks over the mesh.
    public enum RoutingProtocol: String, Sendable {
        /// eBGP, one session per neighbour, IPv4 and IPv6 (IPv4 with extended next hop).
        case bgp
        /// OSPFv3 for IPv6, the mesh interface point-to-multipoint with the neighbours listed.
        case ospf
    }

    public let namespace: String
    public let configPath: String
    public let socketPath: String
    public let logPath: String
    private let lab: Lab
    private var process: LabProcess?

    /// Writes the configuration for a router in `namespace` with AS `autonomousSystem`, announcing
    /// the prefixes on `lanInterface` to `neighbors` over `meshInterface`.
    public init(
        lab: Lab, namespace: String, directory: String, name: String, routerID: String, autonomousSystem: Int, meshInterface: String,
        lanInterface: String, neighbors: [Neighbor], speaking routing: RoutingProtocol = .bgp
    ) throws {
        self.lab = lab
        self.namespace = namespace
        configPath = "\(directory)/bird-\(name).conf"
        socketPath = "\(directory)/bird-\(name).ctl"
        logPath = "\(directory)/bird-\(name).log"
        try Self.configuration(
            routerID: routerID, autonomousSystem: autonomousSystem, meshInterface: meshInterface, lanInterface: lanInterface,
            neighbors: neighbors, logPath: logPath, speaking: routing
        ).write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// The configuration text (the recipes of docs/operations.md, with the lab's names).
    public static func configuration(
        routerID: String, autonomousSystem: Int, meshInterface: String, lanInterface: String, neighbors: [Neighbor], logPath: String,
        speaking routing: RoutingProtocol = .bgp
    ) -> String {
        let learned = routing == .bgp ? "source = RTS_BGP" : "source ~ [RTS_OSPF, RTS_OSPF_IA, RTS_OSPF_EXT1, RTS_OSPF_EXT2]"
        var text = """
            router id \(routerID);
            log "\(logPath)" all;
            protocol device { scan time 2; }
            protocol direct { ipv4; ipv6; interface "\(lanInterface)"; }
            protocol kernel kernel4 { ipv4 { import none; export where \(learned); }; merge paths on; }
            protocol kernel kernel6 { ipv6 { import none; export where \(learned); }; merge paths on; }

            """
        switch routing {
        case .bgp:
            text += """
                template bgp mesh {
                  local as \(autonomousSystem);
                  hold time 9;
                  connect retry time 2;
                  ipv4 { extended next hop on; import all; export where source = RTS_DEVICE; };
                  ipv6 { import all; export where source = RTS_DEVICE; };
                }

                """
            for neighbor in neighbors {
                text += """
                    protocol bgp \(neighbor.name) from mesh {
                      neighbor \(neighbor.linkLocal) as \(neighbor.autonomousSystem);
                      interface "\(meshInterface)";
                    }

                    """
            }
        case .ospf:
            text += """
                protocol ospf v3 mesh6 {
                  ipv6 { import all; export none; };
                  area 0 {
                    interface "\(meshInterface)" { type ptmp; hello 2; dead 8; neighbors { \(neighbors.map { "\($0.linkLocal);" }.joined(separator: " ")) }; };
                    interface "\(lanInterface)" { stub yes; };
                  };
                }

                """
        }
        return text
    }

    /// Starts `bird` in the foreground in its namespace (stopped by PID at the lab's teardown).
    public func start() throws {
        process = try lab.start(["bird", "-f", "-c", configPath, "-s", socketPath], in: namespace)
        let deadline = Date().addingTimeInterval(10)
        while (try? birdc(["show", "status"]))?.contains("Daemon is up") != true {
            guard Date() < deadline, process?.isRunning == true else {
                throw LabError.failed("bird did not start in \(namespace): \(process?.output ?? "")\n\(log)")
            }
            usleep(100_000)
        }
    }

    /// Stops it (SIGTERM, then SIGKILL): its routes stay in the kernel until removed.
    public func stop() { process?.stop(grace: 3) }

    /// Runs `birdc` against this router.
    public func birdc(_ arguments: [String]) throws -> String {
        try lab.run(["birdc", "-s", socketPath] + arguments, check: false, timeout: 10).output
    }

    /// Its log so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}
