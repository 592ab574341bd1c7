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
}
