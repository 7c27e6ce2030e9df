import ArgumentParser
import Logging
import MeshAgent

/// The Meshwork agent.
@main
struct Meshd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshd",
        abstract: "The Meshwork agent: gossips signed announcements and keeps a WireGuard interface configured.",
        discussion: """
            meshd reads its configuration from \(MeshdConfiguration.defaultFile) when that file exists, or from \
            the file given with --config; flags override single settings. See configs/meshd.yaml for every key.
            """,
        version: Meshwork.version)

    @OptionGroup var options: MeshdOptions

    @Flag(help: "Check the configuration and state directory, print the effective configuration, and exit.")
    var checkConfig = false

    func run() throws {
        let configuration: MeshdConfiguration
        do {
            configuration = try options.resolve()
        } catch let error as ValidationError {
            throw error
        } catch {
            throw CommandFailure("\(error)")
        }
        guard checkConfig else {
            throw CommandFailure("this build of meshd can only check its configuration; run it with --check-config")
        }
        let state = StateDirectory(path: .init(configuration.stateDirectory))
        do {
            try state.prepare()
            let identity = try state.loadOrCreateIdentityKey()
            let wireGuard = try state.loadOrCreateWireGuardKey()
            print(configuration.yamlText, terminator: "")
            print("# identity key: \(identity.publicKey.base64)")
            print("# WireGuard public key: \(wireGuard.publicKey.base64)")
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}
