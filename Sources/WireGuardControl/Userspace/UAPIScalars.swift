import CNetlink
import MeshAddressing
#if canImport(Glibc)
import Glibc
#endif

/// Allocation-free readers for the values of UAPI lines (numbers, addresses, prefixes,
/// endpoints), working on the reply bytes in place. A device with 10,000 peers has ~100,000 lines.
enum UAPIScalars {
    /// A decimal integer with an optional leading `-`; `nil` on anything else or overflow.
    static func integer<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, as: T.Type = T.self) -> T? {
        var index = 0
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            guard T.isSigned else { return nil }
            negative = true
            index = 1
        }
        guard index < bytes.count else { return nil }
        var value: T = 0
        while index < bytes.count {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = negative ? times.subtractingReportingOverflow(T(digit)) : times.addingReportingOverflow(T(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            index += 1
        }
        return value
    }

    /// An IPv4 or IPv6 address in text form (no zone).
    static func address(_ bytes: UnsafeRawBufferPointer) -> IPAddress? {
        guard !bytes.isEmpty, bytes.count < 64 else { return nil }
        var storage = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &storage) { raw -> IPAddress? in
            guard let base = raw.baseAddress else { return nil }
            raw.copyMemory(from: bytes)
            raw[bytes.count] = 0
            let text = base.assumingMemoryBound(to: CChar.self)
            if bytes.contains(UInt8(ascii: ":")) {
                var parsed = in6_addr()
                guard inet_pton(AF_INET6, text, &parsed) == 1 else { return nil }
                return withUnsafeBytes(of: &parsed) { v6 in
                    .v6(IPv6Address(
                        high: UInt64(bigEndian: v6.loadUnaligned(as: UInt64.self)),
                        low: UInt64(bigEndian: v6.loadUnaligned(fromByteOffset: 8, as: UInt64.self))))
                }
            }
            var parsed = in_addr()
            guard inet_pton(AF_INET, text, &parsed) == 1 else { return nil }
            return .v4(IPv4Address(UInt32(bigEndian: parsed.s_addr)))
        }
    }

    /// `ADDRESS/LENGTH`; host bits beyond the length are cleared (daemons may print them).
    static func prefix(_ bytes: UnsafeRawBufferPointer) -> IPPrefix? {
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")),
            let address = address(UnsafeRawBufferPointer(rebasing: bytes[..<slash])),
            let length = integer(UnsafeRawBufferPointer(rebasing: bytes[(slash + 1)...]), as: Int.self)
        else { return nil }
        return IPPrefix(containing: address, length: length)
    }

    /// `A.B.C.D:PORT` or `[V6]:PORT` (an IPv6 zone `%...` is dropped).
    static func endpoint(_ bytes: UnsafeRawBufferPointer) -> SocketEndpoint? {
        guard let colon = bytes.lastIndex(of: UInt8(ascii: ":")),
            let port = integer(UnsafeRawBufferPointer(rebasing: bytes[(colon + 1)...]), as: UInt16.self)
        else { return nil }
        var host = UnsafeRawBufferPointer(rebasing: bytes[..<colon])
        if host.first == UInt8(ascii: "[") {
            guard host.count >= 2, host.last == UInt8(ascii: "]") else { return nil }
            host = UnsafeRawBufferPointer(rebasing: host[1..<(host.count - 1)])
            if let percent = host.firstIndex(of: UInt8(ascii: "%")) { host = UnsafeRawBufferPointer(rebasing: host[..<percent]) }
            guard host.contains(UInt8(ascii: ":")) else { return nil }
        } else if host.contains(UInt8(ascii: ":")) {
            return nil  // bare IPv6 needs brackets
        }
        guard let address = address(host) else { return nil }
        return SocketEndpoint(address: address, port: port)
    }

    /// Whether `bytes` spell `text` (ASCII).
    @inline(__always)
    static func equals(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        guard bytes.count == text.utf8CodeUnitCount else { return false }
        guard let base = bytes.baseAddress else { return true }
        return memcmp(base, text.utf8Start, bytes.count) == 0
    }
}
