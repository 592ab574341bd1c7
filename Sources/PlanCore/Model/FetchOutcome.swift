/// How a feed's fetch ended, as the fetch table, `/v1/feeds`, metrics and `sync` report it.
/// Everything but `ok` and `notModified` is a failure class; `parseError` is decided after
/// the fetch, when a body does not parse.
public enum FetchOutcome: String, Sendable, CaseIterable {
    case ok
    case notModified = "not_modified"
    case dns
    case connect
    case timeout
    case tls
    case tooLarge = "too_large"
    case httpStatus = "http_status"
    case redirects
    case protocolError = "protocol"
    case truncated
    case refusedScheme = "refused_scheme"
    /// A connection to a loopback, private, link-local or reserved address that the feed may not reach.
    case refusedAddress = "refused_address"
    /// The body arrived but does not parse (nothing from it is used).
    case parseError = "parse_error"

    /// The fetch gave a usable answer (a body, or "unchanged").
    public var isSuccess: Bool {
        switch self {
        case .ok, .notModified: true
        case .dns, .connect, .timeout, .tls, .tooLarge, .httpStatus, .redirects, .protocolError, .truncated,
            .refusedScheme, .refusedAddress, .parseError:
            false
        }
    }

    /// Worth another attempt within the same fetch: the network or the server may recover.
    /// (HTTP 429 and 5xx statuses are decided by their code.)
    public var isTransient: Bool {
        switch self {
        case .dns, .connect, .timeout, .truncated: true
        case .ok, .notModified, .tls, .tooLarge, .httpStatus, .redirects, .protocolError, .refusedScheme, .refusedAddress,
            .parseError:
            false
        }
    }
}
