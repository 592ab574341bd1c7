import Foundation
import PlanCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// One answer of the status socket.
public struct StatusResponse: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: String
    public var headers: [(String, String)] = []

    public static func json(_ value: String, status: HTTPResponseStatus = .ok) -> StatusResponse {
        StatusResponse(status: status, contentType: "application/json; charset=utf-8", body: value + "\n")
    }

    /// `{"error": "..."}` with a fitting status.
    public static func error(_ status: HTTPResponseStatus, _ message: String) -> StatusResponse {
        json("{\"error\":\(jsonString(message))}", status: status)
    }

    static func jsonString(_ s: String) -> String { JSONValue.string(s).text }
}

/// A request as the router sees it.
public struct StatusRequest: Sendable {
    public var method: HTTPMethod
    public var path: String
    public var query: [String: String]
}

/// The status socket: HTTP/1.1 on a Unix socket (SwiftNIO), with limits on header size
/// (llhttp's 80 KiB), body size, idle time and connection count, so a misbehaving client
/// cannot exhaust the daemon. Requests are answered by `route` off the event loop.
public final class StatusServer: Sendable {
    public static let maxConnections = 512
    public static let maxBodyBytes = 8192
    public static let idleTimeout: TimeAmount = .seconds(30)

    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel
    public let path: String

    /// Binds the socket (the caller has made sure no live daemon owns the path) and sets its mode.
    /// - Parameters:
    ///   - cached: answers a request on the event loop when it can (no thread hop), else nil.
    ///   - route: answers every other request, off the event loop.
    public init(path: String, mode: Int, logger: Logger,
                cached: @escaping @Sendable (StatusRequest) -> StatusResponse? = { _ in nil },
                route: @escaping @Sendable (StatusRequest) async -> StatusResponse) throws {
        self.path = path
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let connections = Locked(0)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelInitializer { channel in
                let admitted = connections.withLock { count -> Bool in
                    guard count < StatusServer.maxConnections else { return false }
                    count += 1
                    return true
                }
                guard admitted else {
                    logger.warning("status socket: too many connections, refusing one", metadata: ["socket.path": "\(path)"])
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in connections.withLock { $0 -= 1 } }
                do {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: StatusServer.idleTimeout))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(StatusHTTPHandler(cached: cached, route: route))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: false)
        do {
            channel = try bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        chmod(path, mode_t(mode))
    }

    /// Stops accepting, closes the socket and removes its file.
    public func close() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
        unlink(path)
    }
}

/// Reads one request at a time and writes its answer; errors close only this connection.
final class StatusHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let cached: @Sendable (StatusRequest) -> StatusResponse?
    private let route: @Sendable (StatusRequest) async -> StatusResponse
    private var head: HTTPRequestHead?
    private var bodyBytes = 0
    private var tooLarge = false

    init(cached: @escaping @Sendable (StatusRequest) -> StatusResponse?,
         route: @escaping @Sendable (StatusRequest) async -> StatusResponse) {
        self.cached = cached
        self.route = route
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            bodyBytes = 0
            tooLarge = false
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
            if bodyBytes > StatusServer.maxBodyBytes { tooLarge = true }
        case .end:
            guard let head else { return }
            self.head = nil
            let keepAlive = head.isKeepAlive
            if tooLarge {
                write(context: context, .error(.payloadTooLarge, "request body larger than \(StatusServer.maxBodyBytes) bytes"),
                      version: head.version, keepAlive: false)
                return
            }
            let request = StatusHandlerSupport.request(from: head)
            if let answer = cached(request) {
                write(context: context, answer, version: head.version, keepAlive: keepAlive)
                return
            }
            let promise = context.eventLoop.makePromise(of: StatusResponse.self)
            let route = self.route
            promise.completeWithTask { await route(request) }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            promise.futureResult.whenSuccess { response in
                let (handler, context) = bound.value
                handler.write(context: context, response, version: head.version, keepAlive: keepAlive)
            }
        }
    }

    private func write(context: ChannelHandlerContext, _ response: StatusResponse, version: HTTPVersion, keepAlive: Bool) {
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
