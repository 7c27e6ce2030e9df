/// Every message type code carried inside the secure channel, in one place: the membership layer's
/// messages (decoded by ``Message``) and the extension messages of the layers above it (the agent's
/// endpoint reports and renewals, paths and relays), which ``Message`` carries opaquely. A new message
/// takes a code here first; the byte layouts are in docs/protocol.md ("Messages", "Paths and relays").
public enum MessageCode: UInt8, CaseIterable, Sendable {
    // Membership (MeshNode): SWIM probes, gossip, anti-entropy, reflexive addresses.
    case ping = 0x01, ack = 0x02, pingRequest = 0x03, nack = 0x04, suspect = 0x05, dead = 0x06
    case record = 0x07, member = 0x08, revocation = 0x09, digest = 0x0A, bucket = 0x0B, request = 0x0C
    case endpointReport = 0x0D

    // The agent (extension messages): where WireGuard sees a peer, certificate renewal.
    case wireGuardEndpointReport = 0x20, renewalRequest = 0x21, renewal = 0x22

    // Paths and relays (extension messages).
    case pathProbe = 0x24, pathAck = 0x25, relayRequest = 0x26, relayGrant = 0x27, relayRefuse = 0x28
    case relayRefresh = 0x29, relayRelease = 0x2A, directRestored = 0x2B

    /// Codes in this range are extension messages: the membership layer passes them up undecoded,
    /// including codes not assigned yet (counted as invalid by the agent).
    public static let extensionRange: ClosedRange<UInt8> = 0x20...0x3F

    /// Which layer decodes the message.
    public enum Layer: Sendable {
        case membership, agent, relay
    }

    /// Which layer decodes the message.
    public var layer: Layer {
        switch self {
        case .ping, .ack, .pingRequest, .nack, .suspect, .dead, .record, .member, .revocation, .digest, .bucket, .request,
             .endpointReport:
            return .membership
        case .wireGuardEndpointReport, .renewalRequest, .renewal:
            return .agent
        case .pathProbe, .pathAck, .relayRequest, .relayGrant, .relayRefuse, .relayRefresh, .relayRelease, .directRestored:
            return .relay
        }
    }

    /// Names the message in decoding errors and reports (a literal: no formatting on the receive path).
    public var context: String {
        switch self {
        case .ping: return "ping message"
        case .ack: return "ack message"
        case .pingRequest: return "pingRequest message"
        case .nack: return "nack message"
        case .suspect: return "suspect message"
        case .dead: return "dead message"
        case .record: return "record message"
        case .member: return "member message"
        case .revocation: return "revocation message"
        case .digest: return "digest message"
        case .bucket: return "bucket message"
        case .request: return "request message"
        case .endpointReport: return "endpointReport message"
        case .wireGuardEndpointReport: return "wireGuardEndpointReport message"
        case .renewalRequest: return "renewalRequest message"
        case .renewal: return "renewal message"
        case .pathProbe: return "pathProbe message"
        case .pathAck: return "pathAck message"
        case .relayRequest: return "relayRequest message"
        case .relayGrant: return "relayGrant message"
        case .relayRefuse: return "relayRefuse message"
        case .relayRefresh: return "relayRefresh message"
        case .relayRelease: return "relayRelease message"
        case .directRestored: return "directRestored message"
        }
    }
}
