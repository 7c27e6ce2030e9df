import MeshCore
import MeshCrypto

/// A WireGuard peer as the device has it: what the device plan and the observation read.
package struct DevicePeerView: Equatable, Sendable {
    /// Where the device sends the peer's packets (nil: not known yet).
    package var endpoint: SocketEndpoint?
    /// The last completed handshake, on the core's clock (nil: never).
    package var lastHandshake: Timestamp?
    package var receivedBytes: UInt64
    package var transmittedBytes: UInt64

    package init(endpoint: SocketEndpoint?, lastHandshake: Timestamp?, receivedBytes: UInt64, transmittedBytes: UInt64) {
        self.endpoint = endpoint
        self.lastHandshake = lastHandshake
        self.receivedBytes = receivedBytes
        self.transmittedBytes = transmittedBytes
    }

    /// How far the peer's first handshake got (``FirstHandshakes/due(now:contact:)``).
    package var contact: FirstHandshakes.Contact {
        lastHandshake != nil ? .handshake : receivedBytes > 0 ? .received : .nothing
    }

    /// Whether the last handshake is younger than `age` at `now`.
    func handshake(within age: Interval, now: Timestamp) -> Bool {
        guard let lastHandshake else { return false }
        return now < lastHandshake || now - lastHandshake < age
    }
}

/// This host as the device plan sees it.
package struct PlanningHost {
    /// This node, and its overlay addresses (no member may be given them).
    package var nodeID: NodeID
    package var overlayAddresses: [IPAddress]
    /// Its underlay addresses (empty: not known, every address family is tried).
    package var localAddresses: [IPAddress]
    /// Its subnets: a member's local endpoint on one of them is tried first.
    package var subnets: [(address: IPAddress, subnet: IPPrefix)]
    /// Whether it is behind NAT (its peers get keepalives then, to hold the mapping open).
    package var behindNAT: Bool

    package init(
        nodeID: NodeID, overlayAddresses: [IPAddress], localAddresses: [IPAddress], subnets: [(address: IPAddress, subnet: IPPrefix)] = [],
        behindNAT: Bool = false
    ) {
        self.nodeID = nodeID
        self.overlayAddresses = overlayAddresses
        self.localAddresses = localAddresses
        self.subnets = subnets
        self.behindNAT = behindNAT
    }
}

/// One WireGuard peer the plan wants.
package struct PlannedPeer: Equatable, Sendable {
    package var member: NodeID
    package var publicKey: X25519PublicKey
    /// Where to send (nil: keep what the device has).
    package var endpoint: SocketEndpoint?
    package var allowedIPs: [IPPrefix]
    /// Seconds; 0 is off.
    package var persistentKeepalive: UInt16
}

/// What the device should hold, and the announced prefixes refused on the way (each reported
/// once per record version, for the shell to count and log).
package struct DevicePlan: Equatable {
    package var peers: [PlannedPeer] = []
    package var refused: [(member: NodeID, prefix: IPPrefix)] = []
    /// Served prefixes refused for safety (``PathCore/routeOffers(node:host:addressBook:)``), each
    /// reported once.
    package var refusedRoutes: [(member: NodeID, prefix: IPPrefix)] = []
    /// Whether a routed prefix changed gateway in this plan (the kernel routes follow).
    package var routesChanged = false
    /// Routing daemons' routes whose member changed in this plan (``DaemonRouteChoice``), to log.
    package var daemonRoutesChanged: [DaemonRouteChoice.Chosen] = []
    /// Routing daemons' routes newly refused, to count and log.
    package var refusedDaemonRoutes: [DaemonRouteChoice.Chosen] = []
    /// Routing daemons' routes over ``DaemonRouteChoice/maximumRoutes``, ignored.
    package var ignoredDaemonRoutes = 0

    package static func == (lhs: DevicePlan, rhs: DevicePlan) -> Bool {
        lhs.peers == rhs.peers && lhs.refused.elementsEqual(rhs.refused) { $0.member == $1.member && $0.prefix == $1.prefix }
    }
}

/// What one reading of the device found.
package struct DeviceObservation: Equatable {
    /// A peer on the direct path was roamed back to a released relay port: plan again now.
    package var contradictsPath = false
    /// Members to tell where this node's WireGuard sees them (``PathCore/endpointReportBody(_:)``).
    package var endpointReports: [(member: NodeID, endpoint: SocketEndpoint)] = []
    /// Path effects of the reading (a relayed peer whose data now comes straight from a new address).
    package var effects: [PathCore.Effect] = []

    package static func == (lhs: DeviceObservation, rhs: DeviceObservation) -> Bool {
        lhs.contradictsPath == rhs.contradictsPath && lhs.effects == rhs.effects
            && lhs.endpointReports.elementsEqual(rhs.endpointReports) { $0.member == $1.member && $0.endpoint == $1.endpoint }
    }
}

/// What the device plan keeps per member between plans and readings.
struct DevicePlanMemory {
    /// The endpoint being tried for each member, and since when.
    var endpointChoices: [NodeID: EndpointChoice] = [:]
    /// Refused served prefixes already reported ("member prefix").
    var refusedRoutes = Set<String>()
    /// The record version whose refused prefixes were last reported, per member.
    var refusalReportedVersions: [NodeID: UInt64] = [:]
    /// Each peer's byte counters at the last reading (by WireGuard key, as the device names peers).
    var counters: [X25519PublicKey: (received: UInt64, transmitted: UInt64)] = [:]
    /// The last endpoint reported to each member, and when.
    var reportedEndpoints: [NodeID: (endpoint: SocketEndpoint, at: Timestamp)] = [:]
    /// Where each member's data last arrived from while its path was direct (not a relay's port).
    var directSources: [NodeID: SocketEndpoint] = [:]

    mutating func forget(_ member: NodeID) {
        directSources[member] = nil
        endpointChoices[member] = nil
        refusalReportedVersions[member] = nil
        reportedEndpoints[member] = nil
    }
}
