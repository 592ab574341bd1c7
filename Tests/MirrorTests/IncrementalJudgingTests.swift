import Foundation
import Testing
@testable import Mirror
@testable import PlanCore
import Support

/// Incremental judging (only plans whose inputs changed) must decide exactly what judging
/// every plan from scratch decides: two mirrors get the same random sequence of feed changes,
/// configuration changes and failures; one is judged incrementally, the other in full, and
/// after every step their verdicts, alerts and alert events are compared. A third mirror,
/// judged in full on several threads, must decide the same as the one judged on one.
@Suite struct IncrementalJudgingTests {
    /// Plans from one template: the same indicator codes, different targets.
    static func plans(version: Int) -> [Plan] {
        (0..<4).map { p in
            Plan(
                id: "county-\(p)", title: "县 \(p)",
                indicators: [
                    Indicator(
                        code: "gdp", name: "地区生产总值", category: .expected, unit: "亿元",
                        targets: [
                            Target(year: 2022, rule: .growthAtLeast(Figure("\(5 + p + version % 2)")!)),
                            Target(year: 2023, rule: .growthAtLeast(Figure("6")!)),
                        ]),
                    Indicator(
                        code: "jobs", name: "失业率", category: .binding, unit: "%",
                        targets: [Target(year: 2022, rule: .atMost(Figure("3.\(p)")!)), Target(year: 2023, rule: .atMost(Figure("3.5")!))]),
                    Indicator(
                        code: "energy", name: "单位GDP能耗", category: .binding, unit: "%",
                        targets: [Target(year: 2023, rule: .declineAtLeast(Figure("2.\(p)")!))]),
                ])
        }
    }

    /// Feeds: one per plan, and a second, lower-priority one for the first two plans.
    static func feeds(priorityShift: Int) -> [FeedPolicy] {
        (0..<4).map { FeedPolicy(id: "f\($0)", plan: "county-\($0)", priority: 2, failingAfter: 2, staleAfter: 86400) }
            + (0..<2).map { FeedPolicy(id: "g\($0)", plan: "county-\($0)", priority: 1 + priorityShift, failingAfter: 2, staleAfter: 86400) }
    }

    /// Everything judging leaves in a mirror, comparable across mirrors.
    static func state(_ path: String) throws -> String {
        try sqlite(
            path,
            """
            SELECT plan_id, indicator, year, status, json FROM verdict ORDER BY 1, 2, 3;
            SELECT '--';
            SELECT key, alert, state, severity, details, message FROM alert ORDER BY key;
            SELECT '--';
            SELECT seq, key, event, alert, severity, line FROM alert_event ORDER BY seq;
            """)
    }

    @Test(arguments: [1, 2, 3])
    func incrementalJudgingDecidesWhatJudgingEverythingDecides(seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        let incremental = temporaryDatabase(), scratch = temporaryDatabase(), parallel = temporaryDatabase()
        // The third judges in full too, on three threads beside its writer.
        let mirrors = [try Mirror(path: incremental), try Mirror(path: scratch), try Mirror(path: parallel, judgingThreads: 3)]
        var version = 0, shift = 0, configured = Self.plans(version: 0)
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        func configure() async throws {
            for mirror in mirrors {
                try await mirror.mirrorConfiguration(
                    plans: configured.map { ($0, "\($0.id).toml") },
                    feeds: Self.feeds(priorityShift: shift).filter { f in configured.contains { $0.id == f.plan } }.map {
                        FeedDescription(id: $0.id, plan: $0.plan, url: "file:///\($0.id).csv", format: "csv", priority: $0.priority, interval: 60)
                    }, now: now)
            }
        }
        try await configure()
        var rejudgedTotal = 0, steps = 0
        for step in 0..<40 {
            let time = now.addingTimeInterval(Double(step) * 600)
            switch random.next(below: 10) {
            case 0:
                // A new plan version (targets move) for every plan.
                version += 1
                configured = Self.plans(version: version).filter { p in configured.contains { $0.id == p.id } }
                try await configure()
            case 1:
                // Feed priorities swap (the conflicts' winners change).
                shift = shift == 0 ? 2 : 0
                try await configure()
            case 2:
                // A plan leaves the configuration, or every plan comes back.
                if configured.count > 2 {
                    configured.remove(at: random.next(below: configured.count))
                } else {
                    configured = Self.plans(version: version)
                }
                try await configure()
            case 3:
                // A feed fails.
                let feed = Self.feeds(priorityShift: shift)[random.next(below: 6)].id
                for mirror in mirrors { _ = try await mirror.recordFailure(record(feed, outcome: .timeout, at: time)) }
            default:
                // A feed publishes new or revised figures for a few indicators.
                let feed = Self.feeds(priorityShift: shift)[random.next(below: 6)]
                var figures: [Observation] = []
                for _ in 0..<(1 + random.next(below: 3)) {
                    let code = ["gdp", "jobs", "energy"][random.next(below: 3)]
                    let year = 2022 + random.next(below: 2)
                    let measure: Measure = code == "jobs" ? .level : .growth
                    let value = code == "energy" ? "-\(random.next(below: 5)).\(random.next(below: 10))" : "\(random.next(below: 9)).\(random.next(below: 10))"
                    if random.next(below: 3) == 0 {
                        // A year-to-date figure of the year.
                        figures.append(
                            Observation(
                                indicator: code, period: try Period(parsing: "\(year)-\(String(format: "%02d", 3 + random.next(below: 9)))"),
                                measure: measure, value: Figure(value)!, cumulative: true, feed: feed.id))
                    } else {
                        figures.append(obs(code, String(year), measure, value, feed: feed.id))
                    }
                }
                for mirror in mirrors {
                    _ = try await mirror.reconcile(record(feed.id, at: time), plan: feed.plan, observations: figures, skipped: 0)
                }
            }
            let policies = Self.feeds(priorityShift: shift).filter { f in configured.contains { $0.id == f.plan } }
            let a = try await mirrors[0].judge(plans: configured, feeds: policies, now: time)
            let b = try await mirrors[1].judge(plans: configured, feeds: policies, now: time, full: true)
            let c = try await mirrors[2].judge(plans: configured, feeds: policies, now: time, full: true)
            #expect(a.events.map(\.line) == b.events.map(\.line), "step \(step)")
            #expect(c.events.map(\.line) == b.events.map(\.line), "step \(step)")
            #expect(c.verdicts == b.verdicts, "step \(step)")
            #expect(try Self.state(parallel) == Self.state(scratch), "step \(step)")
            #expect(b.rejudged.count == configured.count)
            rejudgedTotal += a.rejudged.count
            steps += 1
            #expect(try Self.state(incremental) == Self.state(scratch), "step \(step)")
            // The alert counts kept by triggers agree with counting the alerts.
            #expect(
                try sqlite(incremental, "SELECT state, severity, COUNT(*) FROM alert GROUP BY 1, 2;")
                    == sqlite(incremental, "SELECT state, severity, n FROM alert_count WHERE n > 0 ORDER BY 1, 2;"), "step \(step)")
        }
        // Incremental judging did skip work: most steps touch one feed of one plan.
        #expect(rejudgedTotal < steps * 4 / 2, "\(rejudgedTotal) plan judgements in \(steps) steps")
    }
}

/// A small deterministic generator (SplitMix64), so a failing seed can be replayed.
struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next(below bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Int(z % UInt64(bound))
    }
}

@Suite struct FetchRetentionTests {
    @Test func oldFetchesThatChangedNothingArePrunedAndTheirCountsKept() async throws {
        let path = temporaryDatabase()
        let mirror = try await preparedMirror(path: path)
        let old = Date().addingTimeInterval(-200 * 86400)
        // An old fetch that inserted a figure (its row is named by the observation), old
        // unchanged and failed fetches, and a recent unchanged one.
        _ = try await mirror.reconcile(record("a", at: old), plan: "p", observations: [obs("gdp", "2022", .growth, "3.0")], skipped: 0)
        for day in 1...3 { try await mirror.recordUnchanged(record("a", outcome: .notModified, at: old.addingTimeInterval(Double(day) * 86400))) }
        try await mirror.recordFailure(record("b", outcome: .timeout, at: old.addingTimeInterval(86400)))
        try await mirror.recordUnchanged(record("b", outcome: .notModified, at: old.addingTimeInterval(2 * 86400)))
        try await mirror.recordUnchanged(record("a", outcome: .notModified, at: Date()))
        #expect(try sqlite(path, "SELECT COUNT(*) FROM fetch;") == "7")
        let removed = try await mirror.pruneFetches(before: Date().addingTimeInterval(-90 * 86400))
        // Kept: the inserting fetch (observations point at it), b's last fetch, the recent one.
        #expect(removed == 4)
        #expect(try sqlite(path, "SELECT outcome FROM fetch ORDER BY id;") == "ok\nnot_modified\nnot_modified")
        #expect(try sqlite(path, "SELECT COUNT(*) FROM observation o JOIN fetch f ON f.id = o.first_fetch_id;") == "1")
        // The counters behind plansync_feed_fetches_total still count every fetch.
        let statuses = try await mirror.feedStatuses()
        #expect(statuses.first { $0.id == "a" }?.fetchCounts == ["ok": 1, "not_modified": 4])
        #expect(statuses.first { $0.id == "b" }?.fetchCounts == ["timeout": 1, "not_modified": 1])
    }
}
