import MeshCrypto

/// A node's short name on the wire: the first 8 bytes of BLAKE2b-256 of its Ed25519 identity key.
///
/// Messages refer to nodes by this ID to stay small; every claim about an ID is checked against
/// the certificate that binds the full key, and the authority refuses to certify two keys with the
/// same ID.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Length on the wire.
    public static let byteCount = 8

    /// The ID as a number (big-endian reading of the 8 bytes).
    public let value: UInt64

    /// Wraps a raw value.
    public init(_ value: UInt64) { self.value = value }

    /// The ID of the node with this identity key.
    public init(identityKey: Ed25519PublicKey) {
        // BLAKE2b with a valid output length cannot fail.
        let digest = (try? BLAKE2b.hash(identityKey.bytes, outputByteCount: 32)) ?? []
        value = digest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Parses 16 hexadecimal digits.
    public init?(hex: String) {
        guard hex.count == 16, let value = UInt64(hex, radix: 16) else { return nil }
        self.value = value
    }

    /// 16 lowercase hexadecimal digits.
    public var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    public var description: String { hex }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.value < rhs.value }
}

extension ByteWriter {
    public mutating func write(_ id: NodeID) { write(id.value) }
}

extension ByteReader {
    public mutating func readNodeID() throws(WireError) -> NodeID { NodeID(try readUInt64()) }
}
