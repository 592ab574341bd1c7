import Foundation
#if canImport(Glibc)
    import Glibc
#endif
import PlanCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Support

/// One answer of the status socket.
public struct StatusResponse: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: String
    public var headers: [(String, String)] = []
    /// Set for an answer too large to build in memory: `body` is sent first, then each piece
    /// `stream` hands to its writer, as it is produced (chunked transfer encoding).
    public var stream: (@Sendable (StreamWriter) async throws -> Void)?

    /// An answer produced piece by piece: `prefix` at once, then what `produce` writes.
    public static func streamed(
        contentType: String = "application/json; charset=utf-8", prefix: String,
        _ produce: @escaping @Sendable (StreamWriter) async throws -> Void
    ) -> StatusResponse {
        StatusResponse(status: .ok, contentType: contentType, body: prefix, stream: produce)
    }

    public static func json(_ value: String, status: HTTPResponseStatus = .ok) -> StatusResponse {
        StatusResponse(status: status, contentType: "application/json; charset=utf-8", body: value + "\n")
    }

    /// `{"error": "..."}` with a fitting status.
    public static func error(_ status: HTTPResponseStatus, _ message: String) -> StatusResponse {
        json("{\"error\":\(jsonString(message))}", status: status)
    }

    static func jsonString(_ s: String) -> String { JSONValue.string(s).text }
}

/// Hands pieces of a streamed answer to the connection; each `write` returns once the piece
/// was written to the socket, so at most one piece is held in memory per connection.
public struct StreamWriter: Sendable {
    let send: @Sendable (String) async throws -> Void

    /// Sends `text`; throws when the client went away (the producer should stop).
    public func write(_ text: String) async throws {
        guard !text.isEmpty else { return }
        try await send(text)
    }
}

/// A request as the router sees it.
public struct StatusRequest: Sendable {
    public var method: HTTPMethod
    public var path: String
    public var query: [String: String]
    /// The values of the route's `{name}` path parameters (set by the router).
    public var parameters: [String: String] = [:]
    /// The request body (at most `StatusServer.maxBodyBytes`).
    public var body: [UInt8] = []
    /// The `Content-Type` header, if any.
    public var contentType: String?
    /// The user on the other end of the socket (from its credentials), when known.
    public var peerUser: String?

    public init(method: HTTPMethod, path: String, query: [String: String], parameters: [String: String] = [:]) {
        self.method = method
        self.path = path
        self.query = query
        self.parameters = parameters
    }
}

/// The status socket: HTTP/1.1 on a Unix socket (SwiftNIO), with limits on header size
/// (llhttp's 80 KiB), body size, idle time, the total time a request may take to arrive and
/// connection count, so a misbehaving client cannot exhaust the daemon. Requests are
/// answered by `route` off the event loop.
public final class StatusServer: Sendable {
    public static let maxConnections = 512
    /// The last connections of `maxConnections` are kept for clients that send their request
    /// at once (a health check): they get `reserveRequestTimeout` instead of `requestTimeout`,
    /// so clients trickling bytes cannot hold them.
    public static let reservedConnections = 32
    public static let maxBodyBytes = 8192
    public static let idleTimeout: TimeAmount = .seconds(30)
    /// A request (headers and body) must arrive whole within this time of the connection
    /// opening or of the previous answer, however steadily its bytes trickle in.
    public static let requestTimeout: TimeAmount = .seconds(10)
    public static let reserveRequestTimeout: TimeAmount = .seconds(1)

    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel
    public let path: String
    /// Device, inode and change time of the socket file this server bound: it is removed at
    /// close only if the path still names that file (another daemon may have bound the path
    /// since; the change time tells a new file apart when it got the freed inode number).
    private let boundFile: SocketFileIdentity?

    /// Binds the socket (the caller has made sure no live daemon owns the path) and sets its mode.
    /// - Parameters:
    ///   - cached: answers a request on the event loop when it can (no thread hop), else nil.
    ///   - route: answers every other request, off the event loop.
    public init(
        path: String, mode: Int, logger: Logger,
        cached: @escaping @Sendable (StatusRequest) -> StatusResponse? = { _ in nil },
        route: @escaping @Sendable (StatusRequest) async -> StatusResponse
    ) throws {
        self.path = path
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let connections = Locked(0)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelInitializer { channel in
                let admitted = connections.withLock { count -> TimeAmount? in
                    guard count < StatusServer.maxConnections else { return nil }
                    count += 1
                    return count > StatusServer.maxConnections - StatusServer.reservedConnections
                        ? StatusServer.reserveRequestTimeout : StatusServer.requestTimeout
                }
                guard let requestTimeout = admitted else {
                    logger.warning("status socket: too many connections, refusing one", metadata: ["socket.path": "\(path)"])
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in connections.withLock { $0 -= 1 } }
                // Who is on the other end (SO_PEERCRED): the name acknowledgements default to.
                let peer: EventLoopFuture<PeerCredentials?> =
                    (channel as? SocketOptionProvider)?.unsafeGetSocketOption(
                        level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED)
                    ).map { (credentials: PeerCredentials) in Optional(credentials) }.recover { _ in nil } ?? channel.eventLoop.makeSucceededFuture(nil)
                return peer.flatMapThrowing { credentials in
                    let user = credentials.map { StatusServer.userName(uid: $0.uid) }
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: StatusServer.idleTimeout))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        StatusHTTPHandler(requestTimeout: requestTimeout, peerUser: user, cached: cached, route: route))
                }
            }
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: false)
        do {
            // Bound here, not by NIO: NIO unlinks a Unix socket path it bound when the channel
            // closes, whoever's socket the path names by then.
            let fd = try StatusServer.listeningSocket(path)
            do {
                channel = try bootstrap.withBoundSocket(fd).wait()
            } catch {
                Glibc.close(fd)
                throw error
            }
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        chmod(path, mode_t(mode))
        boundFile = SocketFileIdentity(path)
    }

    /// A non-blocking stream socket bound to `path` and listening.
    static func listeningSocket(_ path: String) throws -> Int32 {
        guard case (var address, let length)? = UnixAddress.make(path) else {
            throw IOError(errnoCode: ENAMETOOLONG, reason: "socket path \(path)")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, listen(fd, 256) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw IOError(errnoCode: code, reason: "bind \(path)")
        }
        return fd
    }

    /// Stops accepting, closes the socket and removes its file, if the path still names the
    /// socket this server bound.
    public func close() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
        if let boundFile, SocketFileIdentity(path) == boundFile { unlink(path) }
    }
}

/// Which file a path names: device, inode and change time (to the nanosecond).
struct SocketFileIdentity: Equatable, Sendable {
    let device: UInt64, inode: UInt64, changedSeconds: Int, changedNanoseconds: Int

    init?(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        changedSeconds = Int(info.st_ctim.tv_sec)
        changedNanoseconds = Int(info.st_ctim.tv_nsec)
    }
}

extension StatusServer {
    /// The login name of `uid`, or `uid <n>` when it has none.
    static func userName(uid: UInt32) -> String {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        if getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, let result, let name = result.pointee.pw_name {
            return String(cString: name)
        }
        return "uid \(uid)"
    }
}

/// Reads one request at a time and writes its answer; errors close only this connection.
final class StatusHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let cached: @Sendable (StatusRequest) -> StatusResponse?
    private let route: @Sendable (StatusRequest) async -> StatusResponse
    private let peerUser: String?
    private var head: HTTPRequestHead?
    private var bodyBytes = 0
    private var body: [UInt8] = []
    /// Set once the request is refused: what else arrives on the connection is dropped.
    private var refused = false
    private let requestTimeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(
        requestTimeout: TimeAmount, peerUser: String? = nil, cached: @escaping @Sendable (StatusRequest) -> StatusResponse?,
        route: @escaping @Sendable (StatusRequest) async -> StatusResponse
    ) {
        self.requestTimeout = requestTimeout
        self.peerUser = peerUser
        self.cached = cached
        self.route = route
    }

    func handlerAdded(context: ChannelHandlerContext) {
        armDeadline(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    /// The next request must arrive whole by `requestTimeout` from now, or the connection closes.
    private func armDeadline(context: ChannelHandlerContext) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: requestTimeout) { channel.close(promise: nil) }
    }

    /// Answers 413 at once and closes: a body announced (or found) larger than the limit is never read.
    private func refuseTooLarge(context: ChannelHandlerContext, version: HTTPVersion) {
        refused = true
        deadline?.cancel()
        write(
            context: context, .error(.payloadTooLarge, "request body larger than \(StatusServer.maxBodyBytes) bytes"),
            version: version, keepAlive: false)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            bodyBytes = 0
            body = []
            if let length = h.headers.first(name: "content-length").flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }),
                length > StatusServer.maxBodyBytes
            {
                refuseTooLarge(context: context, version: h.version)
            }
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
            if bodyBytes > StatusServer.maxBodyBytes, let head {
                refuseTooLarge(context: context, version: head.version)
            } else {
                body += buffer.readableBytesView
            }
        case .end:
            guard let head else { return }
            self.head = nil
            deadline?.cancel()
            deadline = nil
            let keepAlive = head.isKeepAlive
            var request = StatusHandlerSupport.request(from: head)
            request.body = body
            request.peerUser = peerUser
            request.contentType = head.headers.first(name: "content-type")
            body = []
            if let answer = cached(request) {
                write(context: context, answer, version: head.version, keepAlive: keepAlive)
                return
            }
            let isHead = head.method == .HEAD
            let promise = context.eventLoop.makePromise(of: StatusResponse.self)
            let route = self.route
            let complete = request
            promise.completeWithTask { await route(complete) }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            promise.futureResult.whenSuccess { response in
                let (handler, context) = bound.value
                var response = response
                // HEAD of a streamed answer: its head only (nothing is produced).
                if isHead, response.stream != nil {
                    response.stream = nil
                    response.body = ""
                }
                handler.write(context: context, response, version: head.version, keepAlive: keepAlive)
            }
        }
    }

    private func write(context: ChannelHandlerContext, _ response: StatusResponse, version: HTTPVersion, keepAlive: Bool) {
        if let stream = response.stream {
            writeStreamed(context: context, response, stream: stream, version: version, keepAlive: keepAlive)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: response.body.utf8.count)
        buffer.writeString(response.body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: response.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        } else if !refused {
            armDeadline(context: context)
        }
    }

    /// Writes a streamed answer: the head (chunked for HTTP/1.1; HTTP/1.0 clients get the body
    /// up to the connection's close), the prefix, then each piece the producer writes, one at
    /// a time. A producer that fails midway closes the connection, so the client sees a
    /// truncated answer rather than a complete-looking one.
    private func writeStreamed(
        context: ChannelHandlerContext, _ response: StatusResponse, stream: @escaping @Sendable (StreamWriter) async throws -> Void,
        version: HTTPVersion, keepAlive: Bool
    ) {
        let chunked = version.major > 1 || (version.major == 1 && version.minor >= 1)
        let keepAlive = keepAlive && chunked
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        if chunked { headers.add(name: "Transfer-Encoding", value: "chunked") }
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: response.status, headers: headers))), promise: nil)
        let channel = context.channel
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        @Sendable func send(_ text: String) -> EventLoopFuture<Void> {
            loop.flatSubmit {
                let (handler, context) = bound.value
                var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
                buffer.writeString(text)
                return context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(buffer))))
            }
        }
        let writer = StreamWriter { text in try await send(text).get() }
        let done = loop.makePromise(of: Void.self)
        done.completeWithTask {
            try await writer.write(response.body)
            try await stream(writer)
        }
        done.futureResult.whenComplete { result in
            let (handler, context) = bound.value
            guard case .success = result else {
                channel.close(promise: nil)
                return
            }
            let end = context.writeAndFlush(handler.wrapOutboundOut(.end(nil)))
            if !keepAlive {
                end.whenComplete { _ in channel.close(promise: nil) }
            } else if !handler.refused {
                handler.armDeadline(context: context)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

enum StatusHandlerSupport {
    static func request(from head: HTTPRequestHead) -> StatusRequest {
        let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
                let value = kv.count > 1 ? (String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(kv[1])) : ""
                query[key] = value
            }
        }
        return StatusRequest(method: head.method, path: String(parts.first ?? ""), query: query)
    }
}
