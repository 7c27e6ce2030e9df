import MeshAgentCore
import MeshCore
import MeshCrypto
import WireGuardControl

extension Agent {
    /// How often to read the device while no path is in use (``AgentTiming/observationInterval(livePeers:)``).
    var observationInterval: Interval {
        AgentTiming.observationInterval(livePeers: node?.members.liveCount ?? 0)
    }

    /// How often to read the device while a path is in use: every probe interval (100 ms), or
    /// less often when a read is expensive, so that reading takes at most 5 % of the time. A read
    /// lists every peer (UAPI or netlink has no per-peer query): at 1,000 peers of wireguard-go,
    /// reading every 100 ms took half a core of meshd and a third of wireguard-go's, and the
    /// load delayed path acks until paths were declared failed.
    var observationIntervalInUse: Interval {
        max(
            paths.settings.probeInterval,
            .seconds(min(lastReadCost.secondsValue * AgentTiming.observationCostFactor, AgentTiming.longestObservationInUse)))
    }

    /// The interface's own addresses: the certificate's, with the overlay prefix length.
    var interfaceAddresses: [InterfaceAddress] {
        guard let enrollment else { return [] }
        return enrollment.certificate.addresses.compactMap { address in
            guard let prefix = enrollment.settings.overlayPrefix(for: address) else { return nil }
            return InterfaceAddress(address: address, prefixLength: prefix.length)
        }
    }

    /// Makes the interface and its peers match membership, applying only differences; retries with
    /// backoff and recreates the interface if it vanished. Device loop only (see ``deviceTurn()``).
    func reconcile(now: Timestamp) async {
        guard node != nil else { return }
        lastReconcileAttempt = now
        // The next periodic reconcile, set now: a reroute or join asking for one while this one
        // awaits the device lowers it (``reconcileNow(_:)``) and must not be overwritten below.
        let periodic = now + AgentTiming.reconcileInterval
        reconcileDue = periodic
        do {
            let prepared = try await device.prepare(addresses: interfaceAddresses, reading: lastDeviceState == nil)
            deviceBackend = prepared.backend
            if let current = prepared.state { lastDeviceState = current }
            guard let node else { return }  // left meanwhile
            let desired = desiredState(now: now)
            let (changes, after) = try await device.apply(desired)
            if !changes.isEmpty {
                logger.info("WireGuard updated", metadata: [
                    "added": "\(changes.peersToAdd.count)", "updated": "\(changes.peersToUpdate.count)",
                    "removed": "\(changes.peersToRemove.count)",
                ])
                let touched = changes.peersToAdd.filter { $0.endpoint != nil }.map(\.publicKey)
                    + changes.peersToUpdate.filter { $0.endpoint != nil }.map(\.publicKey)
                nudge(touched.filter { firstHandshakes.mayInitiate($0, now: now) })
                // A new peer's path is watched closely at once: the first handshake shows whether
                // the direct path works, long before WireGuard's counters would.
                let members = membersByWireGuardKey(node)
                for added in changes.peersToAdd {
                    if let member = members[added.publicKey] { paths.noteActivity(member.id, now: now) }
                    if added.endpoint != nil, !firstHandshakes.isWaiting(added.publicKey) { firstHandshakes.start(added.publicKey, now: now, moved: false) }
                }
                if let after { lastDeviceState = after }
            }
            reconcileFailures = 0
            if lastError != nil { logger.notice("WireGuard device is healthy again") }
            lastError = nil
        } catch {
            reconcileFailures += 1
            let backoff = AgentTiming.reconcileBackoff(failures: reconcileFailures)
            if reconcileDue == periodic { reconcileDue = now + backoff }
            if case WireGuardControlError.noSuchInterface = error { await device.reset() }
            let message = "\(error)"
            if message != lastError { logger.error("cannot configure WireGuard; retrying", metadata: ["error": "\(message)", "retry": "\(backoff.seconds)s"]) }
            lastError = message
        }
    }

    /// The peers WireGuard should have: every live member, with its announced prefixes and the
    /// endpoint we choose for it; keepalives only if we are behind NAT.
    func desiredState(now: Timestamp) -> WireGuardDesiredState {
        guard let node else { return WireGuardDesiredState() }
        let behindNAT = isBehindNAT
        // Read once per plan: a netlink dump per member made a 1,000-member plan take seconds.
        let subnets = LocalAddresses.subnets(excludingInterface: configuration.interface.name, excludedNetworks: [])
        var peers: [WireGuardDesiredPeer] = []
        let addressBook = overlayAddressBook(node)
        for member in node.members.all where member.status.isLive || tunnelOutlivesAgent(member, now: now) {
            let key = member.certificate.wireGuardKey
            guard key != wireGuardKey.publicKey else { continue }
            let allowed = member.record.announcedPrefixes.isEmpty
                ? member.certificate.addresses.map(IPPrefix.init(host:)) : allowedAnnouncedPrefixes(of: member, addressBook: addressBook)
            let endpoint: SocketEndpoint?
            var keepalive: UInt16 = behindNAT ? 25 : 0
            if !member.status.isLive {
                endpoint = nil  // as WireGuard has it: nothing new is known about a dead member
            } else if case let .relayed(_, relayEndpoint) = paths.route(to: member.id) {
                endpoint = relayEndpoint
                keepalive = 25  // keeps the relay's latch (and any NAT mapping towards it) alive
            } else {
                endpoint = chooseEndpoint(for: member, now: now, subnets: subnets)
            }
            // Turning a keepalive on makes WireGuard send (and, without a session, initiate) at
            // once: the end that does not initiate the first handshake waits its turn.
            if keepalive > 0, !firstHandshakes.mayInitiate(key, now: now) { keepalive = 0 }
            peers.append(WireGuardDesiredPeer(publicKey: key, endpoint: endpoint, allowedIPs: allowed, persistentKeepalive: keepalive))
        }
        return WireGuardDesiredState(
            listenPort: configuration.interface.listenPort, fwmark: configuration.interface.fwmark, peers: peers)
    }

    /// Every member's overlay addresses, this node's included.
    func overlayAddressBook(_ node: MeshNode) -> OverlayAddressBook {
        let mine = enrollment.map { [(id: $0.certificate.nodeID, addresses: $0.certificate.addresses)] } ?? []
        return OverlayAddressBook(mine + node.members.all.map { (id: $0.id, addresses: $0.certificate.addresses) })
    }

    /// `member`'s announced prefixes less those covering another member's overlay address; each
    /// refused prefix is counted once per record version (`overlaps-member`).
    func allowedAnnouncedPrefixes(of member: Member, addressBook: OverlayAddressBook) -> [IPPrefix] {
        let (allowed, refused) = addressBook.filter(member.record.announcedPrefixes, of: member.id)
        if !refused.isEmpty, overlapCountedVersions[member.id] != member.record.version {
            if overlapCountedVersions.count >= 16_384 { overlapCountedVersions.removeAll() }
            overlapCountedVersions[member.id] = member.record.version
            for prefix in refused {
                agentDrops.count(.overlapsMember)
                logger.warning("not installing an announced prefix that covers another member's address", metadata: [
                    "member": "\(member.name)", "prefix": "\(prefix)",
                ])
            }
        }
        return allowed
    }

    /// Whether `member`, declared dead, still has a working WireGuard session with this node (a
    /// handshake within WireGuard's session lifetime, 180 s): its meshd is down or cut off, but the
    /// tunnel carries traffic, so the peer stays until the session lapses. A meshd stopped for
    /// longer than the suspicion timeout (an upgrade, a crash) thus cuts no tunnel. Members that
    /// left or were revoked go at once.
    func tunnelOutlivesAgent(_ member: Member, now: Timestamp) -> Bool {
        guard member.status == .dead, let handshake = lastDeviceState?.peers[member.certificate.wireGuardKey]?.lastHandshakeTime else {
            return false
        }
        return now.secondsValue - Double(handshake.components.seconds) < 180
    }

    /// The endpoint to configure for `member`, or nil to keep what the kernel has.
    ///
    /// A working path (a recent handshake) is kept, including one the kernel learned by roaming;
    /// it is abandoned when the member's new record no longer lists it (the member moved).
    /// Otherwise the announced candidates are tried in order, each for a few seconds (back from a
    /// relay, each for one direct attempt: see ``EndpointChoice``).
    func chooseEndpoint(for member: Member, now: Timestamp, subnets: [(address: IPAddress, subnet: IPPrefix)]) -> SocketEndpoint? {
        let candidates = rankedCandidates(member, subnets: subnets)
        guard !candidates.isEmpty else { return nil }
        let kernel = lastDeviceState?.peers[member.certificate.wireGuardKey]
        let handshake = kernel?.lastHandshakeTime.map { Double($0.components.seconds) } ?? 0
        // A relay endpoint left over from a relayed period is never a working direct path.
        let onRelay = kernel?.endpoint.map(relayEndpoints.contains) ?? false
        let healthy = handshake > 0 && now.secondsValue - handshake < 150 && !onRelay
        let decision = EndpointChoice.decide(
            previous: endpointChoices[member.id], candidates: candidates, kernelEndpoint: kernel?.endpoint, healthy: healthy, onRelay: onRelay,
            receivedAt: paths.lastReceived(from: member.id), now: now)
        endpointChoices[member.id] = decision.choice
        return decision.endpoint
    }

    /// A member's WireGuard endpoints in the order worth trying from here: on one of our subnets;
    /// global IPv6; what peers observed (the outside of a NAT); configured; other IPv4; reflexive
    /// (a member behind NAT: its other IPv4 addresses last, they are its inside).
    /// `subnets`: this host's subnets (read once per plan by the caller).
    func rankedCandidates(_ member: Member, subnets: [(address: IPAddress, subnet: IPPrefix)]) -> [SocketEndpoint] {
        let haveIPv4 = localAddresses.isEmpty || localAddresses.contains { $0.isIPv4 }
        let haveIPv6 = localAddresses.contains { !$0.isIPv4 }
        let behindNAT = member.record.flags.contains(.behindNAT)
        func rank(_ announced: AnnouncedEndpoint) -> Int? {
            let address = announced.endpoint.address
            guard address.isIPv4 ? haveIPv4 : haveIPv6 else { return nil }
            if announced.kind == .local, subnets.contains(where: { $0.subnet.contains(address) }) { return 0 }
            switch announced.kind {
            case .local: return address.isIPv4 ? (behindNAT ? 6 : 4) : 1
            case .observed: return 2
            case .advertised: return 3
            case .reflexive: return 5
            }
        }
        var seen = Set<SocketEndpoint>()
        return member.record.wireGuardEndpoints
            .compactMap { announced in rank(announced).map { ($0, announced.endpoint) } }
            .sorted { $0.0 < $1.0 }
            .map(\.1)
            .filter { seen.insert($0).inserted }
    }

    /// Re-creates peers still silent on their first handshake (see ``FirstHandshakes``): the
    /// initiating end 0.5, 1.5 and 3 s after the peer was added or moved, the other end after its
    /// silence; WireGuard then initiates at once instead of after its 5 s retry.
    func hurryFirstHandshakes(now: Timestamp) async {
        guard firstHandshakes.anyDue(now: now), let current = try? await device.read() else { return }
        lastDeviceState = current
        let recreate = firstHandshakes.due(now: now) { key in
            current.peers[key].map { $0.lastHandshakeTime != nil ? .handshake : $0.receivedBytes > 0 ? .received : .nothing }
        }
        if await removeForFreshHandshake(recreate) { await reconcile(now: now) }
    }

    /// Removes peers that were never heard from (no session to lose), so the next
    /// reconcile adds them afresh and WireGuard initiates at once instead of after its 5 s retry.
    /// Returns whether any were removed.
    @discardableResult
    func removeForFreshHandshake(_ keys: [X25519PublicKey]) async -> Bool {
        guard !keys.isEmpty else { return false }
        do {
            try await device.remove(keys)
            for key in keys { lastDeviceState?.peers[key] = nil }
            logger.debug("re-creating WireGuard peers that never completed a handshake", metadata: ["count": "\(keys.count)"])
            return true
        } catch {
            logger.debug("could not re-create WireGuard peers", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Sends one small packet into the tunnel towards each peer, so WireGuard starts a handshake
    /// now rather than at the next traffic (both sides doing it opens NAT mappings for each other).
    func nudge(_ keys: [X25519PublicKey]) {
        guard let node, !keys.isEmpty else { return }
        let byKey = membersByWireGuardKey(node)
        for key in keys {
            guard let member = byKey[key], let address = member.certificate.addresses.first else { continue }
            TunnelNudge.send(to: address)
        }
    }

    /// Reads the device: keeps counters for `meshctl peers`, and tells each peer where our
    /// WireGuard sees it when that is not an endpoint it announces (it is behind NAT, or moved).
    func observe(now: Timestamp) async {
        lastObservation = now
        guard node != nil else { return }
        let readStart = ContinuousClock.now
        guard let current = try? await device.read() else { return }
        lastReadCost = ContinuousClock.now - readStart
        guard let node else { return }  // left meanwhile
        lastDeviceState = current
        // Counters are compared with this function's own last reading: other reads (reconcile,
        // first handshakes) refresh lastDeviceState too, and compared with theirs, the bytes of a
        // first handshake went unseen (no endpoint report for 25 s, until the next keepalive).
        let previous = observedCounters
        observedCounters = current.peers.mapValues { ObservedCounters(received: $0.receivedBytes, transmitted: $0.transmittedBytes) }
        // Traffic activity drives path probing (only peers in use are watched closely). Read every
        // 100 ms while a path is in use: one pass over the device's peers, the members indexed once.
        let members = current.peers.isEmpty ? [:] : membersByWireGuardKey(node)
        var contradicted = false
        for (key, peer) in current.peers {
            guard let member = members[key] else { continue }
            if pathCore.endpointContradictsPath(member.id, deviceEndpoint: peer.endpoint, now: now) { contradicted = true }
            let before = previous[key]
            // Reported only while data arrives from there (the receive counter grew since the
            // last reading, or a peer new since then has received some): a recent handshake alone
            // is no evidence. After a member moved, its old endpoint (where the kernel still
            // sends) was reported back to it within 100 ms, it announced that as observed, and
            // peers kept sending there for 15 s.
            if peer.receivedBytes != (before?.received ?? 0), member.status.isLive { reportEndpoint(of: member, peer, now: now) }
            guard let before else { continue }
            if peer.receivedBytes != before.received {
                paths.noteReceived(member.id, now: now)
            } else if peer.transmittedBytes != before.transmitted {
                paths.noteActivity(member.id, now: now)
            }
        }
        // A peer back on the direct path that WireGuard roamed back to a released relay port.
        if contradicted { reconcileNow(now) }
        // Reports age out and corroboration follows how many peers are in contact.
        announceObservedEndpointsIfChanged(now: now)
    }

    /// Tells `member` where our WireGuard sees it (`peer`, whose data is arriving), when that is not
    /// an endpoint it announces itself.
    private func reportEndpoint(of member: Member, _ peer: WireGuardPeerState, now: Timestamp) {
        guard let node, let seen = peer.endpoint, let handshake = peer.lastHandshakeTime,
              now.secondsValue - Double(handshake.components.seconds) < 150
        else { return }
        // What the member announces of its own knowledge needs no report; an observed endpoint
        // is reported still, so it stays corroborated by every peer that sees it.
        if member.record.wireGuardEndpoints.contains(where: { $0.endpoint == seen && $0.kind != .observed && $0.kind != .reflexive }) { return }
        // A relayed peer is seen at the relay's port: that is not where it can be reached
        // directly (reported, the peer announced the relay port as its own observed endpoint,
        // and after healing the other end tried it first: 10 s of loss in the failover benchmark).
        if relayEndpoints.contains(seen) { return }
        // Report changes at once, and re-report every minute so the observation stays fresh.
        if let last = reportedEndpoints[member.id], last.endpoint == seen, now - last.at < AgentTiming.endpointReportRefresh { return }
        reportedEndpoints[member.id] = (seen, now)
        var writer = ByteWriter()
        writer.write(seen)
        node.sendExtension(type: MessageCode.wireGuardEndpointReport.rawValue, body: writer.bytes, to: member.id, now: now)
    }

    /// Every member by its WireGuard key (the device names peers by key).
    func membersByWireGuardKey(_ node: MeshNode) -> [X25519PublicKey: Member] {
        Dictionary(node.members.all.map { ($0.certificate.wireGuardKey, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Announces again when the corroborated observed endpoints changed (a new report, a report
    /// aged out, or more peers in contact raised the corroboration needed).
    func announceObservedEndpointsIfChanged(now: Timestamp) {
        let before = observedEndpoints.announced
        guard observedEndpoints.update(now: now, contacts: outsideContacts(now: now)) != before else { return }
        announceIfChanged()
    }

    /// Handles an extension message from an authenticated member.
    func handleExtension(type: UInt8, body: [UInt8], from sender: NodeID) {
        if let message = RelayMessage(type: type, body: body) {
            handleRelayMessage(message, from: sender)
            return
        }
        // Unknown types, and path or relay messages that do not parse, are counted and ignored.
        // The agent's own messages: "my WireGuard sees yours at this endpoint" (body: an endpoint), a renewal
        // request to the authority (empty body), the authority's renewed certificate.
        guard let kind = MessageCode(rawValue: type), kind.layer == .agent else {
            agentDrops.count(.invalidMessage)
            return
        }
        switch kind {
        case .wireGuardEndpointReport:
            var reader = ByteReader(body, context: "endpoint report")
            guard let endpoint = try? reader.readEndpoint(), reader.isAtEnd else {
                agentDrops.count(.invalidEndpointReport)
                return
            }
            let now = clock.now
            switch observedEndpoints.report(endpoint, from: sender, now: now) {
            case let .refused(reason):
                agentDrops.count(reason)
            case .refreshed:
                break
            case .changed:
                logger.info("a peer's WireGuard sees this node at a new endpoint", metadata: ["endpoint": "\(endpoint)", "peer": "\(memberName(sender))"])
                announceObservedEndpointsIfChanged(now: now)
            }
        case .renewalRequest:
            serveRenewal(for: sender, now: clock.now)
        case .renewal:
            // Only the authority's word counts.
            guard node?.members[sender]?.certificate.roles.contains(.authority) == true else {
                agentDrops.count(.invalidMessage)
                return
            }
            acceptRenewal(body, now: clock.now)
        default:
            agentDrops.count(.invalidMessage)  // not of this layer (refused by the guard above)
        }
    }
}
