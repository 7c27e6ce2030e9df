#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// The answers of the control protocol (requests: ControlRequest.swift).

/// One line of meshd's answer.
public struct ControlReply<Result: Codable & Sendable>: Codable, Sendable {
    /// True on success (final line), false on failure (final line); nil on progress lines.
    public var ok: Bool?
    /// What went wrong, for the operator.
    public var error: String?
    /// A progress message (not final).
    public var progress: String?
    /// The command's result.
    public var result: Result?

    public init(ok: Bool?, error: String? = nil, progress: String? = nil, result: Result? = nil) {
        self.ok = ok
        self.error = error
        self.progress = progress
        self.result = result
    }
}

/// An empty result.
public struct NoResult: Codable, Sendable, Equatable {
    public init() {}
}

/// `meshctl exit --json`: the exit node this node uses and every member serving the default routes.
public struct ExitReport: Codable, Sendable, Equatable {
    /// The choice: `none`, `auto` or a member's name.
    public var use: String
    /// The exit carrying the default routes now (nil: none).
    public var active: String?
    /// Why that one, or why none.
    public var reason: String
    /// Seconds since the active exit was chosen.
    public var sinceSeconds: Double
    /// Every exit known, best first (`active`, `standby` or `down`).
    public var exits: [RouteReport.Gateway]
    /// Whether this node serves as an exit itself.
    public var serving: Bool
    /// The fwmark on WireGuard's and meshd's own packets (0: none).
    public var fwmark: UInt32
    /// The routing table holding the default routes through the exit.
    public var table: UInt32

    public init(
        use: String, active: String?, reason: String, sinceSeconds: Double, exits: [RouteReport.Gateway], serving: Bool, fwmark: UInt32,
        table: UInt32
    ) {
        self.use = use
        self.active = active
        self.reason = reason
        self.sinceSeconds = sinceSeconds
        self.exits = exits
        self.serving = serving
        self.fwmark = fwmark
        self.table = table
    }
}

/// `meshctl routes --json`: one element per routed prefix this node knows (served by members, or by
/// itself).
public struct RouteReport: Codable, Sendable, Equatable {
    /// One gateway of the prefix.
    public struct Gateway: Codable, Sendable, Equatable {
        public var name: String
        public var priority: Int
        /// `active`, `standby`, or `down` (with ``reason``).
        public var state: String
        public var reason: String?

        public init(name: String, priority: Int, state: String, reason: String?) {
            self.name = name
            self.priority = priority
            self.state = state
            self.reason = reason
        }
    }

    public var prefix: String
    /// The gateway carrying it now (nil: none).
    public var active: String?
    /// Why that one (or why none): e.g. "gw1 is dead", "highest priority of 2 gateways".
    public var reason: String
    /// Seconds since the active gateway was chosen.
    public var sinceSeconds: Double
    public var gateways: [Gateway]
    /// Whether this node serves the prefix itself (then it is not routed into the mesh here).
    public var servedHere: Bool
    /// Whether this node accepts the prefix (a kernel route through the mesh while a gateway is active).
    public var accepted: Bool
    /// Who routes it: `mesh` (members serve it, meshd chooses the gateway) or `daemon` (a routing
    /// daemon's route through members, `routing.mode: daemon`; gateways are its next hops).
    public var source: String

    public init(
        prefix: String, active: String?, reason: String, sinceSeconds: Double, gateways: [Gateway], servedHere: Bool, accepted: Bool,
        source: String = "mesh"
    ) {
        self.source = source
        self.prefix = prefix
        self.active = active
        self.reason = reason
        self.sinceSeconds = sinceSeconds
        self.gateways = gateways
        self.servedHere = servedHere
        self.accepted = accepted
    }
}

/// `meshctl peers --json`: one element per peer.
public struct PeerReport: Codable, Sendable, Equatable {
    public var name: String
    public var id: String
    public var addresses: [String]
    public var endpoint: String?
    /// `direct`, `relay` or `none`.
    public var path: String
    public var relay: String?
    public var reason: String?
    public var lastHandshakeSeconds: Double?
    public var rttMilliseconds: Double?
    public var rxBytes: UInt64
    public var txBytes: UInt64
    /// `alive`, `suspect`, `dead`, `left` or `revoked`.
    public var state: String
    public var wireGuardKey: String
    public var roles: [String]
    public var behindNAT: Bool
    public var version: UInt64
    /// Its link-local address on the mesh interface (`fe80::…`, issue 13) when its record
    /// announces one; routing daemons peer with it as `fe80::…%INTERFACE`.
    public var linkLocal: String?

    public init(name: String, id: String, addresses: [String], endpoint: String?, path: String, relay: String?, reason: String?,
                lastHandshakeSeconds: Double?, rttMilliseconds: Double?, rxBytes: UInt64, txBytes: UInt64, state: String,
                wireGuardKey: String, roles: [String], behindNAT: Bool, version: UInt64, linkLocal: String? = nil) {
        self.name = name
        self.id = id
        self.addresses = addresses
        self.endpoint = endpoint
        self.path = path
        self.relay = relay
        self.reason = reason
        self.lastHandshakeSeconds = lastHandshakeSeconds
        self.rttMilliseconds = rttMilliseconds
        self.rxBytes = rxBytes
        self.txBytes = txBytes
        self.state = state
        self.wireGuardKey = wireGuardKey
        self.roles = roles
        self.behindNAT = behindNAT
        self.version = version
        self.linkLocal = linkLocal
    }

    enum CodingKeys: String, CodingKey {
        case name, id, addresses, endpoint, path, relay, reason, lastHandshakeSeconds, rttMilliseconds, rxBytes, txBytes, state
        case wireGuardKey, roles, behindNAT, version, linkLocal
    }

    /// Encodes absent values as `null`, never omitting a key (scripts rely on every field).
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(id, forKey: .id)
        try container.encode(addresses, forKey: .addresses)
        try container.encode(endpoint, forKey: .endpoint)
        try container.encode(path, forKey: .path)
        try container.encode(relay, forKey: .relay)
        try container.encode(reason, forKey: .reason)
        try container.encode(lastHandshakeSeconds, forKey: .lastHandshakeSeconds)
        try container.encode(rttMilliseconds, forKey: .rttMilliseconds)
        try container.encode(rxBytes, forKey: .rxBytes)
        try container.encode(txBytes, forKey: .txBytes)
        try container.encode(state, forKey: .state)
        try container.encode(wireGuardKey, forKey: .wireGuardKey)
        try container.encode(roles, forKey: .roles)
        try container.encode(behindNAT, forKey: .behindNAT)
        try container.encode(version, forKey: .version)
        try container.encode(linkLocal, forKey: .linkLocal)
    }
}

/// `status --json` → `routes`: one prefix this node routes into the mesh.
public struct StatusRoute: Codable, Sendable, Equatable {
    public var prefix: String
    /// The member carrying it now (nil: none).
    public var active: String?
    /// `mesh` (a gateway meshd chose) or `daemon` (a routing daemon's route).
    public var source: String
    public init(prefix: String, active: String?, source: String) {
        self.prefix = prefix
        self.active = active
        self.source = source
    }
}

/// `status --json` → `exit`: the exit used.
public struct StatusExit: Codable, Sendable, Equatable {
    public var use: String
    public var active: String?
    public init(use: String, active: String?) {
        self.use = use
        self.active = active
    }
}

/// `meshctl status --json`.
public struct StatusReport: Codable, Sendable, Equatable {
    /// This node's name (nil until enrolled).
    public var name: String?
    public var id: String?
    /// The network's name (nil until enrolled).
    public var network: String?
    public var networkID: String?
    /// `enrolled`, `waiting` (for init or join) or `joining`.
    public var enrollment: String
    public var interface: String
    /// `kernel` or `userspace`.
    public var backend: String
    public var addresses: [String]
    public var peerCount: Int
    public var membersByState: [String: Int]
    public var drops: [String: UInt64]
    public var authority: Bool
    public var roles: [String]
    public var wireGuardPublicKey: String
    public var listenPort: UInt16
    public var gossipPort: UInt16
    public var gossipEndpoints: [String]
    public var wireGuardEndpoints: [String]
    public var behindNAT: Bool
    public var recordVersion: UInt64?
    public var certificateExpiresAt: UInt64?
    public var uptimeSeconds: Double
    public var version: String
    public var lastError: String?
    /// Relay service figures, when this node relays for others (null otherwise).
    public var relay: RelayStatus?
    /// This node's link-local address on the mesh interface (null with `interface.link_local: false`).
    public var linkLocal: String?
    /// The routed prefixes this node sends into the mesh, and through whom (`meshctl routes` has it all).
    public var routes: [StatusRoute]
    /// The exit this node uses (`use`: none, auto or a name; `active`: the one carrying the traffic).
    public var exit: StatusExit

    public init(name: String?, id: String?, network: String?, networkID: String?, enrollment: String, interface: String, backend: String,
                addresses: [String], peerCount: Int, membersByState: [String: Int], drops: [String: UInt64], authority: Bool,
                roles: [String], wireGuardPublicKey: String, listenPort: UInt16, gossipPort: UInt16, gossipEndpoints: [String],
                wireGuardEndpoints: [String], behindNAT: Bool, recordVersion: UInt64?, certificateExpiresAt: UInt64?,
                uptimeSeconds: Double, version: String, lastError: String?, relay: RelayStatus?, linkLocal: String? = nil,
                routes: [StatusRoute] = [], exit: StatusExit = StatusExit(use: "none", active: nil)) {
        self.name = name
        self.id = id
        self.network = network
        self.networkID = networkID
        self.enrollment = enrollment
        self.interface = interface
        self.backend = backend
        self.addresses = addresses
        self.peerCount = peerCount
        self.membersByState = membersByState
        self.drops = drops
        self.authority = authority
        self.roles = roles
        self.wireGuardPublicKey = wireGuardPublicKey
        self.listenPort = listenPort
        self.gossipPort = gossipPort
        self.gossipEndpoints = gossipEndpoints
        self.wireGuardEndpoints = wireGuardEndpoints
        self.behindNAT = behindNAT
        self.recordVersion = recordVersion
        self.certificateExpiresAt = certificateExpiresAt
        self.uptimeSeconds = uptimeSeconds
        self.version = version
        self.lastError = lastError
        self.relay = relay
        self.linkLocal = linkLocal
        self.routes = routes
        self.exit = exit
    }

    enum CodingKeys: String, CodingKey {
        case name, id, network, networkID, enrollment, interface, backend, addresses, peerCount, membersByState, drops, authority
        case roles, wireGuardPublicKey, listenPort, gossipPort, gossipEndpoints, wireGuardEndpoints, behindNAT, recordVersion
        case certificateExpiresAt, uptimeSeconds, version, lastError, relay, linkLocal, routes, exit
    }

    /// Encodes absent values as `null`, never omitting a key (a node that waits for `init` or
    /// `join` has no name or network yet, and scripts still find the keys).
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(id, forKey: .id)
        try container.encode(network, forKey: .network)
        try container.encode(networkID, forKey: .networkID)
        try container.encode(enrollment, forKey: .enrollment)
        try container.encode(interface, forKey: .interface)
        try container.encode(backend, forKey: .backend)
        try container.encode(addresses, forKey: .addresses)
        try container.encode(peerCount, forKey: .peerCount)
        try container.encode(membersByState, forKey: .membersByState)
        try container.encode(drops, forKey: .drops)
        try container.encode(authority, forKey: .authority)
        try container.encode(roles, forKey: .roles)
        try container.encode(wireGuardPublicKey, forKey: .wireGuardPublicKey)
        try container.encode(listenPort, forKey: .listenPort)
        try container.encode(gossipPort, forKey: .gossipPort)
        try container.encode(gossipEndpoints, forKey: .gossipEndpoints)
        try container.encode(wireGuardEndpoints, forKey: .wireGuardEndpoints)
        try container.encode(behindNAT, forKey: .behindNAT)
        try container.encode(recordVersion, forKey: .recordVersion)
        try container.encode(certificateExpiresAt, forKey: .certificateExpiresAt)
        try container.encode(uptimeSeconds, forKey: .uptimeSeconds)
        try container.encode(version, forKey: .version)
        try container.encode(lastError, forKey: .lastError)
        try container.encode(relay, forKey: .relay)
        try container.encode(linkLocal, forKey: .linkLocal)
        try container.encode(routes, forKey: .routes)
        try container.encode(exit, forKey: .exit)
    }
}

/// `status --json` → `relay`: what this node relays.
public struct RelayStatus: Codable, Sendable, Equatable {
    /// Pairs relayed now.
    public var allocations: Int
    /// Datagrams forwarded since meshd started.
    public var forwardedPackets: UInt64
    /// Bytes forwarded since meshd started.
    public var forwardedBytes: UInt64
    /// Datagrams refused (unknown source, no allocation, over the bandwidth limit).
    public var dropped: UInt64

    public init(allocations: Int, forwardedPackets: UInt64, forwardedBytes: UInt64, dropped: UInt64) {
        self.allocations = allocations
        self.forwardedPackets = forwardedPackets
        self.forwardedBytes = forwardedBytes
        self.dropped = dropped
    }
}

/// `meshctl invite`.
public struct InviteResult: Codable, Sendable, Equatable {
    public var token: String
    public var name: String
    public var addresses: [String]
    public var expiresAt: UInt64
    public var bootstrapEndpoints: [String]

    public init(token: String, name: String, addresses: [String], expiresAt: UInt64, bootstrapEndpoints: [String]) {
        self.token = token
        self.name = name
        self.addresses = addresses
        self.expiresAt = expiresAt
        self.bootstrapEndpoints = bootstrapEndpoints
    }
}

/// `meshctl init` and `meshctl join`.
public struct EnrollResult: Codable, Sendable, Equatable {
    public var name: String
    public var network: String
    public var addresses: [String]

    public init(name: String, network: String, addresses: [String]) {
        self.name = name
        self.network = network
        self.addresses = addresses
    }
}

extension ControlReply {
    /// This reply as one line of the control protocol (keys sorted, no newline).
    public var line: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"ok":false,"error":"encoding failed"}"#
    }
}

extension ControlReply where Result == NoResult {
    /// A final line saying the request failed, and why.
    public static func failureLine(_ message: String) -> String { ControlReply(ok: false, error: message).line }

    /// A progress line.
    public static func progressLine(_ message: String) -> String { ControlReply(ok: nil, progress: message).line }
}
