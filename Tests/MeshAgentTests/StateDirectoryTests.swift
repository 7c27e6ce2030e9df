import Foundation
import MeshAgent
import MeshCrypto
import SystemPackage
import Testing

@Suite struct StateDirectoryTests {
    @Test func createsDirectory0700AndKeyFiles0600() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let previousMask = umask(0o022)
        defer { umask(previousMask) }

        let state = StateDirectory(path: FilePath(temporary.file("nested/state")))
        try state.prepare()
        #expect(fileMode(temporary.file("nested/state")) == 0o700)

        let identity = try state.loadOrCreateIdentityKey()
        let wireGuard = try state.loadOrCreateWireGuardKey()
        #expect(fileMode(state.identityKeyPath.string) == 0o600)
        #expect(fileMode(state.wireGuardKeyPath.string) == 0o600)

        // Loading again returns the same keys.
        #expect(try state.loadOrCreateIdentityKey().publicKey == identity.publicKey)
        #expect(try state.loadOrCreateWireGuardKey().publicKey == wireGuard.publicKey)
        // The WireGuard key file is in `wg genkey` format.
        let text = try String(contentsOfFile: state.wireGuardKeyPath.string, encoding: .utf8)
        #expect(text == wireGuard.base64EncodedSecret() + "\n")
    }

    @Test func oneMeshdPerStateDirectory() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let state = StateDirectory(path: FilePath(temporary.file("state")))
        try state.prepare()
        var first: StateDirectoryLock? = try StateDirectoryLock(state)
        #expect(fileMode(temporary.file("state/meshd.lock")) == 0o600)
        #expect(throws: StateError.inUse(path: state.path.string, processID: getpid())) { try StateDirectoryLock(state) }
        let message = "\(StateError.inUse(path: state.path.string, processID: getpid()))"
        #expect(message.contains("another meshd (pid \(getpid())) is using the state directory \(state.path.string)"))
        #expect(first != nil)
        first = nil  // released: the next meshd takes it
        #expect(throws: Never.self) { _ = try StateDirectoryLock(state) }
    }

    @Test func tightensAnExistingOpenDirectory() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        chmod(temporary.path, 0o755)
        try StateDirectory(path: FilePath(temporary.path)).prepare()
        #expect(fileMode(temporary.path) == 0o700)
    }

    @Test func refusesAFileWhereTheDirectoryBelongs() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let file = try temporary.write("x", to: "state")
        #expect(throws: StateError.wrongFileType(path: file, expected: "a directory")) {
            try StateDirectory(path: FilePath(file)).prepare()
        }
    }

    @Test func atomicWriteReplacesAndLeavesNoTemporaryFiles() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let target = FilePath(temporary.file("data"))
        try AtomicFile.write(Array("first".utf8), to: target)
        try AtomicFile.write(Array("second".utf8), to: target)
        #expect(try String(contentsOfFile: target.string, encoding: .utf8) == "second")
        #expect(fileMode(target.string) == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary.path) == ["data"])
    }

    @Test func atomicWriteIntoAMissingDirectoryFailsClearly() {
        #expect {
            try AtomicFile.write(Array("x".utf8), to: "/nonexistent-meshwork/data")
        } throws: { error in
            "\(error)".contains("cannot write /nonexistent-meshwork/data")
        }
    }

    @Test func refusesGroupOrWorldReadableKey() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let path = try temporary.write(X25519PrivateKey().base64EncodedSecret() + "\n", to: "wireguard.key", mode: 0o644)
        do {
            _ = try KeyFile.read(FilePath(path), kind: "a WireGuard private key")
            Issue.record("accepted a world-readable key")
        } catch {
            #expect(error == .insecurePermissions(path: path, mode: 0o644))
            #expect(error.description.contains(path))
            #expect(error.description.contains("mode 0644"))
            #expect(error.description.contains("chmod 600 \(path)"))
        }
    }

    @Test func refusesTruncatedKey() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let full = X25519PrivateKey().base64EncodedSecret()
        let path = try temporary.write(String(full.prefix(20)) + "\n", to: "wireguard.key")
        do {
            _ = try KeyFile.read(FilePath(path), kind: "a WireGuard private key")
            Issue.record("accepted a truncated key")
        } catch {
            #expect(error == .truncatedKey(path: path, kind: "a WireGuard private key", bytes: 15, expected: 32))
            #expect(error.description.contains("\(path) is truncated"))
        }
        let empty = try temporary.write("", to: "empty.key")
        #expect(throws: StateError.truncatedKey(path: empty, kind: "a key", bytes: 0, expected: 32)) {
            try KeyFile.read(FilePath(empty), kind: "a key")
        }
    }

    @Test func refusesFilesThatAreNotKeys() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let cases: [(String, String)] = [
            ("[Interface]\nPrivateKey = abc\n", "more than one line"),
            ("this is not base64 at all!\n", "not base64"),
            (Base64.encode([UInt8](repeating: 7, count: 48)) + "\n", "decodes to 48 bytes"),
        ]
        for (index, (content, problem)) in cases.enumerated() {
            let path = try temporary.write(content, to: "key\(index)")
            do {
                _ = try KeyFile.read(FilePath(path), kind: "a WireGuard private key")
                Issue.record("accepted \(content)")
            } catch {
                #expect(error.description.contains("\(path) is not a WireGuard private key"))
                #expect(error.description.contains(problem), "\(error)")
            }
        }
    }

    @Test func stateDirectoryReportsABrokenKeyFile() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let state = StateDirectory(path: FilePath(temporary.path))
        _ = try temporary.write("garbage\n", to: "identity.key")
        #expect {
            try state.loadOrCreateIdentityKey()
        } throws: { error in
            "\(error)".contains(state.identityKeyPath.string) && "\(error)".contains("an Ed25519 identity key")
        }
    }
}
