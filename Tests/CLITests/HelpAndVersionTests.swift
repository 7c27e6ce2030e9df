import Foundation
import Testing

@Suite struct HelpAndVersionTests {
    @Test func meshctlVersion() throws {
        let result = try ProcessRunner.run(ProcessRunner.product("meshctl"), ["--version"])
        #expect(result.status == 0)
        #expect(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }

    @Test(arguments: ["meshd", "meshctl"])
    func helpDescribesTheTool(_ name: String) throws {
        let result = try ProcessRunner.run(ProcessRunner.product(name), ["--help"])
        #expect(result.status == 0)
        #expect(result.standardOutput.contains("USAGE: \(name)"))
        #expect(result.standardOutput.contains("OVERVIEW:"))
    }

    @Test func meshdReportsConfigurationErrorsWithFileAndKey() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshd-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("meshd.yaml").path
        try "interface:\n  listen_port: 99999\n".write(toFile: config, atomically: true, encoding: .utf8)
        let result = try ProcessRunner.run(
            ProcessRunner.product("meshd"), ["--config", config, "--state-dir", directory.path + "/state", "--check-config"])
        #expect(result.status == 1)
        #expect(result.standardError.contains("\(config):2:16: interface.listen_port: 99999 is out of range"), "\(result.standardError)")
    }

    @Test func meshdCheckConfigAppliesFlagsOverTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshd-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("meshd.yaml").path
        try "interface:\n  name: fromfile\n  listen_port: 40000\n".write(toFile: config, atomically: true, encoding: .utf8)
        let result = try ProcessRunner.run(
            ProcessRunner.product("meshd"),
            ["--config", config, "--state-dir", directory.path + "/state", "--wg-port", "40100", "--check-config"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("name: \"fromfile\""))
        #expect(result.standardOutput.contains("listen_port: 40100"))
        #expect(result.standardOutput.contains("# WireGuard public key: "))
    }
}
