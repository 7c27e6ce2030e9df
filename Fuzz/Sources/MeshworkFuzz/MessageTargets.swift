import MeshAgent
import MeshCore
import MeshCrypto

/// Message decoders: the membership messages inside a datagram, the path and relay messages,
/// and the two join datagrams.
enum MessageTargets {
    /// `Message.decodeAll` on a plaintext; every message decoded must encode and decode back to itself.
    static let messages = FuzzTarget(
        name: "messages",
        summary: "Message.decodeAll (every membership message type) and the encode/decode round trip",
        run: { bytes in
            guard let messages = try? Message.decodeAll(bytes) else { return }
            for message in messages {
                let again = try? Message.decodeAll(encode([message]))
                expect(again == [message], "message \(message) does not survive encoding and decoding")
            }
        },
        seeds: { samplePlaintexts() })

    /// The path and relay messages (extension types); input `type (1) | body`. A body the agent
    /// accepts must be exactly the encoding of what it decoded.
    static let relayMessages = FuzzTarget(
        name: "relay-messages",
        summary: "RelayMessage decoding (path probes, relay request/grant/refuse/refresh/release) and its round trip",
        run: { bytes in
            var input = FuzzInput(bytes)
            let type = input.byte(), body = input.rest()
            if let decoded = AgentDecoding.reencodedRelayMessage(type: type, body: body) {
                expect(decoded.type == type && decoded.body == body, "relay message \(type) does not encode back to its bytes")
            }
        },
        seeds: { relayMessageSamples().map { [$0.type] + $0.body } })

    /// Join requests into the bootstrap node's authority service (which knows one invitation).
    static let joinRequest = FuzzTarget(
        name: "join-request",
        summary: "AuthorityService.handleJoinRequest (join request header, decryption, body, proof)",
        run: { bytes in
            let fixture = Fixture.shared
            var authority = AuthorityService(settings: fixture.settings, key: fixture.authority, invitations: [fixture.invitation])
            let agreement = X25519KeyAgreement()
            _ = authority.handleJoinRequest(
                bytes, staticSecret: agreement.staticKeyPair(for: fixture.victim.identity).secret, agreement: agreement, now: fixture.now)
        },
        seeds: { joinClient().requestDatagrams.map(\.bytes) })

    /// Join responses into a joining node (its request built from a seeded generator, so the
    /// seed response, the bootstrap node's real answer, stays valid).
    static let joinResponse = FuzzTarget(
        name: "join-response",
        summary: "JoinClient.receive (join response header, decryption, settings and certificate in the answer)",
        run: { bytes in
            var client = joiningClient
            _ = client.receive(bytes, from: Fixture.shared.victim.endpoint)
        },
        seeds: {
            let fixture = Fixture.shared
            var authority = AuthorityService(settings: fixture.settings, key: fixture.authority, invitations: [fixture.invitation])
            let agreement = X25519KeyAgreement()
            var seeds: [[UInt8]] = []
            for request in joinClient().requestDatagrams {
                if case let .respond(response, _) = authority.handleJoinRequest(
                    request.bytes, staticSecret: agreement.staticKeyPair(for: fixture.victim.identity).secret, agreement: agreement, now: fixture.now) {
                    seeds.append(response)
                }
            }
            seeds.append([1, 0x12] + fixture.invitation.id)  // "unknown invitation"
            return seeds
        })

    /// The joining node every `join-response` run starts from (a value: each run mutates its own
    /// copy), built once because building it signs and derives keys.
    static let joiningClient = joinClient()

    /// A joining node with a fixed identity and a seeded generator: the same request every time.
    static func joinClient() -> JoinClient {
        let fixture = Fixture.shared
        var random = RandomSource.seeded(11)
        return try! JoinClient(
            token: fixture.token, identity: Fixture.signingKey(9), wireGuardKey: Fixture.agreementKey(9).publicKey, now: fixture.now,
            random: &random)
    }

    static func encode(_ messages: [Message]) -> [UInt8] {
        var writer = ByteWriter()
        for message in messages { message.encode(into: &writer) }
        return writer.bytes
    }

    /// Path and relay messages as the agent sends them (layouts: docs/protocol.md).
    static func relayMessageSamples() -> [(type: UInt8, body: [UInt8])] {
        let fixture = Fixture.shared
        func body(_ build: (inout ByteWriter) -> Void) -> [UInt8] {
            var writer = ByteWriter()
            build(&writer)
            return writer.bytes
        }
        return [
            (0x24, body { $0.write(UInt32(7)) }),
            (0x25, body { $0.write(UInt32(7)) }),
            (0x26, body { $0.write(UInt32(9)); $0.write(fixture.third.id) }),
            (0x27, body { $0.write(UInt32(9)); $0.write(fixture.third.id); $0.write(UInt16(40001)); $0.write(UInt16(120)) }),
            (0x28, body { $0.write(UInt32(9)); $0.write(fixture.third.id); $0.write(UInt8(2)) }),
            (0x29, body { $0.write(fixture.third.id) }),
            (0x2A, body { $0.write(fixture.third.id) }),
            (0x2B, []),
        ]
    }

    /// Valid plaintexts of every message type, as a member sends them to the node under test.
    static func samplePlaintexts() -> [[UInt8]] {
        let fixture = Fixture.shared
        let revocation = try! Revocation(
            networkID: fixture.settings.networkID, identityKey: fixture.third.identity.publicKey, name: "third",
            revokedAt: fixture.now.seconds, keepUntil: fixture.now.seconds + 86400, issuer: fixture.authority)
        let messages: [Message] = [
            .ping(sequence: 1, target: fixture.victim.id),
            .ack(sequence: 1),
            .pingRequest(sequence: 2, target: fixture.third.id, endpoint: fixture.third.endpoint),
            .nack(sequence: 2),
            .suspect(node: fixture.third.id, incarnation: 1, reporter: fixture.peer.id),
            .dead(node: fixture.third.id, incarnation: 1, reporter: fixture.peer.id),
            .record(fixture.record(for: fixture.peer, version: 2).encoded),
            .member(certificate: fixture.third.certificate.encoded, record: fixture.record(for: fixture.third, version: 2).encoded),
            .revocation(revocation.encoded),
            .digest(Digest(memberCount: 3, revocationHash: 0, firstBucket: 0, hashes: [0, 0, 0, 0])),
            .bucket(BucketSummary(rangeStart: NodeID(0), rangeEnd: NodeID(UInt64.max), entries: [
                BucketSummary.Entry(node: min(fixture.peer.id, fixture.third.id), version: 2, status: .alive),
                BucketSummary.Entry(node: max(fixture.peer.id, fixture.third.id), version: 2, status: .alive),
            ])),
            // About the node under test itself: it refutes, or republishes above the version it hears of.
            .suspect(node: fixture.victim.id, incarnation: fixture.now.nanoseconds / 1_000_000 + 5, reporter: fixture.peer.id),
            .bucket(BucketSummary(rangeStart: fixture.victim.id, rangeEnd: fixture.victim.id, entries: [
                BucketSummary.Entry(node: fixture.victim.id, version: fixture.now.nanoseconds / 1_000_000 + 5, status: .alive),
            ])),
            .request([fixture.peer.id, fixture.third.id]),
            .endpointReport(SocketEndpoint("198.51.100.2:51821")!),
        ] + relayMessageSamples().map { .extensionMessage(type: $0.type, body: $0.body) }
        return messages.map { encode([$0]) } + [encode(Array(messages.prefix(3)))]
    }
}
