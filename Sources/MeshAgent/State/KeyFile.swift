#if canImport(Glibc)
import Glibc
#endif
import MeshCrypto
import SystemPackage

/// Reads and writes 32-byte private keys as one line of standard base64, the format of
/// `wg genkey`, so that `wg pubkey < wireguard.key` works on meshd's own files.
public enum KeyFile {
    /// Length of a stored key.
    public static let keyByteCount = 32

    /// Writes `secret` atomically, mode 0600.
    public static func write(_ secret: SecretBytes, to path: FilePath) throws(StateError) {
        var line = Array(Base64.encode(secret).utf8)
        line.append(UInt8(ascii: "\n"))
        defer { for index in line.indices { line[index] = 0 } }
        try AtomicFile.write(line, to: path)
    }

    /// Reads a key, refusing files that others can read, truncated files and files that are not
    /// keys. `kind` names the key in messages ("a WireGuard private key").
    public static func read(_ path: FilePath, kind: String) throws(StateError) -> SecretBytes {
        var status = stat()
        guard stat(path.string, &status) == 0 else {
            throw .io(path: path.string, operation: "read", reason: Errno(rawValue: errno).description)
        }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .wrongFileType(path: path.string, expected: "a regular file") }
        let mode = UInt16(truncatingIfNeeded: status.st_mode & 0o7777)
        guard mode & 0o077 == 0 else { throw .insecurePermissions(path: path.string, mode: mode) }
        guard status.st_size <= 4096 else {
            throw .notAKey(path: path.string, kind: kind, problem: "it is \(status.st_size) bytes long")
        }

        var content: [UInt8]
        do {
            content = try readAll(path)
        } catch {
            throw .io(path: path.string, operation: "read", reason: (error as? Errno)?.description ?? "\(error)")
        }
        defer { for index in content.indices { content[index] = 0 } }

        let text = String(decoding: content, as: UTF8.self).trimmingWhitespace()
        guard !text.isEmpty else { throw .truncatedKey(path: path.string, kind: kind, bytes: 0, expected: keyByteCount) }
        guard !text.contains(where: \.isNewline) else {
            throw .notAKey(path: path.string, kind: kind, problem: "it holds more than one line")
        }
        guard let secret = Base64.decodeSecret(text) else {
            // A cut-off key is valid base64 without its padding; say "truncated" for that case.
            if text.count < 44, text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "/" }),
               let partial = Base64.decode(String(text.prefix(text.count / 4 * 4))) {
                throw .truncatedKey(path: path.string, kind: kind, bytes: partial.count, expected: keyByteCount)
            }
            throw .notAKey(path: path.string, kind: kind, problem: "it is not base64")
        }
        guard secret.count >= keyByteCount else {
            throw .truncatedKey(path: path.string, kind: kind, bytes: secret.count, expected: keyByteCount)
        }
        guard secret.count == keyByteCount else {
            throw .notAKey(path: path.string, kind: kind, problem: "it decodes to \(secret.count) bytes, not \(keyByteCount)")
        }
        return secret
    }

    private static func readAll(_ path: FilePath) throws -> [UInt8] {
        let descriptor = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        defer { try? descriptor.close() }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) }
            if count == 0 { break }
            result += chunk[0..<count]
        }
        for index in chunk.indices { chunk[index] = 0 }
        return result
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
