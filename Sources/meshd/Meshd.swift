import ArgumentParser
import Foundation
import CDaemonAllocator
import Logging
import MeshAgent
import NIOPosix
import ServiceLifecycle
import MeshControl

/// The Meshwork agent.
@main
struct Meshd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshd",
        abstract: "The Meshwork agent: gossips signed announcements and keeps a WireGuard interface configured.",
        discussion: """
            meshd reads its configuration from \(MeshdConfiguration.defaultFile) when that file exists, or from \
            the file given with --config; flags override single settings. See configs/meshd.yaml for every key.

            An enrolled meshd joins its network at start. A new one waits on its control socket \
            (<state-dir>/meshd.sock) for `meshctl init` (create a network) or `meshctl join TOKEN`. \
            SIGTERM and SIGINT stop it gracefully, leaving the WireGuard interface up; SIGHUP re-reads \
            the configuration file.
            """,
        version: Meshwork.version)

    @OptionGroup var options: MeshdOptions

    @Flag(help: "Check the configuration and state directory, print the effective configuration, and exit.")
    var checkConfig = false

    func run() async throws {
        let configuration: MeshdConfiguration
        do {
            configuration = try options.resolve()
        } catch let error as ValidationError {
            throw error
        } catch {
            throw CommandFailure("\(error)")
        }
        if checkConfig {
            try Self.check(configuration)
            return
        }
        let level = LogLevelBox(configuration.logLevel)
        LoggingSystem.bootstrap { label in
            ReloadableLogHandler(base: StreamLogHandler.standardError(label: label), level: level)
        }
        let logger = Logger(label: "meshd")
        let group = MultiThreadedEventLoopGroup.singleton
        let agent: Agent
        let control: ControlServer
        do {
            agent = try await Agent(
                configuration: configuration, group: group, logger: logger,
                notifier: SystemdNotifier(environment: ProcessInfo.processInfo.environment))
            control = try await ControlServer(group: group, path: configuration.effectiveControlSocket, handler: agent)
        } catch {
            throw CommandFailure("cannot start: \(error)")
        }
        logger.info("meshd started", metadata: [
            "version": "\(Meshwork.version)", "state": "\(configuration.stateDirectory)",
            "socket": "\(configuration.effectiveControlSocket)", "gossip-port": "\(configuration.gossip.port)",
            "allocator": "\(daemon_allocator_configured() != 0 ? "one arena" : "glibc defaults")",
        ])
        let options = self.options
        let service = AgentService(agent: agent, control: control, logger: logger) {
            do {
                let reloaded = try options.resolve()
                level.set(reloaded.logLevel)
                await agent.reload(reloaded)
            } catch {
                logger.error("configuration not reloaded", metadata: ["error": "\(error)"])
            }
        }
        let serviceGroup = ServiceGroup(configuration: .init(
            services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await serviceGroup.run()
    }

    /// `--check-config`: validates everything and prints the effective configuration.
    static func check(_ configuration: MeshdConfiguration) throws {
        let state = StateDirectory(path: .init(configuration.stateDirectory))
        do {
            try state.prepare()
            let identity = try state.loadOrCreateIdentityKey()
            let wireGuard = try state.loadOrCreateWireGuardKey()
            let enrollment = try state.loadEnrollment()
            print(configuration.yamlText, terminator: "")
            print("# identity key: \(identity.publicKey.base64)")
            print("# WireGuard public key: \(wireGuard.publicKey.base64)")
            if let enrollment {
                print("# enrolled: \(enrollment.certificate.name) in network \(enrollment.settings.name)")
            } else {
                print("# not enrolled: waiting for `meshctl init` or `meshctl join`")
            }
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}
