@testable import MeshCore
import MeshCrypto
import Testing

@Suite struct SecureChannelTests {
    let networkID = NetworkID.random()
    let aliceKey = Ed25519PrivateKey(), bobKey = Ed25519PrivateKey()
    let aliceAt = SocketEndpoint("192.0.2.1:51821")!, bobAt = SocketEndpoint("192.0.2.2:51821")!
    var now = Timestamp(seconds: 1_800_000_000)
    var random = RandomSource.seeded(7)

    func peer(_ key: Ed25519PrivateKey) -> ChannelPeer {
        ChannelPeer(nodeID: NodeID(identityKey: key.publicKey), staticPublicKey: try! X25519KeyAgreement().staticPublicKey(for: key.publicKey))
    }

    /// Delivers `datagram` to `channel`, knowing only `known` as members.
    mutating func deliver(_ datagram: OutboundDatagram, to channel: SecureChannel, from source: SocketEndpoint, known: [Ed25519PrivateKey]) -> SecureChannel.Received {
        let peers = Dictionary(uniqueKeysWithValues: known.map { (NodeID(identityKey: $0.publicKey), peer($0)) })
        return channel.receive(datagram.bytes, from: source, now: now, random: &random, resolvePeer: { peers[$0] }, admitCertificate: { _ in nil })
    }

    @Test mutating func handshakeCarriesFirstPayloadAndReplyThenTransportFlows() throws {
        let alice = SecureChannel(identity: aliceKey, networkID: networkID)
        let bob = SecureChannel(identity: bobKey, networkID: networkID)
        let initiation = alice.send([1, 2, 3], to: peer(bobKey), at: bobAt, now: now, random: &random)
        #expect(initiation.count == 1 && initiation[0].bytes[1] == PacketType.handshakeInitiation.rawValue)
        guard case let .delivered(from, payload, _) = deliver(initiation[0], to: bob, from: aliceAt, known: [aliceKey]) else {
            Issue.record("initiation not delivered"); return
        }
        #expect(from == alice.localID && payload == [1, 2, 3])
        #expect(bob.send([4, 5], to: peer(aliceKey), at: aliceAt, now: now, random: &random).isEmpty)  // rides in the response
        let response = bob.completeReceive()
        #expect(response.count == 1 && response[0].bytes[1] == PacketType.handshakeResponse.rawValue)
        guard case let .delivered(_, reply, _) = deliver(response[0], to: alice, from: bobAt, known: [bobKey]) else {
            Issue.record("response not delivered"); return
        }
        #expect(reply == [4, 5])
        #expect(alice.hasSession(with: bob.localID) && bob.hasSession(with: alice.localID))

        now = now + .milliseconds(10)
        let transport = alice.send([6], to: peer(bobKey), at: bobAt, now: now, random: &random)
        #expect(transport[0].bytes[1] == PacketType.transport.rawValue)
        guard case let .delivered(_, data, _) = deliver(transport[0], to: bob, from: aliceAt, known: [aliceKey]) else {
            Issue.record("transport not delivered"); return
        }
        #expect(data == [6])
        // The same datagram again is a replay.
        guard case .dropped(.replayed) = deliver(transport[0], to: bob, from: aliceAt, known: [aliceKey]) else {
            Issue.record("replay accepted"); return
        }
        #expect(bob.drops[.replayed] == 1)
    }

    @Test mutating func replayedInitiationIsRefused() {
        let alice = SecureChannel(identity: aliceKey, networkID: networkID)
        let bob = SecureChannel(identity: bobKey, networkID: networkID)
        let initiation = alice.send([1], to: peer(bobKey), at: bobAt, now: now, random: &random)[0]
        _ = deliver(initiation, to: bob, from: aliceAt, known: [aliceKey])
        _ = bob.completeReceive()
        guard case .dropped(.replayedHandshake) = deliver(initiation, to: bob, from: aliceAt, known: [aliceKey]) else {
            Issue.record("replayed initiation accepted"); return
        }
    }

    @Test mutating func nonMembersAndOtherNetworksAreDropped() {
        let bob = SecureChannel(identity: bobKey, networkID: networkID)
        let stranger = SecureChannel(identity: aliceKey, networkID: networkID)
        let initiation = stranger.send([1], to: peer(bobKey), at: bobAt, now: now, random: &random)[0]
        // Bob does not know the sender: dropped before any public-key work.
        guard case .dropped(.unknownSender) = deliver(initiation, to: bob, from: aliceAt, known: []) else {
            Issue.record("non-member accepted"); return
        }
        // The same keys on another network: keys differ, authentication fails.
        let otherNetwork = SecureChannel(identity: aliceKey, networkID: .random())
        let foreign = otherNetwork.send([1], to: peer(bobKey), at: bobAt, now: now, random: &random)[0]
        guard case .dropped(.authenticationFailed) = deliver(foreign, to: bob, from: aliceAt, known: [aliceKey]) else {
            Issue.record("other network accepted"); return
        }
        #expect(bob.drops[.unknownSender] == 1 && bob.drops[.authenticationFailed] == 1)
    }

    @Test mutating func tamperedAndMalformedDatagramsAreCounted() {
        let alice = SecureChannel(identity: aliceKey, networkID: networkID)
        let bob = SecureChannel(identity: bobKey, networkID: networkID)
        var initiation = alice.send([1, 2, 3], to: peer(bobKey), at: bobAt, now: now, random: &random)[0]
        initiation.bytes[initiation.bytes.count - 1] ^= 1
        guard case .dropped(.authenticationFailed) = deliver(initiation, to: bob, from: aliceAt, known: [aliceKey]) else {
            Issue.record("tampered accepted"); return
        }
        for garbage: [UInt8] in [[], [1], [2, 1], [1, 0x99, 0], [1, 3, 0, 0, 0, 1], [1, 2] + [UInt8](repeating: 0, count: 60)] {
            if case .delivered = deliver(OutboundDatagram(bytes: garbage, endpoint: bobAt), to: bob, from: aliceAt, known: [aliceKey]) {
                Issue.record("garbage delivered")
            }
        }
        #expect(bob.drops[.malformed] >= 2 && bob.drops[.unsupportedVersion] >= 1 && bob.drops[.unknownType] >= 1)
        #expect(bob.drops[.unknownSession] >= 1)
    }

    @Test mutating func oneShotDatagramsAuthenticateAndRefuseReplays() {
        let alice = SecureChannel(identity: aliceKey, networkID: networkID)
        let bob = SecureChannel(identity: bobKey, networkID: networkID)
        let first = alice.sendOneShot([9, 9], to: peer(bobKey), at: bobAt, now: now, random: &random)[0]
        let second = alice.sendOneShot([8], to: peer(bobKey), at: bobAt, now: now, random: &random)[0]
        #expect(first.bytes[1] == PacketType.oneShot.rawValue)
        guard case let .delivered(_, payload, _) = deliver(first, to: bob, from: aliceAt, known: [aliceKey]), payload == [9, 9] else {
            Issue.record("one-shot not delivered"); return
        }
        guard case .delivered = deliver(second, to: bob, from: aliceAt, known: [aliceKey]) else {
            Issue.record("second one-shot at the same instant not delivered"); return
        }
        guard case .dropped(.replayedOneShot) = deliver(first, to: bob, from: aliceAt, known: [aliceKey]) else {
            Issue.record("one-shot replay accepted"); return
        }
        #expect(!bob.hasSession(with: alice.localID))
    }

    @Test mutating func lostInitiationIsRetriedCarryingTheQueuedPayload() {
        let alice = SecureChannel(identity: aliceKey, networkID: networkID)
        let bob = SecureChannel(identity: bobKey, networkID: networkID)
        _ = alice.send([1], to: peer(bobKey), at: bobAt, now: now, random: &random)  // lost on the way
        #expect(alice.send([2], to: peer(bobKey), at: bobAt, now: now, random: &random).isEmpty)  // queued
        #expect(alice.send([3], to: peer(bobKey), at: bobAt, now: now, random: &random).isEmpty)  // queued
        now = now + .seconds(1)
        let (retries, abandoned) = alice.tick(now: now)
        #expect(retries.count == 1 && abandoned.isEmpty)
        guard case let .delivered(_, first, _) = deliver(retries[0], to: bob, from: aliceAt, known: [aliceKey]) else {
            Issue.record("retry not delivered"); return
        }
        #expect(first == [2])
        let response = bob.completeReceive()
        guard case .established = deliver(response[0], to: alice, from: bobAt, known: [bobKey]) else {
            Issue.record("not established"); return
        }
        let flushed = alice.completeReceive()
        #expect(flushed.count == 1)
        guard case let .delivered(_, payload, _) = deliver(flushed[0], to: bob, from: aliceAt, known: [aliceKey]) else {
            Issue.record("queued payload lost"); return
        }
        #expect(payload == [3])
    }

    @Test mutating func abandonsAfterTheLastAttempt() {
        let alice = SecureChannel(identity: aliceKey, networkID: networkID)
        _ = alice.send([1], to: peer(bobKey), at: bobAt, now: now, random: &random)
        var abandonedPeers: [NodeID] = []
        for _ in 0..<20 {
            now = now + .seconds(1)
            abandonedPeers += alice.tick(now: now).abandoned
        }
        #expect(abandonedPeers == [NodeID(identityKey: bobKey.publicKey)])
        #expect(alice.nextDeadline == .distantFuture)
    }

    /// A peer that moved (or lost its session) answers nothing; a sender that keeps sending must
    /// notice after `unansweredAfter` and handshake again, wherever it is told the peer is now.
    @Test mutating func continuousUnansweredSendsStartANewHandshake() throws {
        let alice = SecureChannel(identity: aliceKey, networkID: networkID)
        let bob = SecureChannel(identity: bobKey, networkID: networkID)
        let initiation = alice.send([1], to: peer(bobKey), at: bobAt, now: now, random: &random)
        _ = deliver(initiation[0], to: bob, from: aliceAt, known: [aliceKey])
        _ = deliver(bob.completeReceive()[0], to: alice, from: bobAt, known: [bobKey])
        #expect(alice.hasSession(with: bob.localID))
        // Bob is gone: Alice sends every 100 ms and hears nothing back.
        let movedTo = try #require(SocketEndpoint("198.51.100.20:51821"))
        var types: [UInt8] = []
        for _ in 0..<30 {
            now = now + .milliseconds(100)
            types += alice.send([2], to: peer(bobKey), at: movedTo, now: now, random: &random).map { $0.bytes[1] }
        }
        #expect(types.prefix(10).allSatisfy { $0 == PacketType.transport.rawValue }, "the session carries data while it may still answer")
        #expect(types.contains(PacketType.handshakeInitiation.rawValue), "after 2 s without an answer a new handshake starts: \(types)")
    }
}
