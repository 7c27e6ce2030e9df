/// How a node came to know one of its own endpoints; peers prefer them in this order when
/// several are announced: configured, reported by peers, observed by WireGuard, local.
public enum EndpointKind: UInt8, Hashable, Comparable, Sendable, CaseIterable, CustomStringConvertible {
    /// An address of one of the node's own interfaces.
    case local = 0
    /// The address and port a peer saw the node's datagrams come from (the outside of a NAT).
    case reflexive = 1
    /// The endpoint peers' WireGuard saw the node's WireGuard packets come from.
    case observed = 2
    /// Configured by the operator (`endpoints.advertise`).
    case advertised = 3

    public static func < (lhs: EndpointKind, rhs: EndpointKind) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .local: return "local"
        case .reflexive: return "reflexive"
        case .observed: return "observed"
        case .advertised: return "advertised"
        }
    }
}

/// One endpoint a node announces, with how it learned it.
public struct AnnouncedEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var kind: EndpointKind
    public var endpoint: SocketEndpoint

    public init(_ kind: EndpointKind, _ endpoint: SocketEndpoint) {
        self.kind = kind
        self.endpoint = endpoint
    }

    public var description: String { "\(endpoint) (\(kind))" }
}

/// A prefix a node serves as a gateway right now (a LAN behind it, or the default route of an
/// exit), with its priority: members choose the highest-priority gateway that is alive and
/// reachable (ties go to the lowest node ID, so every member chooses the same one).
public struct ServedRoute: Hashable, Sendable, CustomStringConvertible {
    public var prefix: IPPrefix
    /// Higher is preferred (as VRRP's priority); 100 unless configured.
    public var priority: UInt8

    public static let defaultPriority: UInt8 = 100

    public init(prefix: IPPrefix, priority: UInt8 = ServedRoute.defaultPriority) {
        self.prefix = prefix
        self.priority = priority
    }

    public var description: String { "\(prefix) (priority \(priority))" }
}

/// A relay this node reaches directly, with the measured round trip, so that two peers that
/// cannot reach each other can pick a relay both reach.
public struct RelayReachability: Hashable, Sendable {
    public var relay: NodeID
    public var rttMilliseconds: UInt16

    public init(relay: NodeID, rttMilliseconds: UInt16) {
        self.relay = relay
        self.rttMilliseconds = rttMilliseconds
    }
}
