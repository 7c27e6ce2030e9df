#if canImport(Glibc)
import Glibc
#endif

/// Why a WireGuard device or link operation failed. Each description names the problem and, where
/// there is one, what to do about it.
public enum WireGuardControlError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kernel has no WireGuard support (the generic-netlink family "wireguard" does not
    /// resolve, or links of kind `wireguard` cannot be created).
    case moduleNotLoaded
    /// No network interface of that name exists (in the namespace that was asked).
    case noSuchInterface(String)
    /// The interface exists but is not a WireGuard device; `kind` is its link kind when known.
    case notWireGuard(interface: String, kind: String?)
    /// An interface of that name already exists.
    case interfaceExists(String)
    /// Text or bytes that should be a 32-byte WireGuard key are not.
    case malformedKey(what: String, reason: String)
    /// The operation needs `CAP_NET_ADMIN`.
    case permissionDenied(operation: String)
    /// The named network namespace does not exist or cannot be entered.
    case namespaceUnavailable(name: String, errno: Int32)
    /// The kernel refused an operation; `message` is its extended-ack text when it sent one.
    case kernel(operation: String, errno: Int32, message: String?)
    /// A reply from the kernel or a userspace daemon could not be parsed.
    case malformedReply(String)
    /// A value cannot be expressed to the device (for example, a change set too large for the
    /// message size limit).
    case invalidRequest(String)
    /// No UAPI socket answers for this interface: no userspace WireGuard daemon owns it.
    case noUserspaceDaemon(interface: String, socketPath: String)
    /// The userspace daemon answered with a non-zero `errno`.
    case userspace(interface: String, operation: String, errno: Int32)
    /// Starting or talking to the userspace daemon failed.
    case daemonFailed(interface: String, detail: String)
    /// The other side did not answer in time.
    case timedOut(operation: String)
    /// A system call failed.
    case system(operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .moduleNotLoaded:
            return "the kernel has no WireGuard module: run `modprobe wireguard` (Linux 5.6 or later has it built in), "
                + "or run meshd with --backend userspace (wireguard-go)"
        case let .noSuchInterface(name):
            return "no network interface named \(name): create it first (meshd creates its own), or check the name and namespace"
        case let .notWireGuard(name, kind):
            let what = kind.map { "a \($0) link" } ?? "a link of another kind"
            return "\(name) is \(what), not wireguard: pick a WireGuard interface, or a free name for meshd to create"
        case let .interfaceExists(name):
            return "an interface named \(name) already exists: delete it (`ip link del \(name)`) or pick another name"
        case let .malformedKey(what, reason):
            return "malformed key (\(what)): \(reason); WireGuard keys are 32 bytes, written as 44 characters of base64 as `wg genkey` prints"
        case let .permissionDenied(operation):
            return "\(operation) needs CAP_NET_ADMIN: run as root (or grant the capability)"
        case let .namespaceUnavailable(name, code):
            return "cannot enter network namespace \(name): \(Self.text(code)); create it with `ip netns add \(name)`"
        case let .kernel(operation, code, message):
            let detail = message.map { ": \($0)" } ?? ""
            return "\(operation) failed: \(Self.text(code)) (errno \(code))\(detail)"
        case let .malformedReply(detail):
            return "malformed reply: \(detail)"
        case let .invalidRequest(detail):
            return "invalid request: \(detail)"
        case let .noUserspaceDaemon(name, path):
            return "no userspace WireGuard daemon owns \(name) (no UAPI socket at \(path)): start `wireguard-go \(name)`, "
                + "or let meshd start it, or use the kernel backend"
        case let .userspace(name, operation, code):
            return "\(operation) on \(name) failed in the userspace daemon: \(Self.text(code)) (errno \(code))"
        case let .daemonFailed(name, detail):
            return "userspace WireGuard for \(name) failed: \(detail)"
        case let .timedOut(operation):
            return "\(operation) timed out: no answer"
        case let .system(operation, code):
            return "\(operation) failed: \(Self.text(code)) (errno \(code))"
        }
    }

    /// The errno of a ``kernel(operation:errno:message:)`` error, else `nil`.
    public var kernelErrno: Int32? {
        if case let .kernel(_, code, _) = self { return code }
        return nil
    }

    static func text(_ code: Int32) -> String {
        guard let message = strerror(code) else { return "error \(code)" }
        return String(cString: message)
    }
}
