import Foundation
import MeshCore
import MeshCrypto

/// The attack loop: seals every family of forged messages for every other member with the stolen
/// member's keys (one-shot datagrams and handshake sessions, as a real member would), adds raw
/// garbage, replays of its own earlier datagrams and replayed join requests, and sends it all at a
/// bounded rate. It answers pings so its sessions stay usable. I/O edge: socket and wall clock.
final class HostileMember {
    /// What was sent and received, printed as JSON at the end.
    struct Tally: Encodable {
        var datagramsSent = 0
        var bytesSent = 0
        var failedSends = 0
        var datagramsReceived = 0
        var bytesReceived = 0
        var payloadsDelivered = 0
        var rounds = 0
        var messagesByKind: [String: Int] = [:]
        var garbageDatagrams = 0
        var replayedDatagrams = 0
        var joinRequests = 0
        var floodInitiations = 0
    }

    private let state: HostileState
    private let catalogue: AttackCatalogue
    private let socket: HostileSocket
    private let channel: SecureChannel
    private let peers: [NodeID: ChannelPeer]
    private let joinToken: InvitationToken?
    private let rate: Double
    private var random = RandomSource.secure()
    private var tally = Tally()
    /// Recent datagrams per victim, replayed later (they must be refused as replays).
    private var sentRecently: [NodeID: [OutboundDatagram]] = [:]
    /// The first join request built from the token, replayed byte for byte.
    private var capturedJoin: [OutboundDatagram] = []
    private var tokens = 0.0
    private var tokensUpdated = Date()

    init(state: HostileState, reflectTargets: [SocketEndpoint], port: UInt16, rate: Double, joinToken: InvitationToken?) throws {
        self.state = state
        self.catalogue = AttackCatalogue(state: state, reflectTargets: reflectTargets)
        self.socket = try HostileSocket(port: port)
        self.rate = max(1, rate)
        self.joinToken = joinToken
        channel = SecureChannel(identity: state.identity, networkID: state.settings.networkID)
        channel.certificate = state.certificate
        let agreement = X25519KeyAgreement()
        var peers: [NodeID: ChannelPeer] = [:]
        for member in state.members {
            guard let key = try? agreement.staticPublicKey(for: member.certificate.identityKey) else { continue }
            peers[member.id] = ChannelPeer(nodeID: member.id, staticPublicKey: key)
        }
        self.peers = peers
    }

    /// Attacks until `duration` seconds have passed; returns the tally.
    func run(duration: Double, log: (String) -> Void) -> Tally {
        let deadline = Date().addingTimeInterval(duration)
        while Date() < deadline {
            tally.rounds += 1
            for victim in state.members.shuffled() where peers[victim.id] != nil {
                for kind in AttackKind.allCases.shuffled() {
                    let messages = catalogue.messages(kind, victim: victim, now: .wallClock, random: &random)
                    tally.messagesByKind[kind.rawValue, default: 0] += messages.count
                    for (index, payload) in Self.batches(messages, limit: channel.settings.maximumPayload).enumerated() {
                        guard Date() < deadline else { break }
                        sendSealed(payload, to: victim, oneShot: (index + tally.rounds) % 2 == 0)
                    }
                }
                guard Date() < deadline else { break }
                sendGarbage(to: victim)
                replay(to: victim)
                sendHandshakeFlood(to: victim)
            }
            sendJoinRequests()
            if tally.rounds % 10 == 1 { log("round \(tally.rounds): \(tally.datagramsSent) datagrams sent, \(tally.datagramsReceived) received") }
        }
        tally.failedSends = socket.failedSends
        return tally
    }

    // MARK: Sending

    private func sendSealed(_ payload: [UInt8], to victim: Member, oneShot: Bool) {
        guard let peer = peers[victim.id], let endpoint = endpoint(of: victim) else { return }
        let now = Timestamp.wallClock
        let datagrams = oneShot
            ? channel.sendOneShot(payload, to: peer, at: endpoint, now: now, random: &random)
            : channel.send(payload, to: peer, at: endpoint, now: now, random: &random, includeCertificate: tally.rounds % 3 == 0)
        for datagram in datagrams {
            transmit(datagram)
            sentRecently[victim.id, default: []].append(datagram)
            if sentRecently[victim.id, default: []].count > 16 { sentRecently[victim.id]?.removeFirst() }
        }
    }

    /// Datagrams that are not valid channel packets: every packet type with random bytes, truncated
    /// headers, transport for unknown sessions, oversized datagrams.
    private func sendGarbage(to victim: Member) {
        guard let endpoint = endpoint(of: victim) else { return }
        var datagrams: [[UInt8]] = [[], [1], [0xFF, 0xFF], [1, 0x7F]]
        for type in UInt8(1)...8 {
            let length = Int(random.next() % 1300)
            datagrams.append([1, type] + (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        }
        // An initiation naming the attacker and the victim correctly, but with garbage keys and payload.
        var initiation = ByteWriter()
        initiation.write(UInt8(1))
        initiation.write(UInt8(1))
        initiation.write(UInt32(truncatingIfNeeded: random.next()))
        initiation.write(state.localID)
        initiation.write(victim.id)
        initiation.write(raw: (0..<32).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        initiation.write(UInt64.max)
        initiation.write(raw: (0..<48).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        datagrams.append(initiation.bytes)
        datagrams.append(Array(repeating: 0x01, count: 1800))
        for bytes in datagrams { transmit(OutboundDatagram(bytes: bytes, endpoint: endpoint)) }
        tally.garbageDatagrams += datagrams.count
    }

    /// Valid handshake initiations, each from a fresh channel (a new ephemeral key, so each costs the
    /// victim key agreements and a response): with the stolen member's keys and certificate, and from
    /// strangers presenting self-signed certificates (the certificate-admission budget).
    private func sendHandshakeFlood(to victim: Member) {
        guard let peer = peers[victim.id], let endpoint = endpoint(of: victim) else { return }
        var ping = ByteWriter()
        Message.ping(sequence: UInt32(truncatingIfNeeded: random.next()), target: victim.id).encode(into: &ping)
        for index in 0..<8 {
            let identity = index < 4 ? state.identity : Ed25519PrivateKey()
            let fresh = SecureChannel(identity: identity, networkID: state.settings.networkID)
            if index < 4 {
                fresh.certificate = state.certificate
            } else {
                fresh.certificate = try? NodeCertificate(
                    networkID: state.settings.networkID, serial: UInt64(index), name: "stranger-\(index)", identityKey: identity.publicKey,
                    wireGuardKey: X25519PrivateKey().publicKey, addresses: state.certificate.addresses, routes: [], roles: [.relay],
                    notBefore: 0, notAfter: .max, issuer: identity)
            }
            for datagram in fresh.send(ping.bytes, to: peer, at: endpoint, now: .wallClock, random: &random, includeCertificate: true) {
                transmit(datagram)
                tally.floodInitiations += 1
            }
        }
    }

    /// Sends again, unchanged, datagrams this attacker sent the victim before.
    private func replay(to victim: Member) {
        for datagram in sentRecently[victim.id, default: []].suffix(4) {
            transmit(datagram)
            tally.replayedDatagrams += 1
        }
    }

    /// Join requests with the stolen member's identity and a token it was given (already used):
    /// the first request replayed byte for byte, a fresh one, and one for an unknown invitation.
    private func sendJoinRequests() {
        guard let token = joinToken else { return }
        if let client = try? JoinClient(token: token, identity: state.identity, wireGuardKey: state.wireGuardKey.publicKey, now: .wallClock, random: &random) {
            if capturedJoin.isEmpty { capturedJoin = client.requestDatagrams }
            for datagram in client.requestDatagrams where LabAddressPolicy.permits(datagram.endpoint.address) {
                transmit(datagram)
                var unknown = datagram
                for index in 2..<18 where index < unknown.bytes.count { unknown.bytes[index] = UInt8(truncatingIfNeeded: random.next()) }
                transmit(unknown)
                tally.joinRequests += 2
            }
        }
        for datagram in capturedJoin where LabAddressPolicy.permits(datagram.endpoint.address) {
            transmit(datagram)
            tally.joinRequests += 1
        }
    }

    /// One of the victim's announced gossip endpoints, at random (lab addresses only).
    private func endpoint(of victim: Member) -> SocketEndpoint? {
        victim.record.gossipEndpoints.map(\.endpoint).filter { LabAddressPolicy.permits($0.address) }.randomElement(using: &random)
    }

    /// Sends one datagram once the rate allows it, handling what arrives meanwhile.
    private func transmit(_ datagram: OutboundDatagram) {
        while true {
            let now = Date()
            tokens = min(rate / 10, tokens + now.timeIntervalSince(tokensUpdated) * rate)
            tokensUpdated = now
            if tokens >= 1 { break }
            let wait = Int32(max(1, ((1 - tokens) / rate) * 1000))
            receive(waiting: wait)
        }
        tokens -= 1
        socket.send(datagram.bytes, to: datagram.endpoint)
        tally.datagramsSent += 1
        tally.bytesSent += datagram.bytes.count
        receive(waiting: 0)
    }

    // MARK: Receiving

    /// Handles what the victims send back: completes handshakes, answers pings, ignores the rest.
    private func receive(waiting milliseconds: Int32) {
        var wait = milliseconds
        while let (bytes, source) = socket.receive(waiting: wait) {
            wait = 0
            tally.datagramsReceived += 1
            tally.bytesReceived += bytes.count
            let now = Timestamp.wallClock
            let result = channel.receive(bytes, from: source, now: now, random: &random, resolvePeer: { self.peers[$0] }, admitCertificate: { _ in nil })
            if case let .delivered(sender, payload, endpoint) = result {
                tally.payloadsDelivered += 1
                if let peer = peers[sender], let messages = try? Message.decodeAll(payload) {
                    for case let .ping(sequence, _) in messages {
                        var writer = ByteWriter()
                        Message.ack(sequence: sequence).encode(into: &writer)
                        for reply in channel.send(writer.bytes, to: peer, at: endpoint, now: now, random: &random) { socket.send(reply.bytes, to: reply.endpoint) }
                    }
                }
            }
            for followUp in channel.completeReceive() { socket.send(followUp.bytes, to: followUp.endpoint) }
        }
        for retry in channel.tick(now: .wallClock).datagrams { socket.send(retry.bytes, to: retry.endpoint) }
    }

    /// Packs messages into payloads of at most `limit` bytes.
    static func batches(_ messages: [Message], limit: Int) -> [[UInt8]] {
        var batches: [[UInt8]] = []
        var current = ByteWriter()
        for message in messages {
            var one = ByteWriter()
            message.encode(into: &one)
            guard one.count <= limit else { continue }
            if current.count + one.count > limit {
                batches.append(current.bytes)
                current = ByteWriter()
            }
            current.write(raw: one.bytes)
        }
        if current.count > 0 { batches.append(current.bytes) }
        return batches
    }
}
