#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// One meshd per state directory: an exclusive `flock(2)` on `DIR/meshd.lock`, held for the life
/// of the process. The kernel releases it when the process ends, however it ends, so a stale
/// file never blocks a restart. The descriptor is close-on-exec: wireguard-go, which meshd starts
/// and leaves running, must not inherit (and keep) the lock.
public final class StateDirectoryLock: Sendable {
    /// The lock file.
    public let path: String
    private let descriptor: Int32

    /// Takes the lock of `directory` (which must exist), or says which process holds it.
    public init(_ directory: StateDirectory) throws(StateError) {
        let path = directory.path.appending("meshd.lock").string
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            throw .io(path: path, operation: "open", reason: String(cString: strerror(errno)))
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = Self.readProcessID(descriptor)
            close(descriptor)
            if code == EWOULDBLOCK { throw .inUse(path: directory.path.string, processID: holder) }
            throw .io(path: path, operation: "lock", reason: String(cString: strerror(code)))
        }
        // The holder's process ID, for the message a second meshd prints.
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    private static func readProcessID(_ descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count].prefix { $0 >= 0x30 && $0 <= 0x39 }, as: UTF8.self))
    }
}
