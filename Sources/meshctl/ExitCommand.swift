import ArgumentParser
import Foundation
import MeshControl

struct ExitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exit",
        abstract: "Show or choose the exit node this host sends its Internet traffic through.",
        discussion: "Exit nodes are members invited with --exit and serving (exit.serve in meshd.yaml).",
        subcommands: [ExitShowCommand.self, ExitUseCommand.self],
        defaultSubcommand: ExitShowCommand.self)

    /// Prints a report as `meshctl exit` does.
    static func print(_ report: ExitReport, json: Bool) {
        if json { return printJSON(report) }
        Swift.print("use: \(report.use)")
        Swift.print("exit: \(report.active ?? "none")\(report.active == nil ? "" : " for \(PeersCommand.age(report.sinceSeconds))") — \(report.reason)")
        if report.serving { Swift.print("this node serves as an exit") }
        if report.fwmark != 0 { Swift.print("fwmark: 0x\(String(report.fwmark, radix: 16)) (table \(report.table))") }
        guard !report.exits.isEmpty else { return Swift.print("no member serves as an exit") }
        var rows = [["EXIT", "PRIORITY", "STATE"]]
        for exit in report.exits { rows.append([exit.name, "\(exit.priority)", exit.state + (exit.reason.map { ": \($0)" } ?? "")]) }
        Swift.print(table(rows))
    }
}

struct ExitShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show the exit in use, why, and every exit node known.")

    @OptionGroup var daemon: DaemonOptions

    @Flag(help: "Print JSON (fields: use, active, reason, sinceSeconds, exits [name, priority, state, reason], serving, fwmark, table).")
    var json = false

    func run() throws {
        ExitCommand.print(try daemon.send(ControlRequest.exit(use: nil), expecting: ExitReport.self), json: json)
    }
}

struct ExitUseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "use",
        abstract: "Send this host's Internet traffic through an exit node: NAME, auto (the best one alive) or none.",
        discussion: "Lasts until meshd restarts (or a reload changes exit.use); set exit.use in meshd.yaml to keep it. A named exit that dies is stood in for by the best other one until it returns.")

    @OptionGroup var daemon: DaemonOptions

    @Argument(help: ArgumentHelp("none, auto, or an exit node's name.", valueName: "exit"))
    var choice: String

    @Flag(help: "Print the resulting state as JSON (as meshctl exit show --json).")
    var json = false

    func run() throws {
        ExitCommand.print(try daemon.send(ControlRequest.exit(use: choice), expecting: ExitReport.self), json: json)
    }
}
