import Foundation
import Testing
@testable import Configuration
@testable import PlanCore

private let base = """
    database = "state/mirror.sqlite"
    socket = "/run/plansync/status.sock"
    alert_log = "/var/log/plansync/alerts.jsonl"
    plans = ["plans/*.toml"]

    """

/// `[[sink]]` tables: what is read, and a clear error (file, key path, what to do) for each
/// kind of mistake.
@Suite struct SinkConfigTests {
    @Test func readsSinksWithTheirDefaultsMatchesAndSecrets() throws {
        let folder = try ConfigFolder()
        try FileManager.default.createDirectory(atPath: folder.path + "/secrets", withIntermediateDirectories: true)
        try "s3cret\n".write(toFile: folder.path + "/secrets/hook", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: folder.path + "/creds", withIntermediateDirectories: true)
        try "from-systemd".write(toFile: folder.path + "/creds/am-key", atomically: true, encoding: .utf8)
        let config = try folder.load(
            base + """
                [[sink]]
                id = "ops-hook"
                kind = "webhook"
                url = "https://user:pw@hooks.example.org/plansync?token=abc"
                secret_file = "secrets/hook"
                match = { plans = ["futian-2023"], severity = ["critical"], alerts = ["target_missed", "target_at_risk"] }
                timeout = "5s"
                max_age = "2h"
                from_start = true

                [[sink]]
                id = "am"
                kind = "alertmanager"
                url = "http://127.0.0.1:9093"
                credential = "am-key"
                resend_interval = "30s"
                """, environment: ["CREDENTIALS_DIRECTORY": folder.path + "/creds"])
        #expect(config.sinks.map(\.id) == ["ops-hook", "am"])
        let hook = config.sinks[0]
        #expect(hook.kind == .webhook)
        #expect(hook.secret == "s3cret")
        #expect(hook.timeout == 5 && hook.maxAge == 7200 && hook.fromStart)
        #expect(hook.match == SinkMatch(plans: ["futian-2023"], severities: ["critical"], alerts: ["target_missed", "target_at_risk"]))
        #expect(!hook.description.contains("pw") && !hook.description.contains("s3cret"), "\(hook.description)")
        let am = config.sinks[1]
        #expect(am.secret == "from-systemd" && am.resendInterval == 30 && am.maxAge == 86400 && am.timeout == 10 && !am.fromStart)
        #expect(am.match == SinkMatch())
    }

    @Test func matchesEventsByPlanSeverityAndAlert() throws {
        let match = SinkMatch(plans: ["p"], severities: ["critical"], alerts: nil)
        func event(_ plan: String?, _ severity: String) -> JSONValue {
            var members: [(String, JSONValue)] = [("alert", .string("target_missed")), ("severity", .string(severity))]
            if let plan { members.append(("plan", .string(plan))) }
            return .object(members)
        }
        #expect(match.matches(event("p", "critical")))
        #expect(!match.matches(event("q", "critical")))
        #expect(!match.matches(event("p", "warning")))
        #expect(!match.matches(event(nil, "critical")), "an event of no plan does not pass a plan list")
        #expect(SinkMatch().matches(event(nil, "warning")))
    }

    static let bad: [(String, String, String)] = [
        ("id = \"Ops Hook\"\nkind = \"webhook\"\nurl = \"http://h/x\"", "sink[0].id", "not a valid sink id"),
        ("id = \"alert_log\"\nkind = \"webhook\"\nurl = \"http://h/x\"", "sink[0].id", "alert log's own cursor"),
        (
            "id = \"a\"\nkind = \"pager\"\nurl = \"http://h/x\"", "sink[0].kind",
            "unknown sink kind 'pager' (allowed: alertmanager, webhook, dingtalk, wecom, email)"
        ),
        ("id = \"a\"\nkind = \"webhook\"", "sink[0].url", "missing"),
        ("id = \"a\"\nkind = \"webhook\"\nurl = \"ftp://h/x\"", "sink[0].url", "not a http or https URL"),
        ("id = \"a\"\nkind = \"webhook\"\nurl = \"https://user:topsecret@/x\"", "sink[0].url", "https://***@/x"),
        ("id = \"a\"\nkind = \"webhook\"\nurl = \"http://h/x\"\nmatch = { plans = [\"nope\"] }", "sink[0].match.plans", "no plan with id 'nope'"),
        ("id = \"a\"\nkind = \"webhook\"\nurl = \"http://h/x\"\nmatch = { severity = [\"high\"] }", "sink[0].match.severity", "unknown severity 'high'"),
        ("id = \"a\"\nkind = \"webhook\"\nurl = \"http://h/x\"\nmatch = { alerts = [\"missed\"] }", "sink[0].match.alerts", "unknown alert 'missed'"),
        (
            "id = \"a\"\nkind = \"webhook\"\nurl = \"http://h/x\"\nmatch = { plan = [\"x\"] }", "sink[0].match.plan",
            "unknown key 'plan' (did you mean 'plans'?)"
        ),
        ("id = \"a\"\nkind = \"webhook\"\nurl = \"http://h/x\"\nsecret_file = \"nowhere\"", "sink[0].secret_file", "cannot read"),
        ("id = \"a\"\nkind = \"webhook\"\nurl = \"http://h/x\"\ncredential = \"hook\"", "sink[0].credential", "needs $CREDENTIALS_DIRECTORY"),
        (
            "id = \"a\"\nkind = \"webhook\"\nurl = \"http://h/x\"\ncredential = \"hook\"\nsecret_file = \"s\"", "sink[0].credential",
            "either secret_file or credential"
        ),
        ("id = \"a\"\nkind = \"webhook\"\nurl = \"http://h/x\"\ntimeout = \"10m\"", "sink[0].timeout", "between 1ms and 5m"),
        ("id = \"a\"\nkind = \"webhook\"\nurl = \"http://h/x\"\nmax_age = \"10s\"", "sink[0].max_age", "at least 1m"),
        ("id = \"a\"\nkind = \"webhook\"\nurl = \"http://h/x\"\nresend_interval = \"1m\"", "sink[0].resend_interval", "alertmanager sinks only"),
        ("id = \"a\"\nkind = \"webhook\"\nurl = \"http://h/x\"\nsecret = \"x\"", "sink[0].secret", "unknown key 'secret'"),
        ("id = \"a\"\nkind = \"dingtalk\"\nurl = \"http://h/x\"\nlang = \"fr\"", "sink[0].lang", "lang must be \"zh\" or \"en\""),
        ("id = \"a\"\nkind = \"webhook\"\nurl = \"http://h/x\"\nlang = \"en\"", "sink[0].lang", "dingtalk, wecom and email sinks only"),
        ("id = \"a\"\nkind = \"email\"\nurl = \"http://h/x\"\nfrom = \"a@b\"\nto = [\"c@d\"]", "sink[0].url", "not a smtp or smtps URL"),
        ("id = \"a\"\nkind = \"email\"\nurl = \"smtp://h:25\"\nto = [\"c@d\"]", "sink[0].from", "missing"),
        ("id = \"a\"\nkind = \"email\"\nurl = \"smtp://h:25\"\nfrom = \"a@b\"", "sink[0].to", "needs recipients"),
        ("id = \"a\"\nkind = \"email\"\nurl = \"smtp://h:25\"\nfrom = \"a@b\"\nto = [\"Office <c@d>\"]", "sink[0].to", "not an e-mail address"),
        ("id = \"a\"\nkind = \"email\"\nurl = \"smtps://h:465\"\nfrom = \"a@b\"\nto = [\"c@d\"]\nstarttls = true", "sink[0].starttls", "TLS from the start"),
        ("id = \"a\"\nkind = \"webhook\"\nurl = \"http://h/x\"\nto = [\"c@d\"]", "sink[0].to", "email sinks only"),
        ("id = \"a\"\nkind = \"wecom\"\nurl = \"http://h/x\"\nsecret_file = \"s\"", "sink[0].secret_file", "no signing secret"),
        (
            "id = \"a\"\nkind = \"webhook\"\nurl = \"http://h/x\"\n[[sink]]\nid = \"a\"\nkind = \"webhook\"\nurl = \"http://h/y\"", "sink[1].id",
            "duplicate sink id 'a'"
        ),
    ]

    @Test(arguments: bad)
    func aBadSinkIsRefusedSayingWhereAndWhy(table: String, keyPath: String, message: String) throws {
        let folder = try ConfigFolder()
        let error = #expect(throws: ConfigError.self) { try folder.load(base + "[[sink]]\n" + table + "\n") }
        #expect(error?.keyPath == keyPath, "\(String(describing: error))")
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
        #expect(error?.description.contains("topsecret") == false)
    }

    @Test func anEmptySecretFileIsRefused() throws {
        let folder = try ConfigFolder()
        try "\n".write(toFile: folder.path + "/empty", atomically: true, encoding: .utf8)
        let error = #expect(throws: ConfigError.self) {
            try folder.load(base + "[[sink]]\nid = \"a\"\nkind = \"webhook\"\nurl = \"http://h/x\"\nsecret_file = \"empty\"\n")
        }
        #expect(error?.message.contains("is empty") == true)
    }
}
