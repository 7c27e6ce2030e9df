import MeshAgent
import MeshCore
import MeshCrypto

/// The secure channel's receive path, as a node receives datagrams from the network.
enum ChannelTargets {
    /// Any source on the internet.
    static let stranger = SocketEndpoint("203.0.113.7:40000")!

    /// Raw datagrams from a stranger into a full node (channel, join handling on the bootstrap
    /// node): framing, session lookup, handshake parsing, certificate admission, MAC checks.
    static let datagram = FuzzTarget(
        name: "channel-datagram",
        summary: "raw datagrams into MeshNode.receive (SecureChannel framing, handshakes, one-shots, join requests)",
        run: { bytes in
            let fixture = Fixture.shared
            let victim = fixture.makeVictim()
            var input = FuzzInput(bytes)
            var now = fixture.now
            var count = 0
            while !input.isAtEnd, count < 8 {
                count += 1
                now = now + .milliseconds(Double(input.byte()) * 100)
                victim.receive(input.chunk(), from: stranger, now: now)
                _ = victim.drainOutput()
            }
            victim.tick(now: now)
        },
        seeds: {
            let fixture = Fixture.shared
            var random = RandomSource.seeded(7)
            let sender = SecureChannel(identity: fixture.peer.identity, networkID: fixture.settings.networkID)
            let victimPeer = fixture.channelPeer(fixture.victim)
            let ping = MessageTargets.encode([.ping(sequence: 1, target: fixture.victim.id)])
            let oneShot = sender.sendOneShot(ping, to: victimPeer, at: fixture.victim.endpoint, now: fixture.now, random: &random)
            let initiation = sender.send(ping, to: victimPeer, at: fixture.victim.endpoint, now: fixture.now, random: &random)
            // A newcomer's initiation carries its certificate.
            let newcomer = Fixture.signingKey(9)
            let newcomerCertificate = try! NodeCertificate(
                networkID: fixture.settings.networkID, serial: 9, name: "newcomer", identityKey: newcomer.publicKey,
                wireGuardKey: Fixture.agreementKey(9).publicKey, addresses: [IPAddress("100.80.0.9")!], routes: [], roles: [],
                notBefore: fixture.now.seconds - 60, notAfter: fixture.now.seconds + 86400, issuer: fixture.authority)
            let newcomerChannel = SecureChannel(identity: newcomer, networkID: fixture.settings.networkID)
            newcomerChannel.certificate = newcomerCertificate
            let withCertificate = newcomerChannel.send(
                ping, to: victimPeer, at: fixture.victim.endpoint, now: fixture.now, random: &random, includeCertificate: true)
            let join = MessageTargets.joinClient()
            let datagrams = [oneShot, initiation, withCertificate, join.requestDatagrams].map { $0.map(\.bytes) }
            return datagrams.flatMap { $0 }.map { FuzzInput.frame([$0]).prependingDelay() }
        })

    /// Authenticated plaintexts: the harness holds the keys of a member (the peer, with the relay
    /// role, or the third member, without it), seals each chunk of the input as that member —
    /// as one-shots, or over a session it establishes with a real handshake — and feeds the
    /// datagrams to the node. Reaches message decoding, gossip, anti-entropy, probing, revocation
    /// and the extension (path and relay) messages, whose bodies the agent's decoder then reads.
    ///
    /// Input: `flags (1)`, then steps of `delay (1, ×100 ms) | u16 length | plaintext`. Flags: bit 0
    /// use a session (else one-shots), bit 1 send as the third member, bit 2 run the node's timers
    /// after each step.
    static let authenticated = FuzzTarget(
        name: "channel-authenticated",
        summary: "member-authenticated plaintexts (one-shot or session) into MeshNode: every message handler, relay messages",
        run: { bytes in
            let fixture = Fixture.shared
            var input = FuzzInput(bytes)
            let flags = input.byte()
            let sender = flags & 2 == 0 ? fixture.peer : fixture.third
            let victim = fixture.makeVictim()
            let channel = SecureChannel(identity: sender.identity, networkID: fixture.settings.networkID)
            let victimPeer = fixture.channelPeer(fixture.victim)
            var random = RandomSource.seeded(3)
            var now = fixture.now
            var steps = 0
            while !input.isAtEnd, steps < 16 {
                steps += 1
                now = now + .milliseconds(Double(input.byte()) * 100)
                let plaintext = Array(input.chunk().prefix(channel.settings.maximumPayload))
                let datagrams = flags & 1 == 0
                    ? channel.sendOneShot(plaintext, to: victimPeer, at: fixture.victim.endpoint, now: now, random: &random)
                    : channel.send(plaintext, to: victimPeer, at: fixture.victim.endpoint, now: now, random: &random)
                for datagram in datagrams { victim.receive(datagram.bytes, from: sender.endpoint, now: now) }
                if flags & 4 != 0 { victim.tick(now: now) }
                let output = victim.drainOutput()
                // Answers to the sender complete its handshake, so later steps travel in a session.
                for datagram in output.datagrams where datagram.endpoint == sender.endpoint {
                    _ = channel.receive(
                        datagram.bytes, from: fixture.victim.endpoint, now: now, random: &random,
                        resolvePeer: { $0 == victimPeer.nodeID ? victimPeer : nil }, admitCertificate: { _ in nil })
                    for followUp in channel.completeReceive() { victim.receive(followUp.bytes, from: sender.endpoint, now: now) }
                }
                for event in output.events {
                    if case let .extensionMessage(_, type, body, _) = event {
                        if let decoded = AgentDecoding.reencodedRelayMessage(type: type, body: body) {
                            expect(decoded.type == type && decoded.body == body, "relay message \(type) does not encode back to its bytes")
                        }
                    }
                }
            }
        },
        seeds: {
            let plaintexts = MessageTargets.samplePlaintexts()
            return [0, 1, 5].flatMap { flags in
                plaintexts.map { [UInt8(flags)] + FuzzInput.frame([$0]).prependingDelay() }
            } + [[1] + plaintexts.prefix(6).flatMap { FuzzInput.frame([$0]).prependingDelay(10) }]
        })
}

extension Array where Element == UInt8 {
    /// A framed step preceded by its delay byte (see the channel targets' input layout).
    func prependingDelay(_ delay: UInt8 = 0) -> [UInt8] { [delay] + self }
}
