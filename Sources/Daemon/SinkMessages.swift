import Configuration
import Fetch
import Foundation
import Mirror
import PlanCore
import Support

/// Messages for the group robots (DingTalk, WeCom): markdown digests of several events in
/// Chinese or English, their requests (DingTalk's signature) and how their answers read.
enum SinkMessages {
    /// Most bytes of one message's text: WeCom takes 4,096 bytes of markdown, DingTalk more;
    /// a digest longer than this is split.
    static func limit(_ kind: SinkKind) -> Int { kind == .wecom ? 3800 : 16000 }

    /// Events cut into digests: in `seq` order, each under the kind's size limit.
    static func digests(_ events: [(event: StoredEvent, object: JSONValue)], kind: SinkKind, lang: String = "zh")
        -> [[(event: StoredEvent, object: JSONValue)]]
    {
        var groups: [[(event: StoredEvent, object: JSONValue)]] = []
        var current: [(event: StoredEvent, object: JSONValue)] = []
        var size = 200
        for item in events {
            let line = line(item.object, lang: lang).utf8.count
            if !current.isEmpty, size + line > limit(kind) {
                groups.append(current)
                current = []
                size = 200
            }
            current.append(item)
            size += line + 1
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }

    /// Words for alert kinds and events.
    static func word(_ text: String, lang: String) -> String {
        guard lang == "zh" else { return text.replacingOccurrences(of: "_", with: " ") }
        switch text {
        case "firing": return "触发"
        case "resolved": return "已恢复"
        case "target_missed": return "目标未完成"
        case "target_at_risk": return "目标有风险"
        case "source_conflict": return "数据来源不一致"
        case "feed_failing": return "数据源抓取失败"
        case "feed_stale": return "数据源未更新"
        case "critical": return "约束性"
        case "warning": return "预期性"
        default: return text
        }
    }

    /// One event as a markdown list item: what, the indicator's name, actual, target,
    /// shortfall, period and feed where it has them, else its message.
    static func line(_ e: JSONValue, lang: String) -> String {
        func field(_ key: String) -> String? {
            switch e[key] {
            case .string(let s)?: return s
            case .number(let n)?: return n
            default: return nil
            }
        }
        let event = word(field("event") ?? "", lang: lang), alert = word(field("alert") ?? "", lang: lang)
        var head = "- **\(event)** \(alert)"
        if let plan = field("plan") { head += " · \(plan)" }
        guard let actual = field("actual"), let threshold = field("threshold") else {
            return head + ": " + markdown(field("message") ?? "")
        }
        let unit = field("unit") ?? ""
        let percent = unit == "%"
        func show(_ value: String) -> String { percent ? "\(value)%" : unit.isEmpty ? value : "\(value) \(unit)" }
        let name = field("name") ?? field("indicator") ?? ""
        let year = field("year") ?? ""
        let shortfall = field("shortfall").map { percent ? ($0 + (lang == "zh" ? " 个百分点" : " pp")) : show($0) }
        var parts: [String]
        if lang == "zh" {
            parts = ["\(name)（\(year)年）实际 \(show(actual))，目标 \(show(threshold))"]
            if let shortfall, field("event") == "firing" { parts.append("差 \(shortfall)") }
            if let period = field("period") { parts.append("期间 \(period)") }
            if let feed = field("feed") { parts.append("来源 \(feed)") }
            return head + "：" + markdown(parts.joined(separator: "，"))
        }
        parts = ["\(name) \(year): actual \(show(actual)), target \(show(threshold))"]
        if let shortfall, field("event") == "firing" { parts.append("short by \(shortfall)") }
        if let period = field("period") { parts.append("period \(period)") }
        if let feed = field("feed") { parts.append("feed \(feed)") }
        return head + ": " + markdown(parts.joined(separator: ", "))
    }

    /// Text with markdown's own characters made plain (names and messages come from plan files).
    static func markdown(_ text: String) -> String {
        var out = ""
        for c in text {
            if "\\`*_[]<>#|".contains(c) { out.append("\\") }
            out.append(c == "\n" ? " " : c)
        }
        return out
    }

    /// The digest's title and text.
    static func digest(_ objects: [JSONValue], lang: String) -> (title: String, text: String) {
        let firing = objects.filter { $0["event"]?.stringValue == "firing" }.count
        let resolved = objects.count - firing
        let title =
            lang == "zh"
            ? "plansync：\(firing) 条告警触发，\(resolved) 条恢复" : "plansync: \(firing) firing, \(resolved) resolved"
        let text = "### \(title)\n\n" + objects.map { line($0, lang: lang) }.joined(separator: "\n")
        return (title, text)
    }

    /// The robot's request for a digest of `objects` (DingTalk signed with the secret when set).
    static func robotRequest(_ config: SinkConfig, objects: [JSONValue], now: Date = Date()) -> FetchRequest {
        let (title, text) = digest(objects, lang: config.lang)
        var request = FetchRequest(id: "sink:\(config.id)", url: config.url)
        request.method = "POST"
        request.timeout = config.timeout
        request.connectTimeout = min(10, config.timeout)
        request.retries = 0
        request.maxBytes = 1 << 20
        request.headers = ["Content-Type: application/json; charset=utf-8"]
        switch config.kind {
        case .dingtalk:
            request.body =
                JSONValue.object([
                    ("msgtype", .string("markdown")), ("markdown", .object([("title", .string(title)), ("text", .string(text))])),
                ]).text
            if let secret = config.secret {
                let timestamp = String(Int64(now.timeIntervalSince1970 * 1000))
                let sign = dingTalkSign(timestamp: timestamp, secret: secret)
                request.url += (request.url.contains("?") ? "&" : "?") + "timestamp=\(timestamp)&sign=\(sign)"
            }
        default:
            request.body = JSONValue.object([("msgtype", .string("markdown")), ("markdown", .object([("content", .string(text))]))]).text
        }
        return request
    }

    /// DingTalk's signature: Base64 of HMAC-SHA256("timestamp\nsecret") keyed with the secret,
    /// percent-encoded for the query.
    static func dingTalkSign(timestamp: String, secret: String) -> String {
        let mac = SHA256.hmac(key: Array(secret.utf8), message: Array("\(timestamp)\n\(secret)".utf8))
        let base64 = Data(mac).base64EncodedString()
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return base64.addingPercentEncoding(withAllowedCharacters: allowed) ?? base64
    }

    /// A robot's answer: HTTP as for webhooks, then `errcode` 0 delivered; its rate-limit
    /// codes (DingTalk 130101, WeCom 45009) retried with backoff; other codes refused.
    static func classifyRobot(_ result: FetchResult, kind: SinkKind) -> SinkWorker.Outcome {
        guard result.outcome == .ok else { return SinkWorker.classify(result) }
        guard let answer = try? JSONParser.parse(result.body), case .number(let code)? = answer["errcode"] else {
            return .retry("the robot answered without an errcode: \(DisplayText.excerpt(String(decoding: result.body.prefix(200), as: UTF8.self)))", after: nil)
        }
        guard code != "0" else { return .delivered }
        let message = "errcode \(code): \(answer["errmsg"]?.stringValue ?? "")"
        let rateLimited = kind == .dingtalk ? code == "130101" : code == "45009"
        return rateLimited ? .retry(message + " (rate limited)", after: nil) : .refused(message)
    }
}
