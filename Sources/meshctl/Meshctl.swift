import ArgumentParser
import MeshControl

/// The operator's command-line tool.
@main
struct Meshctl: ParsableCommand {
    /// Accepts the daemon options before the subcommand too (`meshctl --state-dir DIR peers`),
    /// as scripts write them, by moving them after it.
    static func main() {
        main(Self.placingDaemonOptions(Array(CommandLine.arguments.dropFirst())))
    }

    static func placingDaemonOptions(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var rest = arguments[...]
        while let first = rest.first, first == "--state-dir" || first == "--socket" || first.hasPrefix("--state-dir=") || first.hasPrefix("--socket=") {
            leading.append(first)
            rest = rest.dropFirst()
            if !first.contains("="), let value = rest.first {
                leading.append(value)
                rest = rest.dropFirst()
            }
        }
        guard !leading.isEmpty, let command = rest.first, !command.hasPrefix("-") else { return arguments }
        return [command] + leading + Array(rest.dropFirst())
    }

    static let configuration = CommandConfiguration(
        commandName: "meshctl",
        abstract: "Operate a Meshwork mesh: create a network, invite and enroll hosts, see peers and paths.",
        discussion: """
            Commands other than `key` talk to the local meshd over its control socket \
            (<state-dir>/meshd.sock, default /var/lib/meshwork/meshd.sock).

            Exit status: 0 success, 1 the operation failed (the message says why), 64 bad usage.
            """,
        version: Meshwork.version,
        subcommands: [
            InitCommand.self, InviteCommand.self, JoinCommand.self, PeersCommand.self, RoutesCommand.self, ExitCommand.self, GraphCommand.self, PingCommand.self,
            StatusCommand.self,
            RevokeCommand.self, LeaveCommand.self, KeyCommand.self,
        ])
}

/// Where to find meshd: `--socket PATH`, or the socket in `--state-dir DIR`.
struct DaemonOptions: ParsableArguments {
    @Option(help: ArgumentHelp("meshd's state directory (its control socket is DIR/meshd.sock).", valueName: "dir"))
    var stateDir: String = "/var/lib/meshwork"

    @Option(help: ArgumentHelp("meshd's control socket (overrides --state-dir).", valueName: "path"))
    var socket: String?

    var client: ControlClient { ControlClient(socketPath: socket ?? stateDir + "/meshd.sock") }

    /// Sends `request` and returns the result, printing progress on standard error.
    func send<Result: Codable & Sendable>(_ request: ControlRequest, expecting: Result.Type, timeout: Double = 30, showProgress: Bool = false) throws -> Result {
        do {
            return try client.send(request, expecting: Result.self, timeout: timeout) { message in
                if showProgress { printError("… \(message)") }
            }
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}

func printError(_ text: String) {
    FileHandleOutput.standardError.write(text + "\n")
}
