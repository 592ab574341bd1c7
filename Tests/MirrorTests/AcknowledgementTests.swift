import Foundation
import Testing
@testable import Mirror
@testable import PlanCore
import Support

/// Acknowledgements and silences as the mirror records them: which events, muted or not,
/// exactly once, and nothing changed by a refused request.
@Suite struct AcknowledgementTests {
    static let policies = [FeedPolicy(id: "a", plan: "p", priority: 2, failingAfter: 3, staleAfter: 365 * 86400)]
    static let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    /// A mirror with `plan` (tolerance set) judged on a year-to-date gdp growth figure.
    func mirror(tolerance: String = "0", ytd: String = "4.0") async throws -> (Mirror, Plan) {
        let mirror = try await preparedMirror()
        var p = plan
        p.paceTolerance = Figure(tolerance)!
        try await mirror.mirrorConfiguration(plans: [(p, "p.toml")], feeds: [], now: Self.t0)
        try await feed(mirror, p, [("2022-06", ytd, true)], at: Self.t0)
        return (mirror, p)
    }

    func feed(_ mirror: Mirror, _ p: Plan, _ figures: [(String, String, Bool)], at time: Date) async throws {
        let observations = figures.map { period, value, cumulative in
            Observation(indicator: "gdp", period: try! Period(parsing: period), measure: .growth, value: Figure(value)!, cumulative: cumulative, feed: "a")
        }
        _ = try await mirror.reconcile(record("a", at: time), plan: "p", observations: observations, skipped: 0)
        _ = try await mirror.judge(plans: [p], feeds: Self.policies, now: time)
    }

    func events(_ mirror: Mirror) async throws -> [JSONValue] {
        try await mirror.events(after: 0, limit: 1000).map { try JSONParser.parse(Array($0.line.utf8)) }
    }

    @Test func anAtRiskAcknowledgementHoldsWhenBetterAndBreaksOnceWhenMissed() async throws {
        let (mirror, p) = try await mirror()
        let key = "p/gdp/2022/target_at_risk"
        #expect(try await events(mirror).map { $0["key"]?.stringValue } == [key])
        let ack = try await mirror.acknowledge(key: key, note: "上半年受疫情影响", by: "张三", until: nil, untilNextRelease: false, now: Self.t0 + 60).get()
        #expect(ack.eventSeqs == 2..<3)
        #expect(ack.plans == ["p"])
        // Better (shortfall 2.0 → 1.5): nothing recorded, the acknowledgement holds.
        try await feed(mirror, p, [("2022-09", "4.5", true)], at: Self.t0 + 120)
        #expect(try await events(mirror).count == 2)
        #expect(try await mirror.acksJSON().count == 1)
        // Missed for the year: broken, and the one notification is the missed alert's firing.
        try await feed(mirror, p, [("2022", "3.0", false)], at: Self.t0 + 180)
        let all = try await events(mirror)
        #expect(all.map { $0["event"]?.stringValue ?? "" } == ["firing", "acknowledged", "ack_broken", "resolved", "firing"])
        #expect(all.map { $0["seq"] } == (1...5).map { JSONValue.int($0) })
        #expect(all[2]["muted"]?.stringValue == "notified as p/gdp/2022/target_missed")
        #expect(all[3]["muted"]?.stringValue == "acknowledged")
        #expect(all[3]["ack"]?["end_reason"]?.stringValue == "broken")
        #expect(all[4]["muted"] == nil && all[4]["key"]?.stringValue == "p/gdp/2022/target_missed")
        #expect(try await mirror.acksJSON().isEmpty)
        let history = try await mirror.acksJSON(history: true)
        #expect(history.first?["note"]?.stringValue == "上半年受疫情影响")
        #expect(history.first?["end_reason"]?.stringValue == "broken")
    }

    @Test func aShortfallMayGrowByThePlansToleranceBeforeTheAcknowledgementBreaks() async throws {
        let (mirror, p) = try await mirror(tolerance: "1.0")
        let key = "p/gdp/2022/target_at_risk"
        _ = try await mirror.acknowledge(key: key, note: "n", by: "b", until: nil, untilNextRelease: false, now: Self.t0).get()
        // 2.0 → 2.8: within 1 pp, holds.
        try await feed(mirror, p, [("2022-07", "3.2", true)], at: Self.t0 + 60)
        #expect(try await events(mirror).count == 2)
        // 2.0 → 3.5: broken, notified (not muted), the alert still firing.
        try await feed(mirror, p, [("2022-08", "2.5", true)], at: Self.t0 + 120)
        let last = try #require(try await events(mirror).last)
        #expect(last["event"]?.stringValue == "ack_broken")
        #expect(last["muted"] == nil)
        #expect(last["message"]?.stringValue?.contains("shortfall grew from 2.0 to 3.5 pp") == true, "\(last)")
        #expect(try await mirror.alertsJSON(state: "firing").first?["ack"] == .null)
    }

    @Test func expiriesNotifyOnceAndResolutionEndsAnAcknowledgementWithItsNote() async throws {
        let (mirror, p) = try await mirror()
        let key = "p/gdp/2022/target_at_risk"
        _ = try await mirror.acknowledge(key: key, note: "n", by: "b", until: Self.t0 + 100, untilNextRelease: false, now: Self.t0).get()
        #expect(try await mirror.nextDeadline() == Self.t0 + 100)
        #expect(try await mirror.applyDeadlines(now: Self.t0 + 99).eventSeqs.isEmpty)
        #expect(try await mirror.applyDeadlines(now: Self.t0 + 100).eventSeqs == 3..<4)
        #expect(try await mirror.applyDeadlines(now: Self.t0 + 200).eventSeqs.isEmpty, "once")
        #expect(try await events(mirror).last?["event"]?.stringValue == "ack_expired")
        #expect(try await mirror.nextDeadline() == nil)
        // Until the next figure: a revision of a known figure is not one; a new period is.
        _ = try await mirror.acknowledge(key: key, note: "等三季度数据", by: "b", until: nil, untilNextRelease: true, now: Self.t0 + 300).get()
        try await feed(mirror, p, [("2022-06", "4.1", true)], at: Self.t0 + 400)
        #expect(try await events(mirror).count == 4)
        try await feed(mirror, p, [("2022-09", "4.1", true)], at: Self.t0 + 500)
        let expired = try #require(try await events(mirror).last)
        #expect(expired["event"]?.stringValue == "ack_expired" && expired["ack"]?["end_reason"]?.stringValue == "next_release")
        // Met: resolved, notified, carrying the acknowledgement that was in force.
        _ = try await mirror.acknowledge(key: key, note: "full-year figure pending", by: "b", until: nil, untilNextRelease: false, now: Self.t0 + 600).get()
        try await feed(mirror, p, [("2022", "6.5", false)], at: Self.t0 + 700)
        let resolved = try #require(try await events(mirror).last)
        #expect(resolved["event"]?.stringValue == "resolved" && resolved["muted"] == nil)
        #expect(resolved["ack"]?["note"]?.stringValue == "full-year figure pending")
        #expect(resolved["ack"]?["end_reason"]?.stringValue == "resolved")
    }

    @Test func silencesMuteMatchingAlertsAndNotifyWhatStillFiresOnceAtTheirEnd() async throws {
        let (mirror, p) = try await mirror()
        let silence = try await mirror.silence(SilenceRequest(indicators: ["gdp"], until: Self.t0 + 1000, note: "修编中", by: "b"), now: Self.t0).get()
        #expect(silence.json["id"] == .int(1))
        #expect(silence.eventSeqs.isEmpty)
        // Resolves and fires again while silenced: recorded, muted.
        try await feed(mirror, p, [("2022-07", "6.5", true)], at: Self.t0 + 10)
        try await feed(mirror, p, [("2022-08", "3.0", true)], at: Self.t0 + 20)
        let muted = try await events(mirror).dropFirst()
        #expect(muted.map { $0["event"]?.stringValue ?? "" } == ["resolved", "firing"])
        #expect(muted.allSatisfy { $0["muted"]?.stringValue == "silence 1" })
        // Another silence on something else changes nothing here.
        _ = try await mirror.silence(SilenceRequest(feeds: ["zz"], until: Self.t0 + 50, note: "x", by: "b"), now: Self.t0 + 30).get()
        #expect(try await mirror.applyDeadlines(now: Self.t0 + 60).eventSeqs.isEmpty)
        // The end: the alert still firing is notified once.
        let end = try await mirror.applyDeadlines(now: Self.t0 + 1000)
        #expect(end.eventSeqs.count == 1)
        let last = try #require(try await events(mirror).last)
        #expect(last["event"]?.stringValue == "silence_ended" && last["muted"] == nil)
        #expect(try await mirror.applyDeadlines(now: Self.t0 + 2000).eventSeqs.isEmpty)
        let history = try await mirror.silencesJSON(history: true)
        #expect(history.map { $0["end_reason"]?.stringValue } == ["expired", "expired"])
    }

    @Test func badRequestsAreRefusedAndChangeNothing() async throws {
        let (mirror, _) = try await mirror()
        let key = "p/gdp/2022/target_at_risk"
        let before = try sqlite(mirror.path, "SELECT COUNT(*) FROM ack; SELECT COUNT(*) FROM silence; SELECT MAX(seq) FROM alert_event;")
        let now = Self.t0 + 10
        let refusals: [(Result<AckChange, AckFailure>, String)] = [
            (await mirror.acknowledge(key: "p/nope", note: "n", by: "b", until: nil, untilNextRelease: false, now: now), "no alert has the key"),
            (await mirror.acknowledge(key: key, note: "  ", by: "b", until: nil, untilNextRelease: false, now: now), "note is empty"),
            (await mirror.acknowledge(key: key, note: "n", by: "", until: nil, untilNextRelease: false, now: now), "by is empty"),
            (await mirror.acknowledge(key: key, note: "n", by: "b", until: Self.t0, untilNextRelease: false, now: now), "not in the future"),
            (await mirror.acknowledge(key: key, note: "n", by: "b", until: now + 60, untilNextRelease: true, now: now), "not both"),
            (
                await mirror.acknowledge(key: key, note: String(repeating: "说", count: 2001), by: "b", until: nil, untilNextRelease: false, now: now),
                "at most 2000"
            ),
            (await mirror.unacknowledge(key: key, by: "b", now: now), "no acknowledgement in force"),
            (await mirror.silence(SilenceRequest(until: now + 60, note: "n", by: "b"), now: now), "at least one of"),
            (await mirror.silence(SilenceRequest(alerts: ["target_mised"], until: now + 60, note: "n", by: "b"), now: now), "unknown alert kind"),
            (await mirror.silence(SilenceRequest(plans: ["p"], until: now, note: "n", by: "b"), now: now), "not in the future"),
            (await mirror.unsilence(id: 7, by: "b", now: now), "no silence 7"),
        ]
        for (result, words) in refusals {
            guard case .failure(let failure) = result else {
                Issue.record("accepted; expected \(words)")
                continue
            }
            #expect(failure.description.contains(words), "\(failure)")
        }
        #expect(try sqlite(mirror.path, "SELECT COUNT(*) FROM ack; SELECT COUNT(*) FROM silence; SELECT MAX(seq) FROM alert_event;") == before)
        // A feed alert cannot wait for a release.
        #expect(try await mirror.silencesJSON().isEmpty)
    }
}
