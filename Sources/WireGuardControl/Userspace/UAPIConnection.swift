import CNetlink
#if canImport(Glibc)
import Glibc
#endif

/// One request/reply exchange on a UAPI Unix socket (`/var/run/wireguard/IFNAME.sock`).
enum UAPIConnection {
    /// Sends `request` and returns the reply, up to and including its terminating blank line.
    /// - Throws: ``WireGuardControlError/noUserspaceDaemon(interface:socketPath:)`` when nothing
    ///   listens at `path`.
    static func exchange(_ request: [UInt8], path: String, interface: String, timeoutSeconds: Int = 10) throws -> [UInt8] {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw WireGuardControlError.system(operation: "socket(AF_UNIX)", errno: errno) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else {
            throw WireGuardControlError.invalidRequest("UAPI socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { target in
            for (index, byte) in pathBytes.enumerated() { target[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            if code == ENOENT || code == ECONNREFUSED { throw WireGuardControlError.noUserspaceDaemon(interface: interface, socketPath: path) }
            if code == EACCES || code == EPERM { throw WireGuardControlError.permissionDenied(operation: "connecting to \(path)") }
            throw WireGuardControlError.system(operation: "connect(\(path))", errno: code)
        }

        try request.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            var offset = 0
            while offset < bytes.count {
                let sent = send(fd, base + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                if sent > 0 { offset += sent; continue }
                let code = errno
                if sent < 0 && code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK { throw WireGuardControlError.timedOut(operation: "writing to \(path)") }
                throw WireGuardControlError.daemonFailed(interface: interface, detail: "writing to \(path): \(WireGuardControlError.text(code))")
            }
        }

        var reply = [UInt8]()
        reply.reserveCapacity(64 * 1024)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if received > 0 {
                reply.append(contentsOf: chunk[..<received])
                let count = reply.count
                if count >= 2 && reply[count - 1] == 10 && reply[count - 2] == 10 { return reply }
                continue
            }
            if received == 0 {
                throw WireGuardControlError.malformedReply("the daemon for \(interface) closed the connection before the end of its reply")
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { throw WireGuardControlError.timedOut(operation: "reading from \(path)") }
            throw WireGuardControlError.daemonFailed(interface: interface, detail: "reading from \(path): \(WireGuardControlError.text(code))")
        }
    }
}
