/// Packing messages into datagrams and choosing where to send them.
extension MeshNode {
    /// Sends `messages` to `node` now, filling spare room with queued broadcasts.
    func send(_ messages: [Message], to node: NodeID, now: Timestamp) {
        sendPacked(messages, to: node, now: now)
    }

    /// Replies to one datagram are at most this many times its size on the wire: a member that
    /// spoofs its source address can reflect only that much traffic at someone else.
    static let replyRatio = 32
    /// The smallest overhead of an authenticated datagram around its payload (a transport
    /// datagram: 14 bytes of header and a 16-byte tag). Counting it lets the smallest request,
    /// one ID (13 bytes: (13 + 30) × 32 = 1,376), draw its answer, one `member` message, which fits
    /// one datagram (≤ 1,200 bytes of plaintext). 32 × the payload alone (416 bytes) did not, and a
    /// newcomer asking its bootstrap node for it waited for another anti-entropy round (44 s in the lab).
    static let smallestDatagramOverhead = 30

    /// The reply allowance for a datagram whose plaintext is `payloadSize` bytes.
    static func replyAllowance(forPayload payloadSize: Int) -> Int {
        (payloadSize + smallestDatagramOverhead) * replyRatio
    }
    /// Reply bytes per member: a burst (a newcomer's first full synchronisation, about 350
    /// bytes per member known) and a rate.
    static let replyBurstBytes = 512.0 * 1024
    static let replyBytesPerSecond = 32.0 * 1024
    /// Most IDs remembered as requested by anti-entropy.
    static let antiEntropyRequestLimit = 4096

    /// Queues a reply, sent (packed with others to the same node) by ``flushReplies(now:)``.
    /// Replies to the member whose datagram is being handled draw on its allowance; beyond it
    /// they are dropped (counted once per datagram as `over-budget`).
    func queueReply(_ message: Message, to node: NodeID) {
        if let allowance = replyAllowance, allowance.node == node {
            let size = message.encodedSize
            guard size <= allowance.bytes else {
                if !allowance.refused { channel.countDrop(.overBudget) }
                replyAllowance?.refused = true
                return
            }
            replyAllowance?.bytes -= size
        }
        if let index = pendingReplies.firstIndex(where: { $0.node == node }) {
            pendingReplies[index].messages.append(message)
        } else {
            pendingReplies.append((node, [message]))
        }
    }

    func flushReplies(now: Timestamp) {
        let replies = pendingReplies
        pendingReplies = []
        for (node, messages) in replies { sendPacked(messages, to: node, now: now) }
    }

    /// Packs `messages` into as few payloads as fit, piggybacks broadcasts on the last one, and
    /// seals each for `node`.
    ///
    /// With `oneShot`, a member without a session gets a single one-shot datagram instead of a
    /// handshake (for gossip, which expects no answer). Newcomers always handshake, carrying
    /// their certificate, since members may not know them yet.
    func sendPacked(_ messages: [Message], to node: NodeID, now: Timestamp, piggyback: Bool = true, oneShot: Bool = false) {
        guard let peer = channelPeer(for: node), let endpoint = endpoint(for: node) else { return }
        let limit = channel.settings.maximumPayload
        // Payloads filled before the last (rare: replies that do not fit one datagram).
        var filled: [[UInt8]] = []
        // The last payload is built in a buffer the node reuses.
        var current = payloadBuffer
        payloadBuffer = ByteWriter()
        current.removeAll()
        for message in messages {
            let start = current.count
            message.encode(into: &current)
            let size = current.count - start
            guard size <= limit else {  // never produced: every message is sized to fit
                current.truncate(to: start)
                continue
            }
            statistics.messagesSent[Int(current.bytes[start] & 63)] += 1
            if current.count > limit {
                // It does not fit after what is there: close that payload and start the next with it.
                filled.append(Array(current.bytes[..<start]))
                let encoded = Array(current.bytes[start...])
                current.removeAll()
                current.write(raw: encoded)
            }
        }
        if piggyback {
            for extra in broadcasts.take(budget: limit - current.count, limit: retransmitLimit) {
                let start = current.count
                extra.encode(into: &current)
                statistics.messagesSent[Int(current.bytes[start] & 63)] += 1
            }
        }
        let isNewcomer = now - joinedAt < timing.newcomerPeriod
        func seal(_ payload: [UInt8]) {
            if oneShot, !isNewcomer {
                emit(channel.sendOneShot(payload, to: peer, at: endpoint, now: now, random: &random))
            } else {
                emit(channel.send(payload, to: peer, at: endpoint, now: now, random: &random, includeCertificate: isNewcomer))
            }
        }
        for payload in filled { seal(payload) }
        if current.count > 0 { seal(current.bytes) }
        payloadBuffer = current
    }

    /// Where to reach `node`'s gossip channel: the endpoint its last authenticated datagram came
    /// from, else its announced endpoints in order of preference, rotating after failed probes.
    func endpoint(for node: NodeID) -> SocketEndpoint? {
        if let known = contactEndpoints[node] { return known }
        let cursor = candidateCursor[node] ?? 0
        let usable = usableFamilies
        if let contact = contacts[node] {
            let candidates = contact.endpoints.filter { usable.allows($0.address) }
            return candidates.isEmpty ? nil : candidates[cursor % candidates.count]
        }
        guard let record = members[node]?.record else { return nil }
        let announced = record.gossipEndpoints
        if announced.count == 1 {
            // The common case, without building a candidate list.
            return usable.allows(announced[0].endpoint.address) ? announced[0].endpoint : nil
        }
        let candidates = announced.filter { usable.allows($0.endpoint.address) }.sorted { $0.kind > $1.kind }
        guard !candidates.isEmpty else { return nil }
        return candidates[cursor % candidates.count].endpoint
    }

    /// Address families this node has, from its own announced endpoints; when it announces
    /// none, every family is tried.
    var usableFamilies: AddressFamilies {
        var families = AddressFamilies()
        for announced in announcement.gossipEndpoints {
            if announced.endpoint.address.isIPv4 { families.ipv4 = true } else { families.ipv6 = true }
        }
        return families
    }

    /// Remembers where an authenticated datagram came from and, when that is not an endpoint the
    /// sender announces, tells the sender (it may be behind NAT).
    func noteContact(_ sender: NodeID, at endpoint: SocketEndpoint, now: Timestamp) {
        if let previous = contactEndpoints[sender], previous.address != endpoint.address { events.append(.memberMoved(sender, endpoint)) }
        contactEndpoints[sender] = endpoint
        candidateCursor[sender] = nil
        guard let record = members[sender]?.record, reportedEndpoints[sender] != endpoint,
              !record.gossipEndpoints.contains(where: { $0.endpoint == endpoint && $0.kind != .reflexive })
        else { return }
        reportedEndpoints[sender] = endpoint
        if record.gossipEndpoints.contains(where: { $0.endpoint == endpoint }) { return }
        queueReply(.endpointReport(endpoint), to: sender)
    }

    /// A peer reports seeing us at `reported`. Two independent reports of the same endpoint make
    /// it our reflexive gossip endpoint, or one while only one live member reaches us directly (a
    /// host behind NAT that only a public member reaches so far: nobody else could corroborate,
    /// and the other members reach it only once it announces where it is seen). Each reporter
    /// holds one slot (its newest report), so one member's flood can neither outvote nor wipe the others'.
    func handleEndpointReport(_ reported: SocketEndpoint, from sender: NodeID, now: Timestamp) {
        guard reported != reflexiveGossipEndpoint,
              !announcement.gossipEndpoints.contains(where: { $0.endpoint == reported })
        else { return }
        if reflexiveReports[sender] == nil, reflexiveReports.count >= Self.maximumReflexiveReporters {
            reflexiveReports.remove(at: reflexiveReports.startIndex)
        }
        reflexiveReports[sender] = reported
        let needed = min(2, max(1, membersInDirectContact))
        guard reflexiveReports.values.lazy.filter({ $0 == reported }).count >= needed else {
            askForCorroboration(excluding: sender, now: now)
            return
        }
        reflexiveReports = reflexiveReports.filter { $0.value != reported }
        reflexiveGossipEndpoint = reported
        events.append(.reflexiveEndpoint(reported))
        publish(now: now)
    }
}

extension MeshNode {
    /// One report of a new outside endpoint is a hint, not yet believed: a ping goes at once to a
    /// few other members in direct contact, whose answers carry their own reports (``noteContact(_:at:now:)``),
    /// instead of waiting for the probe cycle to reach them. A host whose NAT renumbered is reached
    /// by nobody until it announces its new outside endpoint: peers sending to it saw it 2.5 s
    /// late (simulator, `roaming`). At most once per probe interval, to ``corroborationPings``
    /// members: a member's false reports buy it a few small pings a second, nothing more; the acks
    /// match no probe and are ignored.
    func askForCorroboration(excluding reporter: NodeID, now: Timestamp) {
        guard now - lastCorroborationRequest >= timing.probeInterval else { return }
        lastCorroborationRequest = now
        var others = contactEndpoints.keys.filter { $0 != reporter && members[$0]?.status.isLive == true }.sorted()
        others.shuffle(using: &random)
        for member in others.prefix(Self.corroborationPings) {
            send([.ping(sequence: unpredictableSequence(), target: member)], to: member, now: now)
        }
    }

    /// Members pinged to corroborate one endpoint report.
    static let corroborationPings = 3

    /// Live members whose authenticated datagrams reach this node directly (the ones that can see
    /// where it is reached from outside).
    var membersInDirectContact: Int {
        contactEndpoints.keys.lazy.filter { self.members[$0]?.status.isLive == true }.count
    }

    /// Most reporters whose endpoint reports are remembered.
    static let maximumReflexiveReporters = 1024
}

/// The address families a node can use (see ``MeshNode/usableFamilies``).
struct AddressFamilies {
    var ipv4 = false
    var ipv6 = false

    /// Whether `address` is usable: its family is available, or nothing is known.
    func allows(_ address: IPAddress) -> Bool {
        guard ipv4 || ipv6 else { return true }
        return address.isIPv4 ? ipv4 : ipv6
    }
}
