import ArgumentParser
import Foundation
import MeshControl

/// `meshctl exit [show]` and `meshctl exit use NAME|auto|none`: one command with words rather than
/// nested subcommands, so options given before `exit` (`meshctl --state-dir D exit use auto`) reach it.
struct ExitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exit",
        abstract: "Show or choose the exit node this host sends its Internet traffic through.",
        usage: "meshctl exit [show] [--json]\nmeshctl exit use <name|auto|none> [--json]",
        discussion: """
            Exit nodes are members invited with --exit and serving (exit.serve in meshd.yaml). `use` lasts until meshd \
            restarts (or a reload changes exit.use); set exit.use in meshd.yaml to keep it. A named exit that dies is \
            stood in for by the best other one until it returns.
            """)

    @OptionGroup var daemon: DaemonOptions

    @Argument(help: ArgumentHelp("show (the default), or use followed by none, auto or an exit node's name.", valueName: "action"))
    var words: [String] = []

    @Flag(help: "Print JSON (fields: use, active, reason, sinceSeconds, exits [name, priority, state, reason], serving, fwmark, table).")
    var json = false

    func validate() throws {
        switch words.first {
        case nil, "show": guard words.count <= 1 else { throw ValidationError("meshctl exit show takes no argument") }
        case "use": guard words.count == 2 else { throw ValidationError("meshctl exit use needs one of: none, auto, an exit node's name") }
        default: throw ValidationError("unknown action \"\(words[0])\": meshctl exit [show] or meshctl exit use NAME|auto|none")
        }
    }

    func run() throws {
        let report = try daemon.send(ControlRequest.exit(use: words.first == "use" ? words[1] : nil), expecting: ExitReport.self)
        if json { return printJSON(report) }
        print("use: \(report.use)")
        print("exit: \(report.active ?? "none")\(report.active == nil ? "" : " for \(PeersCommand.age(report.sinceSeconds))") — \(report.reason)")
        if report.serving { print("this node serves as an exit") }
        if report.fwmark != 0 { print("fwmark: 0x\(String(report.fwmark, radix: 16)) (table \(report.table))") }
        guard !report.exits.isEmpty else { return print("no member serves as an exit") }
        var rows = [["EXIT", "PRIORITY", "STATE"]]
        for exit in report.exits { rows.append([exit.name, "\(exit.priority)", exit.state + (exit.reason.map { ": \($0)" } ?? "")]) }
        print(table(rows))
    }
}
