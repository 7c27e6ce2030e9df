import MeshCrypto

/// The authenticated, encrypted datagram channel between agents (sans-I/O).
///
/// A handshake in the style of Noise (see `docs/protocol.md` and `docs/security.md`):
/// the initiator sends an ephemeral key and a first payload sealed under a key that mixes the
/// static-static secret (so only a member can send it); the responder answers with its own
/// ephemeral key; transport keys mix in the ephemeral-ephemeral secret, giving forward secrecy.
/// Initiations carry a timestamp that must increase per sender (replays are refused), and
/// transport datagrams carry a counter checked against a sliding window.
///
/// The channel never touches sockets or clocks: callers pass datagrams, the time and a random
/// generator, and send what it returns.
public final class SecureChannel {
    /// The local node.
    public let localID: NodeID
    public let settings: ChannelSettings
    /// Discards, by reason.
    public private(set) var drops = DropCounters()

    private let networkID: NetworkID
    private let agreement: any KeyAgreement
    private let staticSecret: SecretBytes
    private let initialChainingKey: SecretBytes
    /// The local certificate, sent in initiations to peers that may not know this node yet.
    public var certificate: NodeCertificate?
    /// The network authority's key. Certificates in initiations naming another issuer (or
    /// network) are refused before any signature is verified or any budget is spent.
    public var certificateIssuer: Ed25519PublicKey?

    private var sessions: [UInt32: Session] = [:]
    /// Newest first: at most a current and a previous session per peer.
    private var sessionIndexes: [NodeID: [UInt32]] = [:]
    private var pending: [NodeID: PendingHandshake] = [:]
    private var pendingIndexes: [UInt32: NodeID] = [:]
    private var responderMemory: [NodeID: ResponderMemory] = [:]
    /// The newest initiation and one-shot timestamps accepted per peer (see ``ReplayMark``).
    private var replayMarks: [NodeID: ReplayMark] = [:]
    /// Per-peer keys and one-shot timestamps (see ``PeerKeys``).
    private var peerKeys: [NodeID: PeerKeys] = [:]
    /// A response being assembled while the caller handles the initiation's payload.
    private var openResponse: (peer: NodeID, endpoint: SocketEndpoint, header: [UInt8], key: SymmetricKey, payload: [UInt8])?
    /// Datagrams released while receiving, returned by ``completeReceive()``.
    private var followUps: [OutboundDatagram] = []
    private var certificateTokens: Double
    private var certificateTokensUpdated: Timestamp = .zero
    /// Certificate admissions per source address, within the shared budget above.
    private var certificateSources: SourceRateLimiter
    /// The highest handshake or one-shot timestamp this channel sent: timestamps only grow, even
    /// when the clock steps back (persisted with ``replayState(now:)``).
    private var highestTimestampSent: UInt64 = 0
    /// Scratch space for nonces (see ``nonce(_:)``); only the first 8 bytes ever change.
    private var nonceBuffer = [UInt8](repeating: 0, count: XChaCha20Poly1305.nonceByteCount)

    /// Creates the channel of the node with `identity`, in network `networkID`.
    public init(identity: Ed25519PrivateKey, networkID: NetworkID, agreement: any KeyAgreement = X25519KeyAgreement(),
                settings: ChannelSettings = ChannelSettings()) {
        self.localID = NodeID(identityKey: identity.publicKey)
        self.networkID = networkID
        self.agreement = agreement
        self.settings = settings
        self.staticSecret = agreement.staticKeyPair(for: identity).secret
        self.initialChainingKey = KeyDerivation.initialChainingKey(label: "meshwork/v1/channel", networkID: networkID)
        self.certificateTokens = settings.certificateAdmissionsPerSecond * 2
        self.certificateSources = SourceRateLimiter(
            rate: settings.certificateAdmissionsPerSourcePerSecond, burst: settings.certificateAdmissionsPerSourcePerSecond * 2)
    }

    /// The next timestamp to send: the clock, but always above every one sent before.
    private func nextTimestamp(now: Timestamp) -> UInt64 {
        let timestamp = max(now.nanoseconds, RecordVersion.successor(of: highestTimestampSent))
        highestTimestampSent = timestamp
        return timestamp
    }

    /// Whether a received handshake or one-shot timestamp is within the freshness window of `now`.
    private func isFresh(_ timestamp: UInt64, now: Timestamp) -> Bool {
        let window = settings.freshnessWindow.nanoseconds
        let low = now.nanoseconds >= window ? now.nanoseconds - window : 0
        let (high, overflow) = now.nanoseconds.addingReportingOverflow(window)
        return timestamp >= low && (overflow || timestamp <= high)
    }

    /// Seals `plaintext`; on failure (never expected) counts ``DropReason/sealFailed`` and
    /// returns nil, so nothing (least of all an empty ciphertext) is sent.
    private func seal<P: Collection<UInt8>, A: Collection<UInt8>>(
        _ plaintext: P, key: SymmetricKey, nonce: [UInt8], authenticating additionalData: A
    ) -> [UInt8]? {
        guard let sealed = try? XChaCha20Poly1305.seal(plaintext, key: key, nonce: nonce, authenticating: additionalData) else {
            drops.count(.sealFailed)
            return nil
        }
        return sealed
    }

    /// Number of established sessions.
    public var sessionCount: Int { sessions.count }

    /// Whether a session with `peer` is established.
    public func hasSession(with peer: NodeID) -> Bool { !(sessionIndexes[peer] ?? []).isEmpty }

    // MARK: Sending

    /// Seals `payload` for `peer` at `endpoint`. Uses the current session; otherwise starts (or
    /// joins) a handshake whose initiation carries the payload when it fits. Returns the datagrams
    /// to send now (possibly none, when the payload waits for a pending handshake).
    public func send(
        _ payload: [UInt8], to peer: ChannelPeer, at endpoint: SocketEndpoint, now: Timestamp,
        random: inout RandomSource, includeCertificate: Bool = false
    ) -> [OutboundDatagram] {
        precondition(payload.count <= settings.maximumPayload, "callers keep payloads within maximumPayload")
        if let response = openResponse, response.peer == peer.nodeID,
           response.header.count + response.payload.count + payload.count + XChaCha20Poly1305.tagByteCount <= settings.maximumDatagram {
            openResponse?.payload += payload
            return []
        }
        if let index = usableSession(for: peer.nodeID, now: now) {
            return sealTransport(payload, sessionIndex: index, now: now).map { [$0] } ?? []
        }
        if var handshake = pending[peer.nodeID] {
            handshake.endpoint = endpoint
            // A new payload for a handshake that has waited a while: resend the initiation with it now
            // rather than waiting for the retry timer (a lost initiation must not fail a probe).
            if now - handshake.lastSentAt >= settings.eagerRetry, handshake.attempts < settings.handshakeAttempts {
                handshake.attempts += 1
                handshake.lastSentAt = now
                let initiation = buildInitiation(handshake, payload: payload, now: now)
                if !initiation.carriedPayload, handshake.queue.count < settings.queueLimit { handshake.queue.append(payload) }
                pending[peer.nodeID] = handshake
                return initiation.bytes.map { [OutboundDatagram(bytes: $0, endpoint: endpoint)] } ?? []
            }
            if handshake.queue.count < settings.queueLimit { handshake.queue.append(payload) }
            pending[peer.nodeID] = handshake
            return []
        }
        return startHandshake(with: peer, at: endpoint, payload: payload, now: now, random: &random, includeCertificate: includeCertificate)
    }

    /// Seals `payload` for `peer` as a one-shot datagram when no session exists (gossip to a
    /// random member needs no answer, so it need not cost a handshake); uses the session otherwise.
    public func sendOneShot(
        _ payload: [UInt8], to peer: ChannelPeer, at endpoint: SocketEndpoint, now: Timestamp, random: inout RandomSource
    ) -> [OutboundDatagram] {
        if let index = usableSession(for: peer.nodeID, now: now) {
            return sealTransport(payload, sessionIndex: index, now: now).map { [$0] } ?? []
        }
        guard let key = oneShotKey(&peerKeys[peer.nodeID, default: PeerKeys()], peer: peer, sending: true) else { return [] }
        // The nonce is random (192 bits: no repeat to fear, even if the clock steps back); the
        // timestamp only orders datagrams for replay protection.
        let timestamp = nextTimestamp(now: now)
        // From the system's secure generator whatever drives the protocol's choices (a
        // simulator's seeded one must not repeat nonces across runs, nor shift its choices).
        let nonce = SecureRandom.bytes(count: XChaCha20Poly1305.nonceByteCount)
        var datagram = ByteWriter(capacity: Self.oneShotHeaderLength + payload.count + XChaCha20Poly1305.tagByteCount)
        datagram.write(PacketType.protocolVersion)
        datagram.write(PacketType.oneShot.rawValue)
        datagram.write(localID)
        datagram.write(peer.nodeID)
        datagram.write(timestamp)
        datagram.write(raw: nonce)
        guard let sealed = seal(payload, key: key, nonce: nonce, authenticating: datagram.bytes) else { return [] }
        datagram.write(raw: sealed)
        return [OutboundDatagram(bytes: datagram.bytes, endpoint: endpoint)]
    }

    /// Header of a one-shot datagram: version, type, sender, receiver, timestamp, 24-byte nonce.
    static let oneShotHeaderLength = 2 + 2 * NodeID.byteCount + 8 + XChaCha20Poly1305.nonceByteCount

    /// The one-shot key for the direction to (`sending`) or from `peer`, cached in `keys`.
    private func oneShotKey(_ keys: inout PeerKeys, peer: ChannelPeer, sending: Bool) -> SymmetricKey? {
        if let cached = keys.oneShot { return sending ? cached.send : cached.receive }
        guard let shared = sharedStatic(&keys, peer: peer) else { return nil }
        // Two keys from one derivation: the lower node ID sends with the first.
        let (low, high) = localID < peer.nodeID ? (localID, peer.nodeID) : (peer.nodeID, localID)
        var context = ByteWriter(capacity: Self.oneShotLabel.count + 2 * NodeID.byteCount)
        context.write(raw: Self.oneShotLabel)
        context.write(low)
        context.write(high)
        let (first, second) = KeyDerivation.pair(initialChainingKey, secret: shared, context.bytes)
        let derived = localID < peer.nodeID ? (send: first, receive: second) : (send: second, receive: first)
        keys.oneShot = derived
        return sending ? derived.send : derived.receive
    }

    private func receiveOneShot(
        _ datagram: [UInt8], from endpoint: SocketEndpoint, now: Timestamp, resolvePeer: (NodeID) -> ChannelPeer?,
        refuseSender: (NodeID) -> DropReason?
    ) -> Received {
        var reader = ByteReader(datagram, context: "one-shot")
        guard let _ = try? reader.readBytes(2), let senderID = try? reader.readNodeID(), let receiverID = try? reader.readNodeID(),
              let timestamp = try? reader.readUInt64(), let nonce = try? reader.readArray(XChaCha20Poly1305.nonceByteCount)
        else { return drop(.malformed) }
        let headerLength = Self.oneShotHeaderLength
        guard receiverID == localID else { return drop(.notForUs) }
        guard isFresh(timestamp, now: now) else { return drop(.staleTimestamp) }
        if let refusal = refuseSender(senderID) { return drop(refusal) }
        guard let peer = resolvePeer(senderID) else { return drop(.unknownSender) }
        if let last = replayMarks[senderID]?.oneShot, timestamp <= last { return drop(.replayedOneShot) }
        var payload: [UInt8] = []
        let failure = { (keys: inout PeerKeys) -> DropReason? in
            guard let key = self.oneShotKey(&keys, peer: peer, sending: false),
                  let opened = try? XChaCha20Poly1305.open(
                    datagram[headerLength...], key: key, nonce: nonce, authenticating: datagram[..<headerLength])
            else { return .authenticationFailed }
            payload = opened
            return nil
        }(&peerKeys[senderID, default: PeerKeys()])
        if let failure { return drop(failure) }
        replayMarks[senderID, default: ReplayMark()].oneShot = timestamp
        return .delivered(from: senderID, payload: payload, endpoint: endpoint)
    }

    /// The index of a session with `peer` that may carry data now, if any.
    private func usableSession(for peer: NodeID, now: Timestamp) -> UInt32? {
        guard let index = sessionIndexes[peer]?.first, let session = sessions[index] else { return nil }
        let age = now - session.createdAt
        if age >= settings.sessionLifetime { return nil }
        // Rekey: the initiator of an old session, or anyone whose session went unanswered, handshakes again.
        if age >= settings.rekeyAfter && session.isInitiator { return nil }
        if session.lastSent > session.lastReceived, now - session.lastSent >= settings.unansweredAfter { return nil }
        return index
    }

    private func sealTransport(_ payload: [UInt8], sessionIndex: UInt32, now: Timestamp) -> OutboundDatagram? {
        guard var session = sessions[sessionIndex] else { preconditionFailure("session index from the table") }
        let counter = session.sendCounter
        session.sendCounter += 1
        if session.lastSent <= session.lastReceived { session.lastSent = now }
        var datagram = ByteWriter(capacity: 14 + payload.count + XChaCha20Poly1305.tagByteCount)
        datagram.write(PacketType.protocolVersion)
        datagram.write(PacketType.transport.rawValue)
        datagram.write(session.remoteIndex)
        datagram.write(counter)
        guard let sealed = seal(payload, key: session.sendKey, nonce: nonce(counter), authenticating: datagram.bytes) else { return nil }
        datagram.write(raw: sealed)
        sessions[sessionIndex] = session
        return OutboundDatagram(bytes: datagram.bytes, endpoint: session.endpoint)
    }

    private func startHandshake(
        with peer: ChannelPeer, at endpoint: SocketEndpoint, payload: [UInt8], now: Timestamp,
        random: inout RandomSource, includeCertificate: Bool
    ) -> [OutboundDatagram] {
        guard let shared = sharedStatic(with: peer) else { return [] }
        let (ephemeralSecret, ephemeralPublic) = agreement.ephemeralKeyPair(using: &random)
        let (chainingKey, initiationKey) = KeyDerivation.mix(
            initialChainingKey, secret: shared, Self.initiationContext(ephemeralPublic, localID, peer.nodeID))
        let index = freshIndex(random: &random)
        var handshake = PendingHandshake(
            localIndex: index, peer: peer.nodeID, ephemeralSecret: ephemeralSecret, ephemeralPublic: ephemeralPublic,
            chainingKey: chainingKey, initiationKey: initiationKey, startedAt: now, lastSentAt: now, attempts: 1,
            endpoint: endpoint, withCertificate: includeCertificate && certificate != nil)
        let initiation = buildInitiation(handshake, payload: payload, now: now)
        if initiation.carriedPayload == false { handshake.queue.append(payload) }
        pending[peer.nodeID] = handshake
        pendingIndexes[index] = peer.nodeID
        earliestRetry = min(earliestRetry, now + settings.handshakeRetry)
        return initiation.bytes.map { [OutboundDatagram(bytes: $0, endpoint: endpoint)] } ?? []
    }

    /// Builds an initiation; the payload rides along only if the datagram stays within the limit.
    private func buildInitiation(_ handshake: PendingHandshake, payload: [UInt8], now: Timestamp) -> (bytes: [UInt8]?, carriedPayload: Bool) {
        var writer = ByteWriter(capacity: settings.maximumDatagram)
        writer.write(PacketType.protocolVersion)
        let certificateBytes = handshake.withCertificate ? certificate?.encoded : nil
        writer.write(certificateBytes == nil ? PacketType.handshakeInitiation.rawValue : PacketType.handshakeInitiationWithCertificate.rawValue)
        writer.write(handshake.localIndex)
        writer.write(localID)
        writer.write(handshake.peer)
        if let certificateBytes { writer.write(longBytes: certificateBytes) }
        writer.write(raw: handshake.ephemeralPublic)
        // The timestamp is the nonce: retries reuse the ephemeral key, never the nonce (it grows
        // even if the clock steps back).
        let timestamp = nextTimestamp(now: now)
        writer.write(timestamp)
        let fits = writer.count + payload.count + XChaCha20Poly1305.tagByteCount <= settings.maximumDatagram
        let plaintext = fits ? payload : []
        guard let sealed = seal(plaintext, key: handshake.initiationKey, nonce: nonce(timestamp), authenticating: writer.bytes) else {
            return (nil, fits)
        }
        writer.write(raw: sealed)
        return (writer.bytes, fits)
    }

    // MARK: Receiving

    /// What became of a received datagram.
    public enum Received {
        /// An authenticated payload from a member.
        case delivered(from: NodeID, payload: [UInt8], endpoint: SocketEndpoint)
        /// A handshake this node started completed (queued payloads come from ``completeReceive()``).
        case established(with: NodeID)
        /// Not a channel packet (join traffic): the caller handles it.
        case other(PacketType)
        /// Discarded, and counted.
        case dropped(DropReason)
    }

    /// Authenticates and opens `datagram`.
    ///
    /// - Parameters:
    ///   - resolvePeer: the static key of a member by ID, or nil for non-members (checked before
    ///     any public-key operation).
    ///   - admitCertificate: validates a certificate presented by an unknown sender and returns the
    ///     peer if it may be admitted (rate-limited before the call).
    ///
    /// After handling the result, call ``completeReceive()``: replies sent in between ride in the
    /// handshake response.
    ///   - refuseSender: why datagrams from a sender are refused before any work (an expired
    ///     member), if they are.
    public func receive(
        _ datagram: [UInt8], from endpoint: SocketEndpoint, now: Timestamp, random: inout RandomSource,
        resolvePeer: (NodeID) -> ChannelPeer?, admitCertificate: (NodeCertificate) -> ChannelPeer?,
        refuseSender: (NodeID) -> DropReason? = { _ in nil }
    ) -> Received {
        guard datagram.count >= 2 else { return drop(.malformed) }
        guard datagram.count <= settings.maximumDatagram + 512 else { return drop(.oversized) }
        guard datagram[0] == PacketType.protocolVersion else { return drop(.unsupportedVersion) }
        guard let type = PacketType(rawValue: datagram[1]) else { return drop(.unknownType) }
        switch type {
        case .transport:
            return receiveTransport(datagram, from: endpoint, now: now)
        case .handshakeInitiation, .handshakeInitiationWithCertificate:
            return receiveInitiation(datagram, type: type, from: endpoint, now: now, random: &random,
                                     resolvePeer: resolvePeer, admitCertificate: admitCertificate, refuseSender: refuseSender)
        case .handshakeResponse:
            return receiveResponse(datagram, from: endpoint, now: now)
        case .oneShot:
            return receiveOneShot(datagram, from: endpoint, now: now, resolvePeer: resolvePeer, refuseSender: refuseSender)
        case .joinRequest, .joinResponse, .joinUnknownInvitation:
            return .other(type)
        }
    }

    /// Datagrams that follow from the last ``receive(_:from:now:random:resolvePeer:admitCertificate:)``:
    /// the handshake response (carrying any replies sent since), or payloads released by a
    /// completed handshake. Call after handling every received datagram.
    public func completeReceive() -> [OutboundDatagram] {
        var datagrams: [OutboundDatagram] = []
        if let response = openResponse {
            openResponse = nil
            if let sealed = seal(response.payload, key: response.key, nonce: Self.zeroNonce, authenticating: response.header) {
                var bytes = response.header
                bytes.append(contentsOf: sealed)
                responderMemory[response.peer]?.lastResponse = bytes
                datagrams.append(OutboundDatagram(bytes: bytes, endpoint: response.endpoint))
            }
        }
        datagrams += followUps
        followUps = []
        return datagrams
    }

    private func receiveTransport(_ datagram: [UInt8], from endpoint: SocketEndpoint, now: Timestamp) -> Received {
        var reader = ByteReader(datagram, context: "transport")
        guard let _ = try? reader.readBytes(2), let index = try? reader.readUInt32(), let counter = try? reader.readUInt64() else {
            return drop(.malformed)
        }
        guard var session = sessions[index] else { return drop(.unknownSession) }
        guard now - session.createdAt < settings.sessionLifetime else { return drop(.unknownSession) }
        guard session.replay.isAcceptable(counter) else { return drop(.replayed) }
        let header = datagram[..<14]
        guard let payload = try? XChaCha20Poly1305.open(datagram[14...], key: session.receiveKey, nonce: nonce(counter), authenticating: header) else {
            return drop(.authenticationFailed)
        }
        session.replay.record(counter)
        session.lastReceived = now
        session.lastSent = .zero
        session.endpoint = endpoint
        sessions[index] = session
        return .delivered(from: session.peer, payload: payload, endpoint: endpoint)
    }

    private func receiveInitiation(
        _ datagram: [UInt8], type: PacketType, from endpoint: SocketEndpoint, now: Timestamp,
        random: inout RandomSource,
        resolvePeer: (NodeID) -> ChannelPeer?, admitCertificate: (NodeCertificate) -> ChannelPeer?,
        refuseSender: (NodeID) -> DropReason?
    ) -> Received {
        var reader = ByteReader(datagram, context: "handshake initiation")
        let senderIndex: UInt32, senderID: NodeID, receiverID: NodeID
        var certificateBytes: [UInt8]? = nil
        let ephemeral: [UInt8], timestamp: UInt64
        do {
            _ = try reader.readBytes(2)
            senderIndex = try reader.readUInt32()
            senderID = try reader.readNodeID()
            receiverID = try reader.readNodeID()
            if type == .handshakeInitiationWithCertificate { certificateBytes = Array(try reader.readLongBytes()) }
            ephemeral = try reader.readArray(32)
            timestamp = try reader.readUInt64()
        } catch {
            return drop(.malformed)
        }
        guard receiverID == localID else { return drop(.notForUs) }
        guard isFresh(timestamp, now: now) else { return drop(.staleTimestamp) }
        if let last = replayMarks[senderID]?.initiation, timestamp <= last { return drop(.replayedHandshake) }
        if let refusal = refuseSender(senderID) { return drop(refusal) }

        var peer = resolvePeer(senderID)
        if peer == nil, let certificateBytes {
            // Cheap checks first: a certificate of another network or issuer, or for another
            // node, costs no signature check and no share of the budget newcomers need.
            guard let fields = try? NodeCertificate.parse(certificateBytes), NodeID(identityKey: fields.identityKey) == senderID else {
                return drop(.certificateRejected)
            }
            guard fields.networkID == networkID, certificateIssuer.map({ $0 == fields.issuerKey }) ?? true else {
                return drop(.foreignCertificate)
            }
            guard !CertificateValidator.hasExpired(fields, at: now) else { return drop(.expiredCertificate) }
            guard certificateSources.take(from: endpoint.address, now: now) else { return drop(.rateLimited) }
            guard takeCertificateToken(now: now) else { return drop(.rateLimited) }
            guard let certificate = try? NodeCertificate(decoding: certificateBytes), certificate.nodeID == senderID else {
                return drop(.certificateRejected)
            }
            guard let admitted = admitCertificate(certificate) else { return drop(.certificateRejected) }
            peer = admitted
        }
        guard let peer else { return drop(.unknownSender) }
        guard let shared = sharedStatic(with: peer) else { return drop(.authenticationFailed) }

        let headerLength = reader.offset
        let (chainingKey, initiationKey) = KeyDerivation.mix(
            initialChainingKey, secret: shared, Self.initiationContext(ephemeral, senderID, localID))
        guard let payload = try? XChaCha20Poly1305.open(
            datagram[headerLength...], key: initiationKey, nonce: nonce(timestamp), authenticating: datagram[..<headerLength])
        else { return drop(.authenticationFailed) }

        // A retried initiation (same ephemeral): the session exists; resend the same response.
        replayMarks[senderID, default: ReplayMark()].initiation = timestamp
        if let memory = responderMemory[senderID], memory.lastEphemeral == ephemeral, sessions[memory.sessionIndex] != nil {
            sessions[memory.sessionIndex]?.endpoint = endpoint
            openResponse = nil
            followUps.append(OutboundDatagram(bytes: memory.lastResponse, endpoint: endpoint))
            return .delivered(from: senderID, payload: payload, endpoint: endpoint)
        }

        let (responderSecret, responderPublic) = agreement.ephemeralKeyPair(using: &random)
        guard let ephemeralShared = try? agreement.agree(responderSecret, ephemeral) else { return drop(.authenticationFailed) }
        let (finalChainingKey, responseKey) = KeyDerivation.mix(chainingKey, secret: ephemeralShared, responderPublic)
        let keys = KeyDerivation.transportKeys(finalChainingKey)
        let index = freshIndex(random: &random)
        let session = Session(
            localIndex: index, remoteIndex: senderIndex, peer: senderID, sendKey: keys.responderToInitiator,
            receiveKey: keys.initiatorToResponder, now: now, isInitiator: false, endpoint: endpoint)
        install(session)

        var header = ByteWriter(capacity: 42)
        header.write(PacketType.protocolVersion)
        header.write(PacketType.handshakeResponse.rawValue)
        header.write(index)
        header.write(senderIndex)
        header.write(raw: responderPublic)
        responderMemory[senderID] = ResponderMemory(lastEphemeral: ephemeral, lastResponse: [], sessionIndex: index)
        openResponse = (senderID, endpoint, header.bytes, responseKey, [])
        return .delivered(from: senderID, payload: payload, endpoint: endpoint)
    }

    private func receiveResponse(_ datagram: [UInt8], from endpoint: SocketEndpoint, now: Timestamp) -> Received {
        var reader = ByteReader(datagram, context: "handshake response")
        guard let _ = try? reader.readBytes(2), let senderIndex = try? reader.readUInt32(),
              let receiverIndex = try? reader.readUInt32(), let ephemeral = try? reader.readArray(32)
        else { return drop(.malformed) }
        guard let peer = pendingIndexes[receiverIndex], let handshake = pending[peer], handshake.localIndex == receiverIndex else {
            return drop(.unknownSession)
        }
        guard let ephemeralShared = try? agreement.agree(handshake.ephemeralSecret, ephemeral) else { return drop(.authenticationFailed) }
        let (finalChainingKey, responseKey) = KeyDerivation.mix(handshake.chainingKey, secret: ephemeralShared, ephemeral)
        let headerLength = reader.offset
        guard let payload = try? XChaCha20Poly1305.open(
            datagram[headerLength...], key: responseKey, nonce: Self.zeroNonce, authenticating: datagram[..<headerLength])
        else { return drop(.authenticationFailed) }
        let keys = KeyDerivation.transportKeys(finalChainingKey)
        pending[peer] = nil
        pendingIndexes[receiverIndex] = nil
        install(Session(
            localIndex: handshake.localIndex, remoteIndex: senderIndex, peer: peer, sendKey: keys.initiatorToResponder,
            receiveKey: keys.responderToInitiator, now: now, isInitiator: true, endpoint: endpoint))
        for queued in handshake.queue {
            if let datagram = sealTransport(queued, sessionIndex: handshake.localIndex, now: now) { followUps.append(datagram) }
        }
        // The response may carry replies (an ack to a 0-RTT ping).
        return payload.isEmpty ? .established(with: peer) : .delivered(from: peer, payload: payload, endpoint: endpoint)
    }

    // MARK: Timers and forgetting

    /// Retries unanswered handshakes and expires old sessions. Returns datagrams to send and the
    /// peers whose handshakes were abandoned (their queued payloads are gone).
    public func tick(now: Timestamp) -> (datagrams: [OutboundDatagram], abandoned: [NodeID]) {
        var datagrams: [OutboundDatagram] = []
        var abandoned: [NodeID] = []
        guard now >= earliestRetry || now - lastExpiry >= .seconds(10) else { return ([], []) }
        earliestRetry = .distantFuture
        for peer in pending.keys.sorted() {
            guard var handshake = pending[peer], now - handshake.lastSentAt >= settings.handshakeRetry else { continue }
            if handshake.attempts >= settings.handshakeAttempts {
                pending[peer] = nil
                pendingIndexes[handshake.localIndex] = nil
                abandoned.append(peer)
                continue
            }
            handshake.attempts += 1
            handshake.lastSentAt = now
            let first = handshake.queue.first ?? []
            let initiation = buildInitiation(handshake, payload: first, now: now)
            if initiation.carriedPayload, initiation.bytes != nil, !handshake.queue.isEmpty { handshake.queue.removeFirst() }
            pending[peer] = handshake
            if let bytes = initiation.bytes { datagrams.append(OutboundDatagram(bytes: bytes, endpoint: handshake.endpoint)) }
        }
        for handshake in pending.values { earliestRetry = min(earliestRetry, handshake.lastSentAt + settings.handshakeRetry) }
        if now - lastExpiry >= .seconds(10) {
            lastExpiry = now
            expireReplayMarks(now: now)
            for index in sessions.keys.sorted() {
                guard let session = sessions[index], now - session.createdAt >= settings.sessionLifetime else { continue }
                remove(sessionIndex: index, peer: session.peer)
            }
        }
        return (datagrams, abandoned)
    }

    /// The earliest time ``tick(now:)`` has work to do.
    public var nextDeadline: Timestamp {
        guard !pending.isEmpty else { return .distantFuture }
        return pendingIndexes.keys.isEmpty ? .distantFuture : earliestRetry
    }

    /// The earliest retry among pending handshakes (recomputed by ``tick(now:)``; a new handshake
    /// can only lower it).
    private var earliestRetry = Timestamp.distantFuture
    private var lastExpiry = Timestamp.zero

    /// Drops every session and pending handshake with `peer` (revoked or gone).
    public func forget(_ peer: NodeID) {
        for index in sessionIndexes[peer] ?? [] { sessions[index] = nil }
        sessionIndexes[peer] = nil
        if let handshake = pending.removeValue(forKey: peer) { pendingIndexes[handshake.localIndex] = nil }
        responderMemory[peer] = nil
        // Keys go; replay marks stay (a forgotten peer's old datagrams stay refused).
        peerKeys[peer] = nil
    }

    /// What must survive a restart for replays to stay refused: the newest timestamps accepted
    /// from each peer within the freshness window (older ones are refused as stale anyway), and
    /// the highest timestamp sent. Persist it and pass it to ``restoreReplayState(_:)`` at start.
    public func replayState(now: Timestamp) -> ChannelReplayState {
        let window = settings.freshnessWindow.nanoseconds
        let oldest = now.nanoseconds >= window ? now.nanoseconds - window : 0
        return ChannelReplayState(
            marks: replayMarks.filter { max($0.value.initiation, $0.value.oneShot) >= oldest }, highestTimestampSent: highestTimestampSent)
    }

    /// Restores the state saved by ``replayState(now:)`` (keeping anything newer already known).
    public func restoreReplayState(_ state: ChannelReplayState) {
        for (peer, mark) in state.marks {
            var merged = replayMarks[peer] ?? ReplayMark()
            merged.initiation = max(merged.initiation, mark.initiation)
            merged.oneShot = max(merged.oneShot, mark.oneShot)
            replayMarks[peer] = merged
        }
        highestTimestampSent = max(highestTimestampSent, state.highestTimestampSent)
    }

    /// Drops replay marks older than the freshness window (anything that old is refused as stale).
    private func expireReplayMarks(now: Timestamp) {
        let window = settings.freshnessWindow.nanoseconds
        let oldest = now.nanoseconds >= window ? now.nanoseconds - window : 0
        replayMarks = replayMarks.filter { max($0.value.initiation, $0.value.oneShot) >= oldest }
    }

    /// Counts a discard decided by a layer above (an invalid message inside a valid datagram).
    public func countDrop(_ reason: DropReason) { drops.count(reason) }

    // MARK: Helpers

    private func drop(_ reason: DropReason) -> Received {
        drops.count(reason)
        return .dropped(reason)
    }

    private func install(_ session: Session) {
        sessions[session.localIndex] = session
        var indexes = [session.localIndex] + (sessionIndexes[session.peer] ?? [])
        while indexes.count > 2 {
            let old = indexes.removeLast()
            sessions[old] = nil
        }
        sessionIndexes[session.peer] = indexes
    }

    private func remove(sessionIndex: UInt32, peer: NodeID) {
        sessions[sessionIndex] = nil
        sessionIndexes[peer]?.removeAll { $0 == sessionIndex }
        if sessionIndexes[peer]?.isEmpty == true { sessionIndexes[peer] = nil }
    }

    /// The static-static secret with `peer`, computed once and cached.
    private func sharedStatic(with peer: ChannelPeer) -> SecretBytes? {
        if let cached = peerKeys[peer.nodeID]?.staticShared { return cached }
        return sharedStatic(&peerKeys[peer.nodeID, default: PeerKeys()], peer: peer)
    }

    private func sharedStatic(_ keys: inout PeerKeys, peer: ChannelPeer) -> SecretBytes? {
        if let cached = keys.staticShared { return cached }
        guard let shared = try? agreement.agree(staticSecret, peer.staticPublicKey) else { return nil }
        keys.staticShared = shared
        return shared
    }

    private func freshIndex(random: inout RandomSource) -> UInt32 {
        while true {
            let index = UInt32.random(in: 1...UInt32.max, using: &random)
            if sessions[index] == nil, pendingIndexes[index] == nil { return index }
        }
    }

    private func takeCertificateToken(now: Timestamp) -> Bool {
        let elapsed = (now - certificateTokensUpdated).seconds
        certificateTokensUpdated = now
        let capacity = settings.certificateAdmissionsPerSecond * 2
        certificateTokens = min(capacity, certificateTokens + elapsed * settings.certificateAdmissionsPerSecond)
        guard certificateTokens >= 1 else { return false }
        certificateTokens -= 1
        return true
    }

    /// The nonce of `counter`, written into a buffer the channel reuses (one allocation per
    /// channel instead of one per datagram). Same bytes as ``nonce(_:)``.
    private func nonce(_ counter: UInt64) -> [UInt8] {
        for index in 0..<8 { nonceBuffer[index] = UInt8(truncatingIfNeeded: counter >> (56 - 8 * UInt64(index))) }
        return nonceBuffer
    }

    /// Nonce zero (handshake responses).
    static let zeroNonce = nonce(0)

    /// The label mixed into one-shot keys.
    static let oneShotLabel = Array("one-shot".utf8)

    /// `ephemeral ‖ sender ID ‖ receiver ID`: the public input of the initiation key.
    static func initiationContext(_ ephemeral: [UInt8], _ sender: NodeID, _ receiver: NodeID) -> [UInt8] {
        var writer = ByteWriter(capacity: ephemeral.count + 2 * NodeID.byteCount)
        writer.write(raw: ephemeral)
        writer.write(sender)
        writer.write(receiver)
        return writer.bytes
    }

    static func nonce(_ counter: UInt64) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: XChaCha20Poly1305.nonceByteCount)
        for index in 0..<8 { nonce[index] = UInt8(truncatingIfNeeded: counter >> (56 - 8 * UInt64(index))) }
        return nonce
    }
}

/// What a channel keeps per peer besides sessions, in one table so a datagram costs one lookup:
/// the static-static secret, the one-shot keys derived from it, and the one-shot timestamps.
private struct PeerKeys {
    var staticShared: SecretBytes?
    var oneShot: (send: SymmetricKey, receive: SymmetricKey)?
}
