/// Why text could not be read as an address prefix.
public enum IPPrefixError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingLength(String)
    case invalidAddress(String)
    case invalidLength(String, maximum: Int)
    case hostBitsSet(String, suggestion: String)

    public var description: String {
        switch self {
        case let .missingLength(text):
            return "\"\(text)\" is not a CIDR prefix: expected ADDRESS/LENGTH, e.g. 100.80.0.0/16"
        case let .invalidAddress(text):
            return "\"\(text)\" is not a CIDR prefix: the address part is not an IPv4 or IPv6 address"
        case let .invalidLength(text, maximum):
            return "\"\(text)\" is not a CIDR prefix: the length must be a number from 0 to \(maximum)"
        case let .hostBitsSet(text, suggestion):
            return "\"\(text)\" is not a CIDR prefix: bits are set after the prefix length; did you mean \(suggestion)?"
        }
    }
}

/// An address prefix in CIDR form (`100.80.0.0/16`, `fd5a:1::/48`). The address never has bits
/// set beyond the prefix length.
public struct IPPrefix: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The first address of the prefix.
    public let address: IPAddress
    /// Number of leading bits that are fixed.
    public let length: Int

    /// Builds the prefix of `length` bits containing `address` (host bits are cleared).
    public init?(containing address: IPAddress, length: Int) {
        guard (0...address.bitWidth).contains(length) else { return nil }
        self.address = Self.masked(address, length: length)
        self.length = length
    }

    /// A prefix that covers exactly one address (`/32` or `/128`).
    public init(host address: IPAddress) {
        self.address = address
        self.length = address.bitWidth
    }

    /// Parses `ADDRESS/LENGTH`, refusing set host bits.
    public init(parsing text: String) throws(IPPrefixError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .missingLength(text) }
        guard let address = IPAddress(String(parts[0])) else { throw .invalidAddress(text) }
        guard parts[1].allSatisfy(\.isASCII), let length = Int(parts[1]), (0...address.bitWidth).contains(length) else {
            throw .invalidLength(text, maximum: address.bitWidth)
        }
        let masked = Self.masked(address, length: length)
        guard masked == address else { throw .hostBitsSet(text, suggestion: "\(masked)/\(length)") }
        self.address = address
        self.length = length
    }

    /// Parses `ADDRESS/LENGTH`; `nil` on any error.
    public init?(_ text: String) {
        guard let parsed = try? IPPrefix(parsing: text) else { return nil }
        self = parsed
    }

    /// Whether `other` lies inside this prefix.
    public func contains(_ other: IPAddress) -> Bool {
        other.isIPv4 == address.isIPv4 && Self.masked(other, length: length) == address
    }

    /// Whether `other` is this prefix or a more specific one inside it.
    public func contains(_ other: IPPrefix) -> Bool {
        other.length >= length && contains(other.address)
    }

    /// The IPv4 default route, 0.0.0.0/0.
    public static let defaultIPv4 = IPPrefix(containing: .v4(IPv4Address(0)), length: 0)!
    /// The IPv6 default route, ::/0.
    public static let defaultIPv6 = IPPrefix(containing: .v6(IPv6Address(high: 0, low: 0)), length: 0)!
    /// Both default routes (what an exit node serves).
    public static let defaultRoutes = [defaultIPv4, defaultIPv6]
    /// IPv6 link-local unicast, `fe80::/10`.
    public static let linkLocalIPv6 = IPPrefix(containing: .v6(IPv6Address(high: 0xfe80_0000_0000_0000, low: 0)), length: 10)!

    /// Whether this is a default route (length 0).
    public var isDefault: Bool { length == 0 }

    /// Whether this prefix is a single host (`/32` or `/128`).
    public var isHost: Bool { length == address.bitWidth }

    public var description: String { "\(address)/\(length)" }

    public static func < (lhs: IPPrefix, rhs: IPPrefix) -> Bool {
        (lhs.address, lhs.length) < (rhs.address, rhs.length)
    }

    static func masked(_ address: IPAddress, length: Int) -> IPAddress {
        switch address {
        case let .v4(a):
            let mask: UInt32 = length == 0 ? 0 : ~0 << (32 - length)
            return .v4(IPv4Address(a.value & mask))
        case let .v6(a):
            let highMask: UInt64 = length == 0 ? 0 : (length >= 64 ? ~0 : ~0 << (64 - length))
            let lowMask: UInt64 = length <= 64 ? 0 : (length == 128 ? ~0 : ~0 << (128 - length))
            return .v6(IPv6Address(high: a.high & highMask, low: a.low & lowMask))
        }
    }
}
