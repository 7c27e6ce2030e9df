import CNetlink
#if canImport(Glibc)
import Glibc
#endif

/// Opens sockets inside a named network namespace.
///
/// A socket stays bound to the namespace it was created in. To create one elsewhere without moving
/// the calling thread, a short-lived thread enters the namespace (`setns(CLONE_NEWNET)`), creates
/// the socket and exits; the caller's thread never changes namespace.
public enum NetworkNamespace {
    /// The file for a namespace name: `/var/run/netns/NAME`, or the name itself when it is a path
    /// (such as `/proc/PID/ns/net`).
    public static func path(for name: String) -> String {
        name.hasPrefix("/") ? name : "/var/run/netns/\(name)"
    }

    /// Creates a socket in `namespace` (the caller's own namespace when `nil`).
    static func socket(in namespace: String?, domain: Int32, type: Int32, protocol: Int32) throws -> Int32 {
        guard let namespace else {
            let fd = Glibc.socket(domain, type, `protocol`)
            guard fd >= 0 else { throw WireGuardControlError.system(operation: "socket()", errno: errno) }
            return fd
        }
        let job = SocketJob(path: path(for: namespace), domain: domain, type: type, protocol: `protocol`)
        let context = Unmanaged.passRetained(job).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let job = Unmanaged<SocketJob>.fromOpaque(raw).takeRetainedValue()
            job.run()
            return nil
        }, context)
        guard started == 0 else {
            Unmanaged<SocketJob>.fromOpaque(context).release()
            throw WireGuardControlError.system(operation: "pthread_create()", errno: started)
        }
        pthread_join(thread, nil)
        switch job.result {
        case let .success(fd): return fd
        case let .failure(error): throw error
        }
    }
}

/// The work of the namespace thread; read by the creating thread only after `pthread_join`.
private final class SocketJob: @unchecked Sendable {
    let path: String
    let domain: Int32
    let type: Int32
    let proto: Int32
    var result: Result<Int32, WireGuardControlError> = .failure(.system(operation: "setns()", errno: EINVAL))

    init(path: String, domain: Int32, type: Int32, protocol: Int32) {
        self.path = path
        self.domain = domain
        self.type = type
        self.proto = `protocol`
    }

    func run() {
        let nsFD = open(path, O_RDONLY | O_CLOEXEC)
        guard nsFD >= 0 else {
            result = .failure(.namespaceUnavailable(name: path, errno: errno))
            return
        }
        defer { close(nsFD) }
        guard cnetlink_setns(nsFD, cnetlink_clone_newnet()) == 0 else {
            let code = errno
            result = .failure(code == EPERM ? .permissionDenied(operation: "entering network namespace \(path)") : .namespaceUnavailable(name: path, errno: code))
            return
        }
        let fd = Glibc.socket(domain, type, proto)
        result = fd >= 0 ? .success(fd) : .failure(.system(operation: "socket() in \(path)", errno: errno))
    }
}
