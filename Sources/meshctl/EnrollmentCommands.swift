import ArgumentParser
import Foundation
import MeshControl

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a network on this host, which holds its authority key.",
        discussion: "Example: meshctl init --network lab --prefix 100.80.0.0/16 --prefix6 fd5a:1::/48")

    @OptionGroup var daemon: DaemonOptions

    @Option(help: ArgumentHelp("Network name (a DNS label).", valueName: "name"))
    var network: String

    @Option(help: ArgumentHelp("IPv4 overlay prefix; nodes get addresses from it.", valueName: "cidr"))
    var prefix: String

    @Option(help: ArgumentHelp("IPv6 overlay prefix (optional).", valueName: "cidr"))
    var prefix6: String?

    @Option(help: ArgumentHelp("This node's name (default: the host name).", valueName: "name"))
    var name: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let request = ControlRequest.initialize(InitializeRequest(network: network, prefix: prefix, prefix6: prefix6, name: name))
        let result = try daemon.send(request, expecting: EnrollResult.self)
        if json { return printJSON(result) }
        print("created network \(result.network); this node is \(result.name) with \(result.addresses.joined(separator: ", "))")
        print("invite hosts with: meshctl invite NAME")
    }
}

struct InviteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invite",
        abstract: "Reserve a name and address for a new host and print its one-time join token.",
        discussion: "Run on the authority node. The token works once and expires (default 1 h).")

    @OptionGroup var daemon: DaemonOptions

    @Argument(help: "The new host's name (a DNS label).")
    var name: String

    @Option(help: ArgumentHelp("Token lifetime: 90s, 30m, 1h, 7d.", valueName: "duration"))
    var ttl: String = "1h"

    @Option(help: ArgumentHelp("Overlay address to reserve (default: the next free one).", valueName: "ip"))
    var address: String?

    @Flag(help: "Allow the host to relay for others.")
    var relay = false

    @Flag(help: "Allow the host to be an exit node (serve 0.0.0.0/0 and ::/0 to members that use it).")
    var exit = false

    @Option(name: .customLong("route"), help: ArgumentHelp("A prefix the host may announce (repeatable).", valueName: "cidr"))
    var routes: [String] = []

    @Option(name: .customLong("endpoint"), help: ArgumentHelp("Bootstrap address (IP:PORT, the gossip port; IPv6 as [ADDRESS]:PORT) to put in the token (repeatable; default: this node's addresses).", valueName: "ip:port"))
    var endpoints: [String] = []

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard Self.seconds(ttl) != nil else { throw ValidationError("--ttl \"\(ttl)\" is not a duration; write e.g. 90s, 30m, 1h or 7d") }
    }

    func run() throws {
        let request = ControlRequest.invite(InviteRequest(
            name: name, ttlSeconds: Self.seconds(ttl), address: address, relay: relay, routes: routes, endpoints: endpoints, exit: exit))
        let result = try daemon.send(request, expecting: InviteResult.self)
        if json { return printJSON(result) }
        print(result.token)
        let expiry = Date(timeIntervalSince1970: Double(result.expiresAt))
        printError("invited \(result.name) (\(result.addresses.joined(separator: ", "))); token valid until \(expiry), bootstrap \(result.bootstrapEndpoints.joined(separator: ", "))")
        printError("on the new host: meshctl join TOKEN")
    }

    static func seconds(_ text: String) -> UInt64? {
        let units: [Character: UInt64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let last = text.last else { return nil }
        if let value = UInt64(text), value > 0 { return value }
        guard let unit = units[last], let value = UInt64(text.dropLast()), value > 0 else { return nil }
        return value * unit
    }
}

struct JoinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Enroll this host with a token from `meshctl invite`.",
        discussion: "meshd must be running on this host. Progress goes to standard error.")

    @OptionGroup var daemon: DaemonOptions

    @Argument(help: "The token printed by `meshctl invite`.")
    var token: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let request = ControlRequest.join(token: token)
        let result = try daemon.send(request, expecting: EnrollResult.self, timeout: 60, showProgress: !json)
        if json { return printJSON(result) }
        print("joined network \(result.network) as \(result.name) with \(result.addresses.joined(separator: ", "))")
    }
}

struct RevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a node (authority only): every member drops it.")

    @OptionGroup var daemon: DaemonOptions

    @Argument(help: "The node's name.")
    var name: String

    func run() throws {
        let request = ControlRequest.revoke(name: name)
        _ = try daemon.send(request, expecting: NoResult.self)
        print("revoked \(name); the revocation is spreading to every member")
    }
}

struct LeaveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leave",
        abstract: "Leave the network: every member drops this node, and its WireGuard peers are removed.")

    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        _ = try daemon.send(ControlRequest.leave, expecting: NoResult.self, showProgress: true)
        print("left the network")
    }
}

/// Prints `value` as JSON: indented, or on one line (`compact`, e.g. one document per refresh).
func printJSON<Value: Encodable>(_ value: Value, compact: Bool = false) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = compact ? [.sortedKeys, .withoutEscapingSlashes] : [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    if let data = try? encoder.encode(value) { print(String(decoding: data, as: UTF8.self)) }
}
