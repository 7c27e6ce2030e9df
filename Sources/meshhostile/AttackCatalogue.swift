import MeshCore
import MeshCrypto

/// One family of forged or extreme messages (named in the summary meshhostile prints).
enum AttackKind: String, CaseIterable {
    case bucketVersions = "bucket-versions"
    case digests
    case requests
    case verdicts
    case forgedRecords = "forged-records"
    case forgedMembers = "forged-members"
    case forgedRevocations = "forged-revocations"
    case acks
    case pings
    case endpointReports = "endpoint-reports"
    case wireGuardEndpointReports = "wireguard-endpoint-reports"
    case relay
    case renewals
    case unknownExtensions = "unknown-extensions"
}

/// Builds the messages a hostile member sends to one victim: every message type of the membership
/// layer (docs/protocol.md, "Messages") and of the agent (0x20–0x2B), with extreme values (versions
/// and incarnations 0, max, max − 1, far future), forged reporters, foreign signatures, guessed
/// sequences and ids, and endpoints the attacker chose (`reflectTargets`).
struct AttackCatalogue {
    let state: HostileState
    /// Endpoints the attacker tries to make victims send to (lab addresses only).
    let reflectTargets: [SocketEndpoint]

    /// Versions no honest node would send: 0, the maximum, one below it, and ten years ahead
    /// (record versions are milliseconds since the epoch).
    func extremeVersions(now: Timestamp) -> [UInt64] {
        let nowMilliseconds = now.nanoseconds / 1_000_000
        return [0, .max, .max - 1, nowMilliseconds + 10 * 365 * 24 * 3600 * 1000, now.nanoseconds]
    }

    /// The extreme versions plus the current one (what an honest node would sign now), so forged
    /// records also reach the checks behind a version bound: certificate issuer, signature, grants.
    func recordVersions(now: Timestamp) -> [UInt64] {
        extremeVersions(now: now) + [now.nanoseconds / 1_000_000]
    }

    /// Every node ID worth naming: the victim, every other member, the attacker, and made-up ones.
    func targets(victim: Member, random: inout RandomSource) -> [NodeID] {
        var ids = state.members.map(\.id) + [state.localID]
        ids += [NodeID(0), NodeID(.max), NodeID(random.next())]
        if !ids.contains(victim.id) { ids.append(victim.id) }
        return ids
    }

    func messages(_ kind: AttackKind, victim: Member, now: Timestamp, random: inout RandomSource) -> [Message] {
        let ids = targets(victim: victim, random: &random)
        let others = ids.filter { $0 != state.localID }
        switch kind {
        case .bucketVersions:
            return bucketSummaries(ids: ids, now: now)
        case .digests:
            let hashes = (0..<128).map { _ in random.next() }
            return [
                .digest(Digest(memberCount: .max, revocationHash: random.next(), firstBucket: 0, hashes: hashes)),
                .digest(Digest(memberCount: 0, revocationHash: .max, firstBucket: 128, hashes: hashes)),
                .digest(Digest(memberCount: 1, revocationHash: 0, firstBucket: 255, hashes: [random.next()])),
            ]
        case .requests:
            // Asking for every member over and over: a reply much larger than the request.
            let many = (0..<Message.requestLimit).map { ids[$0 % ids.count] }
            return [.request(many), .request(others), .request([])]
        case .verdicts:
            var verdicts: [Message] = []
            let incarnations = extremeVersions(now: now)
            for node in others {
                let reporter = others.first { $0 != node } ?? NodeID(random.next())
                for incarnation in incarnations {
                    verdicts.append(.suspect(node: node, incarnation: incarnation, reporter: reporter))
                    verdicts.append(.dead(node: node, incarnation: incarnation, reporter: NodeID(random.next())))
                }
                verdicts.append(.dead(node: node, incarnation: UInt64(truncatingIfNeeded: node.value), reporter: node))
            }
            return verdicts
        case .forgedRecords:
            return forgedRecords(victim: victim, ids: others, now: now).map { .record($0) }
        case .forgedMembers:
            return forgedMembers(victim: victim, now: now)
        case .forgedRevocations:
            return state.members.compactMap { member in
                (try? Revocation(
                    networkID: state.settings.networkID, identityKey: member.certificate.identityKey, name: member.name,
                    revokedAt: now.seconds, keepUntil: .max, issuer: state.identity))?.encoded
            }.map { .revocation($0) } + [.revocation([1, 2, 3]), .revocation(Array(repeating: 0xFF, count: 200))]
        case .acks:
            // Guessed sequence numbers: the first ones a node uses, the extremes, and random ones.
            let sequences: [UInt32] = Array(0...24) + [.max, .max - 1, UInt32(truncatingIfNeeded: random.next())]
            return sequences.flatMap { [Message.ack(sequence: $0), .nack(sequence: $0)] }
        case .pings:
            var pings: [Message] = []
            for target in ids {
                pings.append(.ping(sequence: UInt32(truncatingIfNeeded: random.next()), target: target))
                pings.append(.pingRequest(sequence: UInt32(truncatingIfNeeded: random.next()), target: target, endpoint: nil))
                for endpoint in reflectTargets.prefix(4) {
                    pings.append(.pingRequest(sequence: UInt32(truncatingIfNeeded: random.next()), target: target, endpoint: endpoint))
                }
            }
            return pings
        case .endpointReports:
            return reflectTargets.map { .endpointReport($0) }
        case .wireGuardEndpointReports:
            return reflectTargets.map { endpoint in
                var writer = ByteWriter()
                writer.write(endpoint)
                return .extensionMessage(type: MessageCode.wireGuardEndpointReport.rawValue, body: writer.bytes)
            }
        case .relay:
            return relayMessages(ids: ids, random: &random)
        case .renewals:
            var renewals: [Message] = [.extensionMessage(type: MessageCode.renewalRequest.rawValue, body: []), .extensionMessage(type: MessageCode.renewalRequest.rawValue, body: [0xFF])]
            // A "renewal" for the victim signed by the attacker, and one extending the attacker's own.
            if let forged = try? NodeCertificate(
                networkID: state.settings.networkID, serial: .max, name: victim.name, identityKey: victim.certificate.identityKey,
                wireGuardKey: state.wireGuardKey.publicKey, addresses: victim.certificate.addresses, routes: [],
                roles: [.relay, .authority], notBefore: 0, notAfter: .max, issuer: state.identity) {
                renewals.append(.extensionMessage(type: MessageCode.renewal.rawValue, body: forged.encoded))
            }
            if let own = try? NodeCertificate(
                networkID: state.settings.networkID, serial: .max, name: state.certificate.name, identityKey: state.identity.publicKey,
                wireGuardKey: state.wireGuardKey.publicKey, addresses: state.certificate.addresses,
                routes: [try? IPPrefix(parsing: "0.0.0.0/0")].compactMap { $0 }, roles: [.relay], notBefore: 0, notAfter: .max, issuer: state.identity) {
                renewals.append(.extensionMessage(type: MessageCode.renewal.rawValue, body: own.encoded))
            }
            renewals.append(.extensionMessage(type: MessageCode.renewal.rawValue, body: state.certificate.encoded))
            renewals.append(.extensionMessage(type: MessageCode.renewal.rawValue, body: Array(repeating: 0xAB, count: 300)))
            return renewals
        case .unknownExtensions:
            return MessageCode.extensionRange.filter { MessageCode(rawValue: $0) == nil }.map { type in
                .extensionMessage(type: type, body: (0..<Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) })
            }
        }
    }

    /// Bucket parts naming every ID at every extreme version and status, one ID per part so each
    /// stays inside its bucket, plus empty parts claiming the attacker lacks everyone.
    private func bucketSummaries(ids: [NodeID], now: Timestamp) -> [Message] {
        var parts: [Message] = []
        for id in ids {
            let bucket = id.value >> 56
            let start = NodeID(bucket << 56), end = NodeID(bucket << 56 | 0x00FF_FFFF_FFFF_FFFF)
            for version in extremeVersions(now: now) {
                for status in MemberStatus.allCases {
                    parts.append(.bucket(BucketSummary(rangeStart: start, rangeEnd: end, entries: [.init(node: id, version: version, status: status)])))
                }
            }
            parts.append(.bucket(BucketSummary(rangeStart: start, rangeEnd: end, entries: [])))
        }
        parts.append(.bucket(BucketSummary(rangeStart: NodeID(0), rangeEnd: NodeID(.max), entries: [])))
        return parts
    }

    /// Records: the attacker's own, properly signed, at extreme versions, claiming endpoints it chose
    /// and prefixes it was never granted, or serving routes it was never granted; and records of
    /// other members signed by the attacker.
    private func forgedRecords(victim: Member, ids: [NodeID], now: Timestamp) -> [[UInt8]] {
        let endpoints = reflectTargets.prefix(NodeRecord.maximumEndpoints).map { AnnouncedEndpoint(.advertised, $0) }
        let stolenPrefixes = state.members.flatMap(\.certificate.addresses).map(IPPrefix.init(host:))
            + [state.settings.ipv4Prefix] + ["0.0.0.0/0", "::/0"].compactMap { try? IPPrefix(parsing: $0) }
        var records: [[UInt8]] = []
        for version in recordVersions(now: now) {
            let relays = ids.prefix(NodeRecord.maximumRelays).map { RelayReachability(relay: $0, rttMilliseconds: 0) }
            if let own = try? NodeRecord(
                nodeID: state.localID, version: version, certificateDigest: state.certificate.digest, flags: [.relay],
                gossipEndpoints: Array(endpoints), wireGuardEndpoints: Array(endpoints),
                announcedPrefixes: Array(stolenPrefixes.prefix(NodeRecord.maximumPrefixes)), relays: relays,
                signedAt: version, signer: state.identity) {
                records.append(own.encoded)
            }
            // Its own addresses, but serving routes it was never granted: the default routes (it has
            // no exit role), the overlay, other members' addresses, a LAN (issue 12).
            let servedOutside = (stolenPrefixes + ["203.0.113.0/24"].compactMap { try? IPPrefix(parsing: $0) })
                .prefix(NodeRecord.maximumPrefixes).map { ServedRoute(prefix: $0, priority: .max) }
            if let serving = try? NodeRecord(
                nodeID: state.localID, version: version, certificateDigest: state.certificate.digest, flags: [],
                gossipEndpoints: Array(endpoints), wireGuardEndpoints: Array(endpoints),
                announcedPrefixes: state.certificate.addresses.map(IPPrefix.init(host:)), relays: [], servedRoutes: Array(servedOutside),
                signedAt: version, signer: state.identity) {
                records.append(serving.encoded)
            }
            for member in state.members {
                if let forged = try? NodeRecord(
                    nodeID: member.id, version: version, certificateDigest: member.certificate.digest, flags: [.left],
                    gossipEndpoints: Array(endpoints), wireGuardEndpoints: Array(endpoints), announcedPrefixes: [], relays: [],
                    signedAt: version, signer: state.identity) {
                    records.append(forged.encoded)
                }
            }
        }
        records.append(victim.record.encoded)  // the victim's own record, replayed to it
        records.append([NodeRecord.formatVersionForAttacks] + Array(repeating: 0xFF, count: 120))
        return records
    }

    /// `member` messages: certificates the network authority never signed (self-signed, or by the
    /// attacker, for new identities and for existing members' keys and addresses), real certificates
    /// with records the attacker signed, and the attacker's own certificate with extreme records.
    private func forgedMembers(victim: Member, now: Timestamp) -> [Message] {
        var members: [Message] = []
        let endpoints = Array(reflectTargets.prefix(NodeRecord.maximumEndpoints).map { AnnouncedEndpoint(.advertised, $0) })
        let current = now.nanoseconds / 1_000_000
        func signed(_ id: NodeID, _ version: UInt64, _ certificate: NodeCertificate, _ signer: Ed25519PrivateKey, _ flags: NodeRecord.Flags) -> NodeRecord? {
            try? NodeRecord(
                nodeID: id, version: version, certificateDigest: certificate.digest, flags: flags, gossipEndpoints: endpoints,
                wireGuardEndpoints: endpoints, announcedPrefixes: [], relays: [], signedAt: now.seconds, signer: signer)
        }
        let newcomer = Ed25519PrivateKey()
        let stolenAddresses = Array(victim.certificate.addresses.prefix(1))
        for (identity, issuer) in [(newcomer, newcomer), (newcomer, state.identity), (state.identity, state.identity)] where !stolenAddresses.isEmpty {
            guard let certificate = try? NodeCertificate(
                networkID: state.settings.networkID, serial: .max, name: "mallory-\(members.count)", identityKey: identity.publicKey,
                wireGuardKey: X25519PrivateKey().publicKey, addresses: stolenAddresses, routes: [], roles: [.relay, .authority],
                notBefore: 0, notAfter: .max, issuer: issuer)
            else { continue }
            for version in [UInt64.max, current] {
                if let record = signed(certificate.nodeID, version, certificate, identity, [.relay]) {
                    members.append(.member(certificate: certificate.encoded, record: record.encoded))
                }
            }
        }
        for member in state.members + [victim] {
            for version in [UInt64.max - 1, current] {
                if let record = signed(member.id, version, member.certificate, state.identity, []) {
                    members.append(.member(certificate: member.certificate.encoded, record: record.encoded))
                }
            }
        }
        for version in recordVersions(now: now) {
            if let record = signed(state.localID, version, state.certificate, state.identity, [.relay]) {
                members.append(.member(certificate: state.certificate.encoded, record: record.encoded))
            }
        }
        members.append(.member(certificate: Array(repeating: 0x01, count: 90), record: Array(repeating: 0x02, count: 90)))
        return members
    }

    /// Path and relay messages (0x24–0x2B): grants nobody asked for, with wrong and guessed ids, for
    /// other pairs, for the victim itself and for the attacker; requests for pairs with every member
    /// and with itself; refusals, refreshes and releases of pairs the attacker is not part of.
    private func relayMessages(ids: [NodeID], random: inout RandomSource) -> [Message] {
        func message(_ code: MessageCode, _ build: (inout ByteWriter) -> Void) -> Message {
            var writer = ByteWriter(capacity: 16)
            build(&writer)
            return .extensionMessage(type: code.rawValue, body: writer.bytes)
        }
        var messages: [Message] = [
            message(.pathProbe) { $0.write(UInt32(truncatingIfNeeded: random.next())) },
            message(.pathAck) { $0.write(UInt32(0)) },
            message(.pathAck) { $0.write(UInt32(truncatingIfNeeded: random.next())) },
            message(.directRestored) { _ in },
        ]
        let requestIDs: [UInt32] = [0, 1, 2, .max, UInt32(truncatingIfNeeded: random.next())]
        let ports: [UInt16] = [0, 1, 51820, 51821, 40000, .max]
        for peer in ids {
            messages.append(message(.relayRequest) { $0.write(UInt32(truncatingIfNeeded: random.next())); $0.write(peer) })
            for id in requestIDs {
                let port = ports[Int(random.next() % UInt64(ports.count))]
                let lease = [UInt16(0), 30, .max][Int(random.next() % 3)]
                messages.append(message(.relayGrant) { $0.write(id); $0.write(peer); $0.write(port); $0.write(lease) })
            }
            for reason in [UInt8(1), 2, 3, 4, 0, 0xFF] {
                messages.append(message(.relayRefuse) { $0.write(UInt32(truncatingIfNeeded: random.next())); $0.write(peer); $0.write(reason) })
            }
            messages.append(message(.relayRefresh) { $0.write(peer) })
            messages.append(message(.relayRelease) { $0.write(peer) })
        }
        return messages
    }
}

extension NodeRecord {
    /// The first byte of a record (its format version), for garbage that gets past the first check.
    static let formatVersionForAttacks: UInt8 = 1
}
