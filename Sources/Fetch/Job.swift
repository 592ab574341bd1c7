import CCurl
import Foundation
import PlanCore
import Support

/// What the libcurl callbacks of one attempt write into: the body and the headers.
final class TransferState {
    let maxBytes: Int
    var body: [UInt8] = []
    /// What an upload (an SMTP message) sends, and how much of it went.
    var upload: [UInt8] = []
    var uploaded = 0
    var tooLarge = false
    /// Headers of the last response (lower-case names), reset at every status line.
    var headers: [String: String] = [:]
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    /// Where this attempt may connect, and what it refused (read by the open-socket callback).
    let addressPolicy = UnsafeMutablePointer<plansync_address_policy>.allocate(capacity: 1)

    init(maxBytes: Int) {
        self.maxBytes = maxBytes
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        addressPolicy.initialize(to: plansync_address_policy())
    }

    deinit {
        errorBuffer.deallocate()
        addressPolicy.deallocate()
    }

    /// The address a connection was refused at, with its class and host, if one was.
    var refusedAddress: (address: String, kind: String, host: String)? {
        let policy = addressPolicy.pointee
        guard policy.refused != 0 else { return nil }
        let kind: String
        switch Int(policy.refused) {
        case PLANSYNC_ADDRESS_LOOPBACK: kind = "loopback"
        case PLANSYNC_ADDRESS_PRIVATE: kind = "private"
        case PLANSYNC_ADDRESS_LINK_LOCAL: kind = "link-local"
        default: kind = "reserved"
        }
        let address = withUnsafeBytes(of: policy.refused_address) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let host = withUnsafeBytes(of: policy.refused_host) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return (address, kind, host)
    }

    var errorText: String { String(cString: errorBuffer) }

    /// Seconds the server asked us to wait (Retry-After as seconds or HTTP date).
    func retryAfter(now: Date = Date()) -> Double? {
        guard let value = headers["retry-after"]?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(value), seconds >= 0 { return seconds }
        guard let date = HTTPDate.parse(value) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }
}

/// Gives libcurl the next part of an upload.
private let readUpload: plansync_data_callback = { data, size, count, context in
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    let n = min(size * count, state.upload.count - state.uploaded)
    guard n > 0, let data else { return 0 }
    state.upload.withUnsafeBytes { bytes in
        UnsafeMutableRawPointer(data).copyMemory(from: bytes.baseAddress! + state.uploaded, byteCount: n)
    }
    state.uploaded += n
    return n
}

/// Takes the decoded body; returning less than offered aborts the transfer (size limit).
private let writeBody: plansync_data_callback = { data, size, count, context in
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    guard state.body.count + length <= state.maxBytes else {
        state.tooLarge = true
        return 0
    }
    if let data { state.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length)) }
    return length
}

/// Collects response headers; a status line starts a new response (redirects, 100 Continue).
private let collectHeader: plansync_data_callback = { data, size, count, context in
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    guard let data else { return length }
    let bytes = UnsafeRawBufferPointer(start: data, count: length)
    func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }
    func trimmed(_ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound, upper = range.upperBound
        while lower < upper, isSpace(bytes[lower]) { lower += 1 }
        while upper > lower, isSpace(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }
    let line = trimmed(0..<length)
    if line.count >= 5, bytes[line.lowerBound..<line.lowerBound + 5].elementsEqual("HTTP/".utf8) {
        state.headers = [:]
    } else if let colon = bytes[line].firstIndex(of: 0x3A) {
        let name = String(decoding: bytes[line.lowerBound..<colon], as: UTF8.self).lowercased()
        let value = String(decoding: bytes[trimmed(colon + 1..<line.upperBound)], as: UTF8.self)
        state.headers[name] = value
    }
    return length
}

/// One feed's fetch across its attempts. Used on the engine's queue only.
final class Job: @unchecked Sendable {
    /// Bodies below this size are hashed on the engine's queue as they complete.
    static let hashInlineLimit = 1 << 20
    let request: FetchRequest
    let completion: @Sendable (FetchResult) -> Void
    var attempt = 1
    let started = Date()
    private(set) var state: TransferState
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var mailRecipients: UnsafeMutablePointer<curl_slist>?
    /// For file: URLs, validators made from the file's modification time and size.
    private var fileValidators: (etag: String, lastModified: String)?

    /// A proxy set in the environment: its address may be private, and it resolves targets itself.
    static let proxyInEnvironment: Bool = {
        let env = ProcessInfo.processInfo.environment
        return ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"].contains { !(env[$0] ?? "").isEmpty }
    }()

    /// A `file:` URL (decided once: it is asked several times per attempt).
    let isFile: Bool

    init(request: FetchRequest, completion: @escaping @Sendable (FetchResult) -> Void) {
        self.request = request
        self.completion = completion
        self.state = TransferState(maxBytes: request.maxBytes)
        isFile = request.url.utf8.count >= 5 && request.url.prefix(5).lowercased() == "file:"
    }

    /// Decides without the network: refused schemes, and unchanged or unreadable local files.
    func preflight() -> FetchResult? {
        let lower = request.url.lowercased()
        if request.mail != nil {
            // Mail goes by SMTP only, and nothing else does.
            guard lower.hasPrefix("smtp://") || lower.hasPrefix("smtps://") else {
                let scheme = lower.split(separator: ":").first.map(String.init) ?? lower
                return result(outcome: .refusedScheme, message: "scheme '\(scheme)' is not allowed for mail (smtp, smtps)")
            }
            return nil
        }
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("file://") else {
            let scheme = lower.split(separator: ":").first.map(String.init) ?? lower
            return result(outcome: .refusedScheme, message: "scheme '\(scheme)' is not allowed (http, https, file)")
        }
        guard isFile else { return nil }
        guard let path = URL(string: request.url)?.path, !path.isEmpty else {
            return result(outcome: .protocolError, message: "'\(request.url)' is not a valid file URL")
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            return result(outcome: .protocolError, message: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            return result(outcome: .protocolError, message: "\(path) is not a regular file")
        }
        let nanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        let etag = "\"\(String(nanoseconds, radix: 16))-\(String(info.st_size, radix: 16))\""
        let modified = HTTPDate.format(Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec)))
        fileValidators = (etag, modified)
        if request.etag == etag {
            var unchanged = result(outcome: .notModified, message: "file unchanged (same modification time and size)")
            unchanged.etag = etag
            unchanged.lastModified = modified
            return unchanged
        }
        return nil
    }

    /// A configured easy handle for the next attempt: `spare` (a finished transfer's handle,
    /// reset to defaults) or a new one.
    func makeHandle(reusing spare: UnsafeMutableRawPointer? = nil) -> UnsafeMutableRawPointer? {
        let easy: UnsafeMutableRawPointer
        if let spare {
            curl_easy_reset(spare)
            easy = spare
        } else {
            guard let fresh = curl_easy_init() else { return nil }
            easy = fresh
        }
        state = TransferState(maxBytes: request.maxBytes)
        let context = Unmanaged.passUnretained(state).toOpaque()
        plansync_easy_setopt_string(easy, CURLOPT_URL, request.url)
        plansync_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        plansync_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, request.mail == nil ? "http,https,file" : "smtp,smtps")
        // A server must never redirect us to a local file.
        plansync_easy_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        plansync_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 1)
        plansync_easy_setopt_long(easy, CURLOPT_MAXREDIRS, 5)
        plansync_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, max(1, Int(request.timeout * 1000)))
        plansync_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, max(1, Int(min(request.connectTimeout, request.timeout) * 1000)))
        plansync_easy_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, request.lowSpeedLimit)
        plansync_easy_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, max(1, Int(request.lowSpeedTime.rounded(.up))))
        plansync_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, "")  // every encoding this libcurl decodes
        plansync_easy_setopt_offset(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(request.maxBytes))
        plansync_easy_setopt_string(easy, CURLOPT_USERAGENT, request.userAgent)
        plansync_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1)
        plansync_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2)
        if let ca = request.caFile { plansync_easy_setopt_string(easy, CURLOPT_CAINFO, ca) }
        if let socket = request.unixSocket {
            plansync_easy_setopt_string(easy, CURLOPT_UNIX_SOCKET_PATH, socket)
        } else if !isFile {
            plansync_easy_set_address_policy(
                easy, state.addressPolicy, request.url, request.allowLinkLocal ? 1 : 0,
                Job.proxyInEnvironment ? 1 : 0)
        }
        if let method = request.method {
            plansync_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method)
            if method == "POST" {
                plansync_easy_setopt_long(easy, CURLOPT_POST, 1)
                plansync_easy_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, request.body ?? "")
            }
        }
        // A body is for the URL configured: a redirect must not take it elsewhere.
        if request.body != nil { plansync_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0) }
        if let mail = request.mail {
            plansync_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
            plansync_easy_setopt_string(easy, CURLOPT_MAIL_FROM, "<\(mail.from)>")
            for address in mail.to { mailRecipients = curl_slist_append(mailRecipients, "<\(address)>") }
            plansync_easy_setopt_list(easy, CURLOPT_MAIL_RCPT, mailRecipients)
            state.upload = mail.message
            plansync_easy_setopt_long(easy, CURLOPT_UPLOAD, 1)
            plansync_easy_setopt_offset(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(mail.message.count))
            plansync_easy_setopt_callback(easy, CURLOPT_READFUNCTION, readUpload)
            plansync_easy_setopt_pointer(easy, CURLOPT_READDATA, context)
            if mail.startTLS { plansync_easy_setopt_long(easy, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue)) }
            if let user = mail.username { plansync_easy_setopt_string(easy, CURLOPT_USERNAME, user) }
            if let password = mail.password { plansync_easy_setopt_string(easy, CURLOPT_PASSWORD, password) }
        }
        plansync_easy_setopt_callback(easy, CURLOPT_WRITEFUNCTION, writeBody)
        plansync_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context)
        plansync_easy_setopt_callback(easy, CURLOPT_HEADERFUNCTION, collectHeader)
        plansync_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context)
        plansync_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(state.errorBuffer))
        if !isFile {
            if let etag = request.etag { headerList = curl_slist_append(headerList, "If-None-Match: \(etag)") }
            if let modified = request.lastModified { headerList = curl_slist_append(headerList, "If-Modified-Since: \(modified)") }
            for header in request.headers { headerList = curl_slist_append(headerList, header) }
            if headerList != nil { plansync_easy_setopt_list(easy, CURLOPT_HTTPHEADER, headerList) }
        }
        return easy
    }

    /// Lets go of the body once the result holds it: a finished job may stay referenced a
    /// while (the engine's waiting queue is a slice of the jobs queued together), and a
    /// province's first cycle queues thousands — their bodies were all kept until the last
    /// transfer started (359 MB at 2,800 feeds).
    func releaseBody() {
        state.body = []
        state.upload = []
    }

    /// Frees an attempt's header and recipient lists; the handle itself is freed or reused by the engine.
    func releaseHeaders() {
        if let list = headerList { curl_slist_free_all(list) }
        headerList = nil
        if let list = mailRecipients { curl_slist_free_all(list) }
        mailRecipients = nil
    }

    /// A result decided before any transfer.
    func result(outcome: FetchOutcome, message: String) -> FetchResult {
        FetchResult(
            id: request.id, outcome: outcome, httpStatus: nil, body: [], bytes: 0, sha256: nil,
            timings: FetchTimings(), elapsed: Date().timeIntervalSince(started),
            effectiveURL: Redaction.url(request.url), etag: request.etag, lastModified: request.lastModified,
            contentType: nil, attempts: attempt, message: message)
    }

    /// The result of a finished attempt (`outcome` forces a class, e.g. when the handle could not be made).
    func result(outcome forced: FetchOutcome?, code: CURLcode, status: Int?, handle easy: UnsafeMutableRawPointer?) -> FetchResult {
        var timings = FetchTimings()
        var effective = request.url
        var contentType: String?
        if let easy {
            var value: curl_off_t = 0
            plansync_easy_getinfo_offset(easy, CURLINFO_CONNECT_TIME_T, &value)
            timings.connect = Double(value) / 1e6
            plansync_easy_getinfo_offset(easy, CURLINFO_STARTTRANSFER_TIME_T, &value)
            timings.firstByte = Double(value) / 1e6
            plansync_easy_getinfo_offset(easy, CURLINFO_TOTAL_TIME_T, &value)
            timings.total = Double(value) / 1e6
            var text: UnsafeMutablePointer<CChar>?
            if plansync_easy_getinfo_string(easy, CURLINFO_EFFECTIVE_URL, &text) == CURLE_OK, let text { effective = String(cString: text) }
            text = nil
            if plansync_easy_getinfo_string(easy, CURLINFO_CONTENT_TYPE, &text) == CURLE_OK, let text { contentType = String(cString: text) }
        }
        let shownURL = Redaction.url(effective)
        // libcurl's words for a failure (only failures need them).
        var curlText: String { Redaction.text(state.errorText.isEmpty ? String(cString: curl_easy_strerror(code)) : state.errorText) }
        let outcome: FetchOutcome
        var message: String
        switch code {
        case _ where forced != nil:
            outcome = forced!
            message = "\(curlText)"
        case _ where state.refusedAddress != nil:
            let refused = state.refusedAddress!
            outcome = .refusedAddress
            message =
                "refused to connect to \(refused.address) (a \(refused.kind) address) for \(refused.host.isEmpty ? "the host" : "host \(refused.host)")"
                + (refused.kind == "link-local"
                    ? ": link-local addresses (cloud metadata) are reached only with allow_link_local = true"
                    : ": loopback and private addresses are reached only when the configured URL's own host is there, never through a redirect")
        case CURLE_OK:
            if isFile || status == nil || request.mail != nil || (200..<300).contains(status!) {
                outcome = .ok
                message =
                    request.mail != nil
                    ? "accepted (SMTP \(status ?? 0)) in \(format(timings.total))"
                    : "\(status.map { "HTTP \($0), " } ?? "")\(state.body.count) bytes in \(format(timings.total))"
            } else if status == 304 {
                outcome = .notModified
                message = "not modified (HTTP 304)"
            } else {
                outcome = .httpStatus
                message = "HTTP \(status!) from \(shownURL)"
            }
        case CURLE_WRITE_ERROR where state.tooLarge, CURLE_FILESIZE_EXCEEDED:
            outcome = .tooLarge
            message = "body is larger than max_bytes (\(request.maxBytes) bytes); raise max_bytes for this feed if that size is expected"
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            outcome = .dns
            message = "cannot resolve host: \(curlText)"
        case CURLE_COULDNT_CONNECT:
            outcome = .connect
            message = "cannot connect: \(curlText)"
        case CURLE_OPERATION_TIMEDOUT:
            outcome = .timeout
            message = "timed out: \(curlText)"
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_CRL_BADFILE,
            CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED, CURLE_USE_SSL_FAILED,
            CURLE_SSL_SHUTDOWN_FAILED:
            outcome = .tls
            message = "TLS failure: \(curlText)"
        case CURLE_TOO_MANY_REDIRECTS:
            outcome = .redirects
            message = "more than 5 redirects (stopped at \(shownURL))"
        case CURLE_UNSUPPORTED_PROTOCOL where curlText.contains("Protocol \""):
            // A scheme outside http/https/file, e.g. on a redirect ("Protocol "ftp" not supported or disabled").
            outcome = .refusedScheme
            message = "refused a scheme other than http, https or file (\(curlText)) at \(shownURL)"
        case CURLE_PARTIAL_FILE, CURLE_RECV_ERROR:
            outcome = .truncated
            message = "body ended early after \(state.body.count) bytes: \(curlText)"
        case CURLE_FILE_COULDNT_READ_FILE:
            outcome = .protocolError
            message = "cannot read file: \(curlText)"
        default:
            outcome = .protocolError
            message = "\(curlText) (curl error \(code.rawValue))"
        }
        if attempt > 1 { message += " (attempt \(attempt) of \(request.retries + 1))" }
        var result = FetchResult(
            id: request.id, outcome: outcome, httpStatus: isFile ? nil : status, body: [],
            bytes: state.body.count, sha256: nil, timings: timings,
            elapsed: Date().timeIntervalSince(started), effectiveURL: shownURL,
            etag: request.etag, lastModified: request.lastModified, contentType: contentType,
            attempts: attempt, message: message)
        result.retryAfter = state.retryAfter()
        switch outcome {
        case .httpStatus where state.body.count <= 65_536:
            // An error answer's own words (the status socket's `{"error": ...}`, a receiver's reason).
            result.body = state.body
        case .ok:
            result.body = state.body
            // Large bodies are hashed by the engine off its queue (`FetchEngine.complete`).
            if state.body.count < Job.hashInlineLimit { result.sha256 = SHA256.hex(state.body) }
            if let file = fileValidators {
                result.etag = file.etag
                result.lastModified = file.lastModified
            } else {
                result.etag = state.headers["etag"]
                result.lastModified = state.headers["last-modified"]
            }
        case .notModified:
            // Keep the validators that matched; take the server's only where we had none.
            result.etag = request.etag ?? state.headers["etag"]
            result.lastModified = request.lastModified ?? state.headers["last-modified"]
        default:
            break
        }
        return result
    }

    private func format(_ seconds: Double) -> String { "\(DecimalText.fixed(seconds, digits: 3))s" }
}

/// HTTP dates (RFC 9110 IMF-fixdate), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
enum HTTPDate {
    private static func formatter(_ pattern: String) -> DateFormatter {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = pattern
        return f
    }

    /// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), written from gmtime_r: asked for every
    /// file: feed on every cycle, where a DateFormatter (an ICU formatter each time) cost
    /// more than the rest of the check.
    static func format(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let day = days[Int(parts.tm_wday)], month = months[Int(parts.tm_mon)]
        let year = String(parts.tm_year + 1900)
        let time = "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        return "\(day), \(two(parts.tm_mday)) \(month) \(year) \(time) GMT"
    }

    static func parse(_ text: String) -> Date? {
        for pattern in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            if let date = formatter(pattern).date(from: text) { return date }
        }
        return nil
    }
}
