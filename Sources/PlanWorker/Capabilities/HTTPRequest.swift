import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix
import PlanCore

/// `http.request`: `{method, url, headers, body, expect}` → `{status, headers, body}`.
///
/// Sends `Idempotency-Key: <step key>` so servers can deduplicate retries. A JSON `body` that is
/// not a string goes as JSON. The response body is parsed as JSON when it says so, else kept as
/// text, up to `bodyCap` bytes (more is a `response_too_large` error). A status outside `expect`
/// (default: 200–399) fails with `http_status`: retryable for 5xx, 408 and 429, not for the rest;
/// transport errors are retryable (`transport`). Honours the step's timeout and cancellation.
struct HTTPRequest {
    var bodyCap = 1 << 20

    /// One client for the process. A refused connection fails the attempt at once (the job's retry
    /// policy decides what comes next) instead of being retried until the step's timeout.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }()

    var capability: Capability {
        Capability("http.request") { input, context in await run(input, context) }
    }

    private func invalid(_ message: String) -> Result<JSONValue, ErrInfo> {
        .failure(.invalidInput("http.request: \(message)"))
    }

    /// RFC 9110's token: what a method or a header name may be.
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// An `http` or `https` URL (scheme in any case) with a host and no space, control or non-ASCII byte.
    static func isWellFormedURL(_ url: String) -> Bool {
        let lowered = url.lowercased()
        guard let rest = ["http://", "https://"].first(where: lowered.hasPrefix).map({ lowered.dropFirst($0.count) }),
              let first = rest.first, first != "/" else { return false }
        return url.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    func run(_ input: JSONValue, _ context: StepContext) async -> Result<JSONValue, ErrInfo> {
        let members = input.objectValue ?? [:]
        guard let url = members["url"]?.stringValue, Self.isWellFormedURL(url) else {
            return invalid("url must be an http:// or https:// URL without spaces or control characters")
        }
        let method = members["method"]?.stringValue ?? "GET"
        guard Self.isToken(method), method.utf8.count <= 32 else {
            return invalid("method \(method.quoted) is not an HTTP method (a token such as GET or POST)")
        }
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method.uppercased())
        if let headers = members["headers"] {
            guard let pairs = headers.objectValue, pairs.values.allSatisfy({ $0.stringValue != nil }) else {
                return invalid("headers must be an object of strings")
            }
            for (key, value) in pairs {
                guard Self.isToken(key.text) else { return invalid("header name \(key.text.quoted) is not a token") }
                guard !value.stringValue!.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" || $0.value == 0x7F }) else {
                    return invalid("header \(key.text.quoted) holds a control character")
                }
            }
            for (key, value) in pairs.sorted(by: { $0.key < $1.key }) { request.headers.add(name: key.text, value: value.stringValue!) }
        }
        request.headers.replaceOrAdd(name: "Idempotency-Key", value: context.idempotencyKey)
        // The job's trace, with this execution as the parent span (a header the plan set wins).
        if let traceparent = context.traceparent, !request.headers.contains(name: "traceparent") {
            request.headers.add(name: "traceparent", value: traceparent)
        }
        switch members["body"] {
        case nil, .null?: break
        case .string(let text)?: request.body = .bytes(ByteBuffer(string: text))
        case let json?:
            if !request.headers.contains(name: "Content-Type") { request.headers.add(name: "Content-Type", value: "application/json") }
            request.body = .bytes(ByteBuffer(string: json.canonicalText))
        }
        let expected: [Int]? = members["expect"].flatMap { value in
            if case .integer(let status) = value { return [Int(status)] }
            return value.arrayValue?.compactMap { if case .integer(let status) = $0 { Int(status) } else { nil } }
        }
        do {
            let milliseconds = max(1, PlanDuration(context.timeout).milliseconds)
            let response = try await Self.client.execute(request, timeout: .milliseconds(milliseconds))
            let status = Int(response.status.code)
            let buffer: ByteBuffer
            do {
                buffer = try await response.body.collect(upTo: bodyCap)
            } catch is NIOTooManyBytesError {
                return .failure(ErrInfo(code: .responseTooLarge, message: "http.request: the response body is over \(bodyCap) bytes", retryable: false))
            }
            let text = String(buffer: buffer)
            let isJSON = response.headers.first(name: "Content-Type")?.lowercased().contains("json") ?? false
            let body: JSONValue = isJSON ? ((try? JSONParser.parse(text)) ?? .string(text)) : .string(text)
            var headers: [JSONKey: JSONValue] = [:]
            for (name, value) in response.headers { headers[JSONKey(name.lowercased())] = .string(value) }
            let value: JSONValue = ["status": .integer(Int64(status)), "headers": .object(headers), "body": body]
            guard expected?.contains(status) ?? (200..<400).contains(status) else {
                let retryable = status >= 500 || status == 408 || status == 429
                return .failure(ErrInfo(code: .httpStatus, message: "\(request.method.rawValue) \(url) answered \(status)", retryable: retryable, details: value))
            }
            return .success(value)
        } catch {
            if Task.isCancelled { return .failure(.cancelled) }
            if let code = ResourceExhaustion.code(in: error) {
                return .failure(ResourceExhaustion.error(code, doing: "http.request: \(request.method.rawValue) \(url)"))
            }
            return .failure(ErrInfo(code: .transport, message: "http.request: \(request.method.rawValue) \(url): \(error)", retryable: true))
        }
    }
}
