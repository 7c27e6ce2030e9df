#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import SystemPackage
import NIOPosix
import MeshControl

/// Handles one control request; yields reply lines (already JSON-encoded, without newline).
public protocol ControlHandler: Sendable {
    func handle(_ request: ControlRequest, reply: @Sendable (String) async -> Void) async
}

/// The Unix-socket server of the control protocol (SwiftNIO). The socket file is mode 0600, so
/// only its owner (root) can operate the daemon.
public final class ControlServer: Sendable {
    private let channel: Channel
    /// The requests being served: children of ``run()``, cancelled and awaited when it is.
    private let requests = OwnedWork()
    /// The socket path.
    public let path: String

    /// Binds `path` (replacing a stale socket file) and serves requests with `handler`.
    public init(group: EventLoopGroup, path: String, handler: any ControlHandler) async throws {
        let directory = FilePath(path).removingLastComponent().string
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let previousMask = umask(0o177)
        defer { umask(previousMask) }
        let requests = self.requests
        channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(ControlConnection(handler: handler, requests: requests))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        chmod(path, 0o600)
        self.path = path
    }

    /// Serves requests until cancelled; then cancels those still being served and waits for them.
    public func run() async {
        await requests.run()
    }

    /// Stops accepting and removes the socket file.
    public func close() async {
        try? await channel.close()
        unlink(path)
    }
}

/// One connection: reads a request line, streams reply lines, closes.
private final class ControlConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    // Touched only on the channel's event loop.
    private var buffer: [UInt8] = []
    private var started = false
    private let handler: any ControlHandler
    private let requests: OwnedWork

    init(handler: any ControlHandler, requests: OwnedWork) {
        self.handler = handler
        self.requests = requests
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = Self.unwrapInboundIn(data)
        guard !started else { return }
        buffer += incoming.readBytes(length: incoming.readableBytes) ?? []
        if buffer.count > 1 << 20 {
            context.close(promise: nil)
            return
        }
        guard let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) else { return }
        started = true
        let line = Data(buffer[..<newline])
        let channel = context.channel
        let handler = self.handler
        requests.start {
            let send: @Sendable (String) async -> Void = { text in
                var out = channel.allocator.buffer(capacity: text.utf8.count + 1)
                out.writeString(text + "\n")
                try? await channel.writeAndFlush(out)
            }
            do {
                let request = try JSONDecoder().decode(ControlRequest.self, from: line)
                await handler.handle(request, reply: send)
            } catch let invalid as InvalidControlRequest {
                await send(ControlReply<NoResult>.failureLine(invalid.description))
            } catch {
                await send(#"{"ok":false,"error":"the request is not valid JSON for the control protocol"}"#)
            }
            try? await channel.close()
        }
    }
}
