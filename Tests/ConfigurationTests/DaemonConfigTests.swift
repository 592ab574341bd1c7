import FeedFormats
import Foundation
import Testing
@testable import Configuration
@testable import PlanCore

/// A temporary folder with a plan, for config tests.
struct ConfigFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "plansync-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path + "/plans", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: repositoryRoot.appendingPathComponent("Config/plans/futian-2023.toml").path,
            toPath: path + "/plans/futian-2023.toml")
    }

    func load(_ text: String, environment: [String: String] = [:]) throws -> DaemonConfig {
        let file = path + "/plansync.toml"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return try DaemonConfig.load(path: file, environment: environment)
    }
}

private let minimal = """
    database = "state/mirror.sqlite"
    socket = "/run/plansync/status.sock"
    alert_log = "/var/log/plansync/alerts.jsonl"
    plans = ["plans/*.toml"]

    [[feed]]
    id = "annex"
    plan = "futian-2023"
    url = "file:feeds/annex.csv"
    format = "csv"
    """

@Suite struct DaemonConfigTests {
    @Test func allowLinkLocalIsOffUnlessAFeedOrTheDefaultsSetIt() throws {
        let folder = try ConfigFolder()
        #expect(try folder.load(minimal).feeds[0].settings.allowLinkLocal == false)
        #expect(try folder.load(minimal + "\nallow_link_local = true\n").feeds[0].settings.allowLinkLocal == true)
        let defaults = minimal.replacingOccurrences(of: "plans = [\"plans/*.toml\"]", with: "plans = [\"plans/*.toml\"]\n[defaults]\nallow_link_local = true")
        #expect(try folder.load(defaults).feeds[0].settings.allowLinkLocal == true)
        let wrong = #expect(throws: ConfigError.self) { try folder.load(minimal + "\nallow_link_local = \"yes\"\n") }
        #expect(wrong?.keyPath?.hasSuffix("allow_link_local") == true, "\(String(describing: wrong))")
    }

    @Test func pathsKeepTheirSymbolicLinks() throws {
        let folder = try ConfigFolder()
        try FileManager.default.createDirectory(atPath: folder.path + "/real", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder.path + "/link", withDestinationPath: folder.path + "/real")
        let config = try folder.load(minimal.replacingOccurrences(of: "state/mirror.sqlite", with: "link/./x/../mirror.sqlite"))
        #expect(config.database == folder.path + "/link/mirror.sqlite")
    }

    @Test func resolvesRelativePathsAndAppliesDefaults() throws {
        let folder = try ConfigFolder()
        let config = try folder.load(minimal)
        #expect(config.database == folder.path + "/state/mirror.sqlite")
        #expect(config.feeds[0].url == "file://" + folder.path + "/feeds/annex.csv")
        #expect(config.feeds[0].settings == FeedSettings())
        #expect(config.feeds[0].settings.interval == 6 * 3600)
        #expect(config.socketMode == 0o660)
        #expect(config.maxConcurrentFetches == 8)
        #expect(config.plans.map(\.id) == ["futian-2023"])
    }

    @Test func takesDefaultLocationsFromSystemdDirectories() throws {
        let folder = try ConfigFolder()
        let config = try folder.load(
            "plans = [\"plans/*.toml\"]\n",
            environment: [
                "STATE_DIRECTORY": "/var/lib/plansync", "RUNTIME_DIRECTORY": "/run/plansync", "LOGS_DIRECTORY": "/var/log/plansync",
            ])
        #expect(config.database == "/var/lib/plansync/mirror.sqlite")
        #expect(config.socket == "/run/plansync/status.sock")
        #expect(config.alertLog == "/var/log/plansync/alerts.jsonl")
        #expect(config.feeds.isEmpty)
    }

    @Test func feedsOverrideDefaults() throws {
        let folder = try ConfigFolder()
        let config = try folder.load(
            minimal.replacingOccurrences(
                of: "plans = [\"plans/*.toml\"]",
                with: """
                    plans = ["plans/*.toml"]
                    [defaults]
                    interval = "1h"
                    max_bytes = "1MiB"
                    retries = 1
                    """)
                + "\ninterval = \"30s\"\npriority = 5\nurl_note_is_not_a_key_so_removed = 1\n"
                .replacingOccurrences(of: "url_note_is_not_a_key_so_removed = 1\n", with: ""))
        #expect(config.feeds[0].settings.interval == 30)
        #expect(config.feeds[0].settings.maxBytes == 1 << 20)
        #expect(config.feeds[0].settings.retries == 1)
        #expect(config.feeds[0].priority == 5)
        #expect(config.defaults.interval == 3600)
    }

    @Test func theDemoConfigLoads() throws {
        let config = try DaemonConfig.load(path: repositoryRoot.appendingPathComponent("Config/demo/plansync.toml").path, environment: [:])
        #expect(config.feeds.map(\.id) == ["futian-annex", "futian-report"])
        #expect(config.feeds.allSatisfy { $0.url.hasPrefix("file:///") })
        #expect(config.feeds.allSatisfy { FileManager.default.fileExists(atPath: URL(string: $0.url)!.path) })
    }

    @Test func displayURLsHideCredentials() throws {
        let folder = try ConfigFolder()
        let config = try folder.load(minimal.replacingOccurrences(of: "file:feeds/annex.csv", with: "https://bot:hunter2@stats.example.org/a.csv?token=s3cret"))
        #expect(config.feeds[0].displayURL == "https://***@stats.example.org/a.csv?token=***")
        #expect(!config.feeds[0].displayURL.contains("hunter2"))
    }

    static let bad: [(String, String, String)] = [
        ("plans = [\"plans/*.toml\"]", "plans = [\"plans/*.toml\"]\nsocket_mode = \"rw\"", "socket_mode: 'rw' is not an octal file mode"),
        ("plans = [\"plans/*.toml\"]", "plans = [\"nowhere/*.toml\"]", "plans[0]: 'nowhere/*.toml' matches no file"),
        ("format = \"csv\"", "format = \"xml\"", "feed[0].format: unknown format 'xml' (allowed: csv, json, table-csv"),
        ("url = \"file:feeds/annex.csv\"", "url = \"ftp://example.org/a.csv\"", "feed[0].url: scheme 'ftp' is not allowed (allowed: http, https, file)"),
        ("plan = \"futian-2023\"", "plan = \"shenzhen\"", "feed[0].plan: no plan with id 'shenzhen'"),
        ("format = \"csv\"", "format = \"csv\"\ninterval = \"6 hours\"", "feed[0].interval: '6 hours' is not a duration"),
        ("format = \"csv\"", "format = \"csv\"\nmax_bytes = \"lots\"", "feed[0].max_bytes: 'lots' is not a size"),
        ("format = \"csv\"", "format = \"csv\"\nretries = 99", "feed[0].retries: 99 is out of range (allowed: 0–10)"),
        ("format = \"csv\"", "format = \"csv\"\nintervall = \"1h\"", "feed[0].intervall: unknown key 'intervall' (did you mean 'interval'?)"),
        (
            "format = \"csv\"", "format = \"csv\"\n[[feed]]\nid = \"annex\"\nplan = \"futian-2023\"\nurl = \"file:b.csv\"\nformat = \"csv\"",
            "feed[1].id: duplicate feed id 'annex'"
        ),
        ("format = \"csv\"", "format = \"csv\"\ncolumns = { period = \"时间\", value = \"数值\" }", "'columns' is only for format \"table-csv\""),
        (
            "format = \"csv\"", "format = \"csv\"\n[[feed.map]]\nmatch = { A = \"1\" }\nindicator = \"gdp\"\nmeasure = \"growth\"",
            "[[feed.map]] is only for foreign formats"
        ),
        ("format = \"csv\"", "format = \"sdmx-csv\"", "feed[0].map: format \"sdmx-csv\" needs at least one [[feed.map]]"),
        (
            "format = \"csv\"", "format = \"table-csv\"\n[[feed.map]]\nmatch = { A = \"1\" }\nindicator = \"gdp\"\nmeasure = \"growth\"",
            "feed[0].columns: format \"table-csv\" needs columns"
        ),
        (
            "format = \"csv\"", "format = \"nbs-json\"\n[[feed.map]]\nmatch = {}\nindicator = \"gdp\"\nmeasure = \"growth\"",
            "feed[0].map[0].match: missing or empty 'match'"
        ),
        (
            "format = \"csv\"", "format = \"nbs-json\"\n[[feed.map]]\nmatch = { zb = \"A020102\" }\nindicator = \"steel\"\nmeasure = \"growth\"",
            "feed[0].map[0].indicator: plan 'futian-2023' has no indicator 'steel'"
        ),
        (
            "format = \"csv\"", "format = \"nbs-json\"\n[[feed.map]]\nmatch = { zb = \"A020102\" }\nindicator = \"gdp\"\nmeasure = \"yoy\"",
            "feed[0].map[0].measure: unknown measure 'yoy'"
        ),
        ("format = \"csv\"", "format = \"sdmx-json\"\ncolumns = { period = \"a\", value = \"b\" }", "'columns' is only for format \"table-csv\""),
        ("database = \"state/mirror.sqlite\"", "database = 5", "database: expected a string in quotes, found an integer"),
        ("database = \"state/mirror.sqlite\"", "database = \"m.sqlite\"\nlog_level = \"loud\"", "log_level: unknown log level 'loud'"),
        ("plans = [\"plans/*.toml\"]", "plans = [\"plans/*.toml\"]\nmax_concurrent_fetches = 0", "max_concurrent_fetches: 0 is out of range"),
        ("plans = [\"plans/*.toml\"]", "plans = [\"plans/*.toml\"]\nfetch_retention = \"2h\"", "fetch_retention: fetch_retention must be at least 1d"),
        ("plans = [\"plans/*.toml\"]", "plans = [\"plans/*.toml\"]\nfetch_retention = 90", "fetch_retention: expected"),
        ("id = \"annex\"", "id = \"annex feed\"", "feed[0].id: 'annex feed' is not a valid feed id"),
        ("alert_log = \"/var/log/plansync/alerts.jsonl\"", "alert_log = \"/var/log/plansync/alerts.jsonl\"\n[defaults\n", "TOML syntax error"),
    ]

    @Test(arguments: bad)
    func rejectsMalformedConfigsWithFileLocationAndReason(old: String, new: String, message: String) throws {
        let folder = try ConfigFolder()
        #expect(minimal.contains(old))
        #expect {
            try folder.load(minimal.replacingOccurrences(of: old, with: new))
        } throws: { error in
            let text = (error as? ConfigError)?.description ?? ""
            return text.hasPrefix(folder.path + "/plansync.toml") && text.contains(message)
        }
    }

    @Test func fetchRetentionDefaultsToNinetyDaysAndIsRead() throws {
        let folder = try ConfigFolder()
        #expect(try folder.load(minimal).fetchRetention == 90 * 86400)
        let config = try folder.load(
            minimal.replacingOccurrences(of: "plans = [\"plans/*.toml\"]", with: "plans = [\"plans/*.toml\"]\nfetch_retention = \"400d\""))
        #expect(config.fetchRetention == 400 * 86400)
    }

    @Test func theBasicsAreReadWithoutThePlans() throws {
        let folder = try ConfigFolder()
        _ = try folder.load(minimal)
        // A plan file that does not parse: the full configuration fails, the basics do not.
        try "id = ".write(toFile: folder.path + "/plans/broken.toml", atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try DaemonConfig.load(path: folder.path + "/plansync.toml") }
        let basics = try ConfigBasics.load(path: folder.path + "/plansync.toml")
        #expect(basics.socket.hasSuffix("/status.sock") || basics.socket.hasSuffix(".sock"))
        #expect(basics.database.hasPrefix("/"))
    }

    @Test func anEditedPlanFileIsReadAgainAnUnchangedOneIsNot() throws {
        let folder = try ConfigFolder()
        let first = try folder.load(minimal)
        let file = first.planFiles[0]
        // Same bytes, same file version: served from what this process read before.
        #expect(try folder.load(minimal).plans == first.plans)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.contains("region   = \"深圳市福田区\""))
        try text.replacingOccurrences(of: "region   = \"深圳市福田区\"", with: "region   = \"Edited\"").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try folder.load(minimal).plans[0].region == "Edited")
    }

    @Test func missingLocationsWithoutSystemdNameTheVariable() throws {
        let folder = try ConfigFolder()
        #expect {
            try folder.load("plans = [\"plans/*.toml\"]\n")
        } throws: { error in
            (error as? ConfigError)?.description.contains("database: not set, and $STATE_DIRECTORY is not set either") == true
        }
    }

    @Test func aBrokenPlanIsReportedWithItsOwnFile() throws {
        let folder = try ConfigFolder()
        try "id = \"x\"\ntitle = \"t\"\n[[indicator]]\ncode = \"a\"\nname = \"a\"\ncategory = \"maybe\"\nunit = \"%\"\n"
            .write(toFile: folder.path + "/plans/broken.toml", atomically: true, encoding: .utf8)
        #expect {
            try folder.load(minimal)
        } throws: { error in
            (error as? ConfigError)?.description.hasPrefix(folder.path + "/plans/broken.toml: indicator[0].category: unknown category 'maybe'") == true
        }
    }

    @Test func aMissingConfigFileSaysSo() {
        #expect {
            try DaemonConfig.load(path: "/nonexistent/plansync.toml", environment: [:])
        } throws: { error in
            (error as? ConfigError)?.description == "/nonexistent/plansync.toml: no such file"
        }
    }
}

@Suite struct ForeignFeedConfigTests {
    @Test func mapsAndColumnsAreReadIntoParseOptions() throws {
        let folder = try ConfigFolder()
        let config = try folder.load(
            """
            database = "m.sqlite"
            socket = "s.sock"
            alert_log = "a.jsonl"
            plans = ["plans/*.toml"]
            [[feed]]
            id = "bureau"
            plan = "futian-2023"
            url = "file:bureau.csv"
            format = "table-csv"
            charset = "gbk"
            columns = { period = "时间", value = "数值" }
            [[feed.map]]
            match = { "地区" = "福田区", "指标" = "地区生产总值" }
            indicator = "gdp"
            measure = "level"
            scale = 0.0001
            [[feed.map]]
            match = { reg = 440304 }
            indicator = "gdp"
            measure = "growth"
            cumulative = true
            """)
        let feed = try #require(config.feeds.first)
        #expect(feed.charset == .gb18030)
        #expect(feed.columns == TableColumns(period: "时间", value: "数值"))
        #expect(feed.maps.count == 2)
        #expect(feed.maps[0].match == ["地区": "福田区", "指标": "地区生产总值"])
        #expect(feed.maps[0].scale == Figure("0.0001"))
        #expect(feed.maps[1].match == ["reg": "440304"])
        #expect(feed.maps[1].cumulative == true)
        let options = feed.parseOptions(plan: config.plan("futian-2023"))
        #expect(options.maps == feed.maps && options.columns == feed.columns)
    }
}
