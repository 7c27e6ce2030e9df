import MeshCore
import NIOCore
import NIOPosix

/// A datagram received on the gossip socket.
public struct ReceivedDatagram: Sendable {
    public var bytes: [UInt8]
    public var source: SocketEndpoint
}

/// meshd's UDP socket for the secure channel. By default one dual-stack socket on `[::]:port`
/// (IPv4 peers appear as mapped addresses and are converted back); with explicit bind addresses,
/// one socket per address. SwiftNIO reads; sends go straight to the kernel (see ``UDPSocket``).
public final class GossipTransport: Sendable {
    private let sockets: [UDPSocket]
    /// Received datagrams, in arrival order.
    public let datagrams: AsyncStream<ReceivedDatagram>
    private let continuation: AsyncStream<ReceivedDatagram>.Continuation
    /// Datagrams and bytes in and out.
    public let counters = GossipCounters()

    /// Binds the gossip socket(s) on `port`, to `device` when given (`underlay.bind_device`).
    public init(group: EventLoopGroup, port: UInt16, bindAddresses: [IPAddress], device: String? = nil) async throws {
        let (stream, continuation) = AsyncStream<ReceivedDatagram>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        self.datagrams = stream
        self.continuation = continuation
        let counters = self.counters
        let handler: @Sendable () -> ChannelHandler = { DatagramForwarder(continuation: continuation, counters: counters) }
        var bound: [UDPSocket] = []
        if bindAddresses.isEmpty {
            do {
                bound.append(try await UDPSocket.bind(on: group, address: nil, port: port, device: device, handler: handler))
            } catch let error as UDPBindError where error.device != nil {
                throw error
            } catch {
                // No IPv6 on this host: IPv4 only.
                bound.append(try await UDPSocket.bind(on: group, address: .v4(IPv4Address(0)), port: port, device: device, handler: handler))
            }
        } else {
            for address in bindAddresses {
                bound.append(try await UDPSocket.bind(on: group, address: address, port: port, device: device, handler: handler))
            }
        }
        sockets = bound
    }

    /// Sends `bytes` to `endpoint` from a socket that can reach its family. Failures (no route,
    /// firewalled) are counted and otherwise ignored: UDP is lossy anyway.
    public func send(_ bytes: [UInt8], to endpoint: SocketEndpoint) {
        // A socket of the endpoint's own family first, else a dual-stack one.
        let sameFamily = sockets.first { $0.isIPv6 != endpoint.address.isIPv4 }
        guard let socket = sameFamily ?? sockets.first(where: { $0.canSend(to: endpoint.address) }) else { return }
        counters.sentDatagrams.add(1, ordering: .relaxed)
        counters.sentBytes.add(UInt64(bytes.count), ordering: .relaxed)
        bytes.withUnsafeBytes { _ = socket.send($0, to: endpoint) }
    }

    /// Marks every gossip socket's packets with `mark` (0 clears it); the errno of the first
    /// refusal, 0 when all took it.
    public func setMark(_ mark: UInt32) -> Int32 {
        sockets.map { $0.setMark(mark) }.first { $0 != 0 } ?? 0
    }

    /// Sends that the kernel refused.
    public var failedSends: UInt64 { sockets.reduce(0) { $0 + $1.failedSends.load(ordering: .relaxed) } }

    /// Closes the sockets and ends the datagram stream.
    public func close() async {
        for socket in sockets { await socket.close() }
        continuation.finish()
    }
}

/// Hands each datagram to the agent's stream.
private final class DatagramForwarder: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let continuation: AsyncStream<ReceivedDatagram>.Continuation
    let counters: GossipCounters

    init(continuation: AsyncStream<ReceivedDatagram>.Continuation, counters: GossipCounters) {
        self.continuation = continuation
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        guard let source = SocketEndpoint(envelope.remoteAddress) else { return }
        let bytes = envelope.data.getBytes(at: envelope.data.readerIndex, length: envelope.data.readableBytes) ?? []
        counters.receivedDatagrams.add(1, ordering: .relaxed)
        counters.receivedBytes.add(UInt64(bytes.count), ordering: .relaxed)
        continuation.yield(ReceivedDatagram(bytes: bytes, source: source))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A read error (an ICMP error queued on the socket) must not close it.
    }
}
