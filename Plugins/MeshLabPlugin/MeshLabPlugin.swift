import Foundation
import PackagePlugin

/// `swift package lab [up|show|down] [options]`: the demo mesh of `meshlab`, from SwiftPM.
/// Needs root (network namespaces); builds meshd, meshctl and meshlab first.
@main
struct MeshLabPlugin: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        let build = try packageManager.build(.product("meshlab"), parameters: .init(configuration: .debug, logging: .concise))
        guard build.succeeded else {
            Diagnostics.error("building meshlab failed:\n\(build.logText)")
            return
        }
        guard let meshlab = build.builtArtifacts.first(where: { $0.url.lastPathComponent == "meshlab" }) else {
            Diagnostics.error("the build produced no meshlab executable")
            return
        }
        for product in ["meshd", "meshctl"] {
            let result = try packageManager.build(.product(product), parameters: .init(configuration: .debug, logging: .concise))
            guard result.succeeded else {
                Diagnostics.error("building \(product) failed:\n\(result.logText)")
                return
            }
        }
        let process = Process()
        process.executableURL = meshlab.url
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            Diagnostics.error("meshlab \(arguments.joined(separator: " ")) exited with status \(process.terminationStatus)")
        }
    }
}
