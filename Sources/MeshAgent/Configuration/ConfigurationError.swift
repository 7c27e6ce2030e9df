/// A problem in a configuration file. The description reads `FILE:LINE:COLUMN: KEY: PROBLEM`, the
/// way compilers report errors, so editors can jump to it.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file.
    public let file: String
    /// 1-based line, when known.
    public let line: Int?
    /// 1-based column, when known.
    public let column: Int?
    /// Dotted key path (`interface.listen_port`), when the problem belongs to a key.
    public let key: String?
    /// What is wrong, and where it helps, what would be right.
    public let problem: String

    /// Creates an error.
    public init(file: String, line: Int? = nil, column: Int? = nil, key: String? = nil, problem: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.problem = problem
    }

    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        if let column { location += ":\(column)" }
        return key.map { "\(location): \($0): \(problem)" } ?? "\(location): \(problem)"
    }
}
