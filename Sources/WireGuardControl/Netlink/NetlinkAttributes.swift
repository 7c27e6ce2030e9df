import CNetlink

/// One netlink attribute, viewed in place. Valid only while the buffer it points into is.
struct NetlinkAttribute {
    /// The type, without the nested and byte-order flags.
    let type: UInt16
    /// Whether the nested flag was set.
    let isNested: Bool
    /// The payload (without header or padding).
    let payload: UnsafeRawBufferPointer

    /// The nested attributes inside this one.
    var nested: NetlinkAttributes { NetlinkAttributes(payload) }

    func uint8() throws -> UInt8 { try integer() }
    func uint16() throws -> UInt16 { try integer() }
    func uint32() throws -> UInt32 { try integer() }
    func uint64() throws -> UInt64 { try integer() }

    /// The payload as a host-order integer; its length must match exactly.
    func integer<T: FixedWidthInteger>() throws -> T {
        guard payload.count == MemoryLayout<T>.size else {
            throw WireGuardControlError.malformedReply("attribute \(type) has \(payload.count) bytes, expected \(MemoryLayout<T>.size)")
        }
        return payload.loadUnaligned(as: T.self)
    }

    /// The payload as a string (up to the first NUL).
    func string() -> String {
        let end = payload.firstIndex(of: 0) ?? payload.count
        return String(decoding: UnsafeRawBufferPointer(rebasing: payload[..<end]), as: UTF8.self)
    }
}

/// A sequence of netlink attributes in a byte range. Iteration stops at the end or at the first
/// malformed header; ``validate()`` reports malformed input as an error instead.
struct NetlinkAttributes: Sequence {
    let bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    struct Iterator: IteratorProtocol {
        let bytes: UnsafeRawBufferPointer
        var offset = 0
        /// Set when a malformed header stopped the iteration.
        var malformed = false

        mutating func next() -> NetlinkAttribute? {
            guard bytes.count - offset >= 4 else {
                if bytes.count != offset { malformed = true }
                return nil
            }
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let rawType = bytes.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)
            guard length >= 4, length <= bytes.count - offset else {
                malformed = true
                offset = bytes.count
                return nil
            }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<(offset + length)])
            offset = Swift.min(bytes.count, offset + ((length + 3) & ~3))
            return NetlinkAttribute(
                type: rawType & cnetlink_nla_type_mask(), isNested: rawType & UInt16(NLA_F_NESTED) != 0, payload: payload)
        }
    }

    func makeIterator() -> Iterator { Iterator(bytes: bytes) }

    /// Calls `body` for each attribute; throws when the attribute stream is malformed.
    func forEach(_ body: (NetlinkAttribute) throws -> Void) throws {
        var iterator = makeIterator()
        while let attribute = iterator.next() { try body(attribute) }
        if iterator.malformed { throw WireGuardControlError.malformedReply("a netlink attribute has a bad length") }
    }

    /// The first attribute of `type`, if any.
    func first(_ type: UInt16) -> NetlinkAttribute? {
        for attribute in self where attribute.type == type { return attribute }
        return nil
    }
}
