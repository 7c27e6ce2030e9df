import ArgumentParser
import Logging
import MeshAgent

/// Command-line settings of meshd; each one overrides the configuration file.
struct MeshdOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Configuration file (YAML).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("State directory (keys, certificate, learned members).", valueName: "dir"))
    var stateDir: String?

    @Option(help: ArgumentHelp("WireGuard interface name.", valueName: "name"))
    var interface: String?

    @Option(help: ArgumentHelp("UDP port of the gossip channel.", valueName: "port"))
    var port: UInt16?

    @Option(help: ArgumentHelp("WireGuard listen port.", valueName: "port"))
    var wgPort: UInt16?

    @Option(help: ArgumentHelp("WireGuard implementation: auto, kernel or userspace.", valueName: "backend"))
    var backend: MeshdConfiguration.Backend?

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: Logger.Level?

    /// The configuration file (if any) with the flags applied on top.
    func resolve() throws -> MeshdConfiguration {
        var configuration: MeshdConfiguration
        if let config {
            configuration = try .load(file: config)
        } else if access(MeshdConfiguration.defaultFile, F_OK) == 0 {
            configuration = try .load(file: MeshdConfiguration.defaultFile)
        } else {
            configuration = MeshdConfiguration()
        }
        if let stateDir { configuration.stateDirectory = stateDir }
        if let interface {
            if let problem = MeshdConfiguration.interfaceNameProblem(interface) { throw ValidationError("--interface: \(problem)") }
            configuration.interface.name = interface
        }
        if let port {
            guard port != 0 else { throw ValidationError("--port: 0 is out of range (1–65535)") }
            configuration.gossip.port = port
        }
        if let wgPort {
            guard wgPort != 0 else { throw ValidationError("--wg-port: 0 is out of range (1–65535)") }
            configuration.interface.listenPort = wgPort
        }
        if let backend { configuration.interface.backend = backend }
        if let logLevel { configuration.logLevel = logLevel }
        return configuration
    }
}

extension MeshdConfiguration.Backend: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

#if canImport(Glibc)
import Glibc
#endif
