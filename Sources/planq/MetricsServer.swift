import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PlanStore
import ServiceLifecycle

/// Where `--metrics` listens: `HOST:PORT` (`[::1]:9464` for IPv6), or a port alone for loopback.
struct MetricsAddress: Sendable, CustomStringConvertible {
    let host: String
    let port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init?(_ text: String) {
        let hostPart: Substring, portPart: Substring
        if let colon = text.lastIndex(of: ":") {
            (hostPart, portPart) = (text[..<colon], text[text.index(after: colon)...])
        } else {
            (hostPart, portPart) = ("127.0.0.1", text[...])
        }
        var host = hostPart
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard let port = Int(portPart), (0...65535).contains(port), !host.isEmpty,
              !host.contains(where: { $0 == "[" || $0 == "]" || $0 == "/" || $0.isWhitespace }) else { return nil }
        self.host = String(host)
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A small HTTP/1.1 server answering `GET /metrics` with the Prometheus text (and 404 or 405 to
/// anything else), on the NIO the worker already runs. It stops when the service group shuts down.
///
/// Its clients are untrusted: it holds at most `connectionLimit` connections (more are closed as
/// they are accepted), answers one request per connection, closes one whose request has not
/// arrived whole within `requestDeadline`, and answers a request over `requestLimit` bytes with
/// 431. Whatever they do, the worker's descriptors and threads stay its own.
struct MetricsServer: Service {
    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    static let connectionLimit = 64
    static let requestDeadline = TimeAmount.seconds(5)
    static let requestLimit = 8 * 1024

    private let listener: NIOAsyncChannel<Connection, Never>
    private let export: PrometheusExport
    private let store: any JobStore
    private let open = Locked(0)
    /// Where it listens (with the port the system chose when asked for port 0).
    let address: String

    /// Listens on `address`; throws when it cannot (the port is taken, the host is not this machine's).
    init(address: MetricsAddress, export: PrometheusExport, store: any JobStore) async throws {
        listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .bind(host: address.host, port: address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    // A request not in whole by the deadline closes the connection (slow or idle clients).
                    let deadline = channel.eventLoop.scheduleTask(in: Self.requestDeadline) { channel.close(promise: nil) }
                    channel.closeFuture.whenComplete { _ in deadline.cancel() }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false)
                    try channel.pipeline.syncOperations.addHandler(RequestSizeLimit(limit: Self.requestLimit, deadline: deadline), position: .first)
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
        self.address = MetricsAddress(host: address.host, port: listener.channel.localAddress?.port ?? address.port).description
        self.export = export
        self.store = store
    }

    /// Serves until graceful shutdown, which closes the listener: the connections accepted by
    /// then are still answered (or closed), none dropped unfinished.
    func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await listener.executeThenClose { connections in
                    for try await connection in connections {
                        let admitted = open.withLock { count in
                            guard count < Self.connectionLimit else { return false }
                            count += 1
                            return true
                        }
                        guard admitted else {
                            try? await connection.executeThenClose { _, _ in }
                            continue
                        }
                        group.addTask {
                            defer { open.withLock { $0 -= 1 } }
                            try? await serve(connection)
                        }
                    }
                }
            }
        } onGracefulShutdown: { [listener] in
            listener.channel.close(promise: nil)
        }
    }

    /// Answers the connection's first request and closes it.
    private func serve(_ connection: Connection) async throws {
        try await connection.executeThenClose { requests, responses in
            var request: HTTPRequestHead?
            for try await part in requests {
                switch part {
                case .head(let head): request = head
                case .body: break
                case .end:
                    guard let head = request else { return }
                    try await respond(to: head, with: responses)
                    return
                }
            }
        }
    }

    private func respond(to request: HTTPRequestHead, with responses: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        let (status, contentType, body): (HTTPResponseStatus, String, [UInt8]) =
            switch (request.method, path) {
            case (.GET, "/metrics"): (.ok, "text/plain; version=0.0.4; charset=utf-8", await export.text(store: store))
            case (_, "/metrics"): (.methodNotAllowed, "text/plain; charset=utf-8", Array("only GET\n".utf8))
            default: (.notFound, "text/plain; charset=utf-8", Array("planq serves /metrics only\n".utf8))
            }
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", "\(body.count)"), ("Connection", "close")])
        if status == .methodNotAllowed { headers.add(name: "Allow", value: "GET") }
        try await responses.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
        try await responses.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
        try await responses.write(.end(nil))
    }
}

/// Before the HTTP decoder: a connection that sends more than `limit` bytes gets a 431 and is
/// closed; the one request a connection may send has arrived whole once its header ended (no
/// body is read), which lifts `deadline`.
private final class RequestSizeLimit: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let limit: Int
    private let deadline: Scheduled<Void>
    private var received = 0
    private var refused = false
    /// The last three bytes seen, to find the header's end across reads.
    private var tail: [UInt8] = []

    init(limit: Int, deadline: Scheduled<Void>) {
        self.limit = limit
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let buffer = unwrapInboundIn(data)
        received += buffer.readableBytes
        guard received <= limit else {
            refused = true
            let answer = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            let channel = context.channel
            context.writeAndFlush(NIOAny(ByteBuffer(string: answer))).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        let seen = tail + buffer.readableBytesView
        if seen.indices.dropLast(3).contains(where: { seen[$0..<($0 + 4)].elementsEqual([13, 10, 13, 10]) }) { deadline.cancel() }
        tail = Array(seen.suffix(3))
        context.fireChannelRead(data)
    }
}
