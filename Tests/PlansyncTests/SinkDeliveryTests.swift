import Foundation
import Support
import Testing
import TestSupport

/// Notification sinks in a running daemon, against real HTTP receivers on loopback.
@Suite(.serialized) struct SinkDeliveryTests {
    /// The demo's alert log lines (each event's JSON text), once the first cycle wrote them.
    func logLines(_ d: RunningDaemon) -> [String] {
        lines(d.root + "/.demo/alerts.jsonl")
    }

    static func seq(_ line: String) -> Int? {
        ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["seq"] as? Int
    }

    @Test func webhooksGetEveryEventInOrderSignedRetriedAndFiltered() throws {
        // The first answers fail (retried: 503, then 429 with Retry-After), then all succeed.
        let hook = try Receiver(script: [(503, ""), (429, "Retry-After: 1\r\n")])
        // Takes critical events only, and refuses the first one it is offered for good.
        let critical = try Receiver(script: [(400, "")])
        let secret = NSTemporaryDirectory() + "plansync-hook-\(UUID().uuidString)"
        try "s3cret\n".write(toFile: secret, atomically: true, encoding: .utf8)
        let d = try RunningDaemon(
            extraFeeds: """

                [[sink]]
                id = "hook"
                kind = "webhook"
                url = "\(hook.url("/plansync"))"
                secret_file = "\(secret)"
                from_start = true

                [[sink]]
                id = "critical"
                kind = "webhook"
                url = "\(critical.url("/c"))"
                match = { severity = ["critical"] }
                from_start = true
                """)
        #expect(d.ready(), "stderr: \(String(decoding: d.stderr.fileHandleForReading.availableData, as: UTF8.self))")
        #expect(d.eventually { logLines(d).count >= 7 })
        let log = logLines(d)
        // Every event, in seq order, after two failed attempts at the first.
        let received = hook.wait(for: log.count + 2)
        #expect(received.count == log.count + 2)
        #expect(received.allSatisfy { $0.method == "POST" && $0.path == "/plansync" && $0.headers["content-type"] == "application/json" })
        let delivered = Array(received.dropFirst(2))
        #expect(delivered.map(\.body) == log)
        #expect(delivered.map { $0.headers["idempotency-key"] } == log.map { Self.seq($0).map(String.init) })
        #expect(received[0].headers["idempotency-key"] == received[2].headers["idempotency-key"], "the same event offered again")
        for request in delivered {
            let mac = SHA256.hexDigits(SHA256.hmac(key: Array("s3cret".utf8), message: Array(request.body.utf8)))
            #expect(request.headers["x-plansync-signature"] == "sha256=\(mac)")
        }
        // Only critical events went to the other sink; the one it refused is counted, not retried.
        let criticalLines = log.filter { $0.contains(#""severity":"critical""#) }
        #expect(!criticalLines.isEmpty)
        #expect(critical.wait(for: criticalLines.count).map(\.body) == criticalLines)
        #expect(critical.requests.allSatisfy { $0.headers["x-plansync-signature"] == nil })

        var sinks: [[String: Any]] = []
        #expect(
            try d.eventually {
                sinks = (try d.json("/v1/sinks")["sinks"] as? [[String: Any]]) ?? []
                return sinks.count == 2 && sinks.allSatisfy { $0["lag_events"] as? Int == 0 }
            }, "\(sinks)")
        let byID = Dictionary(uniqueKeysWithValues: sinks.map { ($0["id"] as? String ?? "", $0) })
        #expect(byID["hook"]?["delivered"] as? Int == log.count)
        #expect(byID["hook"]?["failed"] as? Int == 0)
        #expect(byID["hook"]?["attempts"] as? Int == log.count + 2)
        #expect(byID["hook"]?["kind"] as? String == "webhook")
        #expect(byID["critical"]?["failed"] as? Int == 1)
        #expect(byID["critical"]?["delivered"] as? Int == criticalLines.count - 1)
        #expect((byID["critical"]?["last_error"] as? String)?.contains("HTTP 400") == true)
        let metrics = try d.curl("/metrics").body
        #expect(metrics.contains(#"plansync_sink_delivered_total{sink="hook"} \#(log.count)"#))
        #expect(metrics.contains(#"plansync_sink_failed_total{sink="critical"} 1"#))
        #expect(metrics.contains(#"plansync_sink_lag_events{sink="hook"} 0"#))
        let table = try PlansyncProcess.run(["sinks", "--socket", d.socket])
        #expect(table.status == 0)
        #expect(table.stdout.contains("hook") && table.stdout.contains("critical") && table.stdout.contains("webhook"), "\(table.stdout)")
        #expect(!table.stdout.contains("s3cret"))
        _ = d.stop()
    }

    @Test func testSinkSendsOneMessageAndShowsTheAnswer() throws {
        let ok = try Receiver()
        let refusing = try Receiver(script: [(404, "")])
        let demo = try demoCopy()
        try "k3y".write(toFile: demo.root + "/hook.key", atomically: true, encoding: .utf8)
        let sinks = """

            [[sink]]
            id = "ok"
            kind = "webhook"
            url = "\(ok.url("/t?token=abc123"))"
            secret_file = "\(demo.root)/hook.key"

            [[sink]]
            id = "refusing"
            kind = "webhook"
            url = "\(refusing.url("/t"))"
            """
        try (String(contentsOfFile: demo.config, encoding: .utf8) + sinks).write(toFile: demo.config, atomically: true, encoding: .utf8)
        let sent = try PlansyncProcess.run(["test-sink", "ok", "--config", demo.config])
        #expect(sent.status == 0, "\(sent.stdout) \(sent.stderr)")
        #expect(sent.stdout.contains("ok (webhook") && sent.stdout.contains("delivered (HTTP 200"), "\(sent.stdout)")
        #expect(!sent.stdout.contains("abc123"), "the token is masked")
        let request = try #require(ok.requests.first)
        #expect(request.body.contains(#""alert":"plansync_test""#))
        #expect(request.headers["idempotency-key"] == "0")
        let mac = SHA256.hexDigits(SHA256.hmac(key: Array("k3y".utf8), message: Array(request.body.utf8)))
        #expect(request.headers["x-plansync-signature"] == "sha256=\(mac)")
        let refused = try PlansyncProcess.run(["test-sink", "refusing", "--config", demo.config])
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("refused for good: HTTP 404"), "\(refused.stdout)")
        let unknown = try PlansyncProcess.run(["test-sink", "nope", "--config", demo.config])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no sink 'nope'") && unknown.stderr.contains("ok, refusing"), "\(unknown.stderr)")
        // Nothing was written: test-sink reads the configuration only.
        #expect(!FileManager.default.fileExists(atPath: demo.root + "/.demo/mirror.sqlite"))
    }

    @Test func aSinkThatRefusesEventsRaisesSinkFailingUntilItTakesOneAgain() throws {
        let broken = try Receiver(script: Array(repeating: (400, ""), count: 100_000))
        let watch = try Receiver()
        let d = try RunningDaemon(
            interval: "1s",
            extraFeeds: """

                [[sink]]
                id = "broken"
                kind = "webhook"
                url = "\(broken.url("/b"))"
                from_start = true

                [[sink]]
                id = "watch"
                kind = "webhook"
                url = "\(watch.url("/w"))"
                match = { alerts = ["sink_failing"] }
                """)
        #expect(d.ready())
        let key = "sink/broken/sink_failing"
        func alert(_ state: String) throws -> [String: Any]? {
            ((try d.json("/v1/alerts?state=\(state)")["alerts"] as? [[String: Any]]) ?? []).first { $0["key"] as? String == key }
        }
        var firing: [String: Any]?
        #expect(
            try d.eventually(30) {
                firing = try alert("firing"); return firing != nil
            })
        #expect((firing?["message"] as? String)?.contains("events not delivered for good (") == true, "\(String(describing: firing))")
        #expect((firing?["message"] as? String)?.contains("HTTP 400") == true)
        // The other sink, watching for it, is told.
        #expect(d.eventually { watch.requests.contains { $0.body.contains(#""event":"firing","alert":"sink_failing""#) } })
        #expect(lines(d.root + "/.demo/alerts.jsonl").contains { $0.contains(#""alert":"sink_failing""#) && $0.contains(#""key":"sink/broken/sink_failing""#) })
        // The receiver is fixed; the next events are taken, and the alert resolves.
        broken.answerOK()
        let annex = d.root + "/Config/feeds/futian-2022-annex.csv"
        try String(contentsOfFile: annex, encoding: .utf8).replacingOccurrences(of: "gdp,2022,growth,3.0", with: "gdp,2022,growth,6.4")
            .write(toFile: annex, atomically: true, encoding: .utf8)
        #expect(try d.eventually(30) { try alert("resolved") != nil })
        #expect(d.eventually { watch.requests.contains { $0.body.contains(#""event":"resolved","alert":"sink_failing""#) } })
        _ = d.stop()
    }

    @Test func reloadAddsASinkAtTheEndOfTheStreamAndRemovesIt() throws {
        let receiver = try Receiver()
        let d = try RunningDaemon(interval: "1s")
        #expect(d.ready())
        #expect(d.eventually { lines(d.root + "/.demo/alerts.jsonl").count >= 7 })
        let before = lines(d.root + "/.demo/alerts.jsonl").count
        let original = try String(contentsOfFile: d.config, encoding: .utf8)
        try (original + "\n[[sink]]\nid = \"late\"\nkind = \"webhook\"\nurl = \"\(receiver.url("/l"))\"\n")
            .write(toFile: d.config, atomically: true, encoding: .utf8)
        #expect(try d.curl("/v1/reload", method: "POST").status == 200)
        #expect(try d.eventually { ((try d.json("/v1/sinks")["sinks"] as? [[String: Any]]) ?? []).first?["cursor"] as? Int == before })
        // New events only: it does not replay history.
        let annex = d.root + "/Config/feeds/futian-2022-annex.csv"
        try String(contentsOfFile: annex, encoding: .utf8).replacingOccurrences(of: "gdp,2022,growth,3.0", with: "gdp,2022,growth,6.4")
            .write(toFile: annex, atomically: true, encoding: .utf8)
        #expect(d.eventually(30) { !receiver.requests.isEmpty })
        usleep(500_000)
        let log = lines(d.root + "/.demo/alerts.jsonl")
        #expect(receiver.requests.map(\.body) == Array(log.dropFirst(before)))
        // A configuration without it: gone from the status.
        try original.write(toFile: d.config, atomically: true, encoding: .utf8)
        #expect(try d.curl("/v1/reload", method: "POST").status == 200)
        #expect(try d.eventually { ((try d.json("/v1/sinks")["sinks"] as? [[String: Any]]) ?? []).isEmpty })
        // An invalid sink is refused by reload and changes nothing.
        try (original + "\n[[sink]]\nid = \"Bad Id\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\n")
            .write(toFile: d.config, atomically: true, encoding: .utf8)
        let refused = try d.curl("/v1/reload", method: "POST")
        #expect(refused.status == 422 && refused.body.contains("not a valid sink id"), "\(refused)")
        _ = d.stop()
    }

    @Test func aSinkThatIsDownGetsEveryEventAfterAKillAndRestart() throws {
        // Down for everything at first: every attempt answers 503.
        let down = try Receiver(script: Array(repeating: (503, ""), count: 10_000))
        let state = try scratchFolder()
        let sink = { (url: String) in "\n[[sink]]\nid = \"hook\"\nkind = \"webhook\"\nurl = \"\(url)\"\nfrom_start = true\n" }
        let first = try RunningDaemon(extraFeeds: sink(down.url("/a")), stateFolder: state)
        #expect(first.ready())
        #expect(first.eventually { down.requests.count >= 2 })
        var hook: [String: Any]?
        #expect(
            try first.eventually {
                hook = ((try first.json("/v1/sinks")["sinks"] as? [[String: Any]]) ?? []).first
                return (hook?["lag_events"] as? Int ?? 0) >= 7 && (hook?["last_error"] as? String)?.contains("HTTP 503") == true
            }, "\(String(describing: hook))")
        #expect(hook?["delivered"] as? Int == 0)
        _ = first.stop(SIGKILL)
        let log = lines(state + "/alerts.jsonl")
        #expect(log.count >= 7)

        // Back up (at another address: the sink's id, not its URL, holds its cursor).
        let up = try Receiver()
        let second = try RunningDaemon(extraFeeds: sink(up.url("/b")), stateFolder: state)
        #expect(second.ready())
        #expect(Array(up.wait(for: log.count).map(\.body).prefix(log.count)) == log)
        // Once more after the second daemon's own cycle: every event of the log, each once.
        #expect(second.eventually { up.requests.count == lines(state + "/alerts.jsonl").count })
        usleep(300_000)
        #expect(up.requests.map(\.body) == lines(state + "/alerts.jsonl"), "each event once, in order")
        _ = second.stop()
    }
}

/// A real Alertmanager (Debian's `prometheus-alertmanager`) on 127.0.0.1, with a temporary
/// configuration and storage, clustering off (it would listen on every address otherwise).
final class AlertmanagerProcess: @unchecked Sendable {
    let port: Int
    let process = Process()
    let folder: String

    init() throws {
        folder = try scratchFolder()
        try """
        route:
          receiver: nobody
        receivers:
          - name: nobody
        """.write(toFile: folder + "/alertmanager.yml", atomically: true, encoding: .utf8)
        port = try freeTCPPort()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus-alertmanager")
        process.arguments = [
            "--config.file=\(folder)/alertmanager.yml", "--storage.path=\(folder)/data",
            "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address=", "--log.level=warn",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    deinit { if process.isRunning { process.terminate() } }

    var url: String { "http://127.0.0.1:\(port)" }

    /// curl against its API: the HTTP status and the body.
    func api(_ path: String, post body: String? = nil) throws -> (status: Int, body: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        var arguments = ["-s", "--max-time", "10", "-w", "\n%{http_code}"]
        if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
        p.arguments = arguments + [url + path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// The alerts it holds now (resolved ones are not listed).
    func alerts() throws -> [[String: Any]] {
        let r = try api("/api/v2/alerts")
        return ((try? JSONSerialization.jsonObject(with: Data(r.body.utf8))) as? [[String: Any]]) ?? []
    }
}

@Suite(.serialized) struct AlertmanagerSinkTests {
    @Test func alertmanagerShowsFiringAlertsSilencesThemAndSeesThemResolved() throws {
        let am = try AlertmanagerProcess()
        let d0 = Date()
        while (try? am.api("/api/v2/status").status) != 200, Date().timeIntervalSince(d0) < 30 { usleep(100_000) }
        #expect(try am.api("/api/v2/status").status == 200, "Alertmanager did not start")
        let d = try RunningDaemon(
            interval: "1s",
            extraFeeds: "\n[[sink]]\nid = \"am\"\nkind = \"alertmanager\"\nurl = \"\(am.url)\"\nresend_interval = \"10s\"\nfrom_start = true\n")
        #expect(d.ready())
        var alerts: [[String: Any]] = []
        #expect(
            try d.eventually(30) {
                alerts = try am.alerts(); return alerts.count == 7
            }, "\(alerts)")
        let labels = alerts.compactMap { $0["labels"] as? [String: String] }
        let gdpKey = "futian-2023/gdp/2022/target_missed"
        let gdp = try #require(labels.first { $0["key"] == gdpKey })
        #expect(gdp["alertname"] == "target_missed")
        #expect(gdp["plan"] == "futian-2023" && gdp["indicator"] == "gdp" && gdp["year"] == "2022")
        #expect(gdp["severity"] == "warning" || gdp["severity"] == "critical")
        #expect(labels.filter { $0["severity"] == "critical" }.count == 1)
        let annotations = alerts.first { ($0["labels"] as? [String: String])?["key"] == gdpKey }?["annotations"] as? [String: String]
        #expect(annotations?["summary"]?.isEmpty == false)

        // A silence made in Alertmanager suppresses the alert there.
        let ends = Timestamp.string(Date().addingTimeInterval(3600))
        let silence = try am.api(
            "/api/v2/silences",
            post:
                #"{"matchers":[{"name":"key","value":"\#(gdpKey)","isRegex":false,"isEqual":true}],"startsAt":"\#(Timestamp.string(Date()))","endsAt":"\#(ends)","createdBy":"test","comment":"explained"}"#
        )
        #expect(silence.status == 200, "\(silence.body)")
        #expect(
            try d.eventually(10) {
                let state = try am.alerts().first { ($0["labels"] as? [String: String])?["key"] == gdpKey }?["status"] as? [String: Any]
                return state?["state"] as? String == "suppressed"
            })

        // The figure is corrected: plansync resolves the alert, and Alertmanager lets it go.
        let annex = d.root + "/Config/feeds/futian-2022-annex.csv"
        try String(contentsOfFile: annex, encoding: .utf8).replacingOccurrences(of: "gdp,2022,growth,3.0", with: "gdp,2022,growth,6.4")
            .write(toFile: annex, atomically: true, encoding: .utf8)
        var keys: [String] = []
        #expect(
            try d.eventually(30) {
                keys = try am.alerts().compactMap { ($0["labels"] as? [String: String])?["key"] }
                return !keys.contains(gdpKey) && keys.count == 7
            }, "\(keys)")
        _ = d.stop()
    }
}

/// DingTalk and WeCom group robots, as their webhook APIs are documented, served on loopback.
@Suite(.serialized) struct RobotSinkTests {
    @Test func dingTalkGetsASignedChineseDigestAndWeComAnEnglishOneAfterARateLimit() throws {
        let ding = try Receiver(okBody: #"{"errcode":0,"errmsg":"ok"}"#)
        // WeCom's first answer is its rate limit (HTTP 200, errcode 45009): sent again.
        let wecom = try Receiver(bodies: [#"{"errcode":45009,"errmsg":"api freq out of limit"}"#], okBody: #"{"errcode":0,"errmsg":"ok"}"#)
        let secret = NSTemporaryDirectory() + "plansync-ding-\(UUID().uuidString)"
        try "SECdemo".write(toFile: secret, atomically: true, encoding: .utf8)
        let d = try RunningDaemon(
            extraFeeds: """

                [[sink]]
                id = "ding"
                kind = "dingtalk"
                url = "\(ding.url("/robot/send?access_token=t0k3n"))"
                secret_file = "\(secret)"
                from_start = true

                [[sink]]
                id = "wecom"
                kind = "wecom"
                url = "\(wecom.url("/cgi-bin/webhook/send?key=k3y"))"
                lang = "en"
                from_start = true
                """)
        #expect(d.ready())
        #expect(d.eventually { lines(d.root + "/.demo/alerts.jsonl").count >= 7 })
        let events = lines(d.root + "/.demo/alerts.jsonl").count

        let sent = try #require(ding.wait(for: 1).first)
        let query = Dictionary(
            uniqueKeysWithValues: (URLComponents(string: "http://x" + sent.path)?.queryItems ?? []).map { ($0.name, $0.value ?? "") })
        #expect(query["access_token"] == "t0k3n")
        let timestamp = try #require(query["timestamp"])
        let expected = Data(SHA256.hmac(key: Array("SECdemo".utf8), message: Array("\(timestamp)\nSECdemo".utf8))).base64EncodedString()
        #expect(query["sign"] == expected, "the sign parameter, once percent-decoded, is the Base64 HMAC")
        let message = try #require(try JSONSerialization.jsonObject(with: Data(sent.body.utf8)) as? [String: Any])
        #expect(message["msgtype"] as? String == "markdown")
        let markdown = try #require(message["markdown"] as? [String: String])
        #expect(markdown["title"] == "plansync：\(events) 条告警触发，0 条恢复", "\(markdown)")
        #expect(markdown["text"]?.contains("目标未完成 · futian-2023") == true)
        #expect(markdown["text"]?.contains("地区生产总值（2022年）实际 3.0%，目标 6.0%，差 3.0 个百分点") == true, "\(markdown["text"] ?? "")")

        let attempts = wecom.wait(for: 2)
        #expect(attempts.count == 2 && attempts[0].body == attempts[1].body, "the rate-limited digest is sent again as it was")
        let content = ((try JSONSerialization.jsonObject(with: Data(attempts[1].body.utf8)) as? [String: Any])?["markdown"] as? [String: String])?["content"]
        #expect(content?.hasPrefix("### plansync: \(events) firing, 0 resolved") == true, "\(content ?? "")")
        #expect(content?.contains("target missed · futian-2023") == true)

        var sinks: [[String: Any]] = []
        #expect(
            try d.eventually {
                sinks = (try d.json("/v1/sinks")["sinks"] as? [[String: Any]]) ?? []
                return sinks.count == 2 && sinks.allSatisfy { $0["delivered"] as? Int == events }
            }, "\(sinks)")
        let shown = "\(sinks)"
        #expect(!shown.contains("t0k3n") && !shown.contains("k3y") && !shown.contains("SECdemo"))
        #expect(
            sinks.first { $0["id"] as? String == "wecom" }?["last_error"] as? String
                == "events 1–\(events) not delivered (attempt 1): errcode 45009: api freq out of limit (rate limited)")
        _ = d.stop()
    }
}

/// E-mail through libcurl's SMTP to a real SMTP server on loopback (Debian's python3-aiosmtpd,
/// its Mailbox handler writing a Maildir).
@Suite(.serialized) struct EmailSinkTests {
    /// Subject, To and body of a message file, decoded by Python's email package.
    func decoded(_ file: String) throws -> (subject: String, to: String, body: String) {
        let script = """
            import email, sys
            from email.header import decode_header, make_header
            m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
            print(str(make_header(decode_header(m['Subject']))))
            print(m['To'])
            print(m.get_content_charset())
            sys.stdout.write(m.get_payload(decode=True).decode('utf-8'))
            """
        let r = try shell("/usr/bin/python3 -c \"\(script.replacingOccurrences(of: "\"", with: "\\\""))\" \(file)")
        let lines = r.output.split(separator: "\n", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count == 4 && lines[2] == "utf-8", "\(r.output)")
        return (lines[0], lines.count > 1 ? lines[1] : "", lines.count > 3 ? lines[3] : "")
    }

    @Test func aDigestArrivesByMailWithAUTF8SubjectAndBody() throws {
        let port = try freeTCPPort()
        let maildir = try scratchFolder() + "/mail"
        let smtp = Process()
        smtp.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        smtp.arguments = ["-m", "aiosmtpd", "-n", "-l", "127.0.0.1:\(port)", "-c", "aiosmtpd.handlers.Mailbox", maildir]
        smtp.standardOutput = FileHandle.nullDevice
        smtp.standardError = FileHandle.nullDevice
        try smtp.run()
        // aiosmtpd's command line keeps running on SIGTERM.
        defer {
            kill(smtp.processIdentifier, SIGKILL)
            smtp.waitUntilExit()
        }
        let d = try RunningDaemon(
            extraFeeds: """

                [[sink]]
                id = "office"
                kind = "email"
                url = "smtp://127.0.0.1:\(port)"
                from = "plansync@example.org"
                to = ["office@example.org", "director@example.org"]
                subject_prefix = "[福田]"
                from_start = true
                """)
        #expect(d.ready())
        var files: [String] = []
        #expect(
            d.eventually(30) {
                files = (try? FileManager.default.contentsOfDirectory(atPath: maildir + "/new")) ?? []
                return !files.isEmpty
            }, "no message in \(maildir)/new")
        let events = lines(d.root + "/.demo/alerts.jsonl").count
        let message = try decoded(maildir + "/new/" + (files.first ?? ""))
        #expect(message.subject == "[福田] plansync：\(events) 条告警触发，0 条恢复", "\(message.subject)")
        #expect(message.to == "office@example.org, director@example.org")
        #expect(message.body.contains("- 触发 目标未完成 · futian-2023：地区生产总值（2022年）实际 3.0%，目标 6.0%，差 3.0 个百分点"), "\(message.body)")
        #expect(!message.body.contains("**"))
        var sinks: [[String: Any]] = []
        #expect(
            try d.eventually {
                sinks = (try d.json("/v1/sinks")["sinks"] as? [[String: Any]]) ?? []
                return sinks.first?["delivered"] as? Int == events
            }, "\(sinks)")
        #expect(files.count == 1, "one digest for the cycle's events")
        _ = d.stop()
    }
}
