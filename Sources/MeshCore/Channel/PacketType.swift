/// The outer datagram types of the channel. Every datagram starts with the protocol version and
/// one of these; see `docs/protocol.md`.
public enum PacketType: UInt8, Sendable, CaseIterable {
    /// Handshake initiation (may carry a first payload).
    case handshakeInitiation = 0x01
    /// Handshake response.
    case handshakeResponse = 0x02
    /// Encrypted messages on an established session.
    case transport = 0x03
    /// Handshake initiation that also carries the sender's certificate, for receivers that may
    /// not know the sender yet (a node that just joined).
    case handshakeInitiationWithCertificate = 0x04
    /// An enrollment request encrypted to the bootstrap node.
    case joinRequest = 0x05
    /// The bootstrap node's encrypted answer to a join request.
    case joinResponse = 0x06
    /// Clear-text "this bootstrap node does not know that invitation".
    case joinUnknownInvitation = 0x07
    /// A single authenticated, encrypted datagram to a member without a session (gossip to a
    /// random member): sealed under a key from the static-static secret, replay-protected by the
    /// sender's increasing timestamp. No answer, no session, no forward secrecy for its payload.
    case oneShot = 0x08

    /// The protocol version in byte 0 of every datagram.
    public static let protocolVersion: UInt8 = 1
}
