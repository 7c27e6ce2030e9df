#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 address, stored in host byte order.
public struct IPv4Address: Hashable, Comparable, Sendable {
    /// The address as a number (`192.0.2.1` is `0xC000_0201`).
    public var value: UInt32

    /// Wraps a numeric address.
    public init(_ value: UInt32) { self.value = value }

    /// Parses dotted-quad text.
    public init?(_ text: String) {
        var raw = in_addr()
        guard inet_pton(AF_INET, text, &raw) == 1 else { return nil }
        value = UInt32(bigEndian: raw.s_addr)
    }

    /// The four network-order bytes.
    public var bytes: [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    /// Builds an address from four network-order bytes.
    public init?<Bytes: Collection<UInt8>>(bytes: Bytes) {
        guard bytes.count == 4 else { return nil }
        value = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

/// An IPv6 address, stored as two host-order halves.
public struct IPv6Address: Hashable, Comparable, Sendable {
    /// The first 64 bits.
    public var high: UInt64
    /// The last 64 bits.
    public var low: UInt64

    /// Wraps the two halves.
    public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }

    /// Parses RFC 4291 text (with `::` compression and embedded IPv4 forms).
    public init?(_ text: String) {
        var raw = in6_addr()
        guard inet_pton(AF_INET6, text, &raw) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &raw) { Array($0) }
        self.init(validBytes: bytes)
    }

    /// Builds an address from sixteen network-order bytes.
    public init?<Bytes: Collection<UInt8>>(bytes: Bytes) {
        guard bytes.count == 16 else { return nil }
        self.init(validBytes: Array(bytes))
    }

    private init(validBytes bytes: [UInt8]) {
        high = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The sixteen network-order bytes.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }

    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}

/// An IPv4 or IPv6 address.
public enum IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Parses either family. IPv6 zone suffixes (`%eth0`) are not accepted.
    public init?(_ text: String) {
        if let v4 = IPv4Address(text) {
            self = .v4(v4)
        } else if let v6 = IPv6Address(text) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    /// Builds an address from 4 or 16 network-order bytes.
    public init?<Bytes: Collection<UInt8>>(bytes: Bytes) {
        if let v4 = IPv4Address(bytes: bytes) {
            self = .v4(v4)
        } else if let v6 = IPv6Address(bytes: bytes) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    /// Whether this is an IPv4 address.
    public var isIPv4: Bool { if case .v4 = self { return true } else { return false } }

    /// Number of bits in an address of this family (32 or 128).
    public var bitWidth: Int { isIPv4 ? 32 : 128 }

    /// The network-order bytes (4 or 16).
    public var bytes: [UInt8] {
        switch self {
        case let .v4(address): return address.bytes
        case let .v6(address): return address.bytes
        }
    }

    /// Loopback, link-local, unspecified or multicast: never a useful endpoint to announce.
    public var isLocalOnly: Bool {
        switch self {
        case let .v4(a):
            let first = a.value >> 24
            return first == 127 || first == 0 || a.value >> 16 == 0xA9FE || first >= 224
        case let .v6(a):
            let isLoopback = a.high == 0 && a.low == 1
            let isUnspecified = a.high == 0 && a.low == 0
            return isLoopback || isUnspecified || a.high >> 54 == 0x3FA || a.high >> 56 == 0xFF
        }
    }

    /// Canonical text (RFC 5952 for IPv6).
    public var description: String {
        var bytes = self.bytes
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = isIPv4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeMutableBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        guard ok else { return "?" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case let (.v4(a), .v4(b)): return a < b
        case let (.v6(a), .v6(b)): return a < b
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        }
    }
}
