/// Why a trust object (settings, certificate, revocation, token, record) was refused.
public enum TrustError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(WireError)
    case badSignature(String)
    case wrongNetwork
    case wrongAuthority
    case notYetValid
    case expired
    case revoked
    case outsideGrant(String)
    case invalidName(String)
    case invalidPrefix(String)
    case identityMismatch
    case invalidToken(String)

    public var description: String {
        switch self {
        case let .malformed(error): return "malformed: \(error)"
        case let .badSignature(what): return "the signature on the \(what) is not valid"
        case .wrongNetwork: return "it belongs to another network"
        case .wrongAuthority: return "it is not signed by this network's authority"
        case .notYetValid: return "the certificate is not valid yet"
        case .expired: return "the certificate has expired"
        case .revoked: return "the node has been revoked"
        case let .outsideGrant(what): return "it claims \(what), outside what its certificate grants"
        case let .invalidName(problem): return problem
        case let .invalidPrefix(problem): return problem
        case .identityMismatch: return "the record does not match its certificate"
        case let .invalidToken(problem): return problem
        }
    }
}
