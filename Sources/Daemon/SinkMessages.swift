import Configuration
import Fetch
import Foundation
import Mirror
import PlanCore
import Support

/// Digest messages for the group robots (DingTalk, WeCom: markdown) and e-mail (plain text),
/// in Chinese or English: their requests (DingTalk's signature, the SMTP envelope) and how
/// their answers read.
enum SinkMessages {
    /// Most bytes of one message's text: WeCom takes 4,096 bytes of markdown, DingTalk more;
    /// a digest longer than this is split.
    static func limit(_ kind: SinkKind) -> Int { kind == .wecom ? 3800 : kind == .email ? 200_000 : 16000 }

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
        case "acknowledged": return "已确认"
        case "unacknowledged": return "已撤销确认"
        case "ack_expired": return "确认到期"
        case "ack_broken": return "确认失效（情况恶化）"
        case "silence_ended": return "静默结束"
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

    /// One event as a list item (markdown, or plain text for e-mail): what, the indicator's name, actual, target,
    /// shortfall, period and feed where it has them, else its message.
    static func line(_ e: JSONValue, lang: String, markdown: Bool = true) -> String {
        func field(_ key: String) -> String? {
            switch e[key] {
            case .string(let s)?: return s
            case .number(let n)?: return n
            default: return nil
            }
        }
        let event = word(field("event") ?? "", lang: lang), alert = word(field("alert") ?? "", lang: lang)
        // Markdown for the robots (emphasis, escaped text); plain text for e-mail.
        func text(_ s: String) -> String { markdown ? self.markdown(s) : s }
        var head = markdown ? "- **\(event)** \(alert)" : "- \(event) \(alert)"
        if let plan = field("plan") { head += " · \(plan)" }
        // What people did with an alert: its message says who, why and what still fires.
        if let kind = field("event"), kind != "firing", kind != "resolved" {
            return head + (lang == "zh" ? "：" : ": ") + text(field("message") ?? "")
        }
        guard let actual = field("actual"), let threshold = field("threshold") else {
            return head + ": " + text(field("message") ?? "")
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
            return head + "：" + text(parts.joined(separator: "，"))
        }
        parts = ["\(name) \(year): actual \(show(actual)), target \(show(threshold))"]
        if let shortfall, field("event") == "firing" { parts.append("short by \(shortfall)") }
        if let period = field("period") { parts.append("period \(period)") }
        if let feed = field("feed") { parts.append("feed \(feed)") }
        return head + ": " + text(parts.joined(separator: ", "))
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

    /// The digest's title and text (markdown, or plain for e-mail).
    static func digest(_ objects: [JSONValue], lang: String, markdown: Bool = true) -> (title: String, text: String) {
        let firing = objects.filter { $0["event"]?.stringValue == "firing" }.count
        let resolved = objects.filter { $0["event"]?.stringValue == "resolved" }.count
        let other = objects.count - firing - resolved
        var title =
            lang == "zh"
            ? "plansync：\(firing) 条告警触发，\(resolved) 条恢复" : "plansync: \(firing) firing, \(resolved) resolved"
        if other > 0 { title += lang == "zh" ? "，\(other) 条确认或静默变化" : ", \(other) acknowledgement or silence changes" }
        let lines = objects.map { line($0, lang: lang, markdown: markdown) }.joined(separator: "\n")
        return (title, markdown ? "### \(title)\n\n" + lines : title + "\n\n" + lines + "\n")
    }

    /// A digest as an e-mail: UTF-8 subject (RFC 2047) and a base64 text/plain body.
    static func mailMessage(_ config: SinkConfig, objects: [JSONValue], now: Date) -> [UInt8] {
        let (title, text) = digest(objects, lang: config.lang, markdown: false)
        let subject = "\(config.subjectPrefix) \(title)"
        let seqs = objects.compactMap { $0["seq"].flatMap { if case .number(let n) = $0 { Int(n) } else { nil } } }
        let body = Data(text.utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        let headers = [
            "From: \(config.from ?? "")",
            "To: \(config.to.joined(separator: ", "))",
            "Subject: =?UTF-8?B?\(Data(subject.utf8).base64EncodedString())?=",
            "Date: \(mailDate(now))",
            "Message-ID: <plansync.\(config.id).\(seqs.first ?? 0)-\(seqs.last ?? 0).\(Int64(now.timeIntervalSince1970 * 1000))@plansync>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=UTF-8",
            "Content-Transfer-Encoding: base64",
        ]
        return Array((headers.joined(separator: "\r\n") + "\r\n\r\n" + body + "\r\n").utf8)
    }

    /// RFC 5322 date, in UTC.
    static func mailDate(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(parts.tm_mday) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000"
    }

    /// The robot's request for a digest of `objects` (DingTalk signed with the secret when set).
    static func robotRequest(_ config: SinkConfig, objects: [JSONValue], now: Date = Date()) -> FetchRequest {
        let (title, text) = digest(objects, lang: config.lang)
        var request = SinkWorker.post(config)
        request.headers = ["Content-Type: application/json; charset=utf-8"]
        switch config.kind {
        case .email:
            var user: String?
            if let parts = URLComponents(string: config.url), let name = parts.user { user = name.removingPercentEncoding ?? name }
            request.mail = MailEnvelope(
                from: config.from ?? "", to: config.to, message: mailMessage(config, objects: objects, now: now),
                startTLS: config.startTLS, username: config.secret == nil ? nil : (user ?? config.from), password: config.secret)
            request.headers = []
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
        if kind == .email {
            // A 5xx reply (no such mailbox, message refused) is final; anything else is tried again.
            if result.outcome == .ok { return .delivered }
            if let code = result.httpStatus, (500..<600).contains(code) { return .refused("SMTP \(code): \(result.message)") }
            return .retry(result.message, after: nil)
        }
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
