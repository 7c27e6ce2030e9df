import MeshCrypto

/// A network's 16-byte random identifier. Every signature, key derivation and datagram is bound
/// to it, so nothing from one network is accepted by another.
public struct NetworkID: Hashable, Sendable, CustomStringConvertible {
    /// Length on the wire.
    public static let byteCount = 16

    /// The identifier.
    public let bytes: [UInt8]

    /// Wraps 16 bytes.
    public init?<Bytes: Collection<UInt8>>(bytes: Bytes) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = Array(bytes)
    }

    /// A fresh random identifier.
    public static func random() -> NetworkID {
        NetworkID(validBytes: SecureRandom.bytes(count: byteCount))
    }

    init(validBytes: [UInt8]) { bytes = validBytes }

    /// 32 lowercase hexadecimal digits.
    public var hex: String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    public var description: String { hex }
}

extension ByteWriter {
    public mutating func write(_ id: NetworkID) { write(raw: id.bytes) }
}

extension ByteReader {
    public mutating func readNetworkID() throws(WireError) -> NetworkID {
        NetworkID(validBytes: try readArray(NetworkID.byteCount))
    }
}
