/// Appends big-endian (network order) fields to a byte buffer: the one way every Meshwork
/// structure is encoded, so that encodings are canonical and signatures cover exact bytes.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// An empty writer, optionally reserving room.
    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Number of bytes written.
    public var count: Int { bytes.count }

    public mutating func write(_ value: UInt8) { bytes.append(value) }

    public mutating func write(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    public mutating func write(_ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func write(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// Raw bytes with no length prefix (fixed-size fields such as keys).
    public mutating func write<Bytes: Sequence<UInt8>>(raw: Bytes) { bytes.append(contentsOf: raw) }

    /// Bytes preceded by a one-byte length. Precondition: at most 255 bytes (callers validate
    /// sizes when building values, never from input).
    public mutating func write<Bytes: Collection<UInt8>>(shortBytes: Bytes) {
        precondition(shortBytes.count <= Int(UInt8.max), "field too long for a one-byte length")
        write(UInt8(shortBytes.count))
        bytes.append(contentsOf: shortBytes)
    }

    /// Bytes preceded by a two-byte length.
    public mutating func write<Bytes: Collection<UInt8>>(longBytes: Bytes) {
        precondition(longBytes.count <= Int(UInt16.max), "field too long for a two-byte length")
        write(UInt16(longBytes.count))
        bytes.append(contentsOf: longBytes)
    }

    /// UTF-8 text preceded by a one-byte length.
    public mutating func write(shortString: String) { write(shortBytes: Array(shortString.utf8)) }

    /// Overwrites the two bytes at `offset` with `value` (a length known only after its body
    /// was written).
    mutating func patch(_ value: UInt16, at offset: Int) {
        bytes[offset] = UInt8(truncatingIfNeeded: value >> 8)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    /// Drops everything after the first `count` bytes.
    mutating func truncate(to count: Int) {
        bytes.removeSubrange(count...)
    }

    /// Empties the writer, keeping its storage for reuse.
    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
    }
}
