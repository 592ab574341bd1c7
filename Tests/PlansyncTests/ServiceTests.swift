import Foundation
import Testing
import TestSupport

/// Runs a shell command, returning status and combined output.
func shell(_ command: String, in directory: String = PlansyncProcess.root.path) throws -> (status: Int32, output: String) {
    try runShell(command, in: directory)
}

@Suite struct SystemdUnitTests {
    @Test func theUnitVerifiesWithARealBinaryPath() throws {
        let dir = try scratchFolder()
        let unit = try String(contentsOf: PlansyncProcess.root.appendingPathComponent("systemd/plansync.service"), encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/plansync daemon --config /etc/plansync/plansync.toml"))
        #expect(unit.contains("Type=notify\n") && unit.contains("ExecReload=/bin/kill -HUP $MAINPID"))
        try unit.replacingOccurrences(of: "/usr/local/bin/plansync", with: PlansyncProcess.binary)
            .write(toFile: dir + "/plansync.service", atomically: true, encoding: .utf8)
        let verify = try shell("systemd-analyze verify \(dir)/plansync.service")
        #expect(verify.status == 0, "\(verify.output)")
        // The same unit with a binary that does not exist fails verification: the check is real.
        try unit.replacingOccurrences(of: "/usr/local/bin/plansync", with: dir + "/missing")
            .write(toFile: dir + "/broken.service", atomically: true, encoding: .utf8)
        #expect(try shell("systemd-analyze verify \(dir)/broken.service").status != 0)
    }

    @Test func theSandboxRatesAnExposureOf2OrLower() throws {
        let result = try shell("systemd-analyze --offline=true security systemd/plansync.service")
        let line = try #require(result.output.split(separator: "\n").first { $0.contains("Overall exposure level") })
        let number = line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
        let exposure = try #require(number, "\(line)")
        #expect(exposure <= 2.0, "exposure \(exposure)")
    }
}

@Suite struct InstallTests {
    @Test func makeInstallLaysOutEveryFileAndKeepsAnExistingConfig() throws {
        let dest = try scratchFolder()
        let install = try shell("make install DESTDIR=\(dest) INSTALL_BIN=\(PlansyncProcess.binary)")
        #expect(install.status == 0, "\(install.output)")
        for file in [
            "usr/local/bin/plansync", "usr/local/lib/systemd/system/plansync.service", "usr/local/lib/sysusers.d/plansync.conf",
            "etc/logrotate.d/plansync", "etc/plansync/plansync.toml", "etc/plansync/plans/futian-2023.toml",
            "etc/plansync/feeds/futian-2022-annex.csv", "etc/plansync/feeds/futian-2022-report.csv",
            "usr/local/share/doc/plansync/README.md",
        ] {
            #expect(FileManager.default.fileExists(atPath: dest + "/" + file), "missing \(file)")
        }
        #expect(FileManager.default.isExecutableFile(atPath: dest + "/usr/local/bin/plansync"))
        let logrotate = try String(contentsOfFile: dest + "/etc/logrotate.d/plansync", encoding: .utf8)
        #expect(!logrotate.contains("copytruncate") && logrotate.contains("--signal=HUP"))
        // The installed default configuration passes `plansync check`.
        let check = try PlansyncProcess.run(["check", "--config", dest + "/etc/plansync/plansync.toml"])
        #expect(check.status == 0, "\(check.stderr)")
        // A second install keeps an edited configuration.
        let config = dest + "/etc/plansync/plansync.toml"
        try "# edited\n".appending(try String(contentsOfFile: config, encoding: .utf8)).write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try shell("make install DESTDIR=\(dest) INSTALL_BIN=\(PlansyncProcess.binary)").status == 0)
        #expect(try String(contentsOfFile: config, encoding: .utf8).hasPrefix("# edited"))
        // A different prefix is written into the unit.
        let other = try scratchFolder()
        #expect(try shell("make install DESTDIR=\(other) PREFIX=/opt/plansync INSTALL_BIN=\(PlansyncProcess.binary)").status == 0)
        let unit = try String(contentsOfFile: other + "/opt/plansync/lib/systemd/system/plansync.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/opt/plansync/bin/plansync daemon --config /etc/plansync/plansync.toml"))
        // Uninstall removes the program files and keeps the configuration.
        #expect(try shell("make uninstall DESTDIR=\(dest)").status == 0)
        #expect(!FileManager.default.fileExists(atPath: dest + "/usr/local/bin/plansync"))
        #expect(FileManager.default.fileExists(atPath: config))
    }
}

@Suite(.serialized) struct LogTests {
    @Test func underJournaldEachStderrLineStartsWithItsPriority() throws {
        let demo = try demoCopy()
        let r = try PlansyncProcess.run(["sync", "--config", demo.config], environment: ["JOURNAL_STREAM": "8:12345"])
        #expect(r.status == 0)
        let lines = r.stderr.split(separator: "\n")
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.range(of: #"^<[2-7]>"#, options: .regularExpression) != nil })
        #expect(lines.contains { $0.hasPrefix("<5>") && $0.contains("alert event") })
        #expect(lines.contains { $0.hasPrefix("<6>") && $0.contains("feed synced") })
        let plain = try PlansyncProcess.run(["sync", "--config", demo.config], environment: ["JOURNAL_STREAM": ""])
        #expect(plain.stderr.split(separator: "\n").allSatisfy { !$0.hasPrefix("<") })
    }

    @Test func logrotateRotatesTheAlertLogOfARunningDaemonWithoutLosingEvents() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/logrotate") else {
            Issue.record("logrotate is not installed (run .ci/install-deps)")
            return
        }
        let d = try RunningDaemon()
        #expect(d.ready())
        #expect(d.notify.wait(for: "STATUS=last sync"))
        let log = d.root + "/.demo/alerts.jsonl"
        #expect(lines(log).count == 7)
        let conf = d.root + "/logrotate.conf"
        try """
        \(log) {
            rotate 3
            missingok
            create 0640
            postrotate
                kill -HUP \(d.pid)
            endscript
        }
        """.write(toFile: conf, atomically: true, encoding: .utf8)
        let mark = d.notify.messages.count
        let rotate = try shell("/usr/sbin/logrotate -s \(d.root)/logrotate.state -f \(conf)")
        #expect(rotate.status == 0, "\(rotate.output)")
        #expect(d.notify.wait(for: "RELOADING=1", after: mark))
        #expect(lines(log + ".1").count == 7)
        // New events after the rotation go to the new file, continuing the sequence.
        let annex = d.root + "/Config/feeds/futian-2022-annex.csv"
        try String(contentsOfFile: annex, encoding: .utf8).replacingOccurrences(of: "gdp,2022,growth,3.0", with: "gdp,2022,growth,6.4")
            .write(toFile: annex, atomically: true, encoding: .utf8)
        #expect(try d.curl("/v1/sync", method: "POST").status == 202)
        // gdp is now met (resolved, seq 8) and the report's 3.0 now disagrees (firing, seq 9).
        #expect(d.eventually { lines(log).count == 2 }, "new log: \(lines(log))")
        #expect(lines(log).first?.contains(#""seq":8,"event":"resolved""#) == true)
        #expect(lines(log).last?.contains(#""seq":9,"event":"firing","alert":"source_conflict""#) == true)
        #expect(lines(log + ".1").count == 7)
        #expect(lines(log + ".1").last?.contains(#""seq":7,"#) == true)
        #expect(d.stop().1 == 0)
    }
}
