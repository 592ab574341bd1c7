import Foundation
import GRDB
import GRDBSQLite
import PlanCore
import Support

/// Why an acknowledgement or silence request was refused; nothing was changed.
public enum AckFailure: Error, Sendable, CustomStringConvertible {
    /// Bad input (HTTP 422): what is wrong and how to fix it.
    case invalid(String)
    /// Nothing to withdraw (HTTP 404).
    case notFound(String)
    case database(MirrorError)

    public var description: String {
        switch self {
        case .invalid(let message), .notFound(let message): message
        case .database(let error): error.description
        }
    }
}

/// What an acknowledgement or silence request did: the record as JSON and the events recorded.
public struct AckChange: Sendable {
    public var json: JSONValue
    public var eventSeqs: Range<Int>
    /// Plans whose alerts got an event (their reports are rewritten).
    public var plans: [String]
}

/// A new silence: the lists an alert must match (at least one given), until when, and why.
public struct SilenceRequest: Sendable {
    public var plans: [String] = []
    public var indicators: [String] = []
    public var alerts: [String] = []
    public var feeds: [String] = []
    public var until: Date
    public var note: String
    public var by: String

    public init(plans: [String] = [], indicators: [String] = [], alerts: [String] = [], feeds: [String] = [], until: Date, note: String, by: String) {
        self.plans = plans
        self.indicators = indicators
        self.alerts = alerts
        self.feeds = feeds
        self.until = until
        self.note = note
        self.by = by
    }
}

extension Mirror {
    /// The longest note (情况说明) kept, in characters.
    public static let noteLimit = 2000
    /// The longest name in `by`, in characters.
    public static let nameLimit = 100

    /// Checks a note and a name; the reason when one is not acceptable.
    static func checkNoteAndName(note: String, by: String) -> String? {
        if note.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "note is empty: say why (the explanation stays with the alert)" }
        if note.count > noteLimit { return "note is \(note.count) characters long; at most \(noteLimit)" }
        if note.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\n" && $0 != "\t" }) {
            return "note contains control characters (other than line breaks and tabs)"
        }
        if by.trimmingCharacters(in: .whitespaces).isEmpty { return "by is empty: name who acknowledges" }
        if by.count > nameLimit { return "by is \(by.count) characters long; at most \(nameLimit)" }
        if by.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) { return "by contains control characters" }
        return nil
    }

    /// Acknowledges the firing alert `key`: it is not notified again while it stays the same or
    /// improves, until `until`, the indicator's next figure (`untilNextRelease`), its
    /// resolution or `unacknowledge`. An acknowledgement already on the key is replaced.
    public func acknowledge(
        key: String, note: String, by: String, until: Date?, untilNextRelease: Bool, now: Date = Date()
    ) async -> Result<AckChange, AckFailure> {
        if let problem = Mirror.checkNoteAndName(note: note, by: by) { return .failure(.invalid(problem)) }
        if until != nil, untilNextRelease { return .failure(.invalid("give until or until_next_release, not both")) }
        if let until, until <= now {
            return .failure(.invalid("until \(Timestamp.string(until)) is not in the future (now \(Timestamp.string(now)))"))
        }
        return await change(now: now) { recorder in
            let db = recorder.db
            guard let alert = try StoredAlert.read(db, "WHERE key = ?", [key]).first else {
                return .failure(.invalid("no alert has the key '\(DisplayText.excerpt(key))'; the keys are in `plansync alerts --json` and GET /v1/alerts"))
            }
            guard alert.record.firing else {
                return .failure(.invalid("the alert '\(DisplayText.excerpt(key))' is not firing; only a firing alert can be acknowledged"))
            }
            let details = alert.parsedDetails
            var mark = 0
            if untilNextRelease {
                guard let plan = details["plan"]?.stringValue, let indicator = details["indicator"]?.stringValue,
                    AlertKind.planScoped.contains(alert.record.kind)
                else {
                    return .failure(
                        .invalid(
                            "until_next_release needs an alert of an indicator (target, overdue, conflict); '\(key)' is a \(alert.record.kind.rawValue) alert: give until instead"
                        ))
                }
                mark = try AckBook.figuresMark(db, plan: plan, indicator: indicator)
            }
            if let replaced = recorder.book.acks[key] { _ = try recorder.endAck(replaced, reason: "replaced", by: by) }
            var shortfall: Figure?
            if case .number(let text)? = details["shortfall"] { shortfall = Figure(text) }
            try db.runBound(
                """
                INSERT INTO ack (key, by, note, since, until, until_next_release, severity, shortfall, unit, figures_mark)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(key), .text(by), .text(note), .text(recorder.stamp), .text(until.map(Timestamp.string)),
                    .integer(untilNextRelease ? 1 : 0), .text(alert.record.severity.rawValue), .text(shortfall?.description),
                    .text(details["unit"]?.stringValue), .integer(Int64(mark)),
                ])
            let ack = Acknowledgement(
                id: Int(db.lastInsertedRowID), key: key, by: by, note: note, since: Timestamp.date(recorder.stamp) ?? now, until: until,
                untilNextRelease: untilNextRelease, severity: alert.record.severity, shortfall: shortfall,
                unit: details["unit"]?.stringValue, figuresMark: mark)
            recorder.book.acks[key] = ack
            let until = until.map { " until \(Timestamp.string($0))" } ?? (untilNextRelease ? " until the next figure" : "")
            try recorder.recordLifecycle(
                .acknowledged, alert: alert, details: details, ack: ack.json(), message: "acknowledged by \(by)\(until): \(note) — \(alert.record.message)")
            return .success(Mirror.ackJSON(ack, alert: alert.record.kind, ended: nil))
        }
    }

    /// Withdraws the acknowledgement of `key`; the alert, still firing, is notified again once.
    public func unacknowledge(key: String, by: String, now: Date = Date()) async -> Result<AckChange, AckFailure> {
        if let problem = Mirror.checkNoteAndName(note: "-", by: by) { return .failure(.invalid(problem)) }
        return await change(now: now) { recorder in
            let db = recorder.db
            guard let ack = recorder.book.acks[key], let alert = try StoredAlert.read(db, "WHERE key = ?", [key]).first else {
                return .failure(.notFound("the alert '\(DisplayText.excerpt(key))' has no acknowledgement in force"))
            }
            let ended = try recorder.endAck(ack, reason: "unacknowledged", by: by)
            try recorder.recordLifecycle(
                .unacknowledged, alert: alert, details: alert.parsedDetails, ack: ended,
                message: "acknowledgement by \(ack.by) withdrawn by \(by); still firing: \(alert.record.message)")
            return .success(Mirror.ackJSON(ack, alert: alert.record.kind, ended: (recorder.now, "unacknowledged", by)))
        }
    }

    /// Starts a silence: matching alerts are recorded as usual but not notified until it ends.
    public func silence(_ request: SilenceRequest, now: Date = Date()) async -> Result<AckChange, AckFailure> {
        if let problem = Mirror.checkNoteAndName(note: request.note, by: request.by) { return .failure(.invalid(problem)) }
        if request.plans.isEmpty, request.indicators.isEmpty, request.alerts.isEmpty, request.feeds.isEmpty {
            return .failure(.invalid("a silence needs at least one of plans, indicators, alerts, feeds (it would mute everything)"))
        }
        for kind in request.alerts where AlertKind(rawValue: kind) == nil {
            return .failure(
                .invalid("unknown alert kind '\(DisplayText.excerpt(kind))' (known: \(AlertKind.allCases.map(\.rawValue).joined(separator: ", ")))"))
        }
        for value in request.plans + request.indicators + request.feeds
        where value.isEmpty || value.count > 200 || value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return .failure(.invalid("an empty, over-long or unprintable plan, indicator or feed name ('\(DisplayText.excerpt(value))')"))
        }
        if request.until <= now {
            return .failure(.invalid("until \(Timestamp.string(request.until)) is not in the future (now \(Timestamp.string(now)))"))
        }
        return await change(now: now) { recorder in
            func list(_ values: [String]) -> SQLValue { .text(JSONValue.array(values.map(JSONValue.string)).text) }
            try recorder.db.runBound(
                "INSERT INTO silence (plans, indicators, alerts, feeds, until, note, by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    list(request.plans), list(request.indicators), list(request.alerts), list(request.feeds),
                    .text(Timestamp.string(request.until)), .text(request.note), .text(request.by), .text(recorder.stamp),
                ])
            let silence = Silence(
                id: Int(recorder.db.lastInsertedRowID), plans: request.plans, indicators: request.indicators, alerts: request.alerts,
                feeds: request.feeds, until: Timestamp.date(Timestamp.string(request.until)) ?? request.until, note: request.note,
                by: request.by, createdAt: Timestamp.date(recorder.stamp) ?? now)
            recorder.book.silences.append(silence)
            return .success(silence.json())
        }
    }

    /// Ends silence `id` now; its alerts still firing (and not muted otherwise) are notified once.
    public func unsilence(id: Int, by: String, now: Date = Date()) async -> Result<AckChange, AckFailure> {
        if let problem = Mirror.checkNoteAndName(note: "-", by: by) { return .failure(.invalid(problem)) }
        return await change(now: now) { recorder in
            guard let silence = recorder.book.silences.first(where: { $0.id == id }) else {
                return .failure(.notFound("no silence \(id) in force; see `plansync silences`"))
            }
            try recorder.endSilence(silence, reason: "unsilenced", by: by)
            return .success(silence.json(ended: (Timestamp.date(recorder.stamp) ?? now, "unsilenced", by)))
        }
    }

    /// Ends acknowledgements and silences whose time has come, notifying what still fires.
    /// Returns the events recorded. (Judging does the same at its start.)
    public func applyDeadlines(now: Date = Date()) async throws(MirrorError) -> AckChange {
        let result = await change(now: now) { recorder in
            try recorder.applyDeadlines()
            return .success(.null)
        }
        switch result {
        case .success(let change): return change
        case .failure(.database(let error)): throw error
        case .failure(let other): throw MirrorError(path: path, message: other.description)
        }
    }

    /// When the next acknowledgement or silence in force ends by its time (nil: none does).
    public func nextDeadline() async throws(MirrorError) -> Date? {
        try await read { db in
            let text = try String.fetchOne(
                db,
                sql: """
                    SELECT MIN(t) FROM (SELECT MIN(until) AS t FROM ack WHERE ended_at IS NULL AND until IS NOT NULL
                                        UNION ALL SELECT MIN(until) FROM silence WHERE ended_at IS NULL)
                    """)
            return text.flatMap(Timestamp.date)
        }
    }

    /// Acknowledgements in force (`history`: every one ever made, newest first), as JSON.
    public func acksJSON(history: Bool = false) async throws(MirrorError) -> [JSONValue] {
        try await read { db in
            var result: [JSONValue] = []
            let sql = """
                SELECT k.id, k.key, k.by, k.note, k.since, k.until, k.until_next_release, k.severity, k.shortfall, k.unit,
                       k.figures_mark, k.ended_at, k.end_reason, k.ended_by, a.alert
                FROM ack k LEFT JOIN alert a ON a.key = k.key
                """ + (history ? " ORDER BY k.id DESC" : " WHERE k.ended_at IS NULL ORDER BY k.id")
            try db.eachRow(sql) { row in
                result.append(
                    Mirror.ackJSON(
                        AckBook.acknowledgement(row), alert: DirectSQL.text(row, 14).flatMap(AlertKind.init(rawValue:)),
                        ended: AckBook.ending(row, from: 11)))
            }
            return result
        }
    }

    /// Silences in force (`history`: every one ever made, newest first), as JSON.
    public func silencesJSON(history: Bool = false) async throws(MirrorError) -> [JSONValue] {
        try await read { db in
            var result: [JSONValue] = []
            let sql =
                "SELECT id, plans, indicators, alerts, feeds, until, note, by, created_at, ended_at, end_reason, ended_by FROM silence"
                + (history ? " ORDER BY id DESC" : " WHERE ended_at IS NULL ORDER BY id")
            try db.eachRow(sql) { row in
                result.append(AckBook.silence(row).json(ended: AckBook.ending(row, from: 9)))
            }
            return result
        }
    }

    /// An acknowledgement as the API shows it: the key and kind, then its fields.
    static func ackJSON(_ ack: Acknowledgement, alert: AlertKind?, ended: (at: Date, reason: String, by: String?)?) -> JSONValue {
        guard case .object(let members) = ack.json(ended: ended) else { return .null }
        return .object([("key", .string(ack.key)), ("alert", .optional(alert?.rawValue))] + members)
    }

    /// Runs `body` in a write transaction with an event recorder holding the acknowledgements
    /// and silences in force; deadlines passed are applied first (and kept, even when `body`
    /// refuses: the daemon delivers events after every request). `body` checks before it writes.
    func change(now: Date, _ body: @escaping @Sendable (inout EventRecorder) throws -> Result<JSONValue, AckFailure>) async -> Result<
        AckChange, AckFailure
    > {
        do {
            return try await write { db in
                let seq = try Int.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(seq), 0) FROM alert_event")) ?? 0
                var recorder = EventRecorder(db: db, now: now, collect: false, seq: seq, book: try AckBook.load(db))
                try recorder.applyDeadlines()
                return try body(&recorder).map { json in
                    AckChange(json: json, eventSeqs: (seq + 1)..<(recorder.seq + 1), plans: recorder.plans.sorted())
                }
            }
        } catch {
            return .failure(.database(error))
        }
    }
}

/// The acknowledgements and silences in force, read at the start of a write transaction.
struct AckBook {
    var acks: [String: Acknowledgement] = [:]
    var silences: [Silence] = []

    var isEmpty: Bool { acks.isEmpty && silences.isEmpty }

    static func load(_ db: Database) throws -> AckBook {
        var book = AckBook()
        try db.eachRow(
            """
            SELECT id, key, by, note, since, until, until_next_release, severity, shortfall, unit, figures_mark
            FROM ack WHERE ended_at IS NULL
            """
        ) { row in
            let ack = acknowledgement(row)
            book.acks[ack.key] = ack
        }
        try db.eachRow(
            "SELECT id, plans, indicators, alerts, feeds, until, note, by, created_at FROM silence WHERE ended_at IS NULL ORDER BY id"
        ) { row in book.silences.append(silence(row)) }
        return book
    }

    /// An `ack` row: 11 columns in table order (id … figures_mark), from column `first`.
    static func acknowledgement(_ row: OpaquePointer, from first: Int32 = 0) -> Acknowledgement {
        func text(_ column: Int32) -> String? { DirectSQL.text(row, first + column) }
        return Acknowledgement(
            id: Int(sqlite3_column_int64(row, first)), key: text(1) ?? "", by: text(2) ?? "", note: text(3) ?? "",
            since: text(4).flatMap(Timestamp.date) ?? Date(timeIntervalSince1970: 0), until: text(5).flatMap(Timestamp.date),
            untilNextRelease: sqlite3_column_int64(row, first + 6) != 0, severity: text(7).flatMap(Severity.init(rawValue:)) ?? .warning,
            shortfall: text(8).flatMap { Figure($0) }, unit: text(9), figuresMark: Int(sqlite3_column_int64(row, first + 10)))
    }

    /// How an acknowledgement or silence ended (`ended_at`, `end_reason`, `ended_by` from
    /// column `first`), nil while it is in force.
    static func ending(_ row: OpaquePointer, from first: Int32) -> (at: Date, reason: String, by: String?)? {
        DirectSQL.text(row, first).flatMap(Timestamp.date).map { (at: $0, reason: DirectSQL.text(row, first + 1) ?? "", by: DirectSQL.text(row, first + 2)) }
    }

    /// A `silence` row (its first 9 columns in table order).
    static func silence(_ row: OpaquePointer) -> Silence {
        func list(_ column: Int32) -> [String] {
            guard let text = DirectSQL.text(row, column), case .array(let values)? = try? JSONParser.parse(Array(text.utf8)) else { return [] }
            return values.compactMap(\.stringValue)
        }
        return Silence(
            id: Int(sqlite3_column_int64(row, 0)), plans: list(1), indicators: list(2), alerts: list(3), feeds: list(4),
            until: DirectSQL.text(row, 5).flatMap(Timestamp.date) ?? Date(timeIntervalSince1970: 0), note: DirectSQL.text(row, 6) ?? "",
            by: DirectSQL.text(row, 7) ?? "", createdAt: DirectSQL.text(row, 8).flatMap(Timestamp.date) ?? Date(timeIntervalSince1970: 0))
    }

    /// The first silence in force matching an alert, if any.
    func silence(kind: AlertKind, details: JSONValue) -> Silence? {
        silences.first { $0.matches(kind: kind, details: details) }
    }

    /// Ends the acknowledgement of `key` (stored, and out of the book).
    @discardableResult
    mutating func end(_ db: Database, key: String, stamp: String, reason: String, by: String?) throws -> Acknowledgement? {
        guard let ack = acks.removeValue(forKey: key) else { return nil }
        try db.runBound(
            "UPDATE ack SET ended_at = ?, end_reason = ?, ended_by = ? WHERE id = ?",
            [.text(stamp), .text(reason), .text(by), .integer(Int64(ack.id))])
        return ack
    }

    /// The newest `first_fetch_id` among the figures of a plan's indicator (0: none yet).
    static func figuresMark(_ db: Database, plan: String, indicator: String) throws -> Int {
        try Int.fetchOne(
            db,
            sql: """
                SELECT COALESCE(MAX(first_fetch_id), 0) FROM observation
                WHERE feed_id IN (SELECT id FROM feed WHERE plan_id = ?) AND indicator = ?
                """, arguments: [plan, indicator]) ?? 0
    }

    /// `<plan>/<indicator>/<year>/target_missed` for an at-risk alert's key (nil for others).
    static func missedKey(forAtRisk key: String) -> String? {
        let suffix = "/" + AlertKind.targetAtRisk.rawValue
        guard key.hasSuffix(suffix) else { return nil }
        return String(key.dropLast(suffix.count)) + "/" + AlertKind.targetMissed.rawValue
    }
}

extension StoredAlert {
    /// The details as JSON (an empty object when unreadable).
    var parsedDetails: JSONValue { (try? JSONParser.parse(Array(details.utf8))) ?? .object([]) }
}
