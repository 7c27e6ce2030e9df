import NIOCore
import NIOHTTP1
import NIOPosix

/// The Prometheus scrape endpoint (`metrics.listen`): HTTP/1.1 on SwiftNIO, `GET /metrics` answers
/// the text exposition format that `render` produces at that moment; anything else is 404 (or 405
/// for another method on `/metrics`). Bind it to a loopback or management address: the metrics
/// name members and their paths (no secrets, but the mesh's shape).
public final class MetricsServer: Sendable {
    private let channel: Channel
    /// Scrapes being answered: children of ``run()``, cancelled and awaited when it is.
    private let scrapes = OwnedWork()
    /// The address bound (the port is the kernel's choice when 0 was asked for).
    public let localAddress: SocketAddress?

    /// Binds `host`:`port` and answers scrapes with `render`.
    public init(group: EventLoopGroup, host: String, port: Int, render: @escaping @Sendable () async -> [UInt8]) async throws {
        let scrapes = self.scrapes
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try child.pipeline.syncOperations.addHandler(MetricsRequestHandler(render: render, scrapes: scrapes))
                }
            }
            .bind(host: host, port: port).get()
        localAddress = channel.localAddress
    }

    /// Serves scrapes until cancelled; then cancels those in progress and waits for them.
    public func run() async {
        await scrapes.run()
    }

    /// Stops accepting.
    public func close() async {
        try? await channel.close()
    }
}

/// One HTTP connection: answers each request in turn (keep-alive, as Prometheus scrapes).
///
/// `@unchecked Sendable`: its stored state (`request`) is read and written only in `channelRead`,
/// which SwiftNIO calls on the channel's event loop; the scrape task touches only the `Channel`
/// (Sendable) and its own copies of the values it needs.
private final class MetricsRequestHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let render: @Sendable () async -> [UInt8]
    private let scrapes: OwnedWork
    private var request: HTTPRequestHead?

    init(render: @escaping @Sendable () async -> [UInt8], scrapes: OwnedWork) {
        self.render = render
        self.scrapes = scrapes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case let .head(head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            let channel = context.channel
            let keepAlive = head.isKeepAlive
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            guard path == "/metrics" else {
                Self.respond(channel, status: .notFound, type: "text/plain; charset=utf-8", body: Array("not found: try /metrics\n".utf8), keepAlive: keepAlive)
                return
            }
            guard head.method == .GET || head.method == .HEAD else {
                Self.respond(channel, status: .methodNotAllowed, type: "text/plain; charset=utf-8", body: Array("use GET\n".utf8), keepAlive: keepAlive)
                return
            }
            let render = self.render
            let headOnly = head.method == .HEAD
            scrapes.start {
                let body = await render()
                Self.respond(channel, status: .ok, type: "text/plain; version=0.0.4; charset=utf-8", body: headOnly ? [] : body,
                             length: body.count, keepAlive: keepAlive)
            }
        }
    }

    private static func respond(
        _ channel: Channel, status: HTTPResponseStatus, type: String, body: [UInt8], length: Int? = nil, keepAlive: Bool
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: "\(length ?? body.count)")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        var buffer = channel.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
        let done = channel.writeAndFlush(HTTPServerResponsePart.end(nil))
        if !keepAlive { done.whenComplete { _ in channel.close(promise: nil) } }
    }
}
