import Foundation
import NIOHTTP1
import Testing
@testable import Daemon
import TestSupport

/// The status socket's router, without a socket: the route table alone decides what exists.
@Suite struct RouterTests {
    struct Failure: Error {}

    let router = Router<String>([
        Route(.GET, "/a", "the a") { context, _ in .json("\"\(context)\"") },
        Route(.POST, "/a", "post a") { _, _ in .json("\"posted\"", status: .accepted) },
        Route(.GET, "/broken", "fails") { _, _ in throw Failure() },
    ])

    func request(_ method: HTTPMethod, _ path: String) -> StatusRequest {
        StatusRequest(method: method, path: path, query: [:])
    }

    @Test func dispatchesByPathAndMethod() async {
        #expect(await router.respond(to: request(.GET, "/a"), context: "ctx").body == "\"ctx\"\n")
        #expect(await router.respond(to: request(.HEAD, "/a"), context: "ctx").status == .ok)
        #expect(await router.respond(to: request(.POST, "/a"), context: "ctx").status == .accepted)
    }

    @Test func unknownPathsListTheTableAndOtherMethodsGet405WithAllow() async {
        let missing = await router.respond(to: request(.GET, "/nope"), context: "")
        #expect(missing.status == .notFound)
        #expect(missing.body.contains("try /a, /broken"))
        let wrong = await router.respond(to: request(.DELETE, "/a"), context: "")
        #expect(wrong.status == .methodNotAllowed)
        #expect(wrong.headers.contains { $0 == ("Allow", "GET, POST") })
        #expect(await router.respond(to: request(.GET, "/broken"), context: "").status == .serviceUnavailable)
    }

    @Test func theDaemonsTableIsTheDocumentedOne() throws {
        let table = Router(DaemonRunner.routes).markdownTable
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let docs = try String(contentsOf: root.appendingPathComponent("docs/status-socket.md"), encoding: .utf8)
        #expect(docs.contains(table), "docs/status-socket.md must contain the route table:\n\(table)")
        #expect(
            DaemonRunner.routes.map { "\($0.method.rawValue) \($0.path)" } == [
                "GET /v1/health", "GET /v1/status", "GET /v1/indicators", "GET /v1/alerts", "GET /v1/feeds",
                "GET /v1/observations", "POST /v1/sync", "POST /v1/reload", "GET /v1/sinks", "GET /v1/acks", "POST /v1/acks",
                "DELETE /v1/acks/{key}", "GET /v1/silences", "POST /v1/silences", "DELETE /v1/silences/{id}", "GET /v1/report",
                "GET /v1/report/{plan}.html", "GET /metrics",
            ])
    }

    /// docs/openapi.yaml is valid OpenAPI 3.1 (openapi-spec-validator, from PyPI) and describes
    /// exactly the routes of the table: no more, no fewer.
    @Test func theOpenAPIDocumentIsValidAndListsExactlyTheRoutes() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let tools = try await runShellOffPool("\(root.path)/.ci/python-tools", in: root.path)
        #expect(tools.status == 0, "\(tools.output)")
        let bin = tools.output.split(separator: "\n").last.map(String.init) ?? ""
        let validated = try await runShellOffPool("\(bin)/openapi-spec-validator docs/openapi.yaml", in: root.path)
        #expect(validated.status == 0 && validated.output.contains("OK"), "\(validated.output)")
        let listed = try await runShellOffPool(
            """
            \(bin)/python -c 'import yaml
            spec = yaml.safe_load(open("docs/openapi.yaml", encoding="utf-8"))
            assert spec["openapi"].startswith("3.1"), spec["openapi"]
            for path, item in spec["paths"].items():
                for method in item:
                    if method in ("get", "post", "put", "delete", "patch", "head", "options"):
                        print(method.upper(), path)'
            """, in: root.path)
        #expect(listed.status == 0, "\(listed.output)")
        let documented = Set(listed.output.split(separator: "\n").map(String.init))
        let routed = Set(DaemonRunner.routes.map { "\($0.method.rawValue) \($0.path)" })
        #expect(documented == routed, "only documented: \(documented.subtracting(routed)); only routed: \(routed.subtracting(documented))")
    }

    @Test func aPathParameterIsOneNonEmptySegmentPercentDecoded() async {
        let router = Router<String>([
            Route(.GET, "/r", "all") { _, _ in .json("\"all\"") },
            Route(.GET, "/r/{plan}.html", "one") { _, request in .json("\"\(request.parameters["plan"] ?? "?")\"") },
        ])
        #expect(await router.respond(to: request(.GET, "/r"), context: "").body == "\"all\"\n")
        #expect(await router.respond(to: request(.GET, "/r/futian-2023.html"), context: "").body == "\"futian-2023\"\n")
        #expect(await router.respond(to: request(.GET, "/r/a%20b.html"), context: "").body == "\"a b\"\n")
        for path in ["/r/.html", "/r/a/b.html", "/r/x.htm", "/r/", "/r/x.html/more", "/r/%zz.html"] {
            #expect(await router.respond(to: request(.GET, path), context: "").status == .notFound, "\(path)")
        }
        let wrong = await router.respond(to: request(.POST, "/r/x.html"), context: "")
        #expect(wrong.status == .methodNotAllowed && wrong.headers.contains { $0 == ("Allow", "GET") })
    }
}
