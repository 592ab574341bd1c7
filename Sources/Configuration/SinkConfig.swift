import Foundation
import PlanCore
import Support

/// Where a notification sink delivers (docs/sinks.md).
public enum SinkKind: String, Sendable, CaseIterable {
    /// Alertmanager's v2 API (`POST /api/v2/alerts`).
    case alertmanager
    /// One JSON object per event (the alert log line), signed with the secret when set.
    case webhook
    /// A DingTalk group robot: markdown digests, signed (`timestamp`, `sign`) with the secret when set.
    case dingtalk
    /// A WeCom (企业微信) group robot: markdown digests.
    case wecom
    /// E-mail through SMTP: plain-text digests.
    case email

    /// Kinds that send a digest of several events per message (group robots, e-mail).
    public var isDigest: Bool { self == .dingtalk || self == .wecom || self == .email }

    /// The kinds this plansync delivers to.
    public static let allowed = allCases.map(\.rawValue).joined(separator: ", ")
}

/// Which events a sink takes: each list, when given, must contain the event's value.
public struct SinkMatch: Sendable, Equatable {
    public var plans: Set<String>?
    public var severities: Set<String>?
    public var alerts: Set<String>?

    public init(plans: Set<String>? = nil, severities: Set<String>? = nil, alerts: Set<String>? = nil) {
        self.plans = plans
        self.severities = severities
        self.alerts = alerts
    }

    /// True when an event (its alert log line's object) passes. Events without a plan
    /// (feed and sink health) pass a plan list only when one of its plans is theirs.
    public func matches(_ event: JSONValue) -> Bool {
        if let plans, !(event["plan"]?.stringValue.map(plans.contains) ?? false) { return false }
        if let severities, !(event["severity"]?.stringValue.map(severities.contains) ?? false) { return false }
        if let alerts, !(event["alert"]?.stringValue.map(alerts.contains) ?? false) { return false }
        return true
    }
}

/// One `[[sink]]` entry, validated; its secret read from `secret_file` or a systemd credential.
public struct SinkConfig: Sendable, Equatable, CustomStringConvertible {
    public var id: String
    public var kind: SinkKind
    /// As configured: may hold an access token (DingTalk, WeCom) or credentials — shown only
    /// through `Redaction.url`.
    public var url: String
    public var match: SinkMatch
    /// HMAC key of webhook and DingTalk signatures; never shown.
    public var secret: String?
    /// Seconds one delivery may take.
    public var timeout: Double
    /// How long an event is retried before it is given up (seconds).
    public var maxAge: Double
    /// A new sink starts at the first event ever instead of the current end of the stream.
    public var fromStart: Bool
    /// Language of digest messages: `zh` or `en`.
    public var lang: String
    /// E-mail: sender, recipients, subject prefix, and whether `smtp://` must upgrade with STARTTLS.
    public var from: String?
    public var to: [String] = []
    public var subjectPrefix = "[plansync]"
    public var startTLS = false
    /// How often Alertmanager is told again of the alerts still firing (seconds).
    public var resendInterval: Double

    public static let keys = [
        "id", "kind", "url", "match", "secret_file", "credential", "timeout", "max_age", "from_start", "resend_interval", "lang", "from", "to",
        "subject_prefix", "starttls",
    ]
    static let matchKeys = ["plans", "severity", "alerts"]
    /// Alert kinds a match may name: the mirror's and the sinks' own.
    public static let alertNames = AlertKind.allCases.map(\.rawValue)

    /// The sink as an operator may see it: no secret, the URL redacted.
    public var description: String { "\(id) (\(kind.rawValue) \(Redaction.url(url)))" }

    /// Validates one `[[sink]]` table. `environment` supplies `CREDENTIALS_DIRECTORY`.
    static func parse(
        _ table: TableReader, plans: Set<String>, folder: String, environment: [String: String]
    ) throws(ConfigError) -> SinkConfig {
        try table.rejectUnknownKeys(allowed: keys)
        let id = try table.requiredString("id", example: "\"ops-webhook\"")
        guard !id.isEmpty, id.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D || $0 == 0x5F }) else {
            throw table.error("id", "'\(id)' is not a valid sink id (lower-case letters, digits, '-', '_')")
        }
        guard id != "alert_log" else { throw table.error("id", "'alert_log' is the alert log's own cursor; choose another id") }
        let kindText = try table.requiredString("kind", example: "\"webhook\"")
        guard let kind = SinkKind(rawValue: kindText) else {
            throw table.error("kind", "unknown sink kind '\(kindText)' (allowed: \(SinkKind.allowed))")
        }
        let url = try table.requiredString("url", example: kind == .email ? "\"smtp://127.0.0.1:25\"" : "\"https://hooks.example.org/plansync\"")
        let schemes = kind == .email ? ["smtp", "smtps"] : ["http", "https"]
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), schemes.contains(scheme),
            let host = parts.host, !host.isEmpty
        else {
            throw table.error(
                "url", "'\(Redaction.url(url))' is not a \(schemes.joined(separator: " or ")) URL with a host (a \(kind.rawValue) sink needs one)")
        }

        var match = SinkMatch()
        if let m = try table.table("match") {
            try m.rejectUnknownKeys(allowed: matchKeys)
            if let names = try m.strings("plans") {
                for name in names where !plans.contains(name) {
                    throw m.error("plans", "no plan with id '\(name)' (loaded plans: \(plans.sorted().prefix(10).joined(separator: ", ")))")
                }
                match.plans = Set(names)
            }
            if let names = try m.strings("severity") {
                for name in names where Severity(rawValue: name) == nil {
                    throw m.error("severity", "unknown severity '\(name)' (allowed: \(Severity.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                match.severities = Set(names)
            }
            if let names = try m.strings("alerts") {
                for name in names where !alertNames.contains(name) {
                    throw m.error("alerts", "unknown alert '\(name)' (allowed: \(alertNames.joined(separator: ", ")))")
                }
                match.alerts = Set(names)
            }
        }

        var secret: String?
        let secretFile = try table.string("secret_file"), credential = try table.string("credential")
        if secretFile != nil, credential != nil {
            throw table.error("credential", "give either secret_file or credential, not both")
        }
        if kind == .wecom, secretFile != nil || credential != nil {
            throw table.error(
                secretFile != nil ? "secret_file" : "credential", "a wecom robot has no signing secret: its key is the url's key=… parameter")
        }
        if let file = secretFile {
            secret = try readSecret(absolutePath(file, relativeTo: folder), table: table, key: "secret_file")
        } else if let name = credential {
            guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
                throw table.error(
                    "credential",
                    "credential '\(name)' needs $CREDENTIALS_DIRECTORY (LoadCredential=\(name):/path in the unit); use secret_file outside systemd")
            }
            guard !name.isEmpty, !name.contains("/") else { throw table.error("credential", "'\(name)' is not a credential name") }
            secret = try readSecret((directory as NSString).appendingPathComponent(name), table: table, key: "credential")
        }

        let timeout = try table.duration("timeout") ?? 10
        guard timeout > 0, timeout <= 300 else { throw table.error("timeout", "timeout must be between 1ms and 5m (e.g. \"10s\")") }
        let maxAge = try table.duration("max_age") ?? 86400
        guard maxAge >= 60 else { throw table.error("max_age", "max_age must be at least 1m (e.g. \"24h\")") }
        let resend = try table.duration("resend_interval") ?? 60
        guard resend >= 10 else { throw table.error("resend_interval", "resend_interval must be at least 10s (e.g. \"5m\")") }
        if table.has("resend_interval"), kind != .alertmanager {
            throw table.error("resend_interval", "'resend_interval' applies to alertmanager sinks only")
        }
        let lang = try table.string("lang") ?? "zh"
        guard ["zh", "en"].contains(lang) else { throw table.error("lang", "lang must be \"zh\" or \"en\"") }
        if table.has("lang"), !kind.isDigest {
            throw table.error("lang", "'lang' applies to dingtalk, wecom and email sinks only")
        }
        for key in ["from", "to", "subject_prefix", "starttls"] where table.has(key) && kind != .email {
            throw table.error(key, "'\(key)' applies to email sinks only")
        }
        var sink = SinkConfig(
            id: id, kind: kind, url: url, match: match, secret: secret, timeout: timeout, maxAge: maxAge,
            fromStart: try table.bool("from_start") ?? false, lang: lang, resendInterval: resend)
        if kind == .email {
            let from = try table.requiredString("from", example: "\"plansync@example.org\"")
            let to = try table.strings("to") ?? []
            guard !to.isEmpty else { throw table.error("to", "an email sink needs recipients (e.g. to = [\"office@example.org\"])") }
            guard isMailAddress(from) else { throw table.error("from", "'\(from)' is not an e-mail address (name@host)") }
            for address in to where !isMailAddress(address) {
                throw table.error("to", "'\(address)' is not an e-mail address (name@host)")
            }
            sink.from = from
            sink.to = to
            sink.subjectPrefix = try table.string("subject_prefix") ?? "[plansync]"
            sink.startTLS = try table.bool("starttls") ?? false
            if sink.startTLS, url.lowercased().hasPrefix("smtps:") {
                throw table.error("starttls", "starttls is for smtp:// URLs; smtps:// is TLS from the start")
            }
        }
        return sink
    }

    /// A secret file's content without its final line break; empty or unreadable is an error.
    static func readSecret(_ path: String, table: TableReader, key: String) throws(ConfigError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw table.error(key, "cannot read '\(path)' (does it exist, and may this user read it?)")
        }
        var text = String(decoding: data, as: UTF8.self)
        while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        guard !text.isEmpty else { throw table.error(key, "'\(path)' is empty") }
        return text
    }

    /// `name@host`, no spaces, angle brackets or commas (SMTP envelope addresses).
    static func isMailAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty
            && !text.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "," || $0 == "\r" || $0 == "\n" })
    }
}
