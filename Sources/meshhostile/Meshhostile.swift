import ArgumentParser
import Foundation
import MeshCore

/// TEST TOOLING ONLY — a hostile mesh member for the lab (Tests/MeshAgentLabTests/HostileMemberLabTests.swift).
///
/// It holds a real enrolled member's keys (read from that member's state directory) and, for a
/// bounded time and at a bounded rate, sends every other member every message type with extreme
/// and forged contents (see ``AttackCatalogue``). It only sends to, and only names, documentation,
/// private-use and loopback addresses (``LabAddressPolicy``). Not part of any release.
@main
struct Meshhostile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshhostile",
        abstract: "Test tooling: attack a lab mesh as a hostile member holding a real member's keys.",
        discussion: """
            Reads the keys, certificate and known members of an enrolled member from --state-dir \
            (never writes it), then for --duration seconds sends every other member forged and \
            extreme messages of every type at most --rate datagrams per second. Only lab \
            addresses (TEST-NET, 2001:db8::/32, ULA, loopback) are used. Prints a JSON tally.
            """)

    @Option(help: "State directory of the enrolled member whose keys the attacker holds.")
    var stateDir: String

    @Option(help: "How long to attack, in seconds.")
    var duration: Double = 30

    @Option(help: "Most datagrams per second.")
    var rate: Double = 200

    @Option(help: "UDP port to send from (0: any).")
    var port: UInt16 = 0

    @Option(help: "Other members the state directory must list before the attack starts.")
    var expectMembers: Int = 1

    @Option(help: "An endpoint (lab address) the attacker tries to aim victims at; repeatable. Every other member's gossip endpoints are added.")
    var reflect: [String] = []

    @Option(help: "A file holding an invitation token (already used) whose join request is replayed.")
    var joinToken: String?

    mutating func run() throws {
        let state = try HostileState.load(stateDirectory: stateDir, expectedMembers: expectMembers, timeout: 60)
        var targets: [SocketEndpoint] = []
        for text in reflect {
            guard let endpoint = SocketEndpoint(text) else { throw ValidationError("--reflect \(text) is not ADDRESS:PORT") }
            targets.append(endpoint)
        }
        // Another member's real endpoints, claimed for the victim: an attacker's favourite.
        for member in state.members { targets += member.record.gossipEndpoints.map(\.endpoint) + member.record.wireGuardEndpoints.map(\.endpoint) }
        if let outside = targets.first(where: { !LabAddressPolicy.permits($0.address) }) {
            throw ValidationError("\(outside) is not a lab address; meshhostile is test tooling and only uses documentation, ULA and loopback ranges")
        }
        var token: InvitationToken?
        if let joinToken {
            let text = try String(contentsOfFile: joinToken, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            token = try InvitationToken(text: text)
        }
        let attacker = try HostileMember(state: state, reflectTargets: targets, port: port, rate: rate, joinToken: token)
        FileHandle.standardError.write(Data("meshhostile: \(state.certificate.name) attacks \(state.members.map(\.name)) for \(duration) s at ≤ \(rate) datagrams/s\n".utf8))
        let tally = attacker.run(duration: duration) { line in FileHandle.standardError.write(Data("meshhostile: \(line)\n".utf8)) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(tally), as: UTF8.self))
    }
}
