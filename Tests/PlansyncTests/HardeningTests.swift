import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
    import Glibc
#endif

/// Faults found by trying plansync as an attacker and a careless operator (issue 14), each
/// checked on the built binary.
@Suite(.serialized) struct HardeningTests {
    /// A FIFO as the alert log once hung `sync` for good; now `check`, `sync` and the daemon
    /// refuse it at once with the key and what to do.
    @Test func anAlertLogThatIsAFIFOIsRefusedByCheckSyncAndTheDaemon() throws {
        let demo = try demoCopy()
        try FileManager.default.createDirectory(atPath: demo.root + "/.demo", withIntermediateDirectories: true)
        #expect(mkfifo(demo.root + "/.demo/alerts.jsonl", 0o600) == 0)
        for command in ["check", "sync", "daemon"] {
            let r = try PlansyncProcess.run([command, "--config", demo.config], timeout: 20)
            #expect(r.status == 2, "\(command): \(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("alert_log") && r.stderr.contains("FIFO"), "\(command): \(r.stderr)")
        }
    }

    @Test func anAlertLogThatIsASymbolicLinkIsRefused() throws {
        let demo = try demoCopy()
        try FileManager.default.createDirectory(atPath: demo.root + "/.demo", withIntermediateDirectories: true)
        try "".write(toFile: demo.root + "/target", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: demo.root + "/.demo/alerts.jsonl", withDestinationPath: demo.root + "/target")
        let r = try PlansyncProcess.run(["check", "--config", demo.config])
        #expect(r.status == 2)
        #expect(r.stderr.contains("symbolic link"), "\(r.stderr)")
    }

    /// The watchdog ping means "cycles are completing": a cycle that stops making progress
    /// stops the pings (systemd then restarts the daemon) and says so in STATUS= and the log.
    @Test func aStalledCycleStopsTheWatchdogPings() throws {
        let d = try RunningDaemon(environment: ["PLANSYNC_FAULT": "hang-before-alert-log", "PLANSYNC_STALL_AFTER": "2"])
        #expect(d.ready())
        #expect(d.notify.wait(for: "WATCHDOG=1", seconds: 5), "pings while the cycle still makes progress")
        #expect(d.notify.wait(for: "STATUS=stalled", seconds: 20), "\(d.notify.messages.suffix(5))")
        let pings = d.notify.messages.filter { $0.contains("WATCHDOG=1") }.count
        usleep(1_500_000)
        #expect(d.notify.messages.filter { $0.contains("WATCHDOG=1") }.count == pings, "no ping after the stall")
        // The socket itself still answers (health, status), so an operator can see what happened.
        #expect(try d.curl("/v1/health").status == 200)
        _ = d.stop(SIGKILL)
    }

    /// Two processes opening a new mirror together: one creates and migrates it while the
    /// other waits, then finds it done; and a checkpoint at exit that another process keeps
    /// busy is not an error. (Before: "table plan already exists" or "database is locked" in
    /// about half the runs.)
    @Test func twoProcessesOpeningANewMirrorTogetherBothSucceed() throws {
        for round in 0..<10 {
            let demo = try demoCopy()
            let results = Guarded<[PlansyncProcess.Result]>([])
            let group = DispatchGroup()
            for _ in 0..<2 {
                group.enter()
                DispatchQueue.global().async {
                    if let r = try? PlansyncProcess.run(["sync", "--config", demo.config], timeout: 60) {
                        results.update { $0.append(r) }
                    }
                    group.leave()
                }
            }
            group.wait()
            let all = results.current
            #expect(all.count == 2)
            for r in all {
                #expect(r.status == 0, "round \(round): \(r.stderr.split(separator: "\n").filter { $0.contains("plansync:") })")
            }
        }
    }

    /// A feed of `rows` daily figures of `gdp`, as a `[[feed]]` section with an absolute path.
    private func bigFeed(rows: Int) throws -> String {
        let dir = try scratchFolder()
        var text = "indicator,period,measure,value,unit,cumulative,base_year,note\n"
        text.reserveCapacity(rows * 40)
        var day = DateComponents(calendar: Calendar(identifier: .gregorian), timeZone: TimeZone(identifier: "UTC"), year: 1900, month: 1, day: 1).date!
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.timeZone = TimeZone(identifier: "UTC")
        for i in 0..<rows {
            text += "gdp,\(formatter.string(from: day)),level,\(i).5,亿元,,,\n"
            day = day.addingTimeInterval(86400)
        }
        try text.write(toFile: dir + "/big.csv", atomically: true, encoding: .utf8)
        return "\n[[feed]]\nid = \"big\"\nplan = \"futian-2023\"\nurl = \"file://\(dir)/big.csv\"\nformat = \"csv\"\n"
    }

    /// `/v1/observations` answers in pages (`limit`, default 1000, at most 10,000; `next` to
    /// pass as `after`) that walk every entry once, in order, and `/v1/health` keeps
    /// answering while the largest page is read. (One unbounded read of 1M periods once
    /// blocked every endpoint for 6 minutes at 1.4 GB.)
    @Test func observationsArePagedAndHealthAnswersDuringTheLargestPage() throws {
        let rows = 60_000
        let d = try RunningDaemon(extraFeeds: try bigFeed(rows: rows))
        #expect(d.ready())
        #expect(
            try d.eventually(60) {
                (try d.json("/v1/feeds")["feeds"] as? [[String: Any]])?.first { $0["id"] as? String == "big" }?["last_outcome"] as? String == "ok"
            })
        let first = try d.json("/v1/observations?indicator=gdp")
        #expect((first["observations"] as? [[String: Any]])?.count == 1000)
        #expect(first["next"] is String)
        // Every page of 10,000, following `next`: every figure once, newest period first.
        var periods: [String] = []
        var after: String?
        var pages = 0
        repeat {
            let query =
                "/v1/observations?indicator=gdp&limit=10000"
                + (after.map { "&after=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0) } ?? "")
            let page = try d.json(query)
            periods += (page["observations"] as? [[String: Any]] ?? []).compactMap { $0["period"] as? String }
            after = page["next"] as? String
            pages += 1
        } while after != nil && pages < 20
        #expect(periods.count == rows + 3, "every daily figure and the seed's three 2022 figures of gdp")
        #expect(Set(periods).count == rows + 1)
        #expect(periods.first == "2064-04-09" && periods.last == "1900-01-01")
        #expect(periods.filter { $0.count == 10 } == periods.filter { $0.count == 10 }.sorted(by: >))
        // While the largest page is read, health answers.
        let reading = Thread { _ = try? d.curl("/v1/observations?indicator=gdp&limit=10000&history=1") }
        reading.start()
        usleep(100_000)
        let started = Date()
        #expect(try d.curl("/v1/health").status == 200)
        let seconds = Date().timeIntervalSince(started)
        print("health answered in \(Int(seconds * 1000)) ms during a 10,000-entry page")
        #expect(seconds < 2)
        // Bad paging parameters are clear errors.
        #expect(try d.curl("/v1/observations?indicator=gdp&limit=0").status == 400)
        #expect(try d.curl("/v1/observations?indicator=gdp&limit=10001").status == 400)
        #expect(try d.curl("/v1/observations?indicator=gdp&after=nonsense").body.contains("not a cursor"))
        _ = d.stop()
    }

    /// `plansync history` streams: with `| head` it prints its first rows and ends at once,
    /// and `--json` is one document with every entry.
    @Test func historyStreams() throws {
        let demo = try demoCopy()
        let text = try String(contentsOfFile: demo.config, encoding: .utf8) + (try bigFeed(rows: 20_000))
        try text.write(toFile: demo.config, atomically: true, encoding: .utf8)
        #expect(try PlansyncProcess.run(["sync", "--config", demo.config]).status == 0)
        let json = try PlansyncProcess.run(["history", "gdp", "--config", demo.config, "--json"])
        #expect(json.status == 0)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((parsed?["observations"] as? [Any])?.count == 20_003)
        let table = try PlansyncProcess.run(["history", "gdp", "--config", demo.config])
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.count == 20_005, "name, header and every row")
        #expect(lines[2].hasPrefix("2022 ") && lines[5].hasPrefix("1954-10-04") && lines.last?.hasPrefix("1900-01-01") == true)
        // The reader going away stops the stream.
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "'\(PlansyncProcess.binary)' history gdp --config '\(demo.config)' | head -3"]
        let out = Pipe()
        shell.standardOutput = out
        try shell.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        shell.waitUntilExit()
        #expect(String(decoding: data, as: UTF8.self).split(separator: "\n").count == 3)
    }

    /// Control characters and bidi overrides from a feed (here in a unit, a note and a bad
    /// field) reach no terminal: tables, messages and log lines show them escaped; JSON keeps
    /// escaping them as JSON does.
    @Test func terminalEscapesFromFeedsAreShownEscaped() throws {
        let demo = try demoCopy()
        let folder = (demo.config as NSString).deletingLastPathComponent + "/../feeds"
        let hostile = "\u{1B}[2J\u{1B}]0;owned\u{07}\u{202E}txet\u{9B}"
        try ("indicator,period,measure,value,unit,cumulative,base_year,note\n" + "gdp,2022,growth,3.0,%\(hostile),,,\(hostile)\n").write(
            toFile: folder + "/evil.csv", atomically: true, encoding: .utf8)
        try ("indicator,period,measure,value,unit,cumulative,base_year,note\n" + "gdp,2022,growth,\(hostile),%,,,\n").write(
            toFile: folder + "/bad.csv", atomically: true, encoding: .utf8)
        let text =
            try String(contentsOfFile: demo.config, encoding: .utf8) + """

                [[feed]]
                id = "evil"
                plan = "futian-2023"
                url = "file:../feeds/evil.csv"
                format = "csv"
                [[feed]]
                id = "bad"
                plan = "futian-2023"
                url = "file:../feeds/bad.csv"
                format = "csv"
                failing_after = 1
                """
        try text.write(toFile: demo.config, atomically: true, encoding: .utf8)
        func clean(_ output: String, _ what: String) {
            for bad in ["\u{1B}", "\u{07}", "\u{202E}", "\u{9B}"] {
                #expect(!output.contains(bad), "\(what) printed \(bad.unicodeScalars.first!.value) raw")
            }
        }
        let sync = try PlansyncProcess.run(["sync", "--config", demo.config])
        clean(sync.stdout, "sync")
        clean(sync.stderr, "sync's log")
        #expect(sync.stderr.contains("\\e[2J"), "escaped, still visible")
        let history = try PlansyncProcess.run(["history", "gdp", "--config", demo.config])
        clean(history.stdout, "history")
        #expect(history.stdout.contains("%\\e[2J\\e]0;owned\\x07\\u{202E}txet\\u{009B}"), "\(history.stdout)")
        // JSON still carries the exact text (JSON-escaped).
        let json = try PlansyncProcess.run(["history", "gdp", "--config", demo.config, "--json"])
        #expect(json.stdout.contains("\\u001b[2J"))
        let check = try PlansyncProcess.run(["check", "--config", demo.config])
        clean(check.stdout + check.stderr, "check")
    }

    /// 512 connections trickling one header byte at a time: each must send its request whole
    /// within 10 s (an idle timer each byte reset once let them hold the socket for good), and
    /// the reserved connections, cut after 1 s, let a health check through meanwhile.
    @Test func tricklingClientsCannotLockTheSocketOut() throws {
        let d = try RunningDaemon()
        #expect(d.ready())
        let tricklers = (0..<512).compactMap { _ in try? UnixClient(path: d.socket) }
        let fds = tricklers.map(\.fd)
        #expect(tricklers.count == 512)
        let started = Date()
        let stop = Guarded(false)
        let feeder = Thread {
            var i = 0
            while !stop.current, Date().timeIntervalSince(started) < 14 {
                let byte = Array("GET /v1/status HTTP/1.1\r\nX-Slow: ".utf8)[min(i, 27)]
                for fd in fds { var b = byte; _ = Glibc.send(fd, &b, 1, Int32(MSG_NOSIGNAL)) }
                i += 1
                usleep(300_000)
            }
        }
        feeder.start()
        usleep(500_000)
        #expect(try d.eventually(8) { try d.curl("/v1/health").status == 200 }, "health answered while 512 clients trickle")
        print("health answered \(Int(Date().timeIntervalSince(started) * 1000)) ms after the trickle began")
        // Every trickling connection is closed by the daemon within the request deadline.
        let closed = tricklers.prefix(16).map { $0.readAll(seconds: 14) }
        #expect(closed.allSatisfy { $0.isEmpty })
        #expect(Date().timeIntervalSince(started) < 13.5)
        stop.set(true)
        #expect(try d.curl("/v1/status").status == 200)
        _ = d.stop()
    }

    /// A body announced larger than the limit is answered 413 at once (not after it arrived).
    @Test func anOversizedContentLengthIsRefusedAtOnce() throws {
        let d = try RunningDaemon()
        #expect(d.ready())
        let client = try UnixClient(path: d.socket)
        client.send(Array("POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000000\r\n\r\n".utf8))
        let started = Date()
        let answer = client.readAll(seconds: 5)
        #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer)")
        #expect(answer.contains("Connection: close"))
        #expect(Date().timeIntervalSince(started) < 4)
        #expect(try d.curl("/v1/health").status == 200)
        _ = d.stop()
    }

    /// Requests to sync while a cycle runs or waits join it: 200 of them start at most one
    /// cycle (before: 60 fetch rounds).
    @Test func syncRequestsJoinTheCycleThatRunsOrWaits() throws {
        let server = try FaultServer()
        defer { server.stop() }
        let slow = "\n[[feed]]\nid = \"slow\"\nplan = \"futian-2023\"\nurl = \"\(server.url("/sleep/6"))\"\nformat = \"csv\"\nretries = 0\n"
        let d = try RunningDaemon(extraFeeds: slow)
        #expect(d.ready())
        // 200 requests from 8 clients at once, while the first cycle (6 s for `slow`) runs.
        let statuses = Guarded<[String: Int]>([:])
        let group = DispatchGroup()
        for _ in 0..<8 {
            group.enter()
            DispatchQueue.global().async {
                for _ in 0..<25 {
                    let r = try? d.curl("/v1/sync?feed=slow", method: "POST")
                    let json = r.flatMap { try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any] }
                    statuses.update { $0["\(r?.status ?? 0) \(json?["status"] as? String ?? "?")", default: 0] += 1 }
                }
                group.leave()
            }
        }
        group.wait()
        let seen = statuses.current
        #expect(seen.values.reduce(0, +) == 200)
        #expect((seen["202 started"] ?? 0) <= 1, "\(seen)")
        #expect((seen["202 joined"] ?? 0) >= 199, "\(seen)")
        // The first cycle and at most the one the requests started.
        #expect(d.eventually(30) { d.notify.messages.filter { $0.contains("STATUS=last sync") }.count >= 1 + (seen["202 started"] ?? 0) })
        usleep(2_000_000)
        let cycles = try metric(d, "plansync_sync_cycles_total")
        #expect(cycles >= 1 && cycles <= 2, "\(cycles) cycles")
        _ = d.stop()
    }

    private func metric(_ d: RunningDaemon, _ name: String) throws -> Int {
        let text = try d.curl("/metrics").body
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? -1
    }

    /// A daemon that stops removes its socket file only if it is still the one it bound.
    @Test func aStoppingDaemonLeavesAnotherDaemonsSocketAlone() throws {
        let d = try RunningDaemon()
        #expect(d.ready())
        // Another daemon took the path over (here: a socket bound by hand after unlinking ours).
        unlink(d.socket)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(d.socket.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        let stopped = d.stop()
        #expect(stopped.1 == 0)
        var info = stat()
        #expect(
            lstat(d.socket, &info) == 0, "the other socket file is still there: \(String(decoding: d.stderr.fileHandleForReading.availableData, as: UTF8.self))"
        )
    }
}
