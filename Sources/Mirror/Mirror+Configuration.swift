import Foundation
import GRDB
import GRDBSQLite
import PlanCore
import Support

extension Mirror {
    /// Copies plans (indicators, targets) and feeds from the configuration into the mirror,
    /// so the file explains itself. Plans no longer configured are removed (their observations
    /// stay); feeds no longer configured are marked inactive.
    public func mirrorConfiguration(plans: [(plan: Plan, file: String)], feeds: [FeedDescription], now: Date) async throws(MirrorError) {
        let stamp = Timestamp.string(now)
        let planList = plans.map { ($0.plan, $0.file) }
        // Each plan's rows hashed on every core before the transaction (2,800 plans of 150
        // targets are half a second of hashing on one).
        let rowsSHA = plans.concurrentMap { Mirror.rowsSHA256(Mirror.rows(of: $0.plan, file: $0.file)) }
        try await write { db in
            let ids = Set(planList.map(\.0.id))
            let existing = try String.fetchAll(db.cachedStatement(sql: "SELECT id FROM plan"))
            for id in existing where !ids.contains(id) {
                try db.run("DELETE FROM plan WHERE id = ?", [id])
                try db.run("DELETE FROM verdict WHERE plan_id = ?", [id])
            }
            // A plan whose stored rows already say the same is left alone (this runs at the
            // start of every `plansync sync`): recognised by the SHA-256 of its rows, so an
            // unchanged province costs one query, not three per plan.
            var storedSHA: [String: String] = [:]
            try db.eachRow("SELECT id, rows_sha256 FROM plan WHERE rows_sha256 IS NOT NULL") { row in
                storedSHA[DirectSQL.text(row, 0) ?? ""] = DirectSQL.text(row, 1)
            }
            for ((plan, file), sha) in zip(planList, rowsSHA) {
                if storedSHA[plan.id] == sha { continue }
                try db.run(
                    """
                    INSERT INTO plan (id, title, title_en, region, file, updated_at, rows_sha256) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET title = excluded.title, title_en = excluded.title_en,
                        region = excluded.region, file = excluded.file, updated_at = excluded.updated_at,
                        rows_sha256 = excluded.rows_sha256
                    """, [plan.id, plan.title, plan.titleEN, plan.region, file, stamp, sha])
                try db.run("DELETE FROM indicator WHERE plan_id = ?", [plan.id])
                for (position, indicator) in plan.indicators.enumerated() {
                    try db.run(
                        """
                        INSERT INTO indicator (plan_id, code, position, name, name_en, category, unit)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """,
                        [
                            plan.id, indicator.code, position, indicator.name, indicator.nameEN,
                            indicator.category.rawValue, indicator.unit,
                        ])
                    for target in indicator.targets {
                        try db.run(
                            """
                            INSERT INTO target (plan_id, indicator, year, rule, value, base_year, text)
                            VALUES (?, ?, ?, ?, ?, ?, ?)
                            """,
                            [
                                plan.id, indicator.code, target.year, target.rule.name,
                                target.rule.value?.description, target.rule.baseYear, target.text,
                            ])
                    }
                }
            }
            // Feeds no longer configured become inactive; configured ones are inserted or, when
            // something changed, updated. Stored rows are read once and compared here, so an
            // unchanged configuration of 500 feeds costs one query rather than 500 upserts.
            var stored: [String: [DatabaseValue]] = [:]
            for row in try db.rows("SELECT id, plan_id, url, format, priority, interval_seconds, active FROM feed") {
                stored[row[0]] = Array(row.databaseValues.dropFirst())
            }
            let configured = Set(feeds.map(\.id))
            if stored.contains(where: { !configured.contains($0.key) && $0.value.last != 0.databaseValue }) {
                try db.run(
                    "UPDATE feed SET active = 0 WHERE active = 1 AND id NOT IN (SELECT value FROM json_each(?))",
                    [JSONValue.array(feeds.map { .string($0.id) }).text])
            }
            for feed in feeds {
                let wanted = [
                    feed.plan.databaseValue, feed.url.databaseValue, feed.format.databaseValue,
                    feed.priority.databaseValue, feed.interval.databaseValue, 1.databaseValue,
                ]
                if stored[feed.id] == wanted { continue }
                try db.runBound(
                    """
                    INSERT INTO feed (id, plan_id, url, format, priority, interval_seconds, active, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, 1, ?)
                    ON CONFLICT(id) DO UPDATE SET plan_id = excluded.plan_id, url = excluded.url,
                        format = excluded.format, priority = excluded.priority,
                        interval_seconds = excluded.interval_seconds, active = 1
                    """,
                    [
                        .text(feed.id), .text(feed.plan), .text(feed.url), .text(feed.format), .integer(Int64(feed.priority)),
                        .real(feed.interval), .text(stamp),
                    ])
            }
        }
    }

    /// A plan as the rows `mirrorConfiguration` stores: the plan, its indicators in order,
    /// their targets by indicator and year.
    static func rows(of plan: Plan, file: String) -> [[DatabaseValue]] {
        var rows: [[DatabaseValue]] = [[plan.title.databaseValue, plan.titleEN.databaseValue, plan.region.databaseValue, file.databaseValue]]
        for (position, indicator) in plan.indicators.enumerated() {
            rows.append([
                indicator.code.databaseValue, position.databaseValue, indicator.name.databaseValue,
                indicator.nameEN.databaseValue, indicator.category.rawValue.databaseValue, indicator.unit.databaseValue,
            ])
        }
        let targets = plan.indicators.flatMap { indicator in indicator.targets.map { (indicator.code, $0) } }
            .sorted { ($0.0, $0.1.year) < ($1.0, $1.1.year) }
        for (code, target) in targets {
            rows.append([
                code.databaseValue, target.year.databaseValue, target.rule.name.databaseValue,
                target.rule.value?.description.databaseValue ?? .null, target.rule.baseYear.databaseValue,
                target.text.databaseValue,
            ])
        }
        return rows
    }

    /// The SHA-256 of a plan's rows (each value length-prefixed, so no text can pass for another).
    /// The bytes are gathered in one buffer and each value written as its plain text (a
    /// province's 2,800 plans are checked at the start of every `plansync sync`).
    static func rowsSHA256(_ rows: [[DatabaseValue]]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(rows.count * 48)
        func field(_ text: String, kind: UInt8) {
            var text = text
            bytes.append(kind)
            bytes.append(contentsOf: String(text.utf8.count).utf8)
            bytes.append(0x3A)
            text.withUTF8 { bytes.append(contentsOf: $0) }
            bytes.append(0x20)
        }
        for row in rows {
            for value in row {
                switch value.storage {
                case .null: bytes.append(0x2D); bytes.append(0x20)
                case .int64(let i): field(String(i), kind: 0x69)
                case .double(let d): field("\(d)", kind: 0x66)
                case .string(let s): field(s, kind: 0x73)
                case .blob(let data): field(data.base64EncodedString(), kind: 0x62)
                }
            }
            bytes.append(0x0A)
        }
        return SHA256.hex(bytes)
    }
}
