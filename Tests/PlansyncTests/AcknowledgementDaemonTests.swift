import Foundation
import Testing
import TestSupport

/// Acknowledgements and silences through a running daemon, its socket and the clients, with a
/// webhook receiver on loopback standing for the notification sinks.
@Suite(.serialized) struct AcknowledgementDaemonTests {
    static func sink(_ hook: Receiver) -> String {
        """

        [[sink]]
        id = "hook"
        kind = "webhook"
        url = "\(hook.url("/h"))"
        from_start = true
        """
    }

    /// Sets a 2022 growth figure in both demo feeds (so that they agree) and syncs; returns
    /// once the verdict shows it.
    static func setFigure(_ d: RunningDaemon, _ indicator: String, from old: String, to new: String) throws {
        for name in ["annex", "report"] {
            let feed = d.root + "/Config/feeds/futian-2022-\(name).csv"
            let text = try String(contentsOfFile: feed, encoding: .utf8)
            #expect(name == "report" || text.contains("\(indicator),2022,growth,\(old),"))
            try text.replacingOccurrences(of: "\(indicator),2022,growth,\(old),", with: "\(indicator),2022,growth,\(new),")
                .write(toFile: feed, atomically: true, encoding: .utf8)
        }
        #expect(try d.curl("/v1/sync", method: "POST").status == 202)
        #expect(
            try d.eventually {
                let verdicts = try d.json("/v1/indicators?year=2022")["verdicts"] as? [[String: Any]] ?? []
                return verdicts.contains { $0["indicator"] as? String == indicator && ($0["actual"] as? NSNumber)?.stringValue == String(Double(new)!) }
            }, "\(indicator) \(new) judged")
        // The cycle's events (if any) are written and offered to the sinks right after it.
        usleep(1_500_000)
    }

    static func events(_ path: String) -> [[String: Any]] {
        lines(path).compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    /// Each `seq` once, consecutive from 1: nothing lost or written twice.
    static func consecutive(_ events: [[String: Any]]) -> Bool {
        events.enumerated().allSatisfy { $1["seq"] as? Int == $0 + 1 }
    }

    @Test func anAcknowledgementHoldsWhenBetterBreaksOnceWhenWorseAndSurvivesKill9() throws {
        let hook = try Receiver()
        let state = try scratchFolder()
        var d = try RunningDaemon(extraFeeds: Self.sink(hook), stateFolder: state)
        #expect(d.ready())
        #expect(hook.wait(for: 7).count == 7)
        let key = "futian-2023/gdp/2022/target_missed"
        // Through the socket; without --by, the name is the socket peer's user.
        let ack = try PlansyncProcess.run(["ack", key, "--note", "受疫情影响，已报区政府作情况说明", "--config", d.config])
        #expect(ack.status == 0, "\(ack.stderr)")
        #expect(ack.stdout.contains("acknowledged \(key) by \(NSUserName())"), "\(ack.stdout)")
        #expect(hook.wait(for: 8).last?.body.contains(#""event":"acknowledged""#) == true)
        let firing = try d.json("/v1/alerts?state=firing")["alerts"] as? [[String: Any]] ?? []
        let acked = try #require(firing.first { $0["key"] as? String == key })
        #expect((acked["ack"] as? [String: Any])?["by"] as? String == NSUserName())
        #expect((acked["ack"] as? [String: Any])?["note"] as? String == "受疫情影响，已报区政府作情况说明")
        #expect(try d.curl("/metrics").body.contains(#"plansync_alerts_acknowledged{severity="warning"} 1"#))
        let table = try PlansyncProcess.run(["alerts", "--config", d.config, "--state", "firing"])
        #expect(table.stdout.contains("acknowledged by \(NSUserName()): 受疫情影响"), "\(table.stdout)")

        // Killed and started again on the same state: still acknowledged, nothing written twice.
        #expect(d.stop(SIGKILL).1 != nil)
        d = try RunningDaemon(extraFeeds: Self.sink(hook), stateFolder: state)
        #expect(d.ready())
        #expect(try d.eventually { (try d.json("/v1/acks")["acks"] as? [[String: Any]])?.count == 1 })

        // Better (3.0 → 4.0, short by 2.0 instead of 3.0): the alert fires on, not notified.
        try Self.setFigure(d, "gdp", from: "3.0", to: "4.0")
        #expect(hook.requests.count == 8)
        #expect(Self.events(state + "/alerts.jsonl").count == 8)
        // Worse (2.0, short by 4.0): broken, one notification.
        try Self.setFigure(d, "gdp", from: "4.0", to: "2.0")
        let after = hook.wait(for: 9)
        usleep(500_000)
        #expect(hook.requests.count == 9)
        #expect(after.last?.body.contains(#""event":"ack_broken""#) == true)
        #expect(after.last?.body.contains("shortfall grew from 3.0 to 4.0 pp") == true, "\(after.last?.body ?? "")")
        #expect((try d.json("/v1/acks")["acks"] as? [[String: Any]])?.isEmpty == true)
        let history = try d.json("/v1/acks?history=1")["acks"] as? [[String: Any]] ?? []
        #expect(history.first?["end_reason"] as? String == "broken")
        let log = Self.events(state + "/alerts.jsonl")
        #expect(Self.consecutive(log))
        #expect(log.map { $0["event"] as? String ?? "" }.suffix(2) == ["acknowledged", "ack_broken"])
        #expect(d.stop().1 == 0)
    }

    @Test func expiriesAndSilencesNotifyOnceAndTheClientsWriteTheMirrorWhenNoDaemonRuns() throws {
        let hook = try Receiver()
        let state = try scratchFolder()
        var d = try RunningDaemon(extraFeeds: Self.sink(hook), stateFolder: state)
        #expect(d.ready())
        #expect(hook.wait(for: 7).count == 7)
        let log = state + "/alerts.jsonl"

        // Bad requests: a clear 422 (404 for nothing to withdraw), nothing changed.
        let bad: [(String, String, String?, Int, String)] = [
            ("POST", "/v1/acks", "{", 422, "not a JSON object"),
            ("POST", "/v1/acks", #"{"key": "futian-2023/gdp/2022/target_missed", "note": "x", "colour": 1}"#, 422, "unknown field 'colour'"),
            ("POST", "/v1/acks", #"{"key": "futian-2023/gdp/2022/target_missed", "note": ""}"#, 422, "note is empty"),
            ("POST", "/v1/acks", #"{"key": "nope", "note": "x"}"#, 422, "no alert has the key"),
            ("POST", "/v1/acks", #"{"key": "futian-2023/gdp/2022/target_missed", "note": "x", "until": "2001-01-01T00:00:00Z"}"#, 422, "not in the future"),
            ("POST", "/v1/acks", #"{"key": "futian-2023/gdp/2022/target_missed", "note": "x", "until": "soon"}"#, 422, "not an RFC 3339 time"),
            ("POST", "/v1/acks", #"{"key": 5, "note": "x"}"#, 422, "key must be a string"),
            ("POST", "/v1/silences", #"{"note": "x", "until": "2099-01-01T00:00:00Z"}"#, 422, "at least one of"),
            ("POST", "/v1/silences", #"{"plans": ["futian-2023"], "note": "x"}"#, 422, "until is missing"),
            ("DELETE", "/v1/silences/abc", nil, 422, "not a number"),
            ("DELETE", "/v1/silences/9", nil, 404, "no silence 9"),
            ("DELETE", "/v1/acks/futian-2023%2Fgdp%2F2022%2Ftarget_missed", nil, 404, "no acknowledgement in force"),
        ]
        for (method, path, body, status, words) in bad {
            let answer = try d.curl(path, method: method, body: body)
            #expect(answer.status == status && answer.body.contains(words), "\(method) \(path): \(answer)")
        }
        #expect(lines(log).count == 7)
        #expect((try d.json("/v1/acks?history=1")["acks"] as? [[String: Any]])?.isEmpty == true)

        // Expiry by time: notified once when it runs out (the daemon's own timer).
        let ack = try PlansyncProcess.run([
            "ack", "futian-2023/budget_revenue/2022/target_missed", "--note", "x", "--until", "2s", "--by", "李四", "--config", d.config,
        ])
        #expect(ack.status == 0, "\(ack.stderr)")
        let expired = hook.wait(for: 9, seconds: 15)
        #expect(expired.last?.body.contains(#""event":"ack_expired""#) == true)
        #expect(expired.dropLast().last?.body.contains(#""by":"李四""#) == true)

        // A silence mutes what its alerts do (resolving, firing again) and notifies once at its end.
        let silence = try d.curl(
            "/v1/silences", method: "POST", body: #"{"indicators": ["retail_sales"], "until": "\#(Self.inSeconds(6))", "note": "口径调整"}"#)
        #expect(silence.status == 201, "\(silence)")
        try Self.setFigure(d, "retail_sales", from: "1.4", to: "7.0")
        try Self.setFigure(d, "retail_sales", from: "7.0", to: "1.0")
        let muted = Self.events(log).suffix(2)
        #expect(muted.map { $0["event"] as? String ?? "" } == ["resolved", "firing"])
        #expect(muted.allSatisfy { $0["muted"] as? String == "silence 1" })
        #expect(hook.requests.count == 9)
        let ended = hook.wait(for: 10, seconds: 15)
        usleep(500_000)
        #expect(hook.requests.count == 10)
        #expect(ended.last?.body.contains(#""event":"silence_ended""#) == true)
        #expect(ended.last?.body.contains("retail_sales") == true)

        // Until the next release: a new figure of the indicator (a year without a target) ends it, notified once.
        let nextRelease = try PlansyncProcess.run(
            ["ack", "futian-2023/foreign_trade/2022/target_missed", "--note", "等年报", "--until-next-release", "--config", d.config])
        #expect(nextRelease.status == 0, "\(nextRelease.stderr)")
        #expect(hook.wait(for: 11).count == 11)
        let annex = d.root + "/Config/feeds/futian-2022-annex.csv"
        try (try String(contentsOfFile: annex, encoding: .utf8) + "foreign_trade,2021,growth,16.0,%,,,\n").write(
            toFile: annex, atomically: true, encoding: .utf8)
        #expect(try d.curl("/v1/sync", method: "POST").status == 202)
        let released = hook.wait(for: 12, seconds: 15)
        #expect(released.last?.body.contains(#""event":"ack_expired""#) == true && released.last?.body.contains("next_release") == true)
        // Withdrawn through the socket: notified again once.
        let key = "futian-2023/modern_services/2022/target_missed"
        #expect(try PlansyncProcess.run(["ack", key, "--note", "n", "--config", d.config]).status == 0)
        let unack = try PlansyncProcess.run(["unack", key, "--by", "王五", "--config", d.config])
        #expect(unack.status == 0 && unack.stdout.contains("withdrawn"), "\(unack.stderr)")
        let withdrawn = hook.wait(for: 14)
        usleep(500_000)
        #expect(hook.requests.count == 14)
        #expect(withdrawn.last?.body.contains(#""event":"unacknowledged""#) == true && withdrawn.last?.body.contains("王五") == true)

        // No daemon: the clients write the mirror (and the alert log) themselves.
        #expect(d.stop().1 == 0)
        let direct = try PlansyncProcess.run(["ack", "futian-2023/land_per_gdp/2022/target_missed", "--note", "用地统计口径变化", "--config", d.config])
        #expect(direct.status == 0, "\(direct.stderr)")
        #expect(Self.events(log).last?["event"] as? String == "acknowledged")
        let silences = try PlansyncProcess.run(["silences", "--history", "--config", d.config])
        #expect(silences.stdout.contains("口径调整") && silences.stdout.contains("expired"), "\(silences.stdout)")
        #expect(try PlansyncProcess.run(["unack", "futian-2023/gdp/2022/target_missed", "--config", d.config]).status == 2)
        // The daemon started again delivers it to the sink.
        d = try RunningDaemon(extraFeeds: Self.sink(hook), stateFolder: state)
        #expect(d.ready())
        #expect(hook.wait(for: 15).last?.body.contains("用地统计口径变化") == true)
        #expect(Self.consecutive(Self.events(log)))
        #expect(try shell("sqlite3 \(state)/mirror.sqlite 'PRAGMA integrity_check'").output == "ok\n")
        #expect(d.stop().1 == 0)
    }

    static func inSeconds(_ seconds: Double) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date().addingTimeInterval(seconds))
    }
}
