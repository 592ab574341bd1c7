import Foundation
import Testing
@testable import Mirror
@testable import PlanCore
import TestSupport
import Support

func temporaryDatabase() -> String {
    let dir = NSTemporaryDirectory() + "plansync-mirror-\(UUID().uuidString)"
    return dir + "/mirror.sqlite"
}

let plan = Plan(
    id: "p", title: "计划",
    indicators: [
        Indicator(
            code: "gdp", name: "地区生产总值", category: .expected, unit: "亿元",
            targets: [Target(year: 2022, rule: .growthAtLeast(Figure("6.0")!))]),
        Indicator(
            code: "jobs", name: "失业率", category: .binding, unit: "%",
            targets: [Target(year: 2022, rule: .atMost(Figure("3.0")!))]),
    ])

func obs(_ indicator: String, _ period: String, _ measure: Measure, _ value: String, feed: String = "a") -> Observation {
    Observation(indicator: indicator, period: try! Period(parsing: period), measure: measure, value: Figure(value)!, feed: feed)
}

func record(_ feed: String = "a", outcome: FetchOutcome = .ok, at: Date = Date()) -> FetchRecord {
    FetchRecord(feed: feed, startedAt: at, finishedAt: at, outcome: outcome, bytes: 10)
}

/// A mirror with plan `p` and feeds `a` (priority 2) and `b` (priority 1).
func preparedMirror(path: String = temporaryDatabase()) async throws -> Mirror {
    let mirror = try Mirror(path: path)
    try await mirror.mirrorConfiguration(
        plans: [(plan, "p.toml")],
        feeds: [
            FeedDescription(id: "a", plan: "p", url: "file:///a.csv", format: "csv", priority: 2, interval: 60),
            FeedDescription(id: "b", plan: "p", url: "https://***@example.org/b.csv", format: "csv", priority: 1, interval: 60),
        ], now: Date())
    return mirror
}

/// Runs the sqlite3 command line on a database.
func sqlite(_ path: String, _ sql: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    process.arguments = [path]
    let input = Pipe(), output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = output
    try process.run()
    input.fileHandleForWriting.write(Data(sql.utf8))
    try input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite struct TimestampTests {
    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00Z"), (1_700_000_000.9, "2023-11-14T22:13:20Z"),
        (951_782_400, "2000-02-29T00:00:00Z"), (4_102_444_799, "2099-12-31T23:59:59Z"),
    ])
    func formatsRFC3339UTCAndParsesBack(seconds: Double, text: String) {
        #expect(Timestamp.string(Date(timeIntervalSince1970: seconds)) == text)
        #expect(Timestamp.date(text) == Date(timeIntervalSince1970: seconds.rounded(.down)))
    }

    @Test(arguments: [
        "", "2023-11-14", "2023-1X-14T22:13:20Z", "+023-11-14T22:13:20Z", "2023-11-14 22:13:20Z",
        "2023-11-14T22:13:20", "2023-11-14T22:13:20+08:00",
    ])
    func rejectsAnythingElse(text: String) {
        #expect(Timestamp.date(text) == nil)
    }
}

@Suite struct SchemaTests {
    @Test func migratesAnEmptyFileIntoWALWithEveryTableAndView() async throws {
        let path = temporaryDatabase()
        _ = try await preparedMirror(path: path)
        let tables = try sqlite(path, "SELECT name FROM sqlite_master WHERE type IN ('table','view') ORDER BY name;")
        for name in [
            "plan", "indicator", "target", "feed", "fetch", "observation", "revision", "verdict", "alert",
            "alert_event", "current_verdict", "firing_alert", "observation_by_source", "sink_cursor", "judged_plan", "ack", "silence",
        ] {
            #expect(tables.split(separator: "\n").contains(Substring(name)), "missing \(name)")
        }
        #expect(try sqlite(path, "PRAGMA journal_mode;") == "wal")
        #expect(try sqlite(path, "PRAGMA user_version;") == "8")
        // Observations are keyed by feed first (one plan's rows are one range of the key).
        #expect(
            try sqlite(
                path,
                "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_xinfo((SELECT name FROM pragma_index_list('observation') WHERE origin = 'pk')) WHERE key = 1 ORDER BY seqno);"
            )
                == "feed_id,indicator,period,measure,cumulative,base_year")
        #expect(try sqlite(path, "SELECT name FROM indicator WHERE code='gdp';") == "地区生产总值")
        #expect(try sqlite(path, "SELECT url FROM feed WHERE id='b';") == "https://***@example.org/b.csv")
    }

    @Test func reopeningMigratesNothingAndKeepsData() async throws {
        let path = temporaryDatabase()
        let first = try await preparedMirror(path: path)
        _ = try await first.reconcile(record(), plan: "p", observations: [obs("gdp", "2022", .growth, "3.0")], skipped: 0)
        let second = try Mirror(path: path)
        #expect(try await second.counts()["observation"] == 1)
    }

    @Test func aNewerSchemaIsRefused() async throws {
        let path = temporaryDatabase()
        _ = try await preparedMirror(path: path)
        _ = try sqlite(path, "PRAGMA user_version = 9;")
        #expect {
            try Mirror(path: path)
        } throws: { error in
            "\(error)".contains("written by a newer plansync (schema 9; this plansync knows up to 8)")
        }
    }

    @Test func anUnknownMigrationIsRefused() async throws {
        let path = temporaryDatabase()
        _ = try await preparedMirror(path: path)
        _ = try sqlite(path, "INSERT INTO grdb_migrations VALUES ('v9-future');")
        #expect(throws: MirrorError.self) { try Mirror(path: path) }
    }

    @Test func aFileThatIsNotADatabaseIsRefusedClearly() throws {
        let path = temporaryDatabase()
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try String(repeating: "not a database\n", count: 100).write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            try Mirror(path: path)
        } throws: { error in
            "\(error)".contains("not a plansync database")
        }
    }

    @Test func readOnlyOpeningOfAMissingFileSaysWhatToDo() {
        #expect {
            try Mirror(path: temporaryDatabase(), readOnly: true)
        } throws: { error in
            "\(error)".contains("run `plansync sync`")
        }
    }
}

@Suite struct ConfigurationMirrorTests {
    @Test func feedsAreUpsertedOnlyWhenChangedAndDroppedOnesGoInactive() async throws {
        let path = temporaryDatabase()
        let mirror = try await preparedMirror(path: path)
        #expect(try sqlite(path, "SELECT id, active, priority FROM feed ORDER BY id;") == "a|1|2\nb|1|1")
        // The same configuration again (a later start) changes nothing, not even created_at.
        let before = try sqlite(path, "SELECT group_concat(id || url || priority || interval_seconds || created_at) FROM feed;")
        try await mirror.mirrorConfiguration(
            plans: [(plan, "p.toml")],
            feeds: [
                FeedDescription(id: "a", plan: "p", url: "file:///a.csv", format: "csv", priority: 2, interval: 60),
                FeedDescription(id: "b", plan: "p", url: "https://***@example.org/b.csv", format: "csv", priority: 1, interval: 60),
            ], now: Date().addingTimeInterval(60))
        #expect(try sqlite(path, "SELECT group_concat(id || url || priority || interval_seconds || created_at) FROM feed;") == before)
        // b leaves the configuration, a changes its priority, c arrives.
        try await mirror.mirrorConfiguration(
            plans: [(plan, "p.toml")],
            feeds: [
                FeedDescription(id: "a", plan: "p", url: "file:///a.csv", format: "csv", priority: 5, interval: 60),
                FeedDescription(id: "c", plan: "p", url: "file:///c.csv", format: "csv", priority: 0, interval: 30),
            ], now: Date())
        #expect(try sqlite(path, "SELECT id, active, priority FROM feed ORDER BY id;") == "a|1|5\nb|0|1\nc|1|0")
        // b comes back.
        try await mirror.mirrorConfiguration(
            plans: [(plan, "p.toml")],
            feeds: [
                FeedDescription(id: "b", plan: "p", url: "https://***@example.org/b.csv", format: "csv", priority: 1, interval: 60)
            ], now: Date())
        #expect(try sqlite(path, "SELECT id, active FROM feed ORDER BY id;") == "a|0\nb|1\nc|0")
    }
}

extension ConfigurationMirrorTests {
    @Test func aPlanIsRewrittenOnlyWhenItsRowsChange() async throws {
        let path = temporaryDatabase()
        let mirror = try await preparedMirror(path: path)
        let feeds = [FeedDescription(id: "a", plan: "p", url: "file:///a.csv", format: "csv", priority: 2, interval: 60)]
        let stamp = try sqlite(path, "SELECT updated_at FROM plan;")
        // The same plan a minute later: nothing is rewritten.
        try await mirror.mirrorConfiguration(plans: [(plan, "p.toml")], feeds: feeds, now: Date().addingTimeInterval(60))
        #expect(try sqlite(path, "SELECT updated_at FROM plan;") == stamp)
        #expect(Mirror.rows(of: plan, file: "p.toml").count == 1 + 2 + 2)
        // A changed target, a renamed indicator and another file: stored as changed.
        var edited = plan
        edited.indicators[1].targets = [Target(year: 2022, rule: .atMost(Figure("3.5")!))]
        edited.indicators[0].name = "GDP"
        try await mirror.mirrorConfiguration(plans: [(edited, "q.toml")], feeds: feeds, now: Date().addingTimeInterval(120))
        #expect(try sqlite(path, "SELECT value FROM target WHERE indicator = 'jobs';") == "3.5")
        #expect(try sqlite(path, "SELECT name FROM indicator WHERE code = 'gdp';") == "GDP")
        #expect(try sqlite(path, "SELECT file FROM plan;") == "q.toml")
        #expect(try sqlite(path, "SELECT updated_at FROM plan;") != stamp)
        try await mirror.mirrorConfiguration(plans: [(edited, "q.toml")], feeds: feeds, now: Date().addingTimeInterval(180))
        #expect(try sqlite(path, "SELECT COUNT(*) FROM target;") == "2")
    }
}

@Suite struct ReconcileTests {
    @Test func insertsUpdatesWithRevisionsAndNeverDeletes() async throws {
        let mirror = try await preparedMirror()
        let first = try await mirror.reconcile(
            record(), plan: "p",
            observations: [
                obs("gdp", "2021", .level, "5300"), obs("gdp", "2022", .growth, "3.0"), obs("jobs", "2022", .level, "2.0"),
            ], skipped: 2)
        #expect(first == ReconcileCounts(inserted: 3, revised: 0, unchanged: 0, skipped: 2))
        // The 2021 level vanished from the feed, the growth was revised, the rate is the same.
        let second = try await mirror.reconcile(
            record(), plan: "p",
            observations: [
                obs("gdp", "2022", .growth, "3.1"), obs("jobs", "2022", .level, "2.00"),
            ], skipped: 0)
        #expect(second == ReconcileCounts(inserted: 0, revised: 1, unchanged: 1, skipped: 0))
        let counts = try await mirror.counts()
        #expect(counts["observation"] == 3)
        #expect(counts["revision"] == 1)
        #expect(counts["fetch"] == 2)
        let history = try await mirror.history(indicator: "gdp", limit: 1000).entries
        let growth = try #require(history.first { $0.measure == "growth" })
        #expect(growth.value == "3.1")
        #expect(growth.revisions.map(\.value) == ["3.0"])
        #expect(growth.revisions.first?.replacedBy == "3.1")
        #expect(history.map(\.period) == ["2022", "2021"])
    }

    @Test func aFailedFetchChangesOnlyItsFetchRowAndTheFailureCount() async throws {
        let mirror = try await preparedMirror()
        _ = try await mirror.reconcile(record(), plan: "p", observations: [obs("gdp", "2022", .growth, "3.0")], skipped: 0)
        var failed = record(outcome: .parseError)
        failed.error = "line 3, column 2: invalid period"
        try await mirror.recordFailure(failed)
        try await mirror.recordFailure(record(outcome: .timeout))
        let state = try #require(try await mirror.feedStates()["a"])
        #expect(state.consecutiveFailures == 2)
        #expect(state.lastError == nil)  // the last failure had no message
        #expect(try await mirror.counts()["observation"] == 1)
        #expect(try await mirror.counts()["fetch"] == 3)
        try await mirror.recordUnchanged(record(outcome: .notModified))
        #expect(try await mirror.feedStates()["a"]?.consecutiveFailures == 0)
    }

    @Test func writesWaitingTogetherShareOneTransactionAndFailAlone() async throws {
        let mirror = try await preparedMirror()
        let before = mirror.commits.transactions
        // A slow write holds the writer while 20 more arrive; they then commit together.
        let started = Guarded(false), release = Guarded(false)
        let slow = Task {
            try await mirror.reconcile(
                record("a"), plan: "p",
                produce: { writer in
                    started.set(true)
                    while !release.current { usleep(1000) }
                    writer.write(obs("gdp", "2000", .level, "1"))
                    return 0
                }
            ).get()
        }
        while !started.current { try await Task.sleep(nanoseconds: 1_000_000) }
        struct Broken: Error {}
        let results = Guarded<[Int: Bool]>([:])
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<20 {
                group.addTask {
                    let outcome = await mirror.reconcile(record(i % 2 == 0 ? "a" : "b"), plan: "p") { writer in
                        writer.write(obs("gdp", "\(2001 + i)", .level, "\(i)", feed: i % 2 == 0 ? "a" : "b"))
                        if i % 5 == 4 { throw Broken() }  // wrote one row, then failed: that row must vanish
                        return 0
                    }
                    results.update { $0[i] = (try? outcome.get()) != nil }
                }
            }
            try? await Task.sleep(nanoseconds: 200_000_000)
            release.set(true)
        }
        _ = try await slow.value
        #expect(mirror.commits.transactions - before == 2, "the 20 waiting writes did not share one transaction")
        let ok = results.current.filter(\.value).map(\.key).sorted()
        #expect(ok == (0..<20).filter { $0 % 5 != 4 })
        let counts = try await mirror.counts()
        #expect(counts["observation"] == 1 + ok.count)
        #expect(counts["fetch"] == 1 + ok.count)
        let periods = try await mirror.history(indicator: "gdp", limit: 1000).entries.map(\.period)
        for i in 0..<20 { #expect(periods.contains("\(2001 + i)") == ok.contains(i), "period \(2001 + i)") }
    }

    @Test func queuedWritesCommitInOrderAndAFailureSurfacesAtTheFlushAlone() async throws {
        let mirror = try await preparedMirror()
        let stored = Guarded<[String]>([])
        mirror.reconcileLater(record("a"), plan: "p", observations: [obs("gdp", "2022", .growth, "3.0")], skipped: 0) { counts in
            stored.update { $0.append("a \(counts.inserted)") }
        }
        mirror.recordLater(record("nope"), failed: false)  // no such feed: the foreign key refuses it
        mirror.recordLater(record("b", outcome: .timeout), failed: true)
        await #expect(throws: MirrorError.self) { try await mirror.flushRecords() }
        #expect(stored.current == ["a 1"])
        let counts = try await mirror.counts()
        #expect(counts["fetch"] == 2, "the two good writes must commit, the bad one alone rolls back")
        #expect(counts["observation"] == 1)
        #expect(try await mirror.feedStates()["b"]?.consecutiveFailures == 1)
        // The failure was reported once: the next flush is clean.
        try await mirror.flushRecords()
    }

    @Test func readingTheWALIndexHeaderKeepsSQLitesLocks() async throws {
        let path = temporaryDatabase()
        let mirror = try await preparedMirror(path: path)
        _ = try await mirror.counts()  // a reader connection is open too
        for _ in 0..<3 { _ = mirror.cache.version() }
        // SQLite's connections hold a shared lock on the WAL index's "in use" byte (128) so no
        // other process rebuilds it under them. Probe it with an open-file-description lock,
        // which conflicts even with this process's own POSIX locks; the probe uses the cache's
        // own descriptor, since closing a new one would itself drop the locks.
        let fd = try #require(ShmDescriptors.descriptor(for: path + "-shm"))
        var probe = flock()
        probe.l_type = Int16(F_WRLCK)
        probe.l_whence = Int16(SEEK_SET)
        probe.l_start = 128
        probe.l_len = 1
        #expect(fcntl(fd, 36 /* F_OFD_GETLK */, &probe) == 0)
        #expect(probe.l_type == Int16(F_RDLCK), "SQLite's lock on the WAL index is gone")
        // And another process sees the database as in use: its close neither checkpoints nor
        // deletes the WAL this process still uses.
        #expect(try sqlite(path, "SELECT COUNT(*) FROM feed;") == "2")
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(try await mirror.counts()["feed"] == 2)
    }

    @Test func cachedStatusAnswersEndWithOwnAndOtherProcessesCommits() async throws {
        let path = temporaryDatabase()
        let mirror = try await preparedMirror(path: path)
        #expect(mirror.cachedStatusCounts() == nil, "nothing read yet")
        #expect(try await mirror.statusCounts().failing == 0)
        #expect(mirror.cachedStatusCounts()?.feeds == 2, "the answer was not kept")
        // Another process (here the sqlite3 shell) commits: the kept answer is no longer used.
        _ = try sqlite(path, "UPDATE feed SET consecutive_failures = 3 WHERE id = 'a';")
        #expect(mirror.cachedStatusCounts() == nil, "an answer from before another process's commit was kept")
        #expect(try await mirror.statusCounts().failing == 1)
        // This process commits.
        #expect(mirror.cachedStatusCounts()?.failing == 1)
        try await mirror.recordFailure(record("b", outcome: .timeout))
        #expect(mirror.cachedStatusCounts() == nil, "an answer from before this process's commit was kept")
        #expect(try await mirror.statusCounts().failing == 2)
        // Verdict texts likewise, per plan and year.
        #expect(mirror.cachedVerdictTexts(plan: "p", year: 2022) == nil)
        _ = try await mirror.verdictTexts(plan: "p", year: 2022)
        #expect(mirror.cachedVerdictTexts(plan: "p", year: 2022) != nil)
        #expect(mirror.cachedVerdictTexts(plan: "p", year: 2023) == nil)
        _ = try await mirror.judge(plans: [plan], feeds: [], now: Date())
        #expect(mirror.cachedVerdictTexts(plan: "p", year: 2022) == nil)
        #expect(try await mirror.verdictTexts(plan: "p", year: 2022).count == 2)
    }

    @Test func cachedVerdictsOutliveGroupCommitsButNotOtherCommits() async throws {
        let path = temporaryDatabase()
        let mirror = try await preparedMirror(path: path)
        _ = try await mirror.judge(plans: [plan], feeds: JudgementTests().feeds, now: Date())
        let texts = try await mirror.verdictTexts(plan: "p")
        #expect(mirror.cachedStatusCounts() == nil)
        _ = try await mirror.statusCounts()
        // Per-feed writes (fetches, observations) share group commits: they change no verdict.
        try await mirror.recordFailure(record("b", outcome: .timeout))
        _ = try await mirror.reconcile(record(), plan: "p", observations: [obs("gdp", "2022", .growth, "9.0")], skipped: 0)
        #expect(mirror.cachedVerdictTexts(plan: "p") == texts, "a group commit dropped the verdicts")
        #expect(mirror.cachedStatusCounts() == nil, "the status counts outlived a group commit")
        // Judging (another kind of commit) ends them.
        _ = try await mirror.judge(plans: [plan], feeds: JudgementTests().feeds, now: Date())
        #expect(mirror.cachedVerdictTexts(plan: "p") == nil)
        let judged = try await mirror.verdictTexts(plan: "p")
        #expect(judged != texts, "9.0 is judged differently from the fixture's figure")
        // Another process rewrites a verdict, then this process group-commits before anyone
        // asks: the WAL index then shows this process's commit last, and only the writer's
        // `data_version` tells that another connection committed in between.
        _ = try sqlite(path, "UPDATE verdict SET json = json || ' ' WHERE plan_id = 'p';")
        try await mirror.recordFailure(record("b", outcome: .timeout))
        #expect(mirror.cachedVerdictTexts(plan: "p") == nil, "an answer from before another process's commit was kept")
        let rewritten = try await mirror.verdictTexts(plan: "p")
        #expect(rewritten.allSatisfy { $0.hasSuffix(" ") })
        #expect(mirror.cachedVerdictTexts(plan: "p") == rewritten)
        // And a commit by another process with no group commit after it.
        _ = try sqlite(path, "UPDATE verdict SET json = trim(json) WHERE plan_id = 'p';")
        #expect(mirror.cachedVerdictTexts(plan: "p") == nil)
        #expect(try await mirror.verdictTexts(plan: "p") == judged)
    }

    @Test func readersDoNotWaitForAnOpenWriteTransaction() async throws {
        let path = temporaryDatabase()
        let mirror = try await preparedMirror(path: path)
        _ = try await mirror.reconcile(record(), plan: "p", observations: [obs("gdp", "2022", .growth, "3.0")], skipped: 0)
        // Another process opens a write transaction, deletes everything and holds it for up to 30 s.
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        writer.arguments = [path]
        let input = Pipe()
        writer.standardInput = input
        writer.standardOutput = FileHandle.nullDevice
        try writer.run()
        input.fileHandleForWriting.write(Data("BEGIN IMMEDIATE;\nDELETE FROM observation;\n.shell touch \(path).locked\n.shell sleep 30\nCOMMIT;\n".utf8))
        try input.fileHandleForWriting.close()
        defer { if writer.isRunning { kill(writer.processIdentifier, SIGKILL) } }
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: path + ".locked") { try await Task.sleep(nanoseconds: 50_000_000) }
        #expect(FileManager.default.fileExists(atPath: path + ".locked"))
        // A reader answers while the writer still holds its transaction, and does not see the delete.
        let reader = try Mirror(path: path, readOnly: true)
        let count = try await reader.counts()["observation"]
        #expect(writer.isRunning, "the read returned only after the writer finished")
        #expect(count == 1)
    }
}

@Suite struct JudgementTests {
    let feeds = [
        FeedPolicy(id: "a", plan: "p", priority: 2, failingAfter: 2, staleAfter: 3600),
        FeedPolicy(id: "b", plan: "p", priority: 1, failingAfter: 2, staleAfter: 3600),
    ]

    /// The mirror loads the years a multi-year target's path reads (between its base and its
    /// year), and stores the pace fields with the verdict.
    @Test func aFiveYearTargetIsJudgedOnItsPathFromTheMirror() async throws {
        let fiveYear = Plan(
            id: "p", title: "计划",
            indicators: [
                Indicator(
                    code: "gdp", name: "单位GDP能耗", category: .binding, unit: "%",
                    targets: [Target(year: 2025, rule: .declineVsBaseAtLeast(Figure("13.5")!, baseYear: 2020))])
            ])
        let mirror = try await preparedMirror()
        let now = Date()
        _ = try await mirror.reconcile(
            record(at: now), plan: "p",
            observations: [obs("gdp", "2023", .changeVsBase, "-7.0")].map { o in
                var o = o
                o.baseYear = 2020
                return o
            }, skipped: 0)
        let judged = try await mirror.judge(plans: [fiveYear], feeds: feeds, now: now)
        let verdict = try #require(judged.verdicts.first)
        #expect(verdict.status == .atRisk && verdict.period == .year(2023))
        #expect(verdict.pace == Pace(expectedToDate: Figure("-8.33"), requiredPerYear: Figure("-3.56")))
        let stored = try await mirror.verdictTexts(plan: "p")
        #expect(stored.first?.hasSuffix(#""expected_to_date":-8.33,"required_per_year":-3.56}"#) == true)
        #expect(judged.events.first?.action?.message.hasSuffix("；按匀速路径 2023 年应达 -8.3%，此后每年需 -3.6%") == true)
    }

    /// A figure falling overdue changes nothing the mirror stores but the clock: the plan is
    /// judged again once its `recheck_at` passes, with no feed or plan change, and the alert
    /// resolves when the figure arrives.
    @Test func dataOverdueFiresWhenTheClockPassesTheDueDateAndResolvesOnArrival() async throws {
        let schedule = ReleaseSchedule(frequency: .monthly, lagDays: 15, grace: 86_400)
        let watched = Plan(
            id: "p", title: "计划",
            indicators: [
                Indicator(
                    code: "gdp", name: "地区生产总值", category: .expected, unit: "%",
                    targets: [Target(year: 2024, rule: .growthAtLeast(Figure("5.0")!))], release: schedule)
            ], timeZone: "UTC")
        let mirror = try await preparedMirror()
        // Feeds that never go stale here: only release events are looked at.
        let feeds = self.feeds.map { f in
            var f = f
            f.staleAfter = 1e10
            return f
        }
        let formatter = ISO8601DateFormatter()
        let april10 = formatter.date(from: "2024-04-10T00:00:00Z")!
        _ = try await mirror.reconcile(
            record(at: april10), plan: "p",
            observations: [obs("gdp", "2024-01", .growth, "5.5"), obs("gdp", "2024-02", .growth, "5.5"), obs("gdp", "2024-03", .growth, "5.5")]
                .map { o in
                    var o = o
                    o.cumulative = true
                    return o
                }, skipped: 0)
        _ = try await mirror.judge(plans: [watched], feeds: feeds, now: april10)
        // 17 May: April (due 16 May 00:00, a day's grace) is not overdue yet; nothing to judge.
        let may16 = formatter.date(from: "2024-05-16T12:00:00Z")!
        let notYet = try await mirror.judge(plans: [watched], feeds: feeds, now: may16)
        #expect(notYet.events.isEmpty, "\(notYet.events.compactMap(\.action?.key))")
        // 17 May, after the grace: judged again (nothing else changed), April is overdue.
        let may17 = formatter.date(from: "2024-05-17T00:00:01Z")!
        let overdue = try await mirror.judge(plans: [watched], feeds: feeds, now: may17)
        #expect(overdue.events.compactMap(\.action?.key) == ["p/gdp/2024-04/data_overdue"])
        #expect(overdue.events.first?.action?.event == .firing)
        #expect(try await mirror.judge(plans: [watched], feeds: feeds, now: may17.addingTimeInterval(60)).events.isEmpty, "exactly once")
        // The figure arrives: resolved.
        var april = obs("gdp", "2024-04", .growth, "5.6")
        april.cumulative = true
        _ = try await mirror.reconcile(record(at: may17), plan: "p", observations: [april], skipped: 0)
        let arrived = try await mirror.judge(plans: [watched], feeds: feeds, now: may17.addingTimeInterval(120))
        #expect(arrived.events.compactMap(\.action?.event) == [.resolved])
    }

    /// As of a moment: a figure counts from the fetch that first brought it, with the value it
    /// had then (a later revision shows its earlier value).
    @Test func verdictsAsOfAMomentUseTheFiguresKnownThen() async throws {
        let mirror = try await preparedMirror()
        let formatter = ISO8601DateFormatter()
        func at(_ text: String) -> Date { formatter.date(from: text)! }
        _ = try await mirror.reconcile(
            record(at: at("2023-01-20T00:00:00Z")), plan: "p", observations: [obs("gdp", "2022", .growth, "5.5")], skipped: 0)
        _ = try await mirror.reconcile(
            record(at: at("2023-03-01T00:00:00Z")), plan: "p", observations: [obs("gdp", "2022", .growth, "6.1")], skipped: 0)
        _ = try await mirror.reconcile(
            record("b", at: at("2023-02-01T00:00:00Z")), plan: "p", observations: [obs("jobs", "2022", .level, "2.8", feed: "b")], skipped: 0)
        let priorities = ["a": 2, "b": 1]
        func verdicts(_ time: String) async throws -> [String: (VerdictStatus, String?)] {
            var result: [String: (VerdictStatus, String?)] = [:]
            for v in try await mirror.verdicts(plan: plan, priorities: priorities, asOf: at(time)) {
                result[v.indicator] = (v.status, v.actual?.description)
            }
            return result
        }
        let before = try await verdicts("2023-01-01T00:00:00Z")
        #expect(before["gdp"]?.0 == .noData && before["jobs"]?.0 == .noData)
        let january = try await verdicts("2023-01-25T00:00:00Z")
        #expect(january["gdp"]?.0 == .missed && january["gdp"]?.1 == "5.5", "the first value, before its revision")
        #expect(january["jobs"]?.0 == .noData, "feed b's figure came later")
        let february = try await verdicts("2023-02-15T00:00:00Z")
        #expect(february["gdp"]?.1 == "5.5" && february["jobs"]?.0 == .met)
        let now = try await verdicts("2023-03-01T00:00:00Z")
        #expect(now["gdp"]?.0 == .met && now["gdp"]?.1 == "6.1", "revised at that moment")
    }

    @Test func eventsFireOnceAndResolveWhenTheConditionEnds() async throws {
        let mirror = try await preparedMirror()
        let now = Date()
        _ = try await mirror.reconcile(record(at: now), plan: "p", observations: [obs("gdp", "2022", .growth, "3.0")], skipped: 0)
        try await mirror.recordUnchanged(record("b", at: now))
        let first = try await mirror.judge(plans: [plan], feeds: feeds, now: now)
        #expect(first.events.map(\.seq) == [1])
        #expect(first.events.first?.action?.key == "p/gdp/2022/target_missed")
        let again = try await mirror.judge(plans: [plan], feeds: feeds, now: now)
        #expect(again.events.isEmpty)
        _ = try await mirror.reconcile(record(at: now), plan: "p", observations: [obs("gdp", "2022", .growth, "6.5")], skipped: 0)
        let fixed = try await mirror.judge(plans: [plan], feeds: feeds, now: now)
        #expect(fixed.events.map { "\($0.seq) \($0.action!.event.rawValue)" } == ["2 resolved"])
        #expect(fixed.events.first?.line.contains("now met") == true)
        #expect(try await mirror.events(after: 0).map(\.seq) == [1, 2])
        #expect(try await mirror.sinkCursor("alert_log") == 0, "a new mirror's alert log starts at the beginning")
        #expect(try await mirror.sinkCursor("elsewhere") == nil)
        try await mirror.advanceSink("alert_log", to: 2)
        try await mirror.advanceSink("alert_log", to: 1)
        #expect(try await mirror.sinkCursor("alert_log") == 2, "a cursor never moves back")
        #expect(try await mirror.events(after: 2).isEmpty)
    }

    @Test func conflictsFireWhileFeedsDisagree() async throws {
        let mirror = try await preparedMirror()
        let now = Date()
        _ = try await mirror.reconcile(record(at: now), plan: "p", observations: [obs("gdp", "2022", .growth, "3.0")], skipped: 0)
        _ = try await mirror.reconcile(record("b", at: now), plan: "p", observations: [obs("gdp", "2022", .growth, "5.3", feed: "b")], skipped: 0)
        let judged = try await mirror.judge(plans: [plan], feeds: feeds, now: now)
        let kinds = judged.events.compactMap { $0.action?.kind }
        #expect(kinds.contains(.sourceConflict))
        let gdp = try #require(judged.verdicts.first { $0.indicator == "gdp" })
        #expect(gdp.feed == "a" && gdp.actual == Figure("3.0"))
        // The lower-priority feed corrects itself: the conflict resolves.
        _ = try await mirror.reconcile(record("b", at: now), plan: "p", observations: [obs("gdp", "2022", .growth, "3.0", feed: "b")], skipped: 0)
        let agreed = try await mirror.judge(plans: [plan], feeds: feeds, now: now)
        #expect(agreed.events.map { "\($0.action!.event.rawValue) \($0.action!.kind.rawValue)" } == ["resolved source_conflict"])
    }

    @Test func failingAndStaleFeedsRaiseAlerts() async throws {
        let mirror = try await preparedMirror()
        let now = Date()
        try await mirror.recordUnchanged(record("b", at: now))
        try await mirror.recordFailure(record(outcome: .timeout, at: now))
        #expect(try await mirror.judge(plans: [plan], feeds: feeds, now: now).events.isEmpty)
        try await mirror.recordFailure(record(outcome: .timeout, at: now))
        let failing = try await mirror.judge(plans: [plan], feeds: feeds, now: now)
        #expect(failing.events.compactMap { $0.action?.key } == ["feed/a/feed_failing"])
        // Two hours later neither feed has succeeded: both are stale (a has never succeeded).
        let later = try await mirror.judge(plans: [plan], feeds: feeds, now: now.addingTimeInterval(7200))
        #expect(Set(later.events.compactMap { $0.action?.key }) == ["feed/a/feed_stale", "feed/b/feed_stale"])
        #expect(later.events.allSatisfy { $0.action?.severity == .critical })
        try await mirror.recordUnchanged(record(at: now.addingTimeInterval(7200)))
        let recovered = try await mirror.judge(plans: [plan], feeds: feeds, now: now.addingTimeInterval(7200))
        #expect(
            Set(recovered.events.compactMap { $0.action.map { "\($0.event.rawValue) \($0.key)" } })
                == ["resolved feed/a/feed_failing", "resolved feed/a/feed_stale"])
    }

    @Test func unchangedInputsAreNotJudgedAgainButTheCheckIsRecorded() async throws {
        let path = temporaryDatabase()
        let mirror = try await preparedMirror(path: path)
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        _ = try await mirror.reconcile(record(at: now), plan: "p", observations: [obs("jobs", "2022", .level, "3.2")], skipped: 0)
        let first = try await mirror.judge(plans: [plan], feeds: feeds, now: now)
        #expect(first.rejudged == ["p"])
        // A cycle of 304s: nothing judged, the stored verdicts stand, the check is recorded.
        try await mirror.recordUnchanged(record(at: now.addingTimeInterval(60)))
        let again = try await mirror.judge(plans: [plan], feeds: feeds, now: now.addingTimeInterval(60))
        #expect(again.rejudged.isEmpty && again.verdicts.isEmpty && again.events.isEmpty)
        #expect(try await mirror.storedVerdicts(plan: "p").map(\.json) == first.verdicts.map(\.json))
        #expect(try sqlite(path, "SELECT DISTINCT evaluated_at FROM verdict;") == Timestamp.string(now))
        #expect(
            try sqlite(path, "SELECT judged_at || ' ' || checked_at FROM judged_plan;")
                == "\(Timestamp.string(now)) \(Timestamp.string(now.addingTimeInterval(60)))")
        // Judged again in full to the same verdicts: the plan's judged_at moves, no verdict row is written.
        let full = try await mirror.judge(plans: [plan], feeds: feeds, now: now.addingTimeInterval(90), full: true)
        #expect(full.rejudged == ["p"] && full.changed.isEmpty)
        #expect(try sqlite(path, "SELECT DISTINCT evaluated_at FROM verdict;") == Timestamp.string(now))
        #expect(try sqlite(path, "SELECT judged_at FROM judged_plan;") == Timestamp.string(now.addingTimeInterval(90)))
        // Another plan version (a new target) is judged afresh.
        var stricter = plan
        stricter.indicators[1].targets = [Target(year: 2022, rule: .atMost(Figure("3.5")!))]
        let relaxed = try await mirror.judge(plans: [stricter], feeds: feeds, now: now.addingTimeInterval(120))
        #expect(relaxed.rejudged == ["p"])
        #expect(relaxed.verdicts.first { $0.indicator == "jobs" }?.status == .met)
        // So is a plan whose feed's priority changed, and one whose feed brought a new figure.
        var reprioritised = feeds
        reprioritised[0].priority += 1
        #expect(try await mirror.judge(plans: [stricter], feeds: reprioritised, now: now).rejudged == ["p"])
        _ = try await mirror.reconcile(record(at: now), plan: "p", observations: [obs("jobs", "2023", .level, "3.0")], skipped: 0)
        #expect(try await mirror.judge(plans: [stricter], feeds: reprioritised, now: now).rejudged == ["p"])
        #expect(try await mirror.judge(plans: [stricter], feeds: reprioritised, now: now).rejudged.isEmpty)
    }

    @Test func observationsChangedBehindTheMirrorAreJudgedAfresh() async throws {
        let path = temporaryDatabase()
        let mirror = try await preparedMirror(path: path)
        let now = Date()
        _ = try await mirror.reconcile(record(at: now), plan: "p", observations: [obs("jobs", "2022", .level, "3.2")], skipped: 0)
        let missed = try await mirror.judge(plans: [plan], feeds: feeds, now: now)
        #expect(missed.verdicts.first { $0.indicator == "jobs" }?.status == .missed)
        // Another connection (the sqlite3 shell) corrects the figure; nothing went through this process.
        _ = try sqlite(path, "UPDATE observation SET value = '2.8', value_num = 2.8 WHERE indicator = 'jobs';")
        let met = try await mirror.judge(plans: [plan], feeds: feeds, now: now)
        #expect(met.verdicts.first { $0.indicator == "jobs" }?.status == .met)
        // The resolution's log line still carries the stored alert's details.
        let resolved = try #require(met.events.first { $0.action?.event == .resolved })
        #expect(resolved.line.contains(#""indicator":"jobs""#), "\(resolved.line)")
    }

    @Test func textIsStoredByteForByteThroughDirectBinding() async throws {
        let path = temporaryDatabase()
        let mirror = try await preparedMirror(path: path)
        var o = obs("jobs", "2022", .level, "3.2")
        o.unit = ""
        o.note = "城镇调查失业率（年均）— “初步” 'quoted' \u{1F4C8}"
        _ = try await mirror.reconcile(record(), plan: "p", observations: [o], skipped: 0)
        #expect(
            try sqlite(path, "SELECT quote(unit), note, length(note), value FROM observation;")
                == "''|\(o.note!)|\(o.note!.count)|3.2")
    }

    @Test func aNewUnitAloneIsStoredAndCountedAsAnnotated() async throws {
        let path = temporaryDatabase()
        let mirror = try await preparedMirror(path: path)
        var first = obs("jobs", "2022", .level, "3.2")
        first.unit = "%"
        _ = try await mirror.reconcile(record(), plan: "p", observations: [first], skipped: 0)
        var relabelled = first
        relabelled.unit = "percent"
        let counts = try await mirror.reconcile(record(), plan: "p", observations: [relabelled], skipped: 0)
        #expect(counts == ReconcileCounts(unchanged: 1, annotated: 1))
        #expect(counts.changedObservations)
        #expect(try sqlite(path, "SELECT unit FROM observation WHERE indicator = 'jobs';") == "percent")
        #expect(try await mirror.reconcile(record(), plan: "p", observations: [relabelled], skipped: 0) == ReconcileCounts(unchanged: 1))
    }

    @Test func verdictsAreStoredWithTheirJSON() async throws {
        let path = temporaryDatabase()
        let mirror = try await preparedMirror(path: path)
        _ = try await mirror.reconcile(record(), plan: "p", observations: [obs("jobs", "2022", .level, "3.2")], skipped: 0)
        _ = try await mirror.judge(plans: [plan], feeds: feeds, now: Date())
        #expect(try sqlite(path, "SELECT status, severity FROM current_verdict WHERE indicator='jobs';") == "missed|critical")
        #expect(try sqlite(path, "SELECT json FROM verdict WHERE indicator='jobs';").contains(#""actual":3.2,"threshold":3.0"#))
        #expect(try sqlite(path, "SELECT COUNT(*) FROM firing_alert;") == "1")
    }
}
