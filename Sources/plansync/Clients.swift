import ArgumentParser
import Configuration
import Daemon
import Fetch
import Foundation
import PlanCore
import Support

/// Options shared by the status clients.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The daemon's status socket (default: from the configuration).", valueName: "path"))
    var socket: String?

    @Option(name: .long, help: ArgumentHelp("The configuration naming the socket.", valueName: "file"))
    var config: String = "/etc/plansync/plansync.toml"

    @Flag(name: .long, help: "Print the socket's JSON answer.")
    var json = false

    /// The socket path: --socket, else the configuration's `socket` (read without loading
    /// the plan files).
    func socketPath() -> String {
        if let socket { return socket }
        do { return try ConfigBasics.load(path: config).socket } catch {
            fail("\(error.description) (or pass --socket PATH)")
        }
    }

    /// A request to the status socket at `socket`: one attempt, short timeouts.
    static func socketRequest(_ socket: String, _ path: String, method: String?, timeout: Double = 10) -> FetchRequest {
        var request = FetchRequest(id: "status", url: "http://localhost\(path)")
        request.unixSocket = socket
        request.method = method
        request.retries = 0
        request.timeout = timeout
        request.connectTimeout = 2
        request.userAgent = "plansync/\(PlansyncVersion.string)"
        return request
    }

    /// GETs (or POSTs) a path on the status socket; exits 1 when the daemon is unreachable.
    func request(_ path: String, method: String? = nil) -> JSONValue {
        let socket = socketPath()
        let result = FetchEngine(maxConcurrent: 1).fetchAll([ClientOptions.socketRequest(socket, path, method: method)])[0]
        guard result.outcome == .ok || result.outcome == .httpStatus, let status = result.httpStatus else {
            fail(
                "cannot reach the plansync daemon on \(socket): \(result.message)\nhint: is it running? try `systemctl status plansync`; is this user in the socket's group?",
                code: 1)
        }
        guard let value = try? JSONParser.parse(result.body) else {
            fail("the daemon on \(socket) answered HTTP \(status) with something that is not JSON", code: 1)
        }
        if status >= 400 {
            fail("the daemon answered HTTP \(status): \(value["error"]?.stringValue ?? value.text)", code: 1)
        }
        if json { print(value.text) }
        return value
    }
}

func text(_ value: JSONValue?) -> String {
    switch value {
    case .string(let s)?: s
    case .number(let n)?: n
    case .bool(let b)?: b ? "yes" : "no"
    case .null?, nil: "—"
    case let other?: other.text
    }
}

/// `plansync status`.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Ask the daemon how it is doing.")
    @OptionGroup var options: ClientOptions

    func run() throws {
        let v = options.request("/v1/status")
        guard !options.json else { return }
        let feeds = v["feeds"], alerts = v["alerts_firing"]
        printText(
            VerdictTable.align([
                ["version", text(v["version"])], ["pid", text(v["pid"])], ["uptime", DurationText.format(Double(text(v["uptime_seconds"])) ?? 0)],
                ["config", text(v["config"])], ["database", text(v["database"])], ["alert log", text(v["alert_log"])],
                ["feeds", "\(text(feeds?["total"])) total, \(text(feeds?["ok"])) ok, \(text(feeds?["failing"])) failing, \(text(feeds?["running"])) running"],
                ["last sync", text(v["last_sync"])], ["next sync", text(v["next_sync"])],
                ["alerts firing", "\(text(alerts?["critical"])) critical, \(text(alerts?["warning"])) warning"],
            ]))
    }
}

/// `plansync indicators`.
struct IndicatorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "indicators", abstract: "Show the daemon's verdict table.")
    @OptionGroup var options: ClientOptions
    @Option(name: .long, help: "Only this plan.") var plan: String?
    @Option(name: .long, help: "Only this target year.") var year: Int?
    @Option(
        name: .customLong("as-of"),
        help: ArgumentHelp("Judge on the figures as the mirror knew them at this time (RFC 3339).", valueName: "time"))
    var asOf: String?

    func run() throws {
        var query: [String] = []
        if let asOf {
            guard Timestamp.rfc3339(asOf) != nil else {
                fail("--as-of: '\(asOf)' is not an RFC 3339 time (e.g. 2024-04-20T00:00:00Z or 2024-04-20T08:00:00+08:00)")
            }
            query.append("as_of=\(asOf.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? asOf)")
        }
        if let plan { query.append("plan=\(plan.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? plan)") }
        if let year { query.append("year=\(year)") }
        let v = options.request("/v1/indicators" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
        guard !options.json, case .array(let verdicts)? = v["verdicts"] else { return }
        var rows = [["plan", "indicator", "year", "status", "actual", "threshold", "short by", "period", "feed"]]
        let parsed = verdicts.map { Verdict(json: $0) }
        // The pace column only when a verdict has pace arithmetic.
        let withPace = parsed.contains { $0?.pace != nil }
        if withPace { rows[0].append("pace") }
        for (x, verdict) in zip(verdicts, parsed) {
            var status = text(x["status"])
            if case .string(let severity)? = x["severity"] { status += " (\(severity))" }
            rows.append([
                text(x["plan"]), text(x["indicator"]), text(x["year"]), status, text(x["actual"]),
                text(x["threshold"]), text(x["shortfall"]), text(x["period"]), text(x["feed"]),
            ])
            if withPace { rows[rows.count - 1].append(verdict.flatMap { PaceText.phrase($0, language: .en) } ?? "") }
        }
        printText(VerdictTable.align(rows))
        // Watched indicators: what is overdue, and the next figure awaited (times in UTC).
        if case .array(let releases)? = v["releases"], !releases.isEmpty {
            var lines = [["plan", "indicator", "next period", "due (UTC)", "overdue"]]
            for r in releases {
                var overdue = ""
                if case .array(let periods)? = r["overdue"] { overdue = periods.map { text($0) }.joined(separator: ", ") }
                lines.append([text(r["plan"]), text(r["indicator"]), text(r["next_period"]), text(r["next_due"]), overdue.isEmpty ? "—" : overdue])
            }
            printText("")
            printText(VerdictTable.align(lines))
        }
    }
}

/// `plansync alerts`.
struct AlertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "alerts", abstract: "Show the daemon's alerts, firing first.")
    @OptionGroup var options: ClientOptions
    @Option(name: .long, help: "firing or resolved.") var state: String?

    func run() throws {
        if let state, state != "firing", state != "resolved" { fail("--state must be firing or resolved") }
        let v = options.request("/v1/alerts" + (state.map { "?state=\($0)" } ?? ""))
        guard !options.json, case .array(let alerts)? = v["alerts"] else { return }
        var rows = [["state", "severity", "alert", "since", "message", "handled"]]
        for a in alerts {
            // Acknowledged (by whom, why) or silenced: still firing, not notified.
            var handled = "—"
            if let ack = a["ack"], ack != .null {
                handled = "acknowledged by \(text(ack["by"])): \(DisplayText.excerpt(text(ack["note"])))"
            } else if case .array(let ids)? = a["silenced_by"], !ids.isEmpty {
                handled = "silenced (" + ids.map { text($0) }.joined(separator: ", ") + ")"
            }
            rows.append([text(a["state"]), text(a["severity"]), text(a["alert"]), text(a["since"]), text(a["message"]), handled])
        }
        printText(alerts.isEmpty ? "no alerts" : VerdictTable.align(rows))
    }
}

/// `plansync feeds`.
struct FeedsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "feeds", abstract: "Show each feed's last fetch and next run.")
    @OptionGroup var options: ClientOptions

    func run() throws {
        let v = options.request("/v1/feeds")
        guard !options.json, case .array(let feeds)? = v["feeds"] else { return }
        var rows = [["feed", "outcome", "http", "bytes", "ms", "failures", "last success", "next due", "url"]]
        for f in feeds {
            rows.append([
                text(f["id"]), text(f["last_outcome"]), text(f["http_status"]), text(f["bytes"]), text(f["duration_ms"]),
                text(f["consecutive_failures"]), text(f["last_success"]), text(f["next_due"]), text(f["url"]),
            ])
        }
        printText(VerdictTable.align(rows))
    }
}

/// `plansync sinks`.
struct SinksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sinks", abstract: "Show each notification sink's cursor, lag, deliveries and last error.")
    @OptionGroup var options: ClientOptions

    func run() throws {
        let v = options.request("/v1/sinks")
        guard !options.json, case .array(let sinks)? = v["sinks"] else { return }
        var rows = [["sink", "kind", "cursor", "lag", "lag s", "delivered", "failed", "last success", "last error", "url"]]
        for s in sinks {
            rows.append([
                text(s["id"]), text(s["kind"]), text(s["cursor"]), text(s["lag_events"]), text(s["lag_seconds"]), text(s["delivered"]),
                text(s["failed"]), text(s["last_success"]), text(s["last_error"]), text(s["url"]),
            ])
        }
        printText(sinks.isEmpty ? "no sinks configured" : VerdictTable.align(rows))
    }
}

/// `plansync test-sink ID`.
struct TestSinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test-sink",
        abstract: "Send one test message to a configured notification sink and show the receiver's answer.",
        discussion: "Exit status: 0 when the sink took it, 1 when it did not, 2 on a configuration error.")
    @Argument(help: "The sink's id.") var id: String
    @Option(name: .long, help: ArgumentHelp("The daemon configuration file.", valueName: "file"))
    var config: String = "/etc/plansync/plansync.toml"

    func run() async throws {
        let loaded: DaemonConfig
        do { loaded = try DaemonConfig.load(path: config) } catch { fail(error.description) }
        guard let sink = loaded.sinks.first(where: { $0.id == id }) else {
            fail("no sink '\(id)' in \(loaded.path) (configured: \(loaded.sinks.map(\.id).joined(separator: ", ")))")
        }
        let (ok, message) = await SinkWorker.test(sink)
        printText(message)
        if !ok { throw ExitCode(1) }
    }
}
