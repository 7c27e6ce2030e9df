import Foundation
import Testing

/// `meshctl key` against the real wireguard-tools `wg` binary.
@Suite struct KeyCommandTests {
    static let meshctl = ProcessRunner.product("meshctl")

    /// wireguard-tools is a hard requirement of the test suite (the README's test command installs it).
    func wg() throws -> String {
        try #require(ProcessRunner.tool("wg"), "wireguard-tools is not installed: run the README's test command, which installs it")
    }

    @Test func meshctlKeysAgreeWithWgPubkey() throws {
        let wg = try wg()
        for _ in 0..<5 {
            let generated = try ProcessRunner.run(Self.meshctl, ["key", "generate"])
            #expect(generated.status == 0)
            let privateKey = generated.standardOutput
            #expect(privateKey.count == 45 && privateKey.hasSuffix("=\n"))
            let ours = try ProcessRunner.run(Self.meshctl, ["key", "public"], input: privateKey)
            let theirs = try ProcessRunner.run(wg, ["pubkey"], input: privateKey)
            #expect(ours.status == 0 && theirs.status == 0)
            #expect(ours.standardOutput == theirs.standardOutput)
        }
    }

    @Test func wgGenkeyWorksWithMeshctlKeyPublic() throws {
        let wg = try wg()
        for _ in 0..<5 {
            let privateKey = try ProcessRunner.run(wg, ["genkey"]).standardOutput
            let ours = try ProcessRunner.run(Self.meshctl, ["key", "public"], input: privateKey)
            let theirs = try ProcessRunner.run(wg, ["pubkey"], input: privateKey)
            #expect(ours.standardOutput == theirs.standardOutput)
            #expect(ours.standardOutput.count == 45)
        }
    }

    @Test(arguments: ["", "not-a-key\n", "AAAA\n", String(repeating: "A", count: 60) + "\n"])
    func keyPublicRefusesInputThatIsNotAKey(_ input: String) throws {
        let result = try ProcessRunner.run(Self.meshctl, ["key", "public"], input: input)
        #expect(result.status == 1)
        #expect(result.standardOutput.isEmpty)
        #expect(result.standardError.contains("standard input is not a private key"), "\(result.standardError)")
    }
}
