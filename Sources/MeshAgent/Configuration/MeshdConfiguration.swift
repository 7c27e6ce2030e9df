import Logging
import MeshCore

/// Everything meshd can be told, with a default for every setting.
///
/// Read from a YAML file by ``MeshdConfiguration/load(file:)``; command-line flags then override
/// single fields. `configs/meshd.yaml` documents every key.
public struct MeshdConfiguration: Equatable, Sendable {
    /// Which WireGuard implementation drives the interface.
    public enum Backend: String, CaseIterable, Sendable {
        /// Kernel WireGuard when the module is available, wireguard-go otherwise.
        case auto
        /// Kernel WireGuard over generic netlink.
        case kernel
        /// A userspace implementation (wireguard-go) over its UAPI socket.
        case userspace
    }

    /// The WireGuard interface meshd manages.
    public struct Interface: Equatable, Sendable {
        /// Interface name (at most 15 bytes, as for any Linux link).
        public var name = "mesh0"
        /// WireGuard implementation.
        public var backend = Backend.auto
        /// WireGuard's UDP listen port.
        public var listenPort: UInt16 = 51820
        /// Interface MTU.
        public var mtu = 1420
        /// Firewall mark on WireGuard's own packets (0: none).
        public var fwmark: UInt32 = 0
        /// Whether the interface carries this member's link-local address (fe80::NODE-ID/64) and
        /// announces it, so routing daemons can peer over link-local addresses (default true).
        public var linkLocal = true
        /// The network namespace the interface lives in (`interface.netns`; nil: meshd's own). The
        /// interface is created in meshd's namespace — where its UDP socket, meshd's gossip and
        /// relay sockets, and the encrypted traffic stay — and moved there; meshd sets its
        /// addresses and routes and reads it there. Kernel WireGuard only.
        public var netns: String?
        public init() {}
    }

    /// How meshd's own underlay sockets (gossip, relay) reach the network.
    public struct Underlay: Equatable, Sendable {
        /// The device its sockets are bound to (`SO_BINDTODEVICE`; a VRF device or an interface),
        /// or nil for any. WireGuard's own socket cannot be bound: mark it (`interface.fwmark`) and
        /// steer the mark with a policy rule.
        public var bindDevice: String?
        public init() {}
    }

    /// meshd's authenticated gossip channel.
    public struct Gossip: Equatable, Sendable {
        /// UDP port of the channel.
        public var port: UInt16 = 51821
        /// Local addresses to bind; empty binds the IPv6 and IPv4 wildcards.
        public var bind: [IPAddress] = []
        public init() {}
    }

    /// Which endpoints this node announces to its peers.
    public struct Endpoints: Equatable, Sendable {
        /// Extra endpoints to announce, such as a public address with a port forward.
        public var advertise: [SocketEndpoint] = []
        /// Local addresses inside these prefixes are never announced (container bridges, …).
        public var excludeNetworks: [IPPrefix] = []
        public init() {}
    }

    /// Relaying for members that cannot reach each other directly.
    public struct Relay: Equatable, Sendable {
        /// Offer to relay (honoured only with the relay role in this node's certificate).
        public var enabled = true
        /// Most pairs relayed at once.
        public var maximumAllocations = 256
        /// Bandwidth per side of a relayed pair, in megabits per second.
        public var bandwidthMegabits = 2000
        /// UDP ports relay allocations are taken from.
        public var ports: ClosedRange<UInt16> = 40000...49999
        public init() {}
    }

    /// Routed prefixes: those this node serves as a gateway, and those it takes from others.
    public struct Routes: Equatable, Sendable {
        /// A prefix this node serves (it must be inside its certificate's route grant).
        public struct Served: Equatable, Sendable {
            public var prefix: IPPrefix
            /// Higher is preferred among gateways of the same prefix.
            public var priority: UInt8 = ServedRoute.defaultPriority
            /// Health check: the prefix is withdrawn while this link is down (`check.interface`)…
            public var checkInterface: String?
            /// …or while this address does not answer pings for `checkTimeoutMilliseconds` (`check.target`, `check.timeout_ms`).
            public var checkTarget: IPAddress?
            public var checkTimeoutMilliseconds = 300
            public init(prefix: IPPrefix, priority: UInt8 = ServedRoute.defaultPriority, checkInterface: String? = nil) {
                self.prefix = prefix
                self.priority = priority
                self.checkInterface = checkInterface
            }
        }
        /// Prefixes served (`routes.serve`).
        public var serve: [Served] = []
        /// Which prefixes served by others to take (`routes.accept`: true, false, or a list).
        public var accept: Acceptance = .none
        /// The kernel routing table for accepted prefixes (254: main).
        public var table: UInt32 = 254
        /// The `proto` of the kernel routes meshd installs, so operators and routing daemons can
        /// tell them apart (77 is unassigned in iproute2's rt_protos).
        public var proto: UInt8 = 77
        /// Move back to a better gateway once it has been back for ``holdDownSeconds``.
        public var preempt = true
        public var holdDownSeconds = 10
        /// Masquerade traffic from the mesh into served prefixes (the LAN needs no route back).
        public var masquerade = true

        /// Which served prefixes to take.
        public enum Acceptance: Equatable, Sendable {
            case none, all
            case within([IPPrefix])
        }

        public init() {}
    }

    /// Exit nodes: serving the default routes to members, and using one.
    public struct Exit: Equatable, Sendable {
        /// Which exit this node sends its Internet traffic through (`exit.use`).
        public enum Use: Equatable, Sendable, CustomStringConvertible {
            case none, auto
            case member(String)

            public var description: String {
                switch self {
                case .none: "none"
                case .auto: "auto"
                case let .member(name): name
                }
            }
        }

        /// Offer this node as an exit (`exit.serve`; the certificate needs the exit role).
        public var serve = false
        /// Higher is preferred among exits (`exit.priority`).
        public var priority: UInt8 = ServedRoute.defaultPriority
        /// Health check of the uplink (`exit.check`): withdrawn while the link is down or the
        /// target does not answer.
        public var checkInterface: String?
        public var checkTarget: IPAddress?
        public var checkTimeoutMilliseconds = 300
        /// The exit used (`exit.use`: none, auto or a member's name).
        public var use = Use.none
        /// The routing table for the default routes through the exit, selected by `ip rule`s for
        /// packets without meshd's fwmark (wg-quick's technique; 51820 as wg-quick).
        public var table: UInt32 = 51820

        /// The default routes as served routes, with this section's priority and check.
        public var servedRoutes: [Routes.Served] {
            guard serve else { return [] }
            return IPPrefix.defaultRoutes.map { prefix in
                var served = Routes.Served(prefix: prefix, priority: priority, checkInterface: checkInterface)
                served.checkTarget = checkTarget
                served.checkTimeoutMilliseconds = checkTimeoutMilliseconds
                return served
            }
        }

        public init() {}
    }

    /// Living under a routing daemon (issue 13): its routes through members become their allowed
    /// IPs, and members' addresses are exported for it to learn.
    public struct Routing: Equatable, Sendable {
        /// `none`: meshd's own route choice only (`routes`). `daemon`: a routing daemon (BIRD,
        /// FRR) decides routes; meshd follows them.
        public enum Mode: String, CaseIterable, Equatable, Sendable { case none, daemon }
        public var mode = Mode.none
        /// The table the daemon installs its routes in, read by meshd (main).
        public var table: UInt32 = 254
        /// The table meshd exports members' overlay addresses into, as routes through the mesh
        /// interface with proto `routes.proto`, for the daemon to learn (0: no export).
        public var exportTable: UInt32 = 51821
        public init() {}
    }

    /// Where meshd keeps keys, certificate and learned state.
    public var stateDirectory = "/var/lib/meshwork"
    /// Path of the control socket; `nil` means `<stateDirectory>/meshd.sock`.
    public var controlSocket: String?
    /// The WireGuard interface.
    public var interface = Interface()
    /// The gossip channel.
    public var gossip = Gossip()
    /// Endpoint announcement.
    public var endpoints = Endpoints()
    /// Relaying.
    public var relay = Relay()
    /// Routed prefixes.
    public var routes = Routes()
    /// Exit nodes.
    public var exit = Exit()
    /// Underlay socket settings.
    public var underlay = Underlay()
    /// Routing daemon integration.
    public var routing = Routing()
    /// The Prometheus endpoint.
    public var metrics = Metrics()
    /// Minimum level of log messages.
    public var logLevel = Logger.Level.info

    /// The defaults.
    public init() {}

    /// The control socket path actually used.
    public var effectiveControlSocket: String { controlSocket ?? stateDirectory + "/meshd.sock" }
}
