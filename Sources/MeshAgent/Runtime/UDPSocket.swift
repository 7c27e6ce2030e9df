#if canImport(Glibc)
import Glibc
#endif
import CUDP
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
    /// Whether batches may use UDP GSO (cleared when the kernel or the route refuses it).
    let segmentationOffload = Atomic<Bool>(true)

    /// Creates, binds and hands the socket to NIO; `handler` receives its datagrams.
    /// `mark`: the fwmark its packets carry (0: none; see ``setMark(_:)``). `device`: the device
    /// it is bound to (`SO_BINDTODEVICE`: it then sends and receives only through that device, or
    /// through the interfaces of that VRF).
    static func bind(
        on loop: EventLoopGroup, address: IPAddress?, port: UInt16, receiveBuffer: Int32 = 1 << 20, mark: UInt32 = 0,
        device: String? = nil, handler: @escaping @Sendable () -> ChannelHandler
    ) async throws -> UDPSocket {
        let isIPv6 = address.map { !$0.isIPv4 } ?? true
        let descriptor = socket(isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        // No SO_REUSEADDR: for UDP it would let a second meshd bind the same port and share its traffic.
        var zero: Int32 = 0, buffer = receiveBuffer
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
        if isIPv6, address == nil {
            setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &zero, socklen_t(MemoryLayout<Int32>.size))
        }
        if mark != 0 { _ = Self.setMark(mark, on: descriptor) }
        if let device {
            let result = device.withCString { name in
                setsockopt(descriptor, SOL_SOCKET, SO_BINDTODEVICE, name, socklen_t(strlen(name) + 1))
            }
            guard result == 0 else {
                let code = errno
                Glibc.close(descriptor)
                throw UDPBindError(port: port, address: address, device: device, code: code)
            }
        }
        let bound: Int32 = Self.withSocketAddress(address ?? .v6(IPv6Address(high: 0, low: 0)), port: port, dualStack: false) { pointer, length in
            Glibc.bind(descriptor, pointer, length)
        }
        guard bound == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw UDPBindError(port: port, address: address, code: code)
        }
        var local = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let actualPort: UInt16 = withUnsafeMutablePointer(to: &local) { pointer in
            _ = pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
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
                .withBoundSocket(descriptor).get()
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

    /// Marks the socket's packets with `mark` (`SO_MARK`, as WireGuard's own with `fwmark`): the
    /// policy rules that send unmarked traffic through an exit node leave them on the host's real
    /// routes. Returns the errno when the kernel refused (0: done).
    @discardableResult
    func setMark(_ mark: UInt32) -> Int32 { Self.setMark(mark, on: descriptor) }

    private static func setMark(_ mark: UInt32, on descriptor: Int32) -> Int32 {
        var value = mark
        return setsockopt(descriptor, SOL_SOCKET, SO_MARK, &value, socklen_t(MemoryLayout<UInt32>.size)) == 0 ? 0 : errno
    }

    /// Whether the socket is closed.
    var isClosed: Bool { closed.load(ordering: .relaxed) }

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
        var storage = sockaddr_in6()
        let length = withUnsafeMutablePointer(to: &storage) { fillSocketAddress($0, address, port: port, dualStack: dualStack) }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    /// Writes a socket address for `address`:`port` into `storage` (a `sockaddr_in` at its start
    /// for IPv4 on an IPv4 socket, else a `sockaddr_in6`, IPv4 as IPv4-mapped); returns its length.
    /// Allocates nothing (the relay calls it for every batch it sends).
    static func fillSocketAddress(_ storage: UnsafeMutablePointer<sockaddr_in6>, _ address: IPAddress, port: UInt16, dualStack: Bool) -> socklen_t {
        switch address {
        case let .v4(v4) where !dualStack:
            return UnsafeMutableRawPointer(storage).withMemoryRebound(to: sockaddr_in.self, capacity: 1) { target in
                target.pointee = sockaddr_in()
                target.pointee.sin_family = sa_family_t(AF_INET)
                target.pointee.sin_port = port.bigEndian
                target.pointee.sin_addr.s_addr = v4.value.bigEndian
                return socklen_t(MemoryLayout<sockaddr_in>.size)
            }
        case .v4, .v6:
            // IPv4 on an IPv6 socket is IPv4-mapped: ::ffff:a.b.c.d.
            let (high, low): (UInt64, UInt64)
            switch address {
            case let .v4(v4): (high, low) = (0, 0xFFFF_0000_0000 | UInt64(v4.value))
            case let .v6(v6): (high, low) = (v6.high, v6.low)
            }
            storage.pointee = sockaddr_in6()
            storage.pointee.sin6_family = sa_family_t(AF_INET6)
            storage.pointee.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &storage.pointee.sin6_addr) { bytes in
                bytes.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
                bytes.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            return socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
    }
}

/// Datagrams waiting to leave one ``UDPSocket``, sent together: one `sendmmsg` per flush and,
/// where the kernel and the route allow it, each run of equal-sized datagrams to one destination
/// as a single UDP GSO message (`UDP_SEGMENT`: the stack is traversed once per run, the datagrams
/// are cut at the device). The bytes are copied in, so the caller's buffers can be reused at once.
///
/// Not thread-safe: one batch belongs to one event loop (the relay shares one among the ports
/// read on that loop, which is why ``append(_:to:through:)`` flushes when the socket changes).
final class SendBatch: @unchecked Sendable {
    /// Most datagrams held; a full batch is flushed before the next one is added.
    static let maximumDatagrams = 128
    /// Bytes held (the arena the datagrams are copied into).
    static let arenaSize = 256 * 1024
    /// Most segments in one GSO message (UDP_MAX_SEGMENTS is 64 on older kernels) and its most bytes.
    static let maximumSegments = 64
    static let maximumSegmentedBytes = 65_000

    /// What one flush did.
    struct Outcome {
        var packets = 0
        var bytes = 0
        var failed = 0
    }

    private let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: SendBatch.arenaSize, alignment: 16)
    private let vectors = UnsafeMutablePointer<iovec>.allocate(capacity: SendBatch.maximumDatagrams)
    private let messages = UnsafeMutablePointer<cudp_message>.allocate(capacity: SendBatch.maximumDatagrams)
    private let names = UnsafeMutablePointer<sockaddr_in6>.allocate(capacity: SendBatch.maximumDatagrams)
    private var destinations: [SocketEndpoint] = []
    /// First datagram and count of each message built by the last flush.
    private var groups: [(first: Int, count: Int)] = []
    private var used = 0
    /// The socket the held datagrams leave from.
    private(set) var socket: UDPSocket?

    init() {
        destinations.reserveCapacity(Self.maximumDatagrams)
        groups.reserveCapacity(Self.maximumDatagrams)
    }

    deinit {
        arena.deallocate()
        vectors.deallocate()
        messages.deallocate()
        names.deallocate()
    }

    /// Datagrams held.
    var count: Int { destinations.count }

    /// Copies `bytes` in, to leave from `socket` for `destination`. Flushes first (returning what
    /// that flush did) when the batch is full or holds datagrams for another socket. Datagrams
    /// too big for the arena are sent at once.
    func append(_ bytes: UnsafeRawBufferPointer, to destination: SocketEndpoint, through socket: UDPSocket) -> Outcome {
        var outcome = Outcome()
        if let current = self.socket, current !== socket || count == Self.maximumDatagrams || used + bytes.count > Self.arenaSize {
            outcome = flush()
        }
        guard bytes.count <= Self.arenaSize else {
            if socket.send(bytes, to: destination) {
                outcome.packets += 1
                outcome.bytes += bytes.count
            } else {
                outcome.failed += 1
            }
            return outcome
        }
        self.socket = socket
        let start = arena.baseAddress.unsafelyUnwrapped + used
        if let source = bytes.baseAddress { start.copyMemory(from: source, byteCount: bytes.count) }
        vectors[count] = iovec(iov_base: start, iov_len: bytes.count)
        destinations.append(destination)
        used += bytes.count
        return outcome
    }

    /// Sends everything held and empties the batch.
    @discardableResult
    func flush() -> Outcome {
        var outcome = Outcome()
        guard let socket, count > 0 else { return outcome }
        defer {
            destinations.removeAll(keepingCapacity: true)
            used = 0
            self.socket = nil
        }
        guard !socket.isClosed else {
            outcome.failed = count
            return outcome
        }
        // One message per run of datagrams for the same destination: equal sizes (the last may
        // be shorter) when GSO is allowed, else one datagram per message.
        let segmenting = socket.segmentationOffload.load(ordering: .relaxed)
        groups.removeAll(keepingCapacity: true)
        var index = 0
        while index < count {
            let destination = destinations[index]
            let size = vectors[index].iov_len
            var end = index + 1
            if segmenting {
                var total = size
                while end < count, end - index < Self.maximumSegments, destinations[end] == destination,
                      vectors[end].iov_len <= size, total + vectors[end].iov_len <= Self.maximumSegmentedBytes {
                    total += vectors[end].iov_len
                    end += 1
                    if vectors[end - 1].iov_len < size { break }
                }
            }
            let message = groups.count
            let nameLength = UDPSocket.fillSocketAddress(names + message, destination.address, port: destination.port, dualStack: socket.isIPv6)
            messages[message] = cudp_message(
                name: UnsafeRawPointer(names + message), name_length: nameLength, iov: UnsafeRawPointer(vectors + index),
                iov_count: UInt(end - index), segment_size: end - index > 1 ? UInt16(size) : 0, sent: 0)
            groups.append((index, end - index))
            index = end
        }
        var next = 0
        while next < groups.count {
            let sent = cudp_send_batch(socket.descriptor, messages + next, UInt32(groups.count - next), Int32(MSG_DONTWAIT))
            if sent > 0 {
                for message in next..<(next + Int(sent)) {
                    outcome.packets += groups[message].count
                    outcome.bytes += Int(messages[message].sent)
                }
                next += Int(sent)
                continue
            }
            // The message at `next` failed. A GSO message the kernel refuses goes out datagram by
            // datagram; EIO/ENOPROTOOPT/EOPNOTSUPP mean no GSO on this socket's routes at all.
            let code = errno
            let group = groups[next]
            if group.count > 1 {
                if code == EIO || code == ENOPROTOOPT || code == EOPNOTSUPP {
                    socket.segmentationOffload.store(false, ordering: .relaxed)
                }
                for datagram in group.first..<(group.first + group.count) {
                    let bytes = UnsafeRawBufferPointer(start: vectors[datagram].iov_base, count: vectors[datagram].iov_len)
                    if socket.send(bytes, to: destinations[datagram]) {
                        outcome.packets += 1
                        outcome.bytes += bytes.count
                    } else {
                        outcome.failed += 1
                    }
                }
            } else {
                socket.failedSends.add(1, ordering: .relaxed)
                outcome.failed += 1
            }
            next += 1
        }
        return outcome
    }
}

/// A UDP port that cannot be bound, with the system's reason and what to do.
struct UDPBindError: Error, CustomStringConvertible {
    let port: UInt16
    let address: IPAddress?
    /// Set when binding to this device (`underlay.bind_device`) failed.
    var device: String? = nil
    let code: Int32

    var description: String {
        let target = address.map { "\($0) port \(port)" } ?? "port \(port)"
        let reason = String(cString: strerror(code))
        if let device {
            let advice = code == ENODEV ? " (no such device: check underlay.bind_device)" : ""
            return "cannot bind UDP \(target) to device \(device): \(reason)\(advice)"
        }
        let advice = code == EADDRINUSE ? " (another process uses it: stop it or choose another port)" : ""
        return "cannot bind UDP \(target): \(reason)\(advice)"
    }
}
