@testable import MeshCore
import MeshCrypto

/// A member gone bad, for tests: it holds a real member's keys (from ``TestNetwork``) and sends
/// any list of messages, with any contents, to a victim ``MeshNode`` through the real secure
/// channel, so every check the victim makes after authentication is exercised.
final class HostileMember {
    let member: TestNetwork.Node
    let victim: MeshNode
    let victimID: NodeID
    /// Where the hostile member's datagrams come from (as the victim sees them).
    var source: SocketEndpoint
    let victimAt: SocketEndpoint
    let channel: SecureChannel
    private var random: RandomSource
    let victimPeer: ChannelPeer
    /// Datagrams the victim sent back to ``source`` during the last ``send(_:now:)``.
    private(set) var replies: [OutboundDatagram] = []
    /// Messages the hostile member received back (opened), during the last ``send(_:now:)``.
    private(set) var receivedMessages: [Message] = []

    init(_ member: TestNetwork.Node, victim: MeshNode, victimIdentity: Ed25519PublicKey, network: TestNetwork,
         source: SocketEndpoint = SocketEndpoint("192.0.2.66:51821")!, victimAt: SocketEndpoint = SocketEndpoint("192.0.2.1:51821")!,
         seed: UInt64 = 66) {
        self.member = member
        self.victim = victim
        self.victimID = NodeID(identityKey: victimIdentity)
        self.source = source
        self.victimAt = victimAt
        channel = SecureChannel(identity: member.identity, networkID: network.settings.networkID)
        channel.certificate = member.certificate
        random = .seeded(seed)
        victimPeer = ChannelPeer(nodeID: victimID, staticPublicKey: try! X25519KeyAgreement().staticPublicKey(for: victimIdentity))
    }

    /// Sends `messages` (packed into as many datagrams as needed) and shuttles datagrams between
    /// the two until quiet. Returns the datagrams the victim sent to this member's source.
    @discardableResult
    func send(_ messages: [Message], now: Timestamp, includeCertificate: Bool = false) -> [OutboundDatagram] {
        replies = []
        receivedMessages = []
        deliver(datagrams(for: messages, now: now, includeCertificate: includeCertificate), now: now)
        return replies
    }

    /// Seals `messages` for the victim without delivering them (to capture, replay or forge).
    func datagrams(for messages: [Message], now: Timestamp, includeCertificate: Bool = false, oneShot: Bool = false) -> [OutboundDatagram] {
        var payloads: [[UInt8]] = []
        var writer = ByteWriter()
        for message in messages {
            var single = ByteWriter()
            message.encode(into: &single)
            if writer.count + single.count > channel.settings.maximumPayload, writer.count > 0 {
                payloads.append(writer.bytes)
                writer = ByteWriter()
            }
            writer.write(raw: single.bytes)
        }
        if writer.count > 0 { payloads.append(writer.bytes) }
        var toVictim: [OutboundDatagram] = []
        for payload in payloads {
            if oneShot {
                toVictim += channel.sendOneShot(payload, to: victimPeer, at: victimAt, now: now, random: &random)
            } else {
                toVictim += channel.send(payload, to: victimPeer, at: victimAt, now: now, random: &random, includeCertificate: includeCertificate)
            }
        }
        return toVictim
    }

    /// Delivers raw datagrams (forged or replayed) to the victim, then shuttles replies until quiet.
    func deliver(_ datagrams: [OutboundDatagram], now: Timestamp) {
        var toVictim = datagrams
        var rounds = 0
        while !toVictim.isEmpty, rounds < 20 {
            rounds += 1
            var toMember: [OutboundDatagram] = []
            for datagram in toVictim {
                victim.receive(datagram.bytes, from: source, now: now)
                toMember += victim.drainOutput().datagrams.filter { $0.endpoint == source }
            }
            replies += toMember
            toVictim = []
            for datagram in toMember {
                let result = channel.receive(
                    datagram.bytes, from: victimAt, now: now, random: &random,
                    resolvePeer: { [victimPeer] in $0 == victimPeer.nodeID ? victimPeer : nil }, admitCertificate: { _ in nil })
                if case let .delivered(_, payload, _) = result, let messages = try? Message.decodeAll(payload) {
                    receivedMessages += messages
                }
                toVictim += channel.completeReceive()
            }
        }
    }

    /// A record of this member signed with its own key, at any version.
    func ownRecord(version: UInt64, network: TestNetwork, signedAt: UInt64? = nil) -> NodeRecord {
        try! NodeRecord(
            nodeID: member.id, version: version, certificateDigest: member.certificate.digest, flags: [],
            gossipEndpoints: [AnnouncedEndpoint(.local, source)], wireGuardEndpoints: [],
            announcedPrefixes: member.certificate.grantedPrefixes, relays: [], signedAt: signedAt ?? network.now.seconds,
            signer: member.identity)
    }
}
