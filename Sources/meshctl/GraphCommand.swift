import ArgumentParser
import Foundation
import MeshControl

struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Print the mesh as this node sees it, as Graphviz DOT (members, paths with RTT, relays, gateways, members down).",
        discussion: """
            Render it with Graphviz: `meshctl graph | dot -Tsvg > mesh.svg`, or `meshctl graph --format svg` when \
            `dot` is installed (Debian: graphviz). Solid edges are this node's direct paths, dashed ones relayed \
            (through the named relay), dotted grey ones the relays other members reach; notes are routed prefixes \
            with an edge from each gateway (bold: the active one).
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case dot, svg, json }

    @OptionGroup var daemon: DaemonOptions

    @Option(help: "dot (default), svg (rendered by Graphviz's dot) or json.")
    var format: Format = .dot

    func run() throws {
        let graph = try daemon.send(ControlRequest.graph, expecting: GraphReport.self)
        switch format {
        case .json: printJSON(graph)
        case .dot: print(graph.dot, terminator: "")
        case .svg: print(try Self.render(graph.dot), terminator: "")
        }
    }

    /// Runs `dot -Tsvg` on `text`.
    static func render(_ text: String) throws -> String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map { "\($0)/dot" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else { throw CommandFailure("--format svg needs Graphviz's dot (apt-get install graphviz); or pipe `meshctl graph` into dot yourself") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-Tsvg"]
        let input = Pipe(), output = Pipe(), error = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = error
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let rendered = output.fileHandleForReading.readDataToEndOfFile()
        let complaint = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandFailure("dot failed: \(String(decoding: complaint, as: UTF8.self))")
        }
        return String(decoding: rendered, as: UTF8.self)
    }
}
