import ArgumentParser
import Foundation
import MeshLab

/// The demo: a five-host Meshwork mesh in network namespaces on this machine.
@main
struct Meshlab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshlab",
        abstract: "Bring up, inspect and tear down a five-host demo mesh in network namespaces (needs root).",
        discussion: """
            Hosts: alpha (authority), bravo, charlie (IPv6-only underlay), delta and echo (each behind its own \
            NAT router). They enroll with `meshctl invite` and `meshctl join`; WireGuard is the kernel module when \
            loaded, wireguard-go otherwise.
            """,
        subcommands: [Up.self, Show.self, Down.self],
        defaultSubcommand: Up.self)

    struct Options: ParsableArguments {
        @Option(help: ArgumentHelp("Folder for the hosts' state directories and logs.", valueName: "dir"))
        var directory = "/var/tmp/meshwork-demo"

        var recordPath: String { directory + "/demo.json" }
    }

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Build the mesh, enroll every host, print peers and a ping matrix.")

        @OptionGroup var options: Options

        @Option(help: "meshd's WireGuard backend: auto, kernel or userspace.")
        var backend = "auto"

        @Option(help: ArgumentHelp("Folder with meshd and meshctl (default: beside meshlab).", valueName: "dir"))
        var binaries: String?

        func run() throws {
            guard !FileManager.default.fileExists(atPath: options.recordPath) else {
                throw CleanExit.message("the demo mesh is already up (\(options.recordPath)); `meshlab show` prints it, `meshlab down` removes it")
            }
            let folder = binaries ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
            try? FileManager.default.removeItem(atPath: options.directory)
            try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let lab = try Lab(prefix: "mwdemo")
            say("building the topology and starting meshd on 5 hosts…")
            let mesh = try DemoMesh(lab: lab, binaries: folder, directory: options.directory, backend: backend)
            say("creating network demo on alpha; inviting and joining the others…")
            do {
                let transcripts = try mesh.enroll()
                for name in DemoMesh.names.dropFirst() { say("  \(name): \(transcripts[name]?.split(separator: "\n").last ?? "")") }
                try mesh.waitForFullMesh()
            } catch {
                // Show what each host saw before the lab is torn down.
                for host in mesh.nodes {
                    say("--- \(host.name): meshctl peers")
                    say((try? host.meshctl(["peers"]).output) ?? "")
                    say("--- \(host.name): meshd log (last 15 lines)")
                    say(host.log(lastLines: 15))
                }
                throw error
            }
            try save(mesh, detached: lab.detach())
            say("\nping matrix (overlay IPv4, from row to column):")
            let (ok, _, table, notes) = mesh.pingMatrix()
            say(table)
            for note in notes { say("  (\(note))") }
            say("\n$ meshctl peers   (on alpha)")
            say(try mesh["alpha"].meshctlChecked(["peers"]))
            print(ok ? "\nevery pair reaches every other over WireGuard." : "\nsome pairs do not reach each other yet.")
            print("logs and state: \(options.directory)/<host>; run `scripts/demo down` (or `meshlab down`) to remove everything.")
            // A picture of the mesh as alpha sees it (Graphviz DOT; SVG when dot is installed).
            let alpha = mesh["alpha"]
            let picture = "\(options.directory)/mesh.dot"
            if let dot = try? alpha.meshctlChecked(["graph"]), (try? dot.write(toFile: picture, atomically: true, encoding: .utf8)) != nil {
                let svg = "\(options.directory)/mesh.svg"
                if let rendered = try? alpha.meshctlChecked(["graph", "--format", "svg"]), (try? rendered.write(toFile: svg, atomically: true, encoding: .utf8)) != nil {
                    print("the mesh as alpha sees it: \(svg) (DOT: \(picture)); again with `meshctl --state-dir \(alpha.stateDirectory) graph`")
                } else {
                    print("the mesh as alpha sees it (Graphviz DOT): \(picture); `dot -Tsvg \(picture) > mesh.svg` draws it")
                }
            }
            if !ok { throw ExitCode(1) }
        }

        func save(_ mesh: DemoMesh, detached: Lab.Detached) throws {
            let record = DemoRecord(detached: detached, hosts: mesh.nodes.map {
                DemoRecord.Host(name: $0.name, namespace: $0.namespace, stateDirectory: $0.stateDirectory, overlay: $0.overlay)
            })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(record).write(to: URL(fileURLWithPath: options.recordPath))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Print peers on alpha and the ping matrix again.")

        @OptionGroup var options: Options

        func run() throws {
            let record = try DemoRecord.load(options.recordPath)
            let folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
            if let alpha = record.hosts.first {
                print(try LabCommand.run([folder + "/meshctl", "--state-dir", alpha.stateDirectory, "peers"], check: false).output)
            }
            for source in record.hosts {
                var row = source.name.padding(toLength: 10, withPad: " ", startingAt: 0)
                for target in record.hosts where target.name != source.name {
                    let result = try LabCommand.run(["ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "2", target.overlay.first ?? ""], in: source.namespace, check: false)
                    let received = (try? Lab.pingCounts(result.output).received) ?? 0
                    row += "\(target.name):\(received > 0 ? "ok" : "FAIL")  "
                }
                print(row)
            }
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop every meshd, delete the namespaces and the demo's files.")

        @OptionGroup var options: Options

        func run() throws {
            guard let record = try? DemoRecord.load(options.recordPath) else {
                throw CleanExit.message("no demo mesh is up (\(options.recordPath) is missing)")
            }
            Lab.teardown(record.detached)
            try? FileManager.default.removeItem(atPath: options.directory)
            print("demo mesh removed: \(record.detached.namespaces.count) namespaces deleted, processes stopped")
        }
    }
}

/// What `meshlab up` leaves behind for `show` and `down`.
/// Prints and flushes at once, so progress shows even when the output is a pipe.
func say(_ text: String) {
    print(text)
    fflush(nil)
}

struct DemoRecord: Codable {
    struct Host: Codable {
        var name: String
        var namespace: String
        var stateDirectory: String
        var overlay: [String]
    }

    var detached: Lab.Detached
    var hosts: [Host]

    static func load(_ path: String) throws -> DemoRecord {
        try JSONDecoder().decode(DemoRecord.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
