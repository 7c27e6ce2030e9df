/// `meshctl graph --json`: the mesh as one node sees it — every member with its state and roles,
/// this node's path to each (direct or through a relay, with the round trip), the relays each
/// member announces it reaches, and the gateways of each routed prefix.
public struct GraphReport: Codable, Sendable, Equatable {
    /// One member.
    public struct Member: Codable, Sendable, Equatable {
        public var name: String
        /// `alive`, `suspect`, `dead`, `left` or `revoked`.
        public var state: String
        public var roles: [String]
        /// Whether this is the node that drew the graph.
        public var isSelf: Bool
        public init(name: String, state: String, roles: [String], isSelf: Bool) {
            self.name = name
            self.state = state
            self.roles = roles
            self.isSelf = isSelf
        }
    }

    /// This node's path to a peer.
    public struct Path: Codable, Sendable, Equatable {
        public var to: String
        /// `direct`, `relay` or `none`.
        public var kind: String
        public var relay: String?
        public var rttMilliseconds: Double?
        public init(to: String, kind: String, relay: String?, rttMilliseconds: Double?) {
            self.to = to
            self.kind = kind
            self.relay = relay
            self.rttMilliseconds = rttMilliseconds
        }
    }

    /// A relay a member announces it reaches directly, with the round trip it measured.
    public struct RelayLink: Codable, Sendable, Equatable {
        public var member: String
        public var relay: String
        public var rttMilliseconds: Double
        public init(member: String, relay: String, rttMilliseconds: Double) {
            self.member = member
            self.relay = relay
            self.rttMilliseconds = rttMilliseconds
        }
    }

    /// The node that drew the graph.
    public var node: String
    public var members: [Member]
    public var paths: [Path]
    public var relayLinks: [RelayLink]
    /// Every routed prefix, with its gateways (``RouteReport``).
    public var routes: [RouteReport]

    public init(node: String, members: [Member], paths: [Path], relayLinks: [RelayLink], routes: [RouteReport]) {
        self.node = node
        self.members = members
        self.paths = paths
        self.relayLinks = relayLinks
        self.routes = routes
    }
}
