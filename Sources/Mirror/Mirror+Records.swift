import Foundation
import GRDB
import GRDBSQLite
import PlanCore
import Support

/// A feed as the mirror records it (its URL already stripped of credentials).
public struct FeedDescription: Sendable {
    public var id: String
    public var plan: String
    public var url: String
    public var format: String
    public var priority: Int
    public var interval: Double

    public init(id: String, plan: String, url: String, format: String, priority: Int, interval: Double) {
        self.id = id
        self.plan = plan
        self.url = url
        self.format = format
        self.priority = priority
        self.interval = interval
    }
}

/// What the mirror remembers of a feed between fetches.
public struct FeedState: Sendable, Equatable {
    public var id: String
    public var etag: String?
    public var lastModified: String?
    public var bodySHA256: String?
    public var consecutiveFailures: Int
    public var lastAttemptAt: Date?
    public var lastSuccessAt: Date?
    public var lastError: String?
    public var lastFetchID: Int64?
    public var createdAt: Date
}

/// One fetch attempt cycle, as stored in the `fetch` table.
public struct FetchRecord: Sendable {
    public var feed: String
    public var startedAt: Date
    public var finishedAt: Date
    /// How the fetch ended (`ok`, `not_modified`, `timeout`, ..., `parse_error`).
    public var outcome: FetchOutcome
    public var httpStatus: Int?
    public var bytes: Int
    public var durationMs: Double?
    public var connectMs: Double?
    public var firstByteMs: Double?
    public var attempts: Int
    public var url: String?
    public var etag: String?
    public var lastModified: String?
    public var bodySHA256: String?
    public var contentType: String?
    /// Bounded to `DisplayText.messageLimit` characters: it may quote a feed's body.
    public var error: String? { didSet { if let error, error.utf8.count > DisplayText.messageLimit { self.error = DisplayText.message(error) } } }

    public init(
        feed: String, startedAt: Date, finishedAt: Date, outcome: FetchOutcome, httpStatus: Int? = nil, bytes: Int = 0,
        durationMs: Double? = nil, connectMs: Double? = nil, firstByteMs: Double? = nil, attempts: Int = 1,
        url: String? = nil, etag: String? = nil, lastModified: String? = nil, bodySHA256: String? = nil,
        contentType: String? = nil, error: String? = nil
    ) {
        self.feed = feed
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.httpStatus = httpStatus
        self.bytes = bytes
        self.durationMs = durationMs
        self.connectMs = connectMs
        self.firstByteMs = firstByteMs
        self.attempts = attempts
        self.url = url
        self.etag = etag
        self.lastModified = lastModified
        self.bodySHA256 = bodySHA256
        self.contentType = contentType
        self.error = error.map { DisplayText.message($0) }
    }
}

/// What a reconciliation did.
public struct ReconcileCounts: Sendable, Equatable {
    public var inserted = 0
    public var revised = 0
    public var unchanged = 0
    public var skipped = 0
    /// Of the unchanged values, how many got a new unit or note.
    public var annotated = 0

    public init(inserted: Int = 0, revised: Int = 0, unchanged: Int = 0, skipped: Int = 0, annotated: Int = 0) {
        self.inserted = inserted
        self.revised = revised
        self.unchanged = unchanged
        self.skipped = skipped
        self.annotated = annotated
    }

    /// Whether any stored observation changed (what judging reads).
    public var changedObservations: Bool { inserted + revised + annotated > 0 }
}
