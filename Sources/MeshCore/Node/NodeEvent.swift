/// Something the agent (or simulator) may want to act on. Drained with the node's output.
public enum NodeEvent: Equatable, Sendable {
    /// A member became known.
    case memberAdded(NodeID)
    /// A member's record changed to `version` (endpoints, prefixes, flags).
    case memberUpdated(NodeID, version: UInt64)
    /// This node's verdict on a member changed.
    case statusChanged(NodeID, MemberStatus)
    /// A tombstone expired and the member was forgotten.
    case memberForgotten(NodeID)
    /// This node published a new version of its own record.
    case localRecordPublished(version: UInt64)
    /// This node refuted a suspicion or death verdict about itself.
    case refuted(version: UInt64)
    /// Peers report seeing this node's gossip datagrams from `endpoint` (outside a NAT).
    case reflexiveEndpoint(SocketEndpoint)
    /// A member's authenticated datagrams now come from another address than before (it roamed,
    /// or its NAT renumbered): a relay serving it accepts its traffic from there.
    case memberMoved(NodeID, SocketEndpoint)
    /// The authority enrolled a new node.
    case enrolled(NodeCertificate)
    /// An extension message (path probes, relay allocation) from an authenticated member.
    case extensionMessage(from: NodeID, type: UInt8, body: [UInt8], endpoint: SocketEndpoint)
}

/// Counters of a node's traffic.
public struct NodeStatistics: Sendable, Equatable {
    public var datagramsSent: UInt64 = 0
    public var bytesSent: UInt64 = 0
    public var datagramsReceived: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    public var probesSent: UInt64 = 0
    public var probesFailed: UInt64 = 0
    public var suspicionsRaised: UInt64 = 0
    public var deathsDeclared: UInt64 = 0
    public var refutations: UInt64 = 0
    /// Messages sent, by wire type code (extension messages included).
    public var messagesSent = [UInt64](repeating: 0, count: 64)
    /// Messages received in authenticated datagrams, by wire type code.
    public var messagesReceived = [UInt64](repeating: 0, count: 64)
    public init() {}
}

/// What this node announces about itself; changing it publishes a new record version.
public struct LocalAnnouncement: Equatable, Sendable {
    public var gossipEndpoints: [AnnouncedEndpoint]
    public var wireGuardEndpoints: [AnnouncedEndpoint]
    public var prefixes: [IPPrefix]
    public var offersRelay: Bool
    public var behindNAT: Bool
    public var relays: [RelayReachability]
    /// Routes served as a gateway now (only those inside the certificate's route grant are signed).
    public var servedRoutes: [ServedRoute]

    public init(gossipEndpoints: [AnnouncedEndpoint] = [], wireGuardEndpoints: [AnnouncedEndpoint] = [],
                prefixes: [IPPrefix] = [], offersRelay: Bool = false, behindNAT: Bool = false,
                relays: [RelayReachability] = [], servedRoutes: [ServedRoute] = []) {
        self.servedRoutes = servedRoutes
        self.gossipEndpoints = gossipEndpoints
        self.wireGuardEndpoints = wireGuardEndpoints
        self.prefixes = prefixes
        self.offersRelay = offersRelay
        self.behindNAT = behindNAT
        self.relays = relays
    }
}
