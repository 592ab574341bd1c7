import Foundation
import Testing
import TestSupport

/// A daemon started from the built binary on a copy of the demo configuration.
final class RunningDaemon: @unchecked Sendable {
    let root: String
    let config: String
    let socket: String
    let process = Process()
    let notify: NotifyListener
    let stderr = Pipe()

    init(
        interval: String = "1h", extraFeeds: String = "", stateFolder: String? = nil,
        environment: [String: String] = [:], binary: String = PlansyncProcess.binary
    ) throws {
        let demo = try demoCopy()
        root = demo.root
        config = demo.config
        socket = root + "/.demo/status.sock"
        var text = try String(contentsOfFile: config, encoding: .utf8)
        if let stateFolder {
            text = text.replacingOccurrences(of: "\"../../.demo/mirror.sqlite\"", with: "\"\(stateFolder)/mirror.sqlite\"")
                .replacingOccurrences(of: "\"../../.demo/alerts.jsonl\"", with: "\"\(stateFolder)/alerts.jsonl\"")
        }
        text = text.replacingOccurrences(of: "interval      = \"1m\"", with: "interval      = \"\(interval)\"")
            .replacingOccurrences(of: "jitter        = \"5s\"", with: "jitter        = \"0s\"")
        try (text + extraFeeds).write(toFile: config, atomically: true, encoding: .utf8)
        notify = try NotifyListener()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["daemon", "--config", config]
        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = notify.path
        env["WATCHDOG_USEC"] = "400000"
        env.merge(environment) { $1 }
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        notify.stop()
    }

    var pid: Int32 { process.processIdentifier }

    /// Adds indicator `industry_monthly` (no feed publishes it) with `release` and a target
    /// for `year` to the demo plan file (a reload then picks it up). Waits first for the
    /// daemon's first cycle to end: a `POST /v1/sync` while it runs joins it, and it judges
    /// the configuration it started with.
    func addWatchedIndicator(release: String, year: Int) throws {
        _ = eventually {
            guard let status = try? json("/v1/status"), status["last_sync"] is String,
                let feeds = status["feeds"] as? [String: Any]
            else { return false }
            return feeds["running"] as? Int == 0
        }
        let planFile = root + "/Config/plans/futian-2023.toml"
        try
            (try String(contentsOfFile: planFile, encoding: .utf8) + """

                [[indicator]]
                code = "industry_monthly"
                name = "规上工业增加值（月度）"
                category = "expected"
                unit = "%"
                release = \(release)
                targets = [ { year = \(year), rule = "growth_at_least", value = 5.0 } ]
                """).write(toFile: planFile, atomically: true, encoding: .utf8)
    }

    /// Waits for READY=1.
    func ready() -> Bool { notify.wait(for: "READY=1", seconds: 20) }

    /// Sends a signal and waits (bounded) for the process to exit; returns seconds taken and status.
    func stop(_ signal: Int32 = SIGTERM, seconds: Double = 15) -> (Double, Int32?) {
        let started = Date()
        kill(pid, signal)
        while process.isRunning, Date().timeIntervalSince(started) < seconds { usleep(20_000) }
        return (Date().timeIntervalSince(started), process.isRunning ? nil : process.terminationStatus)
    }

    /// `curl --unix-socket` (a real client): HTTP status and body.
    func curl(_ path: String, method: String = "GET", body: String? = nil) throws -> (status: Int, body: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", "--max-time", "10", "-X", method, "--unix-socket", socket, "-w", "\n%{http_code}", "http://localhost\(path)"]
        if let body { p.arguments! += ["-H", "Content-Type: application/json", "--data-binary", body] }
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func json(_ path: String) throws -> [String: Any] {
        let r = try curl(path)
        return (try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any]) ?? [:]
    }

    /// Polls `condition` for up to `seconds`.
    func eventually(_ seconds: Double = 15, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(100_000)
        }
        return false
    }
}

@Suite(.serialized) struct DaemonTests {
    @Test func lifecycleNotificationsEndpointsReloadAndStop() throws {
        let d = try RunningDaemon()
        #expect(d.ready(), "no READY=1; stderr: \(String(decoding: d.stderr.fileHandleForReading.availableData, as: UTF8.self))")
        #expect(d.notify.wait(for: "STATUS=last sync: 2 feeds ok, 0 failed; alerts firing: 1 critical, 6 warning"))
        #expect(d.notify.wait(for: "WATCHDOG=1", seconds: 3))
        #expect(FileManager.default.fileExists(atPath: d.socket))
        let mode = (try FileManager.default.attributesOfItem(atPath: d.socket)[.posixPermissions] as? Int) ?? 0
        #expect(mode == 0o660)

        #expect(try d.curl("/v1/health") == (200, #"{"status":"ok"}"#))
        let status = try d.json("/v1/status")
        #expect(status["pid"] as? Int == Int(d.pid))
        #expect((status["feeds"] as? [String: Any])?["total"] as? Int == 2)
        #expect((status["alerts_firing"] as? [String: Any])?["critical"] as? Int == 1)
        let verdicts = try d.json("/v1/indicators?year=2022")["verdicts"] as? [[String: Any]] ?? []
        #expect(verdicts.count == 10)
        #expect(verdicts.filter { $0["status"] as? String == "missed" }.count == 6)
        #expect((try d.json("/v1/alerts?state=firing")["alerts"] as? [[String: Any]])?.count == 7)
        let feeds = try d.json("/v1/feeds")["feeds"] as? [[String: Any]] ?? []
        #expect(feeds.map { $0["id"] as? String } == ["futian-annex", "futian-report"])
        #expect(feeds.allSatisfy { $0["last_outcome"] as? String == "ok" && $0["next_due"] is String })
        let observations = try d.json("/v1/observations?indicator=modern_services&history=1")["observations"] as? [[String: Any]] ?? []
        #expect(observations.count == 3)
        #expect(try d.curl("/v1/sync?feed=futian-annex", method: "POST").status == 202)
        #expect(try d.curl("/v1/sync?feed=nope", method: "POST").status == 404)
        #expect(try d.curl("/v1/nowhere").status == 404)
        #expect(try d.curl("/v1/status", method: "DELETE").status == 405)
        #expect(try d.curl("/v1/sync").status == 405)
        #expect(try d.curl("/v1/indicators?year=abc").status == 400)
        #expect(try d.curl("/v1/observations").status == 400)
        #expect(try d.curl("/v1/alerts?state=sleeping").status == 400)
        let metrics = try d.curl("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains(#"plansync_verdicts{plan="futian-2023",status="missed"} 6"#))
        #expect(metrics.body.contains(#"plansync_alerts_firing{severity="critical"} 1"#))
        let cycles = metrics.body.split(separator: "\n").first { $0.hasPrefix("plansync_sync_cycles_total ") }
        #expect((cycles?.split(separator: " ").last).flatMap { Int($0) } ?? 0 >= 1, "no cycle counted: \(cycles ?? "no line")")
        let cycleTime = metrics.body.split(separator: "\n").first { $0.hasPrefix("plansync_sync_cycle_duration_seconds ") }
        #expect((cycleTime?.split(separator: " ").last).flatMap { Double($0) } ?? 0 > 0, "no cycle time: \(cycleTime ?? "no line")")
        // The last cycle's phases, and the one plan judged in the first cycle.
        for phase in ["prepare", "fetch", "flush", "judge", "alert_log"] {
            #expect(metrics.body.contains("plansync_sync_cycle_phase_seconds{phase=\"\(phase)\"} "), "\(phase)")
        }
        #expect(metrics.body.contains("plansync_sync_cycle_plans_judged "))
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") {
            let file = d.root + "/metrics.txt"
            try (metrics.body + "\n").write(toFile: file, atomically: true, encoding: .utf8)
            let check = Process()
            check.executableURL = URL(fileURLWithPath: "/bin/sh")
            check.arguments = ["-c", "promtool check metrics < \(file)"]
            try check.run()
            check.waitUntilExit()
            #expect(check.terminationStatus == 0)
        }

        // SIGHUP with a new feed: RELOADING=1 … READY=1, and the feed appears.
        let before = d.notify.messages.count
        try
            (try String(contentsOfFile: d.config, encoding: .utf8) + """

                [[feed]]
                id       = "extra"
                plan     = "futian-2023"
                url      = "file:../feeds/futian-2022-report.csv"
                format   = "csv"
                priority = 5
                """).write(toFile: d.config, atomically: true, encoding: .utf8)
        kill(d.pid, SIGHUP)
        #expect(d.notify.wait(for: "RELOADING=1", after: before))
        #expect(d.notify.wait(for: "READY=1", after: before))
        // The new feed is in the mirror by the time the reload is announced (not only after
        // its first cycle), then gets its first fetch.
        #expect((try d.json("/v1/feeds")["feeds"] as? [[String: Any]])?.contains { $0["id"] as? String == "extra" } == true)
        #expect(
            try d.eventually {
                (try d.json("/v1/feeds")["feeds"] as? [[String: Any]])?.contains { $0["id"] as? String == "extra" && $0["last_outcome"] as? String == "ok" }
                    == true
            })

        // SIGHUP with an invalid config: ignored, the old one keeps running.
        let valid = try String(contentsOfFile: d.config, encoding: .utf8)
        try (valid + "\nbogus_key = 1\n").write(toFile: d.config, atomically: true, encoding: .utf8)
        let mark = d.notify.messages.count
        kill(d.pid, SIGHUP)
        #expect(d.notify.wait(for: "reload failed, old configuration kept", after: mark))
        #expect(try d.curl("/v1/health").status == 200)
        #expect((try d.json("/v1/status")["feeds"] as? [String: Any])?["total"] as? Int == 3)
        #expect(try d.curl("/v1/reload", method: "POST").status == 422)
        // A TOML syntax error that made the TOML library used before abort the process.
        try (valid + "\nplans = [}]\n").write(toFile: d.config, atomically: true, encoding: .utf8)
        let broken = try d.curl("/v1/reload", method: "POST")
        #expect(broken.status == 422)
        #expect(broken.body.contains("TOML syntax error: expected a value, found '}'"), "\(broken.body)")
        #expect(try d.curl("/v1/health").status == 200)
        try valid.write(toFile: d.config, atomically: true, encoding: .utf8)
        #expect(try d.curl("/v1/reload", method: "POST").status == 200)

        // SIGTERM: STOPPING=1, exit 0 within 10 s, socket file removed.
        let (seconds, code) = d.stop(SIGTERM)
        #expect(code == 0)
        #expect(seconds < 10)
        #expect(d.notify.messages.contains { $0.contains("STOPPING=1") })
        #expect(!FileManager.default.fileExists(atPath: d.socket))
        // Stopped cleanly: the WAL was checkpointed into the database file and emptied.
        let wal = (try? FileManager.default.attributesOfItem(atPath: d.root + "/.demo/mirror.sqlite-wal"))?[.size] as? Int ?? 0
        #expect(wal == 0)
    }

    /// Resident kilobytes of the mappings of the daemon's binary (a private copy, so no other
    /// process shares its pages and the kernel may reclaim them all).
    func binaryResidentKB(_ pid: Int32) -> Int {
        guard let data = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps")?.readDataToEndOfFile() else { return 0 }
        var inBinary = false, total = 0
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            if let first = line.first, first.isHexDigit, line.contains("-") && line.split(separator: " ").count >= 5 {
                inBinary = line.hasSuffix("/plansync-private")
            } else if inBinary, line.hasPrefix("Rss:") {
                total += Int(line.split(separator: " ")[1]) ?? 0
            }
        }
        return total
    }

    @Test func anIdleDaemonGivesItsCodePagesBackAndKeepsWorking() throws {
        // A copy of the binary that only this daemon runs (daemons of other tests would share
        // the pages of the original, and the kernel leaves shared pages alone).
        let folder = NSTemporaryDirectory() + "plansync-pageout-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(atPath: PlansyncProcess.binary, toPath: folder + "/plansync-private")
        let d = try RunningDaemon(environment: ["PLANSYNC_IDLE_PAGEOUT": "3"], binary: folder + "/plansync-private")
        #expect(d.ready())
        #expect(try d.eventually { (try d.json("/v1/status")["last_sync"] as? String) != nil })
        let busy = binaryResidentKB(d.pid)
        #expect(busy > 1024, "the binary's pages were not resident after a cycle: \(busy) KiB")
        // Three seconds without a cycle: the code pages only this process maps are given back.
        #expect(d.eventually(15) { binaryResidentKB(d.pid) < busy / 2 }, "still \(binaryResidentKB(d.pid)) of \(busy) KiB resident")
        // They come back when needed: the daemon answers and syncs as before.
        #expect(try d.json("/v1/status")["version"] as? String != nil)
        #expect(try d.curl("/v1/sync", method: "POST").status == 202)
        #expect(try d.eventually { (try d.json("/v1/feeds")["feeds"] as? [[String: Any]])?.allSatisfy { ($0["running"] as? Bool) == false } == true })
        #expect(d.stop().1 == 0)
    }

    @Test func aFeedChangedOnDiskIsPickedUpByTheScheduleAlone() throws {
        let d = try RunningDaemon(interval: "1s")
        #expect(d.ready())
        #expect(try d.eventually { (try d.json("/v1/alerts?state=firing")["alerts"] as? [[String: Any]])?.count == 7 })
        let annex = d.root + "/Config/feeds/futian-2022-annex.csv"
        try String(contentsOfFile: annex, encoding: .utf8).replacingOccurrences(of: "gdp,2022,growth,3.0", with: "gdp,2022,growth,6.4")
            .write(toFile: annex, atomically: true, encoding: .utf8)
        #expect(
            try d.eventually {
                let alerts = try d.json("/v1/alerts?state=resolved")["alerts"] as? [[String: Any]] ?? []
                return alerts.contains { $0["key"] as? String == "futian-2023/gdp/2022/target_missed" }
            })
        let log = try String(contentsOfFile: d.root + "/.demo/alerts.jsonl", encoding: .utf8)
        #expect(log.contains(#""seq":8,"event":"resolved","alert":"target_missed""#))
        #expect(d.stop().1 == 0)
    }

    /// An indicator with a release schedule and no figures: the daemon reports each figure past
    /// due as `data_overdue` (once each), and `/v1/indicators` and `plansync indicators` show
    /// what is overdue and what is awaited next. (Dated from this year, so that the real clock
    /// finds its figures due within the look-back year.)
    @Test func overdueFiguresReachTheAlertLogAndTheIndicators() throws {
        let d = try RunningDaemon()
        #expect(d.ready())
        let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).year!
        try d.addWatchedIndicator(release: #"{ frequency = "monthly", lag_days = 0, skip = ["01"] }"#, year: year)
        // Reload (as SIGHUP), then a cycle: the edited plan alone is judged again.
        #expect(try d.curl("/v1/reload", method: "POST").status == 200)
        _ = try d.curl("/v1/sync", method: "POST")
        // February's figure was due on 1 March at the latest: overdue whatever today is (after February).
        let key = "futian-2023/industry_monthly/\(year)-02/data_overdue"
        let month = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).month!
        guard month >= 3 else { return }
        #expect(d.eventually { (try? String(contentsOfFile: d.root + "/.demo/alerts.jsonl", encoding: .utf8))?.contains(key) == true })
        let indicators = try d.json("/v1/indicators?plan=futian-2023")
        let releases = try #require(indicators["releases"] as? [[String: Any]])
        let watched = try #require(releases.first { $0["indicator"] as? String == "industry_monthly" })
        // (The plan's earlier target years are watched too: last December may be overdue as well.)
        let overdue = watched["overdue"] as? [String] ?? []
        #expect(overdue.contains("\(year)-02"))
        #expect(watched["next_period"] as? String == overdue.first)
        // As of a moment before any fetch: nothing known, every target without data; as of
        // now, what the stored verdicts say.
        let past = try d.json("/v1/indicators?plan=futian-2023&as_of=2000-01-01T00:00:00%2B08:00")
        #expect(past["as_of"] as? String == "1999-12-31T16:00:00Z")
        let pastVerdicts = try #require(past["verdicts"] as? [[String: Any]])
        #expect(!pastVerdicts.isEmpty && pastVerdicts.allSatisfy { ["no_data", "awaiting_target"].contains($0["status"] as? String) })
        let later = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))
        let asNow = try #require(try d.json("/v1/indicators?as_of=" + later)["verdicts"] as? [[String: Any]])
        let stored = try #require(indicators["verdicts"] as? [[String: Any]])
        #expect(asNow.map { $0["status"] as? String } == stored.map { $0["status"] as? String })
        #expect(try d.curl("/v1/indicators?as_of=yesterday").status == 400)
        let client = try PlansyncProcess.run(["indicators", "--config", d.config, "--as-of", "2000-01-01T00:00:00Z"])
        #expect(client.status == 0 && client.stdout.contains("no_data") && !client.stdout.contains("missed"))
        let badClient = try PlansyncProcess.run(["indicators", "--config", d.config, "--as-of", "last week"])
        #expect(badClient.status == 2 && badClient.stderr.contains("--as-of: 'last week' is not an RFC 3339 time"))
        // The streamed answer for every plan ends with them too.
        let all = try #require(try d.json("/v1/indicators")["releases"] as? [[String: Any]])
        #expect(all.contains { $0["indicator"] as? String == "industry_monthly" && $0["plan"] as? String == "futian-2023" })
        let log = try String(contentsOfFile: d.root + "/.demo/alerts.jsonl", encoding: .utf8)
        #expect(log.components(separatedBy: "\"key\":\"\(key)\"").count == 2, "once")
        let table = try PlansyncProcess.run(["indicators", "--config", d.config, "--plan", "futian-2023"])
        #expect(table.status == 0 && table.stdout.contains("industry_monthly") && table.stdout.contains("\(year)-02, "))
        #expect(d.stop().1 == 0)
    }

    /// A figure falling overdue between scheduled cycles (the next is an hour away): the
    /// daemon wakes up at that moment, syncs the plan's feeds, and the alert is logged then.
    @Test func theDaemonWakesUpWhenAFigureFallsOverdue() throws {
        let d = try RunningDaemon(interval: "1h")
        #expect(d.ready())
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let now = Date()
        let today = utc.dateComponents([.year, .month, .day], from: now)
        let midnight = utc.date(from: today)!
        // Due today at 00:00 UTC; overdue 8 s from now.
        let grace = Int(now.timeIntervalSince(midnight)) + 8
        let period = String(format: "%04d-%02d", today.year!, today.month!)
        let day = String(format: "%04d-%02d-%02d", today.year!, today.month!, today.day!)
        try d.addWatchedIndicator(
            release: #"{ frequency = "monthly", lag_days = 360, grace = "\#(grace)s", dates = { "\#(period)" = "\#(day)" } }"#, year: today.year!)
        #expect(try d.curl("/v1/reload", method: "POST").status == 200)
        _ = try d.curl("/v1/sync", method: "POST")
        let key = "futian-2023/industry_monthly/\(period)/data_overdue"
        func logged() -> Bool { (try? String(contentsOfFile: d.root + "/.demo/alerts.jsonl", encoding: .utf8))?.contains(key) == true }
        // Not yet: the first cycle ran before the grace ended.
        #expect(d.eventually { ((try? d.json("/v1/status"))?["last_sync"] as? String) != nil })
        #expect(!logged())
        #expect(d.eventually(30) { logged() }, "the daemon did not wake up for the overdue figure")
        #expect(d.stop().1 == 0)
    }

    @Test func aSecondInstanceOnTheSameSocketIsRefusedAndAStaleSocketReplaced() throws {
        let d = try RunningDaemon()
        #expect(d.ready())
        let second = try PlansyncProcess.run(["daemon", "--config", d.config], timeout: 20)
        #expect(second.status == 1)
        #expect(second.stderr.contains("another plansync daemon (pid \(d.pid)) is already listening on \(d.socket)"))
        #expect(try d.curl("/v1/health").status == 200)
        // SIGKILL leaves the socket file behind; the next start replaces it.
        _ = d.stop(SIGKILL)
        #expect(FileManager.default.fileExists(atPath: d.socket))
        let next = Process()
        next.executableURL = URL(fileURLWithPath: PlansyncProcess.binary)
        next.arguments = ["daemon", "--config", d.config]
        next.standardError = FileHandle.nullDevice
        try next.run()
        defer { if next.isRunning { kill(next.processIdentifier, SIGKILL) } }
        #expect(try d.eventually { try d.curl("/v1/health").status == 200 })
        kill(next.processIdentifier, SIGTERM)
        #expect(d.eventually { !next.isRunning })
        #expect(next.terminationStatus == 0)
    }

    @Test func misbehavingClientsLeaveItAnswering() throws {
        let d = try RunningDaemon()
        #expect(d.ready())
        // Garbage bytes, a 200 KB header, then 300 idle connections held open.
        let garbage = try UnixClient(path: d.socket)
        garbage.send(Array("\u{0}\u{1}GARBAGE \r\n\r\n\u{7f}".utf8))
        #expect(garbage.readAll(seconds: 5).hasPrefix("HTTP/1.1 400"))
        let huge = try UnixClient(path: d.socket)
        huge.send(Array(("GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 200_000) + "\r\n\r\n").utf8))
        let answer = huge.readAll(seconds: 5)
        #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 4"))
        let body = try UnixClient(path: d.socket)
        body.send(Array("POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n".utf8) + [UInt8](repeating: 65, count: 20000))
        #expect(body.readAll(seconds: 5).hasPrefix("HTTP/1.1 413"))
        var idle: [UnixClient] = []
        for _ in 0..<300 { if let c = try? UnixClient(path: d.socket) { idle.append(c) } }
        #expect(idle.count == 300)
        #expect(try d.curl("/v1/health").status == 200)
        #expect(try d.json("/v1/status")["version"] as? String != nil)
        idle.removeAll()
        #expect(d.stop().1 == 0)
    }
}

/// A raw Unix-socket client for sending malformed requests.
final class UnixClient {
    let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard ok == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Reads until the peer closes or `seconds` pass.
    func readAll(seconds: Int) -> String {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }
}

@Suite(.serialized) struct ClientCommandTests {
    @Test func theClientsShowTablesAndJSONAndExplainAnUnreachableDaemon() throws {
        let d = try RunningDaemon()
        #expect(d.ready())
        #expect(d.notify.wait(for: "STATUS=last sync"))
        let status = try PlansyncProcess.run(["status", "--config", d.config])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("alerts firing  1 critical, 6 warning"))
        let indicators = try PlansyncProcess.run(["indicators", "--socket", d.socket, "--year", "2022"])
        #expect(indicators.stdout.contains("missed (critical)"))
        #expect(indicators.stdout.split(separator: "\n").count == 11)
        let json = try PlansyncProcess.run(["indicators", "--socket", d.socket, "--json"])
        #expect(json.stdout.hasPrefix(#"{"verdicts":[{"plan":"futian-2023","indicator":"gdp","year":2022,"status":"missed""#))
        let alerts = try PlansyncProcess.run(["alerts", "--socket", d.socket, "--state", "firing"])
        #expect(alerts.stdout.contains("source_conflict"))
        let feeds = try PlansyncProcess.run(["feeds", "--socket", d.socket])
        #expect(feeds.stdout.contains("futian-annex") && feeds.stdout.contains("ok"))
        #expect(d.stop().1 == 0)
        let down = try PlansyncProcess.run(["status", "--socket", d.socket])
        #expect(down.status == 1)
        #expect(down.stderr.contains("cannot reach the plansync daemon on \(d.socket)"))
        #expect(down.stderr.contains("systemctl status plansync"))
    }
}

@Suite(.serialized) struct RestartTests {
    @Test func aRestartContinuesTheScheduleWithoutABurstOfFetches() throws {
        let d = try RunningDaemon(interval: "1h")
        #expect(d.ready())
        #expect(d.notify.wait(for: "STATUS=last sync"))
        #expect(d.stop().1 == 0)
        let database = d.root + "/.demo/mirror.sqlite"
        func fetchCount() throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            p.arguments = [database, "SELECT COUNT(*) FROM fetch;"]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            p.waitUntilExit()
            return String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try fetchCount() == "2")
        // Start again: both feeds were fetched moments ago, so nothing is due for an hour.
        let again = Process()
        again.executableURL = URL(fileURLWithPath: PlansyncProcess.binary)
        again.arguments = ["daemon", "--config", d.config]
        again.standardError = FileHandle.nullDevice
        try again.run()
        defer { if again.isRunning { kill(again.processIdentifier, SIGKILL) } }
        #expect(try d.eventually { try d.curl("/v1/health").status == 200 })
        usleep(1_500_000)
        #expect(try fetchCount() == "2")
        let feeds = try d.json("/v1/feeds")["feeds"] as? [[String: Any]] ?? []
        let due = feeds.compactMap { ($0["next_due"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) } }
        #expect(due.count == 2 && due.allSatisfy { $0.timeIntervalSinceNow > 3000 })
        kill(again.processIdentifier, SIGTERM)
        #expect(d.eventually { !again.isRunning })
    }
}
