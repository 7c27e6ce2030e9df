import ArgumentParser
import Foundation
import MeshControl

struct PingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Probe one member over the path in use and the direct path; say why when nothing answers.",
        discussion: """
            Once a second, meshd sends an ICMP echo to the member's overlay address through WireGuard (the path in \
            use: direct, or through its relay) and a probe to the member's meshd on the direct underlay path, and \
            prints each answer with its round trip and path (`via relay bravo`, `direct 198.51.100.2:51820`). When \
            nothing answers, the last line says why (not a member, revoked, no endpoint reachable from this \
            address family, WireGuard unanswered while meshd answers, no relay reachable from both ends, …).

            Exit status: 0 when at least one probe was answered, 1 otherwise.
            """)

    @OptionGroup var daemon: DaemonOptions

    @Argument(help: "The member's name (as in `meshctl peers`).")
    var name: String

    @Option(name: .short, help: "Rounds of probes, one a second (1–100).")
    var count: Int = 3

    @Option(help: "both (default): the path in use and the direct path; in-use; direct.")
    var path: PingRequest.Paths = .both

    @Flag(help: "Print one JSON object at the end (fields: name, address, probes [round, kind, path, rttMilliseconds], received, reason).")
    var json = false

    func validate() throws {
        guard (1...100).contains(count) else { throw ValidationError("-c must be between 1 and 100") }
    }

    func run() throws {
        let request = ControlRequest.ping(PingRequest(name: name, count: count, path: path))
        let report: PingReport
        do {
            report = try daemon.client.send(request, expecting: PingReport.self, timeout: Double(count) * 3 + 10) { line in
                if !json { print(line) }
            }
        } catch {
            throw CommandFailure("\(error)")
        }
        if json {
            printJSON(report)
        } else if let reason = report.reason {
            print(report.received == 0 ? "no answer: \(reason)" : "note: \(reason)")
        }
        if report.received == 0 { throw ExitCode(1) }
    }
}

extension PingRequest.Paths: ExpressibleByArgument {}
