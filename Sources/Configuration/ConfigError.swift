/// A problem in a config or plan file: which file, where (line or key path), what was
/// found and what is allowed. Loading stops at the first one and changes nothing.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?
    /// Dotted key path, e.g. `indicator[2].targets[0].rule`.
    public var keyPath: String?
    public var message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, keyPath: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        if let line, let column, line > 0 { location += ":\(column)" }
        if let keyPath, !keyPath.isEmpty { location += ": \(keyPath)" }
        return "\(location): \(message)"
    }
}
