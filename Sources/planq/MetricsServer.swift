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
struct MetricsServer: Service {
    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private let listener: NIOAsyncChannel<Connection, Never>
    private let export: PrometheusExport
    private let store: any JobStore
    /// Where it listens (with the port the system chose when asked for port 0).
    let address: String

    /// Listens on `address`; throws when it cannot (the port is taken, the host is not this machine's).
    init(address: MetricsAddress, export: PrometheusExport, store: any JobStore) async throws {
        listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .bind(host: address.host, port: address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
        self.address = MetricsAddress(host: address.host, port: listener.channel.localAddress?.port ?? address.port).description
        self.export = export
        self.store = store
    }

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await withThrowingDiscardingTaskGroup { group in
                    try await listener.executeThenClose { connections in
                        for try await connection in connections {
                            group.addTask { try? await serve(connection) }
                        }
                    }
                }
            }
        } catch is CancellationError {}
    }

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
                    if !head.isKeepAlive { return }
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
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", "\(body.count)")])
        if status == .methodNotAllowed { headers.add(name: "Allow", value: "GET") }
        if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
        try await responses.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
        try await responses.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
        try await responses.write(.end(nil))
    }
}
