#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import NIOCore
import NIOPosix
import Synchronization

/// A UDP socket that SwiftNIO reads from (vector reads on an event loop) and that we write to
/// directly with `sendto`.
///
/// Why not write through NIO: a datagram channel closes itself when a send fails with anything but
/// EMSGSIZE or EHOSTUNREACH, and sends fail routinely here: EPERM when a local firewall drops the
/// packet, ENETUNREACH towards a family or network without a route. A mesh agent must shrug those
/// off, so it sends itself and counts failures instead.
final class UDPSocket: Sendable {
    /// The socket descriptor (owned by the NIO channel, which closes it).
    let descriptor: Int32
    /// Whether it is an IPv6 socket (dual-stack unless bound to a specific address).
    let isIPv6: Bool
    /// The local port.
    let port: UInt16
    /// The NIO channel reading from it.
    let channel: Channel
    private let closed = Atomic<Bool>(false)
    /// Sends that failed (firewalled, unroutable, buffer full).
    let failedSends = Atomic<UInt64>(0)

    /// Creates, binds and hands the socket to NIO; `handler` receives its datagrams.
    static func bind(
        on loop: EventLoopGroup, address: IPAddress?, port: UInt16, receiveBuffer: Int32 = 1 << 20,
        handler: @escaping @Sendable () -> ChannelHandler
    ) async throws -> UDPSocket {
        let isIPv6 = address.map { !$0.isIPv4 } ?? true
        let descriptor = socket(isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var one: Int32 = 1, zero: Int32 = 0, buffer = receiveBuffer
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
        if isIPv6, address == nil {
            setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &zero, socklen_t(MemoryLayout<Int32>.size))
        }
        let bound: Int32 = Self.withSocketAddress(address ?? .v6(IPv6Address(high: 0, low: 0)), port: port, dualStack: false) { pointer, length in
            Glibc.bind(descriptor, pointer, length)
        }
        guard bound == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw IOError(errnoCode: code, reason: "bind to port \(port)")
        }
        var local = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let actualPort: UInt16 = withUnsafeMutablePointer(to: &local) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        let channel: Channel
        do {
            channel = try await DatagramBootstrap(group: loop)
                // Vector reads: one receive buffer is split between the messages of a batch.
                .channelOption(.datagramVectorReadMessageCount, value: 32)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 2048))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler()) }
                }
                .withBoundSocket(descriptor: descriptor).get()
        } catch {
            Glibc.close(descriptor)
            throw error
        }
        return UDPSocket(descriptor: descriptor, isIPv6: isIPv6, port: actualPort, channel: channel)
    }

    private init(descriptor: Int32, isIPv6: Bool, port: UInt16, channel: Channel) {
        self.descriptor = descriptor
        self.isIPv6 = isIPv6
        self.port = port
        self.channel = channel
    }

    /// Whether the socket can send to an address of this family.
    func canSend(to address: IPAddress) -> Bool { isIPv6 || address.isIPv4 }

    /// Sends `bytes` to `endpoint`; false (and counted) if the kernel refused.
    @discardableResult
    func send(_ bytes: UnsafeRawBufferPointer, to endpoint: SocketEndpoint) -> Bool {
        guard !closed.load(ordering: .relaxed), canSend(to: endpoint.address) else { return false }
        let sent = Self.withSocketAddress(endpoint.address, port: endpoint.port, dualStack: isIPv6) { pointer, length in
            sendto(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), pointer, length)
        }
        guard sent == bytes.count else {
            failedSends.add(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Closes the socket (through its channel).
    func close() async {
        closed.store(true, ordering: .relaxed)
        try? await channel.close()
    }

    /// Calls `body` with a socket address for `address`:`port` (IPv4 as IPv4-mapped IPv6 on a
    /// dual-stack socket).
    static func withSocketAddress<R>(
        _ address: IPAddress, port: UInt16, dualStack: Bool, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R
    ) -> R {
        switch address {
        case let .v4(v4) where !dualStack:
            var target = sockaddr_in()
            target.sin_family = sa_family_t(AF_INET)
            target.sin_port = port.bigEndian
            target.sin_addr.s_addr = v4.value.bigEndian
            return withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        default:
            var target = sockaddr_in6()
            target.sin6_family = sa_family_t(AF_INET6)
            target.sin6_port = port.bigEndian
            let bytes: [UInt8]
            if case let .v4(v4) = address {
                bytes = [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF] + v4.bytes
            } else {
                bytes = address.bytes
            }
            withUnsafeMutableBytes(of: &target.sin6_addr) { buffer in
                for (index, value) in bytes.enumerated() { buffer[index] = value }
            }
            return withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }
}
