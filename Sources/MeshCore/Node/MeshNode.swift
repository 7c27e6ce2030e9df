import MeshCrypto

/// One Meshwork node's protocol state machine: secure channel, SWIM membership with Lifeguard,
/// gossip dissemination and anti-entropy, over signed records.
///
/// Sans-I/O: feed it datagrams (``receive(_:from:now:)``) and time (``tick(now:)``), send what
/// ``drainOutput()`` returns, and call ``tick(now:)`` again at ``nextDeadline``. The daemon and
/// the simulator run exactly this code.
public final class MeshNode {
    /// This node's ID.
    public let id: NodeID
    /// This node's identity key.
    public let identity: Ed25519PrivateKey
    /// This node's certificate.
    public internal(set) var certificate: NodeCertificate
    /// The network.
    public let settings: NetworkSettings
    /// Timing profile.
    public let timing: MeshTiming
    /// Enrollment service, present on the node holding the authority key.
    public var authority: AuthorityService?

    let validator: CertificateValidator
    let agreement: any KeyAgreement
    let channel: SecureChannel
    var random: RandomSource

    /// Members (never includes this node).
    public internal(set) var members: MemberTable
    /// Revocations by revoked node.
    public internal(set) var revocations: [NodeID: Revocation] = [:]
    var revocationHash: UInt64 = 0
    /// Certificates admitted before their record arrived (a newcomer's handshake).
    var admittedCertificates: [NodeID: NodeCertificate] = [:]
    var staticKeys: [NodeID: [UInt8]] = [:]
    /// Members removed because their certificate expired, and when (their datagrams are dropped
    /// as `expired-certificate`; bounded by the member table they came from).
    var expiredMembers: [NodeID: Timestamp] = [:]
    var nextCertificateCheckAt: Timestamp
    /// Join requests per source address (authority only).
    var joinSources = SourceRateLimiter(rate: MeshNode.joinRequestsPerSourcePerSecond, burst: MeshNode.joinRequestBurstPerSource)
    /// The earliest `notAfter` among members' certificates, as of the last scan (0: scan).
    var earliestCertificateExpiry: UInt64 = 0

    /// This node's current record.
    public internal(set) var localRecord: NodeRecord
    /// What this node announces.
    public internal(set) var announcement: LocalAnnouncement
    var reflexiveGossipEndpoint: SocketEndpoint?
    /// Each reporter's newest endpoint report (one slot per member, capped): see ``handleEndpointReport(_:from:now:)``.
    var reflexiveReports: [NodeID: SocketEndpoint] = [:]
    /// When a new outside endpoint was last checked with other members (``askForCorroboration(excluding:now:)``).
    var lastCorroborationRequest = Timestamp.zero
    var reportedEndpoints: [NodeID: SocketEndpoint] = [:]
    var hasLeft = false

    var broadcasts = BroadcastQueue()
    var health: LocalHealth
    var suspicions: [NodeID: Suspicion] = [:]
    /// Members this node suspects on others' word and has not probed since: probed first
    /// (``nextProbeTarget()``), capped at ``maximumSuspectsToProbe``.
    var suspectsToProbe: [NodeID] = []
    static let maximumSuspectsToProbe = 64
    var probeOrder = ProbeOrder()
    var probe: ProbeState?
    var relayedProbes: [UInt32: RelayedProbe] = [:]
    var sequence: UInt32 = 0
    var nextProbeAt: Timestamp
    var nextGossipAt: Timestamp
    var nextAntiEntropyAt: Timestamp
    var nextReconnectAt: Timestamp
    /// When this node last saw a member declared dead (reconnection is frequent for a while after).
    var lastDeathAt: Timestamp?
    var nextHousekeepingAt: Timestamp
    let joinedAt: Timestamp
    /// Endpoints learned from authenticated traffic, preferred over announced ones.
    var contactEndpoints: [NodeID: SocketEndpoint] = [:]
    var candidateCursor: [NodeID: Int] = [:]
    /// Bootstrap contacts: nodes reachable before their record is known (the enrolling authority).
    var contacts: [NodeID: (peer: ChannelPeer, endpoints: [SocketEndpoint])] = [:]

    /// Smoothed round-trip times of direct probes.
    var roundTrips: [NodeID: Interval] = [:]

    /// Replies gathered while handling one datagram, packed per destination.
    var pendingReplies: [(node: NodeID, messages: [Message])] = []
    /// Members requested by anti-entropy: their arrival is not news to spread (capped at
    /// ``antiEntropyRequestLimit``: the IDs come from members' bucket summaries).
    var antiEntropyRequested = Set<NodeID>()
    /// Reply bytes each member may draw over time (answers go to a source address a member can spoof).
    var replyBudgets = RateLimiter<NodeID>(rate: MeshNode.replyBytesPerSecond, burst: MeshNode.replyBurstBytes, capacity: 4096)
    /// While one datagram from a member is handled: the reply bytes it may still draw.
    var replyAllowance: (node: NodeID, bytes: Int, refused: Bool)?

    var outbox: [OutboundDatagram] = []
    /// Reused buffer for the plaintext of outgoing datagrams (see ``sendPacked(_:to:now:piggyback:oneShot:)``).
    var payloadBuffer = ByteWriter(capacity: 1232)
    var events: [NodeEvent] = []
    /// Traffic and protocol counters.
    public internal(set) var statistics = NodeStatistics()

    /// Creates a node.
    ///
    /// - Parameters:
    ///   - members: members known at start (from the state directory, or a simulator snapshot).
    ///   - previousVersion: the highest version this node signed before (its record versions only grow).
    ///   - newcomer: whether this node just joined (its handshakes then carry its certificate).
    ///   - resume: a record this node signed earlier for exactly this announcement and certificate,
    ///     used as is instead of signing a new version (a simulator's converged start).
    ///   - replayState: the channel's replay state saved before a restart (``replayState(now:)``),
    ///     so initiations and one-shots accepted before it stay refused.
    ///   - random: the generator for ephemeral keys and choices; a secure one in the daemon.
    public init(
        identity: Ed25519PrivateKey, certificate: NodeCertificate, settings: NetworkSettings,
        announcement: LocalAnnouncement, members: MemberTable = MemberTable(), revocations: [Revocation] = [],
        previousVersion: UInt64 = 0, resume: NodeRecord? = nil, replayState: ChannelReplayState = ChannelReplayState(), newcomer: Bool = true, timing: MeshTiming = .default, channelSettings: ChannelSettings = ChannelSettings(),
        agreement: any KeyAgreement = X25519KeyAgreement(), random: RandomSource, now: Timestamp
    ) throws(TrustError) {
        guard certificate.identityKey == identity.publicKey else { throw .identityMismatch }
        id = certificate.nodeID
        self.identity = identity
        self.certificate = certificate
        self.settings = settings
        self.timing = timing
        self.validator = CertificateValidator(settings: settings)
        self.agreement = agreement
        self.random = random
        var table = members
        table.exclude(certificate.nodeID)
        self.members = table
        self.announcement = announcement
        self.health = LocalHealth(maximum: timing.localHealthMaximum)
        let channel = SecureChannel(identity: identity, networkID: settings.networkID, agreement: agreement, settings: channelSettings)
        channel.certificate = certificate
        channel.certificateIssuer = settings.authorityKey
        channel.restoreReplayState(replayState)
        self.channel = channel
        joinedAt = newcomer ? now : Timestamp(nanoseconds: now.nanoseconds > timing.newcomerPeriod.nanoseconds ? now.nanoseconds - timing.newcomerPeriod.nanoseconds : 0)
        // A persisted version from the future (corrupt, or adopted before versions were bounded)
        // is forgotten: starting from it would leave no room to grow.
        let ceiling = RecordVersion.ceiling(at: now)
        if let resume, resume.nodeID == certificate.nodeID, resume.certificateDigest == certificate.digest, !resume.isTombstone,
           resume.version <= ceiling, resume.verify(with: identity.publicKey) {
            localRecord = resume
        } else {
            let previous = previousVersion <= ceiling ? previousVersion : 0
            let version = max(RecordVersion.successor(of: previous), RecordVersion.clockVersion(at: now))
            localRecord = try Self.sign(announcement, reflexive: nil, left: false, version: version, certificate: certificate, identity: identity, now: now)
        }
        // Stagger timers so nodes started together do not act in lockstep.
        var generator = random
        nextProbeAt = now + timing.probeInterval * Double.random(in: 0...1, using: &generator)
        nextGossipAt = now + timing.gossipInterval
        nextAntiEntropyAt = now + timing.antiEntropyInterval * Double.random(in: 0.5...1.5, using: &generator)
        nextReconnectAt = now + timing.reconnectInterval * (max(1, Double(table.liveCount) / 64) * Double.random(in: 0.5...1.5, using: &generator))
        nextHousekeepingAt = now + .seconds(10)
        nextCertificateCheckAt = now + Self.certificateCheckInterval
        self.random = generator
        for revocation in revocations { _ = applyRevocation(revocation, now: now, spread: false) }
    }

    // MARK: Input

    /// Handles one received datagram.
    public func receive(_ datagram: [UInt8], from endpoint: SocketEndpoint, now: Timestamp) {
        statistics.datagramsReceived += 1
        statistics.bytesReceived += UInt64(datagram.count)
        let result = channel.receive(
            datagram, from: endpoint, now: now, random: &random,
            resolvePeer: { [unowned self] peer in channelPeer(for: peer) },
            admitCertificate: { [unowned self] certificate in admit(certificate, now: now) },
            refuseSender: { [unowned self] peer in senderRefusal(peer) })
        switch result {
        case let .delivered(from, payload, source):
            if let certificate = members[from]?.certificate ?? admittedCertificates[from], hasExpired(certificate, at: now) {
                channel.countDrop(.expiredCertificate)
                expireMember(from, now: now)
                break
            }
            handlePayload(payload, from: from, endpoint: source, now: now)
        case .established, .dropped:
            break
        case let .other(type):
            handleEnrollmentPacket(type: type, datagram: datagram, from: endpoint, now: now)
        }
        emit(channel.completeReceive())
    }

    /// Runs timers due at `now`.
    public func tick(now: Timestamp) {
        let (retries, abandoned) = channel.tick(now: now)
        emit(retries)
        for peer in abandoned {
            // Nobody answered there: the next attempt tries the peer's next endpoint.
            candidateCursor[peer, default: 0] += 1
            contactEndpoints[peer] = nil
        }
        guard !hasLeft else { return }
        advanceProbe(now: now)
        expireSuspicions(now: now)
        expireRelayedProbes(now: now)
        if now >= nextGossipAt {
            nextGossipAt = now + timing.gossipInterval
            if !broadcasts.isEmpty { gossipRound(fanout: timing.gossipFanout, now: now) }
        }
        if now >= nextAntiEntropyAt {
            nextAntiEntropyAt = now + timing.antiEntropyInterval * Double.random(in: 0.75...1.25, using: &random)
            startAntiEntropy(with: randomMembers(count: 1, includeRecentlyDead: false, now: now).first, now: now)
        }
        if now >= nextReconnectAt {
            nextReconnectAt = now + reconnectPeriod(now: now) * Double.random(in: 0.75...1.25, using: &random)
            reconnect(now: now)
        }
        if now >= nextHousekeepingAt {
            nextHousekeepingAt = now + .seconds(10)
            expireTombstones(now: now)
            authority?.expireInvitations(now: now)
        }
        if now >= nextCertificateCheckAt {
            nextCertificateCheckAt = now + Self.certificateCheckInterval
            expireCertificates(now: now)
        }
    }

    /// When ``tick(now:)`` next has work.
    public var nextDeadline: Timestamp {
        var deadline = min(channel.nextDeadline, nextAntiEntropyAt, nextReconnectAt, nextHousekeepingAt, nextCertificateCheckAt)
        guard !hasLeft else { return channel.nextDeadline }
        deadline = min(deadline, probe?.nextDeadline ?? nextProbeAt)
        if !broadcasts.isEmpty { deadline = min(deadline, nextGossipAt) }
        for suspicion in suspicions.values { deadline = min(deadline, suspicion.deadline) }
        for relayed in relayedProbes.values { deadline = min(deadline, relayed.nackAt) }
        return deadline
    }

    /// Datagrams to send and events since the last drain.
    public func drainOutput() -> (datagrams: [OutboundDatagram], events: [NodeEvent]) {
        // Hand the buffers over rather than copying them (nothing to allocate when idle).
        guard !outbox.isEmpty || !events.isEmpty else { return ([], []) }
        let drained = (datagrams: outbox, events: events)
        outbox = []
        events = []
        return drained
    }

    /// What to persist so replays stay refused across a restart (pass it back as `replayState`
    /// to ``init(identity:certificate:settings:announcement:members:revocations:previousVersion:resume:replayState:newcomer:timing:channelSettings:agreement:random:now:)``).
    public func replayState(now: Timestamp) -> ChannelReplayState { channel.replayState(now: now) }

    /// Discards by reason (channel and protocol).
    public var drops: DropCounters { channel.drops }

    /// Number of established channel sessions.
    public var sessionCount: Int { channel.sessionCount }

    /// The current Lifeguard local health score (0 is healthy).
    public var localHealthScore: Int { health.score }

    /// The smoothed round-trip time of direct probes to `node`, if measured.
    public func roundTrip(to node: NodeID) -> Interval? { roundTrips[node] }

    /// The gossip endpoint peers report seeing this node at, when it differs from its own addresses.
    public var reflexiveEndpoint: SocketEndpoint? { reflexiveGossipEndpoint }

    /// Sends an extension message (a layer above membership: path probes, relay allocation,
    /// endpoint reports) to `node` over the secure channel.
    public func sendExtension(type: UInt8, body: [UInt8], to node: NodeID, now: Timestamp) {
        guard MessageCode.extensionRange.contains(type) else { return }
        send([.extensionMessage(type: type, body: body)], to: node, now: now)
    }

    /// The endpoint `node`'s last authenticated datagram came from (its address as this node sees it).
    public func lastEndpoint(of node: NodeID) -> SocketEndpoint? { contactEndpoints[node] }

    /// Whether this node can address `node` right now (it is a member or a contact, with an endpoint).
    public func canReach(_ node: NodeID) -> Bool { channelPeer(for: node) != nil && endpoint(for: node) != nil }

    // MARK: Peers

    /// The channel identity of a member or contact, for the handshake.
    func channelPeer(for node: NodeID) -> ChannelPeer? {
        if !revocations.isEmpty, revocations[node] != nil { return nil }
        if let key = staticKeys[node] { return ChannelPeer(nodeID: node, staticPublicKey: key) }
        if !contacts.isEmpty, let contact = contacts[node] { return contact.peer }
        guard let certificate = members[node]?.certificate ?? admittedCertificates[node] else { return nil }
        return channelPeer(certificate)
    }

    func channelPeer(_ certificate: NodeCertificate) -> ChannelPeer? {
        let node = certificate.nodeID
        if let key = staticKeys[node] { return ChannelPeer(nodeID: node, staticPublicKey: key) }
        guard let key = try? agreement.staticPublicKey(for: certificate.identityKey) else { return nil }
        staticKeys[node] = key
        return ChannelPeer(nodeID: node, staticPublicKey: key)
    }

    /// What enrolling a node does on the authority node: the certificate it just issued is admitted,
    /// so the newcomer's first handshake costs no share of the admission budget for unknown senders
    /// (the simulator enrolls its members without the join exchange). False when the certificate
    /// does not validate.
    @discardableResult
    public func admitEnrolled(_ certificate: NodeCertificate, now: Timestamp) -> Bool {
        admit(certificate, now: now) != nil
    }

    /// Admits a certificate presented by an unknown sender if it makes a member.
    func admit(_ certificate: NodeCertificate, now: Timestamp) -> ChannelPeer? {
        guard (try? validator.validate(certificate, at: now, revoked: { self.revocations[$0] != nil })) != nil else { return nil }
        admittedCertificates[certificate.nodeID] = certificate
        return channelPeer(certificate)
    }

    /// Adds a node reachable before its record is known (the authority a newcomer enrolled with).
    public func addContact(identityKey: Ed25519PublicKey, endpoints: [SocketEndpoint]) {
        let node = NodeID(identityKey: identityKey)
        guard node != id, let key = try? agreement.staticPublicKey(for: identityKey) else { return }
        contacts[node] = (ChannelPeer(nodeID: node, staticPublicKey: key), endpoints)
    }

    func emit(_ datagrams: [OutboundDatagram]) {
        for datagram in datagrams {
            statistics.datagramsSent += 1
            statistics.bytesSent += UInt64(datagram.bytes.count)
            outbox.append(datagram)
        }
    }

    static func sign(
        _ announcement: LocalAnnouncement, reflexive: SocketEndpoint?, left: Bool, version: UInt64,
        certificate: NodeCertificate, identity: Ed25519PrivateKey, now: Timestamp
    ) throws(TrustError) -> NodeRecord {
        var flags: NodeRecord.Flags = []
        if left { flags.insert(.left) }
        if announcement.offersRelay, certificate.roles.contains(.relay) { flags.insert(.relay) }
        if announcement.behindNAT { flags.insert(.behindNAT) }
        var gossip = announcement.gossipEndpoints
        if let reflexive, !gossip.contains(where: { $0.endpoint == reflexive }) {
            gossip.insert(AnnouncedEndpoint(.reflexive, reflexive), at: 0)
        }
        return try NodeRecord(
            nodeID: certificate.nodeID, version: version, certificateDigest: certificate.digest, flags: flags,
            gossipEndpoints: Array(gossip.prefix(NodeRecord.maximumEndpoints)),
            wireGuardEndpoints: Array(announcement.wireGuardEndpoints.prefix(NodeRecord.maximumEndpoints)),
            announcedPrefixes: Array(announcement.prefixes.filter(certificate.grants).prefix(NodeRecord.maximumPrefixes)),
            relays: Array(announcement.relays.prefix(NodeRecord.maximumRelays)),
            servedRoutes: Array(announcement.servedRoutes.filter { certificate.grantsRoute($0.prefix) }
                .prefix(NodeRecord.maximumPrefixes)),
            signedAt: now.seconds, signer: identity)
    }
}
