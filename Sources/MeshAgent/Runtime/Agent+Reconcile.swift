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

    /// The overlay addresses of the certificate, with the overlay prefix length (what `status`
    /// and `join` report).
    var overlayInterfaceAddresses: [InterfaceAddress] {
        guard let enrollment else { return [] }
        return enrollment.certificate.addresses.compactMap { address -> InterfaceAddress? in
            guard let prefix = enrollment.settings.overlayPrefix(for: address) else { return nil }
            return InterfaceAddress(address: address, prefixLength: prefix.length)
        }
    }

    /// The interface's own addresses: the overlay addresses, and the link-local address (`/64`)
    /// unless `interface.link_local` is off.
    var interfaceAddresses: [InterfaceAddress] {
        guard let certificate = enrollment?.certificate, configuration.interface.linkLocal else { return overlayInterfaceAddresses }
        return overlayInterfaceAddresses + [InterfaceAddress(address: certificate.linkLocalAddress, prefixLength: 64)]
    }

    /// The addresses this node announces as its own: its overlay addresses, and its link-local
    /// address unless `interface.link_local` is off.
    var ownAddresses: [IPAddress] {
        guard let certificate = enrollment?.certificate else { return [] }
        return configuration.interface.linkLocal ? certificate.ownedAddresses : certificate.addresses
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
        defer { reconciledOnce = true }
        do {
            let prepared = try await device.prepare(addresses: interfaceAddresses, reading: lastDeviceState == nil)
            deviceBackend = prepared.backend
            if let current = prepared.state { lastDeviceState = current }
            guard let node else { return }  // left meanwhile
            if !adoptedDevicePaths, let current = lastDeviceState {
                // The first read since meshd started: pairs it left on a relay stay relayed.
                adoptedDevicePaths = true
                apply(pathCore.adoptRelayedPaths(current.peers.mapValues(DevicePeerView.init), node: node, sessions: deviceSessions, now: now), now: now)
            }
            await readDaemonRoutes()
            let desired = desiredState(now: now)
            let applyStarted = ContinuousClock.now
            let changes: WireGuardChangeSet, after: WireGuardDeviceState?
            do {
                (changes, after) = try await device.apply(desired)
                metrics.wireGuardApplied(in: ContinuousClock.now - applyStarted, failed: false)
            } catch {
                metrics.wireGuardApplied(in: ContinuousClock.now - applyStarted, failed: true)
                throw error
            }
            await syncKernelRoutes()
            await syncExportedRoutes()
            await syncExitRouting()
            await syncGateway()
            if !changes.isEmpty {
                logger.info("WireGuard updated", metadata: [
                    "added": "\(changes.peersToAdd.count)", "updated": "\(changes.peersToUpdate.count)",
                    "removed": "\(changes.peersToRemove.count)",
                ])
                let added = changes.peersToAdd.map { (key: $0.publicKey, hasEndpoint: $0.endpoint != nil) }
                let moved = changes.peersToUpdate.filter { $0.endpoint != nil }.map(\.publicKey)
                nudge(pathCore.deviceApplied(added: added, moved: moved, node: node, now: now))
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

    /// The peers WireGuard should have (``PathCore/planDevice(node:host:device:now:)``); refused
    /// announced prefixes are counted (`overlaps-member`) and logged once per record version.
    func desiredState(now: Timestamp) -> WireGuardDesiredState {
        guard let node, let enrollment else { return WireGuardDesiredState() }
        // Read once per plan: a netlink dump per member made a 1,000-member plan take seconds.
        let host = PlanningHost(
            nodeID: enrollment.certificate.nodeID, overlayAddresses: enrollment.certificate.addresses, localAddresses: localAddresses,
            subnets: LocalAddresses.subnets(excludingInterface: configuration.interface.name, excludedNetworks: []), behindNAT: isBehindNAT)
        let peers = lastDeviceState?.peers ?? [:]
        let plan = pathCore.planDevice(node: node, host: host, device: { peers[$0].map(DevicePeerView.init) }, now: now)
        reportDaemonRoutes(plan)
        for (member, prefix) in plan.refused {
            agentDrops.count(.overlapsMember)
            logger.warning("not installing an announced prefix that covers another member's address", metadata: [
                "member": "\(memberName(member))", "prefix": "\(prefix)",
            ])
        }
        return WireGuardDesiredState(
            listenPort: configuration.interface.listenPort, fwmark: underlayMark,
            peers: plan.peers.map {
                WireGuardDesiredPeer(publicKey: $0.publicKey, endpoint: $0.endpoint, allowedIPs: $0.allowedIPs, persistentKeepalive: $0.persistentKeepalive)
            })
    }

    /// Re-creates peers still silent on their first handshake (see ``FirstHandshakes``): the
    /// initiating end 0.5, 1.5 and 3 s after the peer was added or moved, the other end after its
    /// silence; WireGuard then initiates at once instead of after its 5 s retry.
    func hurryFirstHandshakes(now: Timestamp) async {
        guard firstHandshakes.anyDue(now: now), let current = try? await device.read() else { return }
        lastDeviceState = current
        let recreate = pathCore.firstHandshakes.due(now: now) { current.peers[$0].map { DevicePeerView($0).contact } }
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
        let byKey = PathCore.membersByWireGuardKey(node)
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
        let observation = pathCore.observeDevice(current.peers.mapValues(DevicePeerView.init), node: node, now: now)
        for (member, endpoint) in observation.endpointReports {
            node.sendExtension(type: MessageCode.wireGuardEndpointReport.rawValue, body: PathCore.endpointReportBody(endpoint), to: member, now: now)
        }
        // A peer back on the direct path that WireGuard roamed back to a released relay port.
        if observation.contradictsPath { reconcileNow(now) }
        apply(observation.effects, now: now)
        // Reports age out and corroboration follows how many peers are in contact.
        announceObservedEndpointsIfChanged(now: now)
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
