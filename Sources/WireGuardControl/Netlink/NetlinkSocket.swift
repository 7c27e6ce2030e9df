import CNetlink
#if canImport(Glibc)
import Glibc
#endif

/// A netlink socket to the kernel (generic netlink or rtnetlink), bound to the network namespace
/// it was created in. Requests carry increasing sequence numbers; replies with another sequence
/// number (left over from an earlier, abandoned request) are ignored.
///
/// Not thread-safe: owners serialise access.
final class NetlinkSocket {
    /// Large enough for any dump part: the kernel caps those at 32 KiB.
    static let receiveCapacity = 64 * 1024

    let fd: Int32
    let namespace: String?
    private var sequence: UInt32
    private let receiveBuffer: UnsafeMutableRawBufferPointer

    /// Opens a socket of netlink `protocol` (`NETLINK_GENERIC`, `NETLINK_ROUTE`) in `namespace`.
    init(protocol netlinkProtocol: Int32, namespace: String?, timeoutSeconds: Int = 10) throws {
        let type = Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = try NetworkNamespace.socket(in: namespace, domain: AF_NETLINK, type: type, protocol: netlinkProtocol)
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size)) }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw WireGuardControlError.system(operation: "bind(netlink)", errno: code)
        }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(SOL_NETLINK), NETLINK_EXT_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, Int32(SOL_NETLINK), NETLINK_CAP_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.fd = fd
        self.namespace = namespace
        self.sequence = UInt32(truncatingIfNeeded: UInt64(time(nil)) &* 2_654_435_761)
        self.receiveBuffer = .allocate(byteCount: Self.receiveCapacity, alignment: 8)
    }

    deinit {
        close(fd)
        receiveBuffer.deallocate()
    }

    /// A fresh sequence number (never 0).
    func nextSequence() -> UInt32 {
        sequence &+= 1
        if sequence == 0 { sequence = 1 }
        return sequence
    }

    /// Marks every sequence number up to `last` as used (after a caller numbered messages itself).
    func consumeSequences(through last: UInt32) {
        sequence = last
    }

    /// Sends one buffer holding one or more complete messages.
    func send(_ bytes: UnsafeRawBufferPointer, operation: String) throws {
        while true {
            let sent = Glibc.send(fd, bytes.baseAddress, bytes.count, 0)
            if sent == bytes.count { return }
            if sent >= 0 { throw WireGuardControlError.system(operation: "\(operation): short send", errno: EMSGSIZE) }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { throw WireGuardControlError.timedOut(operation: operation) }
            throw Self.mapped(code, message: nil, operation: operation)
        }
    }

    /// Receives one datagram (one or more messages); the view is valid until the next receive.
    func receive(operation: String) throws -> UnsafeRawBufferPointer {
        while true {
            let received = recv(fd, receiveBuffer.baseAddress, receiveBuffer.count, Int32(MSG_TRUNC))
            if received >= 0 {
                guard received <= receiveBuffer.count else {
                    throw WireGuardControlError.malformedReply("\(operation): a netlink reply of \(received) bytes was truncated")
                }
                return UnsafeRawBufferPointer(rebasing: receiveBuffer[..<received])
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { throw WireGuardControlError.timedOut(operation: operation) }
            throw WireGuardControlError.system(operation: "\(operation): recv(netlink)", errno: code)
        }
    }

    /// Sends a request (flags must include `NLM_F_ACK`) and waits for its acknowledgement;
    /// reply messages before it (e.g. the answer to a GET) go to `onReply`.
    func request(
        _ message: UnsafeRawBufferPointer, sequence: UInt32, operation: String,
        onReply: (NetlinkMessage) throws -> Void = { _ in }
    ) throws {
        try send(message, operation: operation)
        var done = false
        while !done {
            let datagram = try receive(operation: operation)
            try NetlinkMessage.forEach(in: datagram) { (reply) throws in
                guard reply.sequence == sequence, !done else { return }
                if reply.isError {
                    let status = try reply.errorStatus()
                    if status.errno != 0 { throw Self.mapped(status.errno, message: status.message, operation: operation) }
                    done = true
                } else {
                    try onReply(reply)
                }
            }
        }
    }

    /// Sends several requests at once (each with `NLM_F_ACK`, numbered `firstSequence` and up,
    /// wrapping) and waits for every acknowledgement. The kernel handles them in order; the first
    /// error is thrown after all have answered.
    func requestBatch(_ messages: UnsafeRawBufferPointer, firstSequence: UInt32, count: Int, operation: String) throws {
        try send(messages, operation: operation)
        var pending = count
        var firstError: WireGuardControlError? = nil
        while pending > 0 {
            let datagram = try receive(operation: operation)
            try NetlinkMessage.forEach(in: datagram) { (reply) throws in
                guard reply.isError, Int(reply.sequence &- firstSequence) < count else { return }
                let status = try reply.errorStatus()
                if status.errno != 0, firstError == nil {
                    firstError = Self.mapped(status.errno, message: status.message, operation: operation)
                }
                pending -= 1
            }
        }
        if let firstError { throw firstError }
    }

    /// Sends a dump request (flags must include `NLM_F_DUMP`) and passes every part to `onPart`
    /// until `NLMSG_DONE`. Returns whether the kernel flagged the dump as interrupted (the data
    /// changed while it was read): the caller should read again.
    func dump(
        _ message: UnsafeRawBufferPointer, sequence: UInt32, operation: String,
        onPart: (NetlinkMessage) throws -> Void
    ) throws -> Bool {
        try send(message, operation: operation)
        var done = false
        var interrupted = false
        while !done {
            let datagram = try receive(operation: operation)
            try NetlinkMessage.forEach(in: datagram) { (reply) throws in
                guard reply.sequence == sequence, !done else { return }
                if reply.wasInterrupted { interrupted = true }
                if reply.isError || reply.isDone {
                    let status = reply.payload.count >= 4 ? try reply.errorStatus() : (errno: Int32(0), message: nil)
                    if status.errno != 0 { throw Self.mapped(status.errno, message: status.message, operation: operation) }
                    done = true
                } else {
                    try onPart(reply)
                }
            }
        }
        return interrupted
    }

    /// A kernel errno as an error naming the operation.
    static func mapped(_ code: Int32, message: String?, operation: String) -> WireGuardControlError {
        if code == EPERM || code == EACCES { return .permissionDenied(operation: operation) }
        return .kernel(operation: operation, errno: code, message: message)
    }
}
