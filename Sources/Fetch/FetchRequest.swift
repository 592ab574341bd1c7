import PlanCore
import Foundation

/// One feed to fetch, with the validators of its last successful fetch and its limits.
public struct FetchRequest: Sendable {
    /// Names the feed in results and logs.
    public var id: String
    /// `http://`, `https://` or `file://` URL; may carry credentials (never shown).
    public var url: String
    /// ETag of the last successful fetch, sent as If-None-Match.
    public var etag: String?
    /// Last-Modified of the last successful fetch, sent as If-Modified-Since.
    public var lastModified: String?
    /// Seconds one attempt may take in total.
    public var timeout: Double = 30
    /// Seconds to connect.
    public var connectTimeout: Double = 10
    /// A transfer slower than this many bytes per second for `lowSpeedTime` is a timeout.
    public var lowSpeedLimit: Int = 64
    public var lowSpeedTime: Double = 15
    /// Largest decoded body accepted.
    public var maxBytes: Int = 64 << 20
    /// Attempts after the first for transient failures.
    public var retries: Int = 3
    /// Backoff: attempt n waits a random time up to min(retryMaxDelay, retryBaseDelay × 2^(n−1)).
    public var retryBaseDelay: Double = 1
    /// Longest wait between attempts, also the cap on a server's Retry-After.
    public var retryMaxDelay: Double = 60
    /// Connections to link-local addresses (169.254/16, fe80::/10: cloud metadata) are refused unless set.
    public var allowLinkLocal = false
    /// PEM bundle of trusted CAs for this feed (system store otherwise).
    public var caFile: String?
    public var userAgent: String = "plansync"
    /// Talk HTTP over this Unix socket instead of TCP (the status socket clients).
    public var unixSocket: String?
    /// `GET` unless set (e.g. `POST` for /v1/sync).
    public var method: String?
    /// A request body (sent with `POST`; redirects are then not followed).
    public var body: String?
    /// Extra request headers, `Name: value` each.
    public var headers: [String] = []
    /// Set for `smtp://` and `smtps://` URLs: the message and its envelope.
    public var mail: MailEnvelope?
    /// Nice value of the thread that hashes a body of 1 MiB or more (off the engine's queue,
    /// which keeps serving other transfers meanwhile). The daemon uses 19.
    public var largeBodyNiceness: Int32 = 0

    public init(id: String, url: String) {
        self.id = id
        self.url = url
    }
}

/// A message to send by SMTP (libcurl's `smtp://` and `smtps://`).
public struct MailEnvelope: Sendable {
    public var from: String
    public var to: [String]
    /// The whole message: headers, a blank line, the body; CRLF line ends.
    public var message: [UInt8]
    /// Upgrade a plain `smtp://` connection with STARTTLS, and fail without it.
    public var startTLS: Bool
    /// SMTP AUTH, when the server asks for it.
    public var username: String?
    public var password: String?

    public init(from: String, to: [String], message: [UInt8], startTLS: Bool = false, username: String? = nil, password: String? = nil) {
        self.from = from
        self.to = to
        self.message = message
        self.startTLS = startTLS
        self.username = username
        self.password = password
    }
}

/// Seconds from the start of the last attempt.
public struct FetchTimings: Sendable, Equatable {
    public var connect: Double
    public var firstByte: Double
    public var total: Double

    public init(connect: Double = 0, firstByte: Double = 0, total: Double = 0) {
        self.connect = connect
        self.firstByte = firstByte
        self.total = total
    }
}

/// Everything an operator needs to know about one fetch.
public struct FetchResult: Sendable {
    public var id: String
    public var outcome: FetchOutcome
    /// HTTP status of the last response (nil for file: URLs and failures before a response).
    public var httpStatus: Int?
    /// The decoded body (empty unless `ok`).
    public var body: [UInt8]
    /// Decoded bytes received in the last attempt.
    public var bytes: Int
    /// SHA-256 of the body, hex (nil unless `ok`).
    public var sha256: String?
    public var timings: FetchTimings
    /// Seconds from the first attempt's start to the end, backoff included.
    public var elapsed: Double
    /// The URL finally fetched after redirects, credentials removed.
    public var effectiveURL: String
    /// Validators to send next time (the old ones are kept on `not_modified`).
    public var etag: String?
    public var lastModified: String?
    public var contentType: String?
    /// Seconds the server asked to wait before trying again (Retry-After), if it said.
    public var retryAfter: Double?
    public var attempts: Int
    /// One line saying what happened, without credentials.
    public var message: String
}
