import MeshCore
import NIOCore
import NIOPosix

/// A datagram received on the gossip socket.
public struct ReceivedDatagram: Sendable {
    public var bytes: [UInt8]
    public var source: SocketEndpoint
}

/// meshd's UDP socket for the secure channel (SwiftNIO). By default one dual-stack socket on
/// `[::]:port`, so IPv4 peers appear as mapped addresses and are converted back; with explicit
/// bind addresses, one socket per address.
public final class GossipTransport: Sendable {
    private let channels: [(channel: Channel, isIPv6: Bool, dualStack: Bool)]
    /// Received datagrams, in arrival order.
    public let datagrams: AsyncStream<ReceivedDatagram>
    private let continuation: AsyncStream<ReceivedDatagram>.Continuation
    private let routes = RouteCheck()

    /// Binds the gossip socket(s) on `port`.
    public init(group: EventLoopGroup, port: UInt16, bindAddresses: [IPAddress]) async throws {
        let (stream, continuation) = AsyncStream<ReceivedDatagram>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        self.datagrams = stream
        self.continuation = continuation
        var bound: [(Channel, Bool, Bool)] = []
        let targets: [(host: String, isIPv6: Bool, dualStack: Bool)] =
            bindAddresses.isEmpty ? [("::", true, true)] : bindAddresses.map { ("\($0)", !$0.isIPv4, false) }
        for target in targets {
            do {
                let channel = try await Self.bind(group: group, host: target.host, port: port, continuation: continuation)
                bound.append((channel, target.isIPv6, target.dualStack))
            } catch where target.dualStack {
                // No IPv6 on this host: fall back to IPv4 only.
                let channel = try await Self.bind(group: group, host: "0.0.0.0", port: port, continuation: continuation)
                bound.append((channel, false, false))
            }
        }
        channels = bound
    }

    private static func bind(group: EventLoopGroup, host: String, port: UInt16, continuation: AsyncStream<ReceivedDatagram>.Continuation) async throws -> Channel {
        try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramForwarder(continuation: continuation))
                }
            }
            .bind(host: host, port: Int(port)).get()
    }

    /// Sends `bytes` to `endpoint` on a socket of its family. Destinations without a route are
    /// skipped (UDP is lossy anyway, and a failed write would close the socket).
    public func send(_ bytes: [UInt8], to endpoint: SocketEndpoint) {
        guard routes.isRoutable(endpoint.address) else { return }
        let target = endpoint.address.isIPv4
            ? channels.first { !$0.isIPv6 } ?? channels.first { $0.dualStack }
            : channels.first { $0.isIPv6 }
        guard let target else { return }
        let host: String
        if endpoint.address.isIPv4, target.isIPv6 { host = "::ffff:\(endpoint.address)" } else { host = "\(endpoint.address)" }
        guard let address = try? SocketAddress(ipAddress: host, port: Int(endpoint.port)) else { return }
        var buffer = target.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        target.channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
    }

    /// Closes the sockets and ends the datagram stream.
    public func close() async {
        for entry in channels { try? await entry.channel.close() }
        continuation.finish()
    }
}

/// Hands each datagram to the agent's stream.
private final class DatagramForwarder: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let continuation: AsyncStream<ReceivedDatagram>.Continuation

    init(continuation: AsyncStream<ReceivedDatagram>.Continuation) { self.continuation = continuation }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        guard let host = envelope.remoteAddress.ipAddress, let port = envelope.remoteAddress.port,
              let address = IPAddress(host).map(Self.unmapped), port > 0, port <= 65535
        else { return }
        let bytes = envelope.data.getBytes(at: envelope.data.readerIndex, length: envelope.data.readableBytes) ?? []
        continuation.yield(ReceivedDatagram(bytes: bytes, source: SocketEndpoint(address: address, port: UInt16(port))))
    }

    /// `::ffff:a.b.c.d` → `a.b.c.d`.
    static func unmapped(_ address: IPAddress) -> IPAddress {
        if case let .v6(v6) = address, v6.high == 0, v6.low >> 32 == 0xFFFF {
            return .v4(IPv4Address(UInt32(truncatingIfNeeded: v6.low)))
        }
        return address
    }
}
