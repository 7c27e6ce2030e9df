import MeshCrypto

/// Domain-separation labels: every signature covers `label || 0 || body`, so a signature made for
/// one kind of object can never be replayed as another. Signed objects go through ``SignedEnvelope``.
public enum SignatureDomain: String, Sendable {
    case networkSettings = "meshwork/v1/network-settings"
    case certificate = "meshwork/v1/certificate"
    case revocation = "meshwork/v1/revocation"
    case nodeRecord = "meshwork/v1/node-record"

    /// The bytes a signer signs for `body` in this domain.
    public func message(_ body: some Collection<UInt8>) -> [UInt8] {
        var message = Array(rawValue.utf8)
        message.append(0)
        message.append(contentsOf: body)
        return message
    }

    /// Signs `body` in this domain.
    func sign(_ body: some Collection<UInt8>, with key: Ed25519PrivateKey) -> [UInt8] {
        key.signature(for: message(body))
    }

    /// Whether `signature` by `key` covers `body` in this domain.
    func verify(_ signature: some Collection<UInt8>, of body: some Collection<UInt8>, by key: Ed25519PublicKey) -> Bool {
        key.isValidSignature(signature, for: message(body))
    }
}

extension ByteReader {
    public mutating func readEd25519Key() throws(WireError) -> Ed25519PublicKey {
        do { return try Ed25519PublicKey(bytes: try readBytes(Ed25519PublicKey.byteCount)) } catch let error as WireError { throw error } catch {
            throw .invalidValue(what: "\(context) key")
        }
    }

    public mutating func readX25519Key() throws(WireError) -> X25519PublicKey {
        do { return try X25519PublicKey(bytes: try readBytes(X25519PublicKey.byteCount)) } catch let error as WireError { throw error } catch {
            throw .invalidValue(what: "\(context) key")
        }
    }
}
