/// Why bytes could not be decoded. Decoders never trap on input; every failure is one of these.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended before the value did.
    case truncated(what: String)
    /// Bytes were left over after a complete value.
    case trailingBytes(what: String, count: Int)
    /// A version this implementation does not speak.
    case unsupportedVersion(what: String, version: UInt8)
    /// A length, count or enumeration value outside what the format allows.
    case invalidValue(what: String)
    /// The input is larger than the format allows.
    case oversized(what: String, limit: Int)

    public var description: String {
        switch self {
        case let .truncated(what): return "\(what) is truncated"
        case let .trailingBytes(what, count): return "\(what) has \(count) unexpected trailing bytes"
        case let .unsupportedVersion(what, version): return "\(what) has unsupported version \(version)"
        case let .invalidValue(what): return "\(what) is invalid"
        case let .oversized(what, limit): return "\(what) exceeds \(limit) bytes"
        }
    }
}
