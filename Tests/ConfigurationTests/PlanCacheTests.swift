import Foundation
import Testing
@testable import Configuration
@testable import PlanCore

/// The cache of parsed plans beside the database: a plan read from it is the plan the file
/// says, a changed or damaged entry is never used, and files just written are not cached.
@Suite struct PlanCacheTests {
    let folder: String

    init() throws {
        folder = NSTemporaryDirectory() + "plansync-plan-cache-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    /// A plan with every field a plan file can set, decimals written with their trailing zeros.
    static let planText = """
        id = "every-field"
        title = "每个字段"
        title_en = "Every field"
        region = "某区"
        pace_tolerance_pp = 1.50
        lang = "en"

        [[indicator]]
        code = "gdp"
        name = "地区生产总值"
        name_en = "GDP"
        category = "expected"
        unit = "%"
        targets = [
          { year = 2023, rule = "growth_at_least", value = 6.50, text = "增长6.5%" },
          { year = 2024, rule = "growth_positive" },
          { year = 2025, rule = "decline_vs_base_at_least", value = 13.5, base_year = 2020 },
          { year = 2026, rule = "average_growth_at_least", value = 6.0, base_year = 2020 },
        ]

        [[indicator]]
        code = "land"
        name = "用地"
        category = "binding"
        unit = "公顷"
        targets = [
          { year = 2023, rule = "at_most", value = 1200 },
          { year = 2024, rule = "more_than", value = -0.25 },
          { year = 2025, rule = "assigned" },
        ]
        """

    func write(_ name: String, _ text: String) throws -> String {
        let path = folder + "/" + name
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    @Test func aCachedPlanDecodesToTheParsedPlan() throws {
        let file = try write("p.toml", Self.planText)
        let plan = try PlanFile.load(path: file)
        let version = try #require(PlanFile.FileVersion(path: file))
        let cache = folder + "/mirror.sqlite.plans-cache"
        PlanCache.write([(file, version, plan)], to: cache, now: Date().addingTimeInterval(10))
        let decoded = try #require(PlanCache(path: cache).plan(file: file, version: version))
        #expect(decoded == plan)
        #expect(decoded.indicators[0].targets[0].rule.value?.description == "6.50")
        #expect(decoded.paceTolerance.description == "1.50" && decoded.language == .en)
    }

    @Test func theCacheIsUsedOnlyForTheSameVersionOfTheFile() throws {
        let file = try write("q.toml", Self.planText)
        var plan = try PlanFile.load(path: file)
        let version = try #require(PlanFile.FileVersion(path: file))
        // What the cache says for this version is what a load returns (a different title
        // here, to see where it came from)...
        plan.title = "from the cache"
        let cachePath = folder + "/c.plans-cache"
        PlanCache.write([(file, version, plan)], to: cachePath, now: Date().addingTimeInterval(10))
        let first = try PlanFile.cachedLoad(path: file, persistent: PlanCache(path: cachePath))
        #expect(first.plan.title == "from the cache" && !first.parsed)
        // ...until the file changes.
        try Self.planText.replacingOccurrences(of: "每个字段", with: "改过的").write(toFile: file, atomically: true, encoding: .utf8)
        let second = try PlanFile.cachedLoad(path: file, persistent: PlanCache(path: cachePath))
        #expect(second.plan.title == "改过的" && second.parsed)
    }

    @Test func aDamagedOrForeignCacheIsIgnored() throws {
        let file = try write("r.toml", Self.planText)
        let plan = try PlanFile.load(path: file)
        let version = try #require(PlanFile.FileVersion(path: file))
        let cachePath = folder + "/d.plans-cache"
        PlanCache.write([(file, version, plan)], to: cachePath, now: Date().addingTimeInterval(10))
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: cachePath)))
        #expect(PlanCache(path: cachePath).entries.count == 1)
        // One byte flipped in the body, the file cut short, another format's first line.
        bytes[bytes.count - 3] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: cachePath))
        #expect(PlanCache(path: cachePath).entries.isEmpty)
        try Data(bytes.prefix(40)).write(to: URL(fileURLWithPath: cachePath))
        #expect(PlanCache(path: cachePath).entries.isEmpty)
        try Data("plansync-plan-cache 0\n".utf8).write(to: URL(fileURLWithPath: cachePath))
        #expect(PlanCache(path: cachePath).entries.isEmpty)
    }

    @Test func aFileJustWrittenIsNotCached() throws {
        let file = try write("s.toml", Self.planText)
        let plan = try PlanFile.load(path: file)
        let version = try #require(PlanFile.FileVersion(path: file))
        let cachePath = folder + "/e.plans-cache"
        PlanCache.write([(file, version, plan)], to: cachePath)
        #expect(PlanCache(path: cachePath).entries.isEmpty, "modified within the last \(PlanCache.settle) s")
    }

    @Test func loadingAConfigurationWritesTheCacheBesideTheDatabase() throws {
        try FileManager.default.createDirectory(atPath: folder + "/plans", withIntermediateDirectories: true)
        let file = try write("plans/t.toml", Self.planText)
        // Old enough to be cached: modified a minute ago (its change time is now, so the
        // cache is written as a later process would see it).
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-60)], ofItemAtPath: file)
        let config = """
            database = "mirror.sqlite"
            socket = "status.sock"
            alert_log = "alerts.jsonl"
            plans = ["plans/*.toml"]
            """
        try config.write(toFile: folder + "/plansync.toml", atomically: true, encoding: .utf8)
        _ = try DaemonConfig.load(path: folder + "/plansync.toml", environment: [:])
        #expect(FileManager.default.fileExists(atPath: folder + "/mirror.sqlite.plans-cache"))
    }
}
