import Foundation
import NIOHTTP1
import PlanCore

/// One endpoint of the status socket: where it is, what it accepts, what it is for, and the
/// function answering it with its `Context` (the daemon; a stand-in in tests).
public struct Route<Context: Sendable>: Sendable {
    public let method: HTTPMethod
    public let path: String
    /// One line for the endpoint list (404 answers, docs).
    public let summary: String
    let handler: @Sendable (Context, StatusRequest) async throws -> StatusResponse

    /// The path's text around its one `{name}` parameter, when it has one.
    var pattern: (prefix: String, name: String, suffix: String)? {
        guard let open = path.firstIndex(of: "{"), let close = path[open...].firstIndex(of: "}") else { return nil }
        return (String(path[..<open]), String(path[path.index(after: open)..<close]), String(path[path.index(after: close)...]))
    }

    /// The path parameters when `path` is this route's (an empty dictionary for a plain
    /// path); nil when it is not. A parameter is one non-empty segment, percent-decoded.
    func match(_ requested: String) -> [String: String]? {
        guard let (prefix, name, suffix) = pattern else { return requested == path ? [:] : nil }
        guard requested.hasPrefix(prefix), requested.hasSuffix(suffix), requested.count > prefix.count + suffix.count else { return nil }
        let raw = requested.dropFirst(prefix.count).dropLast(suffix.count)
        guard !raw.contains("/"), let value = raw.removingPercentEncoding, !value.isEmpty else { return nil }
        return [name: value]
    }

    public init(
        _ method: HTTPMethod, _ path: String, _ summary: String,
        _ handler: @escaping @Sendable (Context, StatusRequest) async throws -> StatusResponse
    ) {
        self.method = method
        self.path = path
        self.summary = summary
        self.handler = handler
    }
}

/// Dispatches requests by a route table: the table alone decides what exists, what a
/// 404 lists and what a 405 allows. A plain function from request to response, so it is
/// tested without a socket.
public struct Router<Context: Sendable>: Sendable {
    public let routes: [Route<Context>]

    public init(_ routes: [Route<Context>]) { self.routes = routes }

    /// The answer to `request`: its route's (HEAD as GET without changes), 404 for an unknown
    /// path, 405 with `Allow` for a known path and another method, 503 when the handler fails.
    public func respond(to request: StatusRequest, context: Context) async -> StatusResponse {
        var request = request
        let matching = routes.filter { route in
            guard let parameters = route.match(request.path) else { return false }
            request.parameters.merge(parameters) { _, new in new }
            return true
        }
        guard !matching.isEmpty else {
            let paths = routes.map(\.path).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            return .error(.notFound, "no such endpoint \(DisplayText.excerpt(request.path)); try \(paths.joined(separator: ", "))")
        }
        let method = request.method == .HEAD ? HTTPMethod.GET : request.method
        guard let route = matching.first(where: { $0.method == method }) else {
            let allowed = matching.map(\.method.rawValue).joined(separator: ", ")
            var response = StatusResponse.error(.methodNotAllowed, "\(request.path) accepts \(allowed), not \(request.method.rawValue)")
            response.headers.append(("Allow", allowed))
            return response
        }
        do {
            return try await route.handler(context, request)
        } catch {
            return .error(.serviceUnavailable, "\(error)")
        }
    }

    /// The endpoint list as a Markdown table (for the docs; a test keeps them the same).
    public var markdownTable: String {
        "| request | what |\n|---|---|\n" + routes.map { "| `\($0.method.rawValue) \($0.path)` | \($0.summary) |" }.joined(separator: "\n") + "\n"
    }
}
