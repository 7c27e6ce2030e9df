/// Reads big-endian fields from a byte buffer, checking every length. The counterpart of
/// ``ByteWriter``; every read throws ``WireError`` rather than trapping.
public struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    private var position: Int
    /// Names the structure being read, for error messages.
    public let context: String

    /// A reader over `bytes`.
    public init(_ bytes: ArraySlice<UInt8>, context: String) {
        self.bytes = bytes
        self.position = bytes.startIndex
        self.context = context
    }

    /// A reader over `bytes`.
    public init(_ bytes: [UInt8], context: String) {
        self.init(bytes[...], context: context)
    }

    /// Bytes not yet read.
    public var remaining: Int { bytes.endIndex - position }

    /// Whether everything has been read.
    public var isAtEnd: Bool { position == bytes.endIndex }

    /// Offset of the next byte from the start of the buffer.
    public var offset: Int { position - bytes.startIndex }

    public mutating func readUInt8() throws(WireError) -> UInt8 {
        guard remaining >= 1 else { throw .truncated(what: context) }
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func readUInt16() throws(WireError) -> UInt16 {
        guard remaining >= 2 else { throw .truncated(what: context) }
        defer { position += 2 }
        return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
    }

    public mutating func readUInt32() throws(WireError) -> UInt32 {
        guard remaining >= 4 else { throw .truncated(what: context) }
        var value: UInt32 = 0
        for index in position..<position + 4 { value = value << 8 | UInt32(bytes[index]) }
        position += 4
        return value
    }

    public mutating func readUInt64() throws(WireError) -> UInt64 {
        guard remaining >= 8 else { throw .truncated(what: context) }
        var value: UInt64 = 0
        for index in position..<position + 8 { value = value << 8 | UInt64(bytes[index]) }
        position += 8
        return value
    }

    /// Exactly `count` bytes.
    public mutating func readBytes(_ count: Int) throws(WireError) -> ArraySlice<UInt8> {
        guard count >= 0, remaining >= count else { throw .truncated(what: context) }
        defer { position += count }
        return bytes[position..<position + count]
    }

    /// Exactly `count` bytes, copied into an array.
    public mutating func readArray(_ count: Int) throws(WireError) -> [UInt8] {
        Array(try readBytes(count))
    }

    /// Bytes preceded by a one-byte length.
    public mutating func readShortBytes() throws(WireError) -> ArraySlice<UInt8> {
        try readBytes(Int(try readUInt8()))
    }

    /// Bytes preceded by a two-byte length.
    public mutating func readLongBytes() throws(WireError) -> ArraySlice<UInt8> {
        try readBytes(Int(try readUInt16()))
    }

    /// UTF-8 text preceded by a one-byte length; invalid UTF-8 is an error.
    public mutating func readShortString() throws(WireError) -> String {
        let raw = try readShortBytes()
        guard let text = String(validating: raw, as: UTF8.self) else { throw .invalidValue(what: "\(context) text") }
        return text
    }

    /// The rest of the buffer.
    public mutating func readRemaining() -> ArraySlice<UInt8> {
        defer { position = bytes.endIndex }
        return bytes[position...]
    }

    /// Throws unless everything has been read.
    public func expectEnd() throws(WireError) {
        guard isAtEnd else { throw .trailingBytes(what: context, count: remaining) }
    }
}
