/// A request on the control protocol between `meshctl` and `meshd`: newline-delimited JSON over the
/// Unix socket `<state-dir>/meshd.sock` (mode 0600). Each connection carries one request line; meshd
/// answers with zero or more progress lines and one final line, then closes. See docs/operations.md
/// ("Control socket").
///
/// On the wire a request is one flat JSON object: `command` names the case and the case's fields sit
/// beside it (`{"command":"revoke","name":"beta"}`), so scripts can write requests by hand.
public enum ControlRequest: Sendable, Equatable {
    /// This node's state (`meshctl status`).
    case status
    /// One report per peer (`meshctl peers`).
    case peers
    /// One report per routed prefix this node knows (`meshctl routes`).
    case routes
    /// The mesh as this node sees it: members, paths, relays, gateways (`meshctl graph`).
    case graph
    /// The exit node in use, and every exit (`meshctl exit`); with `use`, choose first
    /// (`meshctl exit use NAME|auto|none`).
    case exit(use: String?)
    /// Create a network with this node as its authority (`meshctl init`).
    case initialize(InitializeRequest)
    /// Issue an invitation token (`meshctl invite`, authority only).
    case invite(InviteRequest)
    /// Enroll with an invitation token (`meshctl join`).
    case join(token: String)
    /// Revoke a member by name (`meshctl revoke`, authority only).
    case revoke(name: String)
    /// Leave the network (`meshctl leave`).
    case leave
    /// Probe one member over the path in use and the direct path (`meshctl ping`).
    case ping(PingRequest)

    /// The `command` value of each case, as on the wire.
    public static let commands = ["status", "peers", "routes", "graph", "exit", "init", "invite", "join", "revoke", "leave", "ping"]

    /// This request's `command` value.
    public var command: String {
        switch self {
        case .status: "status"
        case .peers: "peers"
        case .routes: "routes"
        case .graph: "graph"
        case .exit: "exit"
        case .initialize: "init"
        case .invite: "invite"
        case .join: "join"
        case .revoke: "revoke"
        case .leave: "leave"
        case .ping: "ping"
        }
    }
}

/// `init`: the new network and this node's name in it.
public struct InitializeRequest: Codable, Sendable, Equatable {
    /// The network's name.
    public var network: String
    /// The IPv4 overlay prefix, e.g. `100.80.0.0/16`.
    public var prefix: String
    /// The IPv6 overlay prefix, if any.
    public var prefix6: String?
    /// This node's name (meshd picks the host name when absent).
    public var name: String?

    public init(network: String, prefix: String, prefix6: String? = nil, name: String? = nil) {
        self.network = network
        self.prefix = prefix
        self.prefix6 = prefix6
        self.name = name
    }
}

/// `invite`: who is invited and what their certificate will grant.
public struct InviteRequest: Codable, Sendable, Equatable {
    /// The invited node's name.
    public var name: String
    /// The token's lifetime in seconds (meshd's default when absent: one hour).
    public var ttlSeconds: UInt64?
    /// The overlay address to reserve (the next free one when absent).
    public var address: String?
    /// Whether the node gets the relay role.
    public var relay: Bool?
    /// Routed prefixes the node may announce.
    public var routes: [String]?
    /// Whether the node gets the exit role (may serve 0.0.0.0/0 and ::/0).
    public var exit: Bool?
    /// Bootstrap endpoints to put in the token (this node's announced ones when absent).
    public var endpoints: [String]?

    public init(name: String, ttlSeconds: UInt64? = nil, address: String? = nil, relay: Bool? = nil, routes: [String]? = nil,
                endpoints: [String]? = nil, exit: Bool? = nil) {
        self.name = name
        self.exit = exit
        self.ttlSeconds = ttlSeconds
        self.address = address
        self.relay = relay
        self.routes = routes
        self.endpoints = endpoints
    }
}

/// Why a request line does not make a request: said to the operator as is.
public struct InvalidControlRequest: Error, CustomStringConvertible, Equatable {
    /// What is wrong and what would be right.
    public let description: String

    public init(description: String) { self.description = description }
}

extension ControlRequest: Codable {
    private enum CommandKey: String, CodingKey { case command }
    private enum FieldKeys: String, CodingKey { case token, name, use }

    public init(from decoder: any Decoder) throws {
        let command = try decoder.container(keyedBy: CommandKey.self).decode(String.self, forKey: .command)
        let fields = try decoder.container(keyedBy: FieldKeys.self)
        func required(_ key: FieldKeys, _ usage: String) throws -> String {
            guard let value = try fields.decodeIfPresent(String.self, forKey: key) else {
                throw InvalidControlRequest(description: "\(command) needs \"\(key.rawValue)\": \(usage)")
            }
            return value
        }
        switch command {
        case "status": self = .status
        case "peers": self = .peers
        case "routes": self = .routes
        case "graph": self = .graph
        case "exit": self = .exit(use: try fields.decodeIfPresent(String.self, forKey: .use))
        case "leave": self = .leave
        case "init": self = .initialize(try Self.decodeFields(InitializeRequest.self, from: decoder, command: command))
        case "invite": self = .invite(try Self.decodeFields(InviteRequest.self, from: decoder, command: command))
        case "join": self = .join(token: try required(.token, "meshctl join TOKEN"))
        case "revoke": self = .revoke(name: try required(.name, "meshctl revoke NAME"))
        case "ping":
            _ = try required(.name, "meshctl ping NAME")
            self = .ping(try Self.decodeFields(PingRequest.self, from: decoder, command: command))
        default:
            throw InvalidControlRequest(
                description: "unknown command \"\(command)\"; this meshd understands \(Self.commands.joined(separator: ", "))")
        }
    }

    /// Decodes a case's fields, turning a missing or mistyped field into a sentence.
    private static func decodeFields<Fields: Decodable>(_ type: Fields.Type, from decoder: any Decoder, command: String) throws -> Fields {
        do {
            return try Fields(from: decoder)
        } catch DecodingError.keyNotFound(let key, _) {
            throw InvalidControlRequest(description: "\(command) needs \"\(key.stringValue)\"")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw InvalidControlRequest(description: "\(command): \"\(field)\" has the wrong type")
        } catch DecodingError.dataCorrupted(let context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw InvalidControlRequest(description: "\(command): \"\(field)\" has a value this meshd does not know")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var command = encoder.container(keyedBy: CommandKey.self)
        try command.encode(self.command, forKey: .command)
        var fields = encoder.container(keyedBy: FieldKeys.self)
        switch self {
        case .status, .peers, .routes, .graph, .leave: break
        case .initialize(let request): try request.encode(to: encoder)
        case .invite(let request): try request.encode(to: encoder)
        case .join(let token): try fields.encode(token, forKey: .token)
        case .revoke(let name): try fields.encode(name, forKey: .name)
        case .exit(let use): try fields.encodeIfPresent(use, forKey: .use)
        case .ping(let request): try request.encode(to: encoder)
        }
    }
}
