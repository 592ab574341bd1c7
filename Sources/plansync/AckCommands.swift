import ArgumentParser
import Configuration
import Daemon
import Fetch
import Foundation
import Mirror
import PlanCore
import Support

#if canImport(Glibc)
    import Glibc
#endif

/// Where acknowledgement commands go: the daemon's socket when it listens, else the mirror.
enum AckChannel {
    /// Whether something listens on the socket (a socket file nobody accepts on is a crashed
    /// daemon's: the mirror is written directly then).
    static func daemonListens(_ path: String) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return true }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        // Refused or gone: no daemon. Anything else (permission) is for the HTTP client to say.
        return !(result != 0 && (errno == ECONNREFUSED || errno == ENOENT))
    }

    /// This process's user name (the default `by` when writing the mirror directly).
    static var userName: String {
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return "uid \(getuid())"
    }

    /// Sends a request to the daemon; nil when no daemon listens. Exits 1 when it cannot be
    /// reached otherwise; the HTTP status and JSON answer else.
    static func send(_ options: ClientOptions, _ path: String, method: String, body: JSONValue? = nil) -> (status: Int, value: JSONValue)? {
        let socket = options.socketPath()
        guard daemonListens(socket) else { return nil }
        var request = ClientOptions.socketRequest(socket, path, method: method, timeout: 30)
        if let body {
            request.body = body.text
            request.headers = ["Content-Type: application/json"]
        }
        let result = FetchEngine(maxConcurrent: 1).fetchAll([request])[0]
        guard result.outcome == .ok || result.outcome == .httpStatus, let status = result.httpStatus else {
            fail("cannot reach the plansync daemon on \(socket): \(result.message)\nhint: is this user in the socket's group?", code: 1)
        }
        guard let value = try? JSONParser.parse(result.body) else {
            fail("the daemon on \(socket) answered HTTP \(status) with something that is not JSON", code: 1)
        }
        return (status, value)
    }

    /// Sends the request to the daemon when it listens; else runs `change` on the mirror.
    static func perform(
        _ options: ClientOptions, _ path: String, method: String, body: JSONValue? = nil,
        _ change: @Sendable (Mirror) async -> Result<AckChange, AckFailure>
    ) async -> (status: Int, value: JSONValue) {
        if let answer = send(options, path, method: method, body: body) { return answer }
        return await direct(options, change)
    }

    /// Runs `change` on the mirror directly (no daemon), writes the alert log, closes.
    static func direct(_ options: ClientOptions, _ change: @Sendable (Mirror) async -> Result<AckChange, AckFailure>) async -> (
        status: Int, value: JSONValue
    ) {
        let basics: ConfigBasics
        do { basics = try ConfigBasics.load(path: options.config) } catch { fail("\(error.description) (no daemon listens on the socket)") }
        guard FileManager.default.fileExists(atPath: basics.database) else {
            fail("no daemon listens and there is no mirror at \(basics.database) yet: run `plansync sync` or start the daemon first", code: 1)
        }
        let mirror: Mirror
        do { mirror = try Mirror(path: basics.database) } catch { fail(error.description, code: 1) }
        let result = await change(mirror)
        do { try await AlertLog(path: basics.alertLog).deliver(from: mirror) } catch {
            FileHandle.standardError.write(Data("plansync: the alert log was not written (the daemon writes it when it starts): \(error)\n".utf8))
        }
        try? mirror.close()
        switch result {
        case .success(let change): return (200, change.json)
        case .failure(.invalid(let message)): return (422, .object([("error", .string(message))]))
        case .failure(.notFound(let message)): return (404, .object([("error", .string(message))]))
        case .failure(.database(let error)): fail(error.description, code: 1)
        }
    }

    /// Prints the answer, or fails: exit 2 for a request refused (422, 404), 1 otherwise.
    static func finish(_ options: ClientOptions, _ answer: (status: Int, value: JSONValue), text: (JSONValue) -> String) {
        guard answer.status < 400 else {
            fail(answer.value["error"]?.stringValue ?? answer.value.text, code: answer.status == 422 || answer.status == 404 ? 2 : 1)
        }
        if options.json { print(answer.value.text) } else { printText(text(answer.value)) }
    }

    /// `--until`: an RFC 3339 time, or a duration from now (`12h`, `7d`, `2w`).
    static func until(_ text: String?) -> Date? {
        guard let text else { return nil }
        if let date = Timestamp.rfc3339(text) { return date }
        if let seconds = DurationText.seconds(text), seconds > 0 { return Date().addingTimeInterval(seconds) }
        fail("--until '\(text)' is neither an RFC 3339 time (2027-01-31T00:00:00+08:00) nor a duration (12h, 7d, 2w)")
    }

    /// Percent-encodes one path segment (an alert key has `/` in it).
    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }
}

/// `plansync ack KEY --note TEXT`.
struct AckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ack",
        abstract: "Acknowledge a firing alert with an explanation: it keeps firing, but is not notified again unless it gets worse.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The alert's key (as `plansync alerts --json` and the alert log show it).") var key: String
    @Option(name: .long, help: "The explanation (情况说明); it stays with the alert's history.") var note: String
    @Option(name: .long, help: "Who acknowledges (default: your user name).") var by: String?
    @Option(name: .long, help: ArgumentHelp("Until when: an RFC 3339 time or a duration (7d).", valueName: "time")) var until: String?
    @Flag(name: .long, help: "Until a new figure of the indicator arrives.") var untilNextRelease = false

    func run() async throws {
        if until != nil, untilNextRelease { fail("give --until or --until-next-release, not both") }
        let until = AckChannel.until(until)
        var body: [(String, JSONValue)] = [("key", .string(key)), ("note", .string(note))]
        if let by { body.append(("by", .string(by))) }
        if let until { body.append(("until", .string(Timestamp.string(until)))) }
        if untilNextRelease { body.append(("until_next_release", .bool(true))) }
        let (key, note, by, nextRelease) = (key, note, by ?? AckChannel.userName, untilNextRelease)
        let answer =
            await AckChannel.perform(options, "/v1/acks", method: "POST", body: .object(body)) {
                await $0.acknowledge(key: key, note: note, by: by, until: until, untilNextRelease: nextRelease)
            }
        AckChannel.finish(options, answer) { v in
            var until = ""
            if let time = v["until"]?.stringValue {
                until = " until \(time)"
            } else if v["until_next_release"] == .bool(true) {
                until = " until the next figure"
            }
            return "acknowledged \(text(v["key"])) by \(text(v["by"]))\(until)"
        }
    }
}

/// `plansync unack KEY`.
struct UnackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unack", abstract: "Withdraw an acknowledgement: the alert, if it still fires, is notified again once.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The alert's key.") var key: String
    @Option(name: .long, help: "Who withdraws it (default: your user name).") var by: String?

    func run() async throws {
        let (key, by) = (key, by)
        let query = by.map { "?by=" + AckChannel.segment($0) } ?? ""
        let answer =
            await AckChannel.perform(options, "/v1/acks/\(AckChannel.segment(key))\(query)", method: "DELETE") {
                await $0.unacknowledge(key: key, by: by ?? AckChannel.userName)
            }
        AckChannel.finish(options, answer) { v in "acknowledgement of \(text(v["key"])) withdrawn" }
    }
}

/// `plansync silence --plan P ... --until TIME --note TEXT`.
struct SilenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "silence",
        abstract: "Mute the notifications of matching alerts until a time (they are still recorded); prints the silence's id.")
    @OptionGroup var options: ClientOptions
    @Option(name: .long, help: ArgumentHelp("Alerts of this plan (repeatable).", valueName: "id")) var plan: [String] = []
    @Option(name: .long, help: ArgumentHelp("Alerts of this indicator code (repeatable).", valueName: "code")) var indicator: [String] = []
    @Option(name: .long, help: ArgumentHelp("Alerts of this kind, e.g. target_at_risk (repeatable).", valueName: "kind")) var alert: [String] = []
    @Option(name: .long, help: ArgumentHelp("Alerts of this feed (repeatable).", valueName: "id")) var feed: [String] = []
    @Option(name: .long, help: ArgumentHelp("Until when: an RFC 3339 time or a duration (7d).", valueName: "time")) var until: String
    @Option(name: .long, help: "Why.") var note: String
    @Option(name: .long, help: "Who (default: your user name).") var by: String?

    func run() async throws {
        if plan.isEmpty, indicator.isEmpty, alert.isEmpty, feed.isEmpty {
            fail("name what to silence: --plan, --indicator, --alert or --feed (each repeatable)")
        }
        guard let until = AckChannel.until(until) else { fail("--until is required") }
        var body: [(String, JSONValue)] = [
            ("plans", .array(plan.map(JSONValue.string))), ("indicators", .array(indicator.map(JSONValue.string))),
            ("alerts", .array(alert.map(JSONValue.string))), ("feeds", .array(feed.map(JSONValue.string))),
            ("until", .string(Timestamp.string(until))), ("note", .string(note)),
        ]
        if let by { body.append(("by", .string(by))) }
        let request = SilenceRequest(plans: plan, indicators: indicator, alerts: alert, feeds: feed, until: until, note: note, by: by ?? AckChannel.userName)
        let answer =
            await AckChannel.perform(options, "/v1/silences", method: "POST", body: .object(body)) { await $0.silence(request) }
        AckChannel.finish(options, answer) { v in "silence \(text(v["id"])) until \(text(v["until"]))" }
    }
}

/// `plansync silences`.
struct SilencesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "silences", abstract: "List the silences in force (--history: every one).")
    @OptionGroup var options: ClientOptions
    @Flag(name: .long, help: "Every silence ever made, with who ended it and why.") var history = false

    func run() async throws {
        let path = "/v1/silences" + (history ? "?history=1" : "")
        let silences: [JSONValue]
        if let answer = AckChannel.send(options, path, method: "GET") {
            guard answer.status < 400, case .array(let list)? = answer.value["silences"] else {
                fail(answer.value["error"]?.stringValue ?? answer.value.text, code: 1)
            }
            silences = list
        } else {
            let basics: ConfigBasics
            do { basics = try ConfigBasics.load(path: options.config) } catch { fail(error.description) }
            do { silences = try await Mirror(path: basics.database, readOnly: true).silencesJSON(history: history) } catch { fail(error.description, code: 1) }
        }
        if options.json { return print(JSONValue.object([("silences", .array(silences))]).text) }
        var rows = [["id", "until", "by", "matches", "note"] + (history ? ["ended"] : [])]
        for s in silences {
            var matches: [String] = []
            for (field, name) in [("plans", "plan"), ("indicators", "indicator"), ("alerts", "alert"), ("feeds", "feed")] {
                if case .array(let values)? = s[field], !values.isEmpty { matches.append("\(name)=" + values.map { text($0) }.joined(separator: "|")) }
            }
            var row = [text(s["id"]), text(s["until"]), text(s["by"]), matches.joined(separator: " "), text(s["note"])]
            if history { row.append(s["ended_at"] == nil ? "—" : "\(text(s["ended_at"])) \(text(s["end_reason"]))") }
            rows.append(row)
        }
        printText(silences.isEmpty ? "no silences" : VerdictTable.align(rows))
    }
}

/// `plansync unsilence ID`.
struct UnsilenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unsilence", abstract: "End a silence now: its alerts that still fire are notified once.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The silence's id (from `plansync silences`).") var id: Int
    @Option(name: .long, help: "Who ends it (default: your user name).") var by: String?

    func run() async throws {
        let (id, by) = (id, by)
        let query = by.map { "?by=" + AckChannel.segment($0) } ?? ""
        let answer =
            await AckChannel.perform(options, "/v1/silences/\(id)\(query)", method: "DELETE") { await $0.unsilence(id: id, by: by ?? AckChannel.userName) }
        AckChannel.finish(options, answer) { v in "silence \(text(v["id"])) ended" }
    }
}
