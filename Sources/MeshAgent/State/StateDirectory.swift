#if canImport(Glibc)
import Glibc
#endif
import MeshCrypto
import SystemPackage

/// The directory where a node keeps its keys, certificate and learned state.
///
/// It is created mode 0700; every file in it is written atomically, mode 0600.
public struct StateDirectory: Sendable {
    /// Where meshd keeps its state unless told otherwise.
    public static let defaultPath: FilePath = "/var/lib/meshwork"

    /// The directory.
    public let path: FilePath

    /// A state directory at `path` (not touched until ``prepare()``).
    public init(path: FilePath = StateDirectory.defaultPath) {
        self.path = path
    }

    /// The node's Ed25519 identity key (base64 seed).
    public var identityKeyPath: FilePath { path.appending("identity.key") }
    /// The node's WireGuard private key, in `wg genkey` format.
    public var wireGuardKeyPath: FilePath { path.appending("wireguard.key") }

    /// Creates the directory (and missing parents) if needed and makes sure only its owner can
    /// enter it.
    public func prepare() throws(StateError) {
        var status = stat()
        if stat(path.string, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFDIR else { throw .wrongFileType(path: path.string, expected: "a directory") }
            if status.st_mode & 0o077 != 0, chmod(path.string, 0o700) != 0 {
                throw .io(path: path.string, operation: "restrict permissions of", reason: Errno(rawValue: errno).description)
            }
            return
        }
        var partial = FilePath(root: path.root)
        for component in path.components {
            partial.append(component)
            if mkdir(partial.string, 0o700) != 0, errno != EEXIST {
                throw .io(path: partial.string, operation: "create directory", reason: Errno(rawValue: errno).description)
            }
        }
        // mkdir's mode passes through umask; set it exactly on the directory we own.
        guard chmod(path.string, 0o700) == 0 else {
            throw .io(path: path.string, operation: "restrict permissions of", reason: Errno(rawValue: errno).description)
        }
    }

    /// Loads the identity key, creating one on first use.
    public func loadOrCreateIdentityKey() throws(StateError) -> Ed25519PrivateKey {
        if let seed = try readKeyIfPresent(identityKeyPath, kind: "an Ed25519 identity key") {
            do { return try Ed25519PrivateKey(seed: seed) } catch {
                throw .notAKey(path: identityKeyPath.string, kind: "an Ed25519 identity key", problem: "\(error)")
            }
        }
        let key = Ed25519PrivateKey()
        try KeyFile.write(key.seedBytes, to: identityKeyPath)
        return key
    }

    /// Loads the WireGuard key, creating one on first use.
    public func loadOrCreateWireGuardKey() throws(StateError) -> X25519PrivateKey {
        if let secret = try readKeyIfPresent(wireGuardKeyPath, kind: "a WireGuard private key") {
            do { return try X25519PrivateKey(secret: secret) } catch {
                throw .notAKey(path: wireGuardKeyPath.string, kind: "a WireGuard private key", problem: "\(error)")
            }
        }
        let key = X25519PrivateKey()
        try KeyFile.write(key.secretBytes, to: wireGuardKeyPath)
        return key
    }

    private func readKeyIfPresent(_ file: FilePath, kind: String) throws(StateError) -> SecretBytes? {
        guard access(file.string, F_OK) == 0 else { return nil }
        return try KeyFile.read(file, kind: kind)
    }
}
