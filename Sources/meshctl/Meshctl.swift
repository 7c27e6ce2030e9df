import ArgumentParser
import MeshAgent

/// The operator's command-line tool.
@main
struct Meshctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshctl",
        abstract: "Operate a Meshwork mesh: keys, enrollment and inspection.",
        version: Meshwork.version,
        subcommands: [KeyCommand.self])
}
