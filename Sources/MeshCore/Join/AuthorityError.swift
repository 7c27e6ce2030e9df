/// Why the authority refused an operator's request.
public enum AuthorityError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidName(String)
    case nameTaken(String)
    case addressOutsideNetwork(String)
    case addressTaken(String)
    case addressPoolExhausted
    case routeInvalid(String)
    case unknownNode(String)
    case revoked(String)
    case signing(String)
    /// A renewal for a member whose certificate already expired (it must be invited again).
    case certificateExpired(String)
    /// A renewal sooner than ``AuthorityService/minimumRenewalInterval`` after the last one.
    case renewalTooSoon(String)

    public var description: String {
        switch self {
        case let .invalidName(problem): return "invalid name: \(problem)"
        case let .nameTaken(name): return "the name \(name) is already used by a member or a pending invitation; choose another, or revoke the old node first"
        case let .addressOutsideNetwork(text): return "\(text) is not inside this network's overlay prefixes"
        case let .addressTaken(text): return "\(text) is already assigned to another node or invitation"
        case .addressPoolExhausted: return "no free address is left in the overlay prefix"
        case let .routeInvalid(problem): return "invalid route: \(problem)"
        case let .unknownNode(name): return "no node named \(name) was enrolled in this network"
        case let .revoked(name): return "\(name) was revoked; invite it again to give the name to a new node"
        case let .signing(problem): return "could not sign: \(problem)"
        case let .certificateExpired(name): return "the certificate of \(name) has expired; invite it again to let it rejoin"
        case let .renewalTooSoon(name): return "\(name) was renewed less than \(AuthorityService.minimumRenewalInterval / 3600) h ago; its current certificate stays valid"
        }
    }
}
