@testable import MeshCore
import MeshCrypto
import Testing

@Suite struct MembershipTests {
    let network = TestNetwork()

    /// Merge is commutative and idempotent: any order of any set of records, applied any number
    /// of times, leaves every node with the newest version of each member.
    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func mergeIsCommutativeAndIdempotent(seed: UInt64) {
        let nodes = (1...6).map { network.node($0) }
        var generator = SeededRandomNumberGenerator(seed: seed)
        var records: [NodeRecord] = []
        for node in nodes.dropFirst() {
            for version in 1...UInt64.random(in: 1...5, using: &generator) {
                records.append(network.record(for: node, version: version * 10, port: UInt16(40000 + version)))
            }
            if Bool.random(using: &generator) { records.append(network.record(for: node, version: 1000, left: true)) }
        }
        var finals: [[NodeID: (UInt64, MemberStatus)]] = []
        for trial in 0..<4 {
            let observer = network.meshNode(nodes[0], now: network.now, seed: UInt64(trial))
            var order = records.shuffled(using: &generator)
            if trial == 3 { order += order.shuffled(using: &generator) }  // everything twice
            for record in order {
                let certificate = nodes.first { $0.id == record.nodeID }?.certificate
                observer.accept(record, certificate: certificate, from: nil, spread: false, now: network.now)
            }
            finals.append(Dictionary(uniqueKeysWithValues: observer.members.all.map { ($0.id, ($0.record.version, $0.status)) }))
        }
        for final in finals.dropFirst() {
            #expect(final.count == finals[0].count)
            for (id, value) in final { #expect(finals[0][id]?.0 == value.0 && finals[0][id]?.1 == value.1) }
        }
        for node in nodes.dropFirst() {
            let newest = records.filter { $0.nodeID == node.id }.max { $0.version < $1.version }
            #expect(finals[0][node.id]?.0 == newest?.version)
            #expect(finals[0][node.id]?.1 == (newest?.isTombstone == true ? .left : .alive))
        }
    }

    @Test func bucketHashesFollowTheTableIncrementally() {
        let nodes = (1...20).map { network.node($0) }
        var table = MemberTable()
        for node in nodes {
            table.put(Member(certificate: node.certificate, record: network.record(for: node, version: 1), status: .alive, statusChangedAt: network.now))
        }
        var rebuilt = MemberTable()
        for node in nodes.reversed() {
            rebuilt.put(Member(certificate: node.certificate, record: network.record(for: node, version: 1), status: .alive, statusChangedAt: network.now))
        }
        #expect(table.bucketHashes == rebuilt.bucketHashes)
        table.put(Member(certificate: nodes[3].certificate, record: network.record(for: nodes[3], version: 2), status: .alive, statusChangedAt: network.now))
        #expect(table.bucketHashes != rebuilt.bucketHashes)
        table.remove(nodes[5].id)
        #expect(table.count == 19 && table.liveCount == 19)
    }

    /// A malicious member sends records through a valid channel; each bad one is refused and counted.
    @Test func invalidRecordsAreRejectedAndCounted() throws {
        let honest = network.node(1), mallory = network.node(2), victim = network.node(3)
        let observer = network.meshNode(honest, members: [mallory, victim])
        let channel = SecureChannel(identity: mallory.identity, networkID: network.settings.networkID)
        var random = RandomSource.seeded(3)
        let malloryAt = SocketEndpoint("192.0.2.2:51821")!
        let honestPeer = ChannelPeer(nodeID: honest.id, staticPublicKey: try X25519KeyAgreement().staticPublicKey(for: honest.identity.publicKey))
        let malloryPeer = ChannelPeer(nodeID: mallory.id, staticPublicKey: try X25519KeyAgreement().staticPublicKey(for: mallory.identity.publicKey))
        /// Sends `message` over mallory's channel and shuttles datagrams both ways until quiet.
        func inject(_ message: Message) {
            var writer = ByteWriter()
            message.encode(into: &writer)
            var toObserver = channel.send(writer.bytes, to: honestPeer, at: SocketEndpoint("192.0.2.1:51821")!, now: network.now, random: &random)
            while !toObserver.isEmpty {
                var toMallory: [OutboundDatagram] = []
                for datagram in toObserver {
                    observer.receive(datagram.bytes, from: malloryAt, now: network.now)
                    toMallory += observer.drainOutput().datagrams.filter { $0.endpoint == malloryAt }
                }
                toObserver = []
                for datagram in toMallory {
                    _ = channel.receive(datagram.bytes, from: SocketEndpoint("192.0.2.1:51821")!, now: network.now, random: &random,
                                        resolvePeer: { $0 == honest.id ? honestPeer : nil }, admitCertificate: { _ in nil })
                    toObserver += channel.completeReceive()
                }
            }
            _ = malloryPeer
        }
        // Forged: the victim's record re-signed by mallory.
        let genuine = network.record(for: victim, version: 5)
        let forged = try NodeRecord(
            nodeID: victim.id, version: 6, certificateDigest: victim.certificate.digest, flags: [], gossipEndpoints: genuine.gossipEndpoints,
            wireGuardEndpoints: [], announcedPrefixes: [], relays: [], signedAt: 0, signer: mallory.identity)
        inject(.record(forged.encoded))
        #expect(observer.drops[.invalidRecord] == 1)
        #expect(observer.members[victim.id]?.record.version == 1)
        // Outside the grant: mallory announces the whole Internet.
        inject(.record(network.record(for: mallory, version: 7, prefixes: [IPPrefix("0.0.0.0/0")!]).encoded))
        #expect(observer.drops[.outsideGrant] == 1)
        // Another network's certificate.
        let foreign = network.node(9, networkID: .random())
        inject(.member(certificate: foreign.certificate.encoded, record: network.record(for: foreign, version: 1).encoded))
        #expect(observer.drops[.foreignCertificate] == 1)
        // A certificate not from this authority.
        let rogue = network.node(10, issuer: Ed25519PrivateKey())
        inject(.member(certificate: rogue.certificate.encoded, record: network.record(for: rogue, version: 1).encoded))
        #expect(observer.drops[.foreignCertificate] == 2)
        // An expired certificate.
        let old = network.node(11, notAfter: network.now.seconds - 7200)
        inject(.member(certificate: old.certificate.encoded, record: network.record(for: old, version: 1).encoded))
        #expect(observer.drops[.expiredCertificate] == 1)
        // Garbage inside an authenticated datagram.
        inject(.extensionMessage(type: 0x7F, body: []))
        #expect(observer.drops[.invalidMessage] == 1)
        // A valid newer record is accepted.
        inject(.record(network.record(for: victim, version: 8).encoded))
        #expect(observer.members[victim.id]?.record.version == 8)
        #expect(observer.members.count == 2)
    }

    @Test func revocationRemovesTheNodeAndItsRecordsStayOut() throws {
        let node = network.node(1), revoked = network.node(2)
        let observer = network.meshNode(node, members: [revoked])
        let revocation = try Revocation(
            networkID: network.settings.networkID, identityKey: revoked.identity.publicKey, name: "node-2",
            revokedAt: network.now.seconds, keepUntil: network.now.seconds + 86400, issuer: network.authority)
        #expect(observer.addRevocation(revocation, now: network.now))
        #expect(observer.members[revoked.id]?.status == .revoked)
        observer.accept(network.record(for: revoked, version: 50), certificate: revoked.certificate, from: nil, spread: false, now: network.now)
        #expect(observer.members[revoked.id]?.record.version == 1)
        #expect(observer.drops[.revokedRecord] == 1)
        // A revocation signed by someone else is refused.
        let fake = try Revocation(
            networkID: network.settings.networkID, identityKey: node.identity.publicKey, name: "node-1",
            revokedAt: network.now.seconds, keepUntil: network.now.seconds + 86400, issuer: Ed25519PrivateKey())
        #expect(!observer.addRevocation(fake, now: network.now))
        #expect(observer.drops[.invalidRevocation] == 1)
    }

    @Test func suspicionTimeoutShrinksWithConfirmations() {
        var suspicion = Suspicion(
            version: 1, reporter: NodeID(1), startedAt: .zero, minimum: .seconds(10), maximum: .seconds(60), expectedConfirmations: 3)
        #expect(suspicion.timeout == .seconds(60))
        let first = suspicion.confirm(by: NodeID(2)), repeated = suspicion.confirm(by: NodeID(2))
        #expect(first && !repeated)
        let afterOne = suspicion.timeout
        #expect(afterOne < .seconds(60) && afterOne > .seconds(10))
        let second = suspicion.confirm(by: NodeID(3)), third = suspicion.confirm(by: NodeID(4))
        #expect(second && third)
        #expect(suspicion.timeout == .seconds(10))
        let beyond = suspicion.confirm(by: NodeID(5))
        #expect(!beyond)  // beyond the expected count: nothing to spread
    }
}
