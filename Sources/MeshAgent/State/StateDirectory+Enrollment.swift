import MeshCore
import MeshCrypto
import SystemPackage

/// What makes a node a member: the network's signed settings and its own certificate.
public struct Enrollment: Sendable {
    public let settings: NetworkSettings
    public let certificate: NodeCertificate

    public init(settings: NetworkSettings, certificate: NodeCertificate) {
        self.settings = settings
        self.certificate = certificate
    }
}

extension StateDirectory {
    /// The network's signed settings.
    public var settingsPath: FilePath { path.appending("network.settings") }
    /// This node's certificate.
    public var certificatePath: FilePath { path.appending("node.cert") }
    /// Known members, revocations and this node's last record version.
    public var membersPath: FilePath { path.appending("members.db") }
    /// The network authority's key (only on the authority node).
    public var authorityKeyPath: FilePath { path.appending("authority.key") }
    /// Invitations and issued certificates (only on the authority node).
    public var authorityStatePath: FilePath { path.appending("authority.json") }

    /// The enrollment, or nil if this node has not joined a network.
    public func loadEnrollment() throws(StateError) -> Enrollment? {
        guard exists(certificatePath) || exists(settingsPath) else { return nil }
        let settingsBytes = try readFile(settingsPath, what: "the network settings")
        let certificateBytes = try readFile(certificatePath, what: "this node's certificate")
        let settings: NetworkSettings, certificate: NodeCertificate
        do { settings = try NetworkSettings(decoding: settingsBytes) } catch {
            throw .damaged(path: settingsPath.string, problem: "\(error)", advice: Self.reenrollAdvice)
        }
        do { certificate = try NodeCertificate(decoding: certificateBytes) } catch {
            throw .damaged(path: certificatePath.string, problem: "\(error)", advice: Self.reenrollAdvice)
        }
        guard certificate.networkID == settings.networkID, certificate.issuerKey == settings.authorityKey else {
            throw .damaged(path: certificatePath.string, problem: "it does not belong to the network in \(settingsPath.string)", advice: Self.reenrollAdvice)
        }
        return Enrollment(settings: settings, certificate: certificate)
    }

    /// Stores the enrollment (settings first: a certificate without settings is never left behind).
    public func saveEnrollment(_ enrollment: Enrollment) throws(StateError) {
        try AtomicFile.write(enrollment.settings.encoded, to: settingsPath)
        try AtomicFile.write(enrollment.certificate.encoded, to: certificatePath)
    }

    /// Stores a renewed certificate.
    public func saveCertificate(_ certificate: NodeCertificate) throws(StateError) {
        try AtomicFile.write(certificate.encoded, to: certificatePath)
    }

    /// Moves the enrollment aside after leaving (kept as `*.left` for the record).
    public func archiveEnrollment() {
        for file in [settingsPath, certificatePath, membersPath] where exists(file) {
            _ = rename(file.string, file.string + ".left")
        }
    }

    /// The authority key, if this node holds it.
    public func loadAuthorityKey() throws(StateError) -> Ed25519PrivateKey? {
        guard exists(authorityKeyPath) else { return nil }
        let seed = try KeyFile.read(authorityKeyPath, kind: "the network authority key")
        do { return try Ed25519PrivateKey(seed: seed) } catch {
            throw .notAKey(path: authorityKeyPath.string, kind: "the network authority key", problem: "\(error)")
        }
    }

    /// Stores the authority key (mode 0600).
    public func saveAuthorityKey(_ key: Ed25519PrivateKey) throws(StateError) {
        try KeyFile.write(key.seedBytes, to: authorityKeyPath)
    }

    static let reenrollAdvice = "restore the state directory from a backup, or move it away and enroll this host again with `meshctl join`"

    func exists(_ file: FilePath) -> Bool { access(file.string, F_OK) == 0 }

    func readFile(_ file: FilePath, what: String) throws(StateError) -> [UInt8] {
        do {
            let descriptor = try FileDescriptor.open(file, .readOnly, options: [.closeOnExec])
            defer { try? descriptor.close() }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) }
                if count == 0 { break }
                bytes += chunk[0..<count]
                guard bytes.count <= 64 << 20 else {
                    throw StateError.damaged(path: file.string, problem: "it is larger than 64 MiB", advice: "remove it")
                }
            }
            return bytes
        } catch let error as StateError {
            throw error
        } catch let error as Errno where error == .noSuchFileOrDirectory {
            throw .missing(path: file.string, what: what, advice: Self.reenrollAdvice)
        } catch {
            throw .io(path: file.string, operation: "read", reason: "\(error)")
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
