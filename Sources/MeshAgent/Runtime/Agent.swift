#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import MeshAgentCore
import MeshCore
import MeshCrypto
import NIOCore
import NIOPosix
import WireGuardControl

/// The daemon's runtime: owns the protocol core (``MeshNode``), the gossip socket, the WireGuard
/// device and the state directory, and connects them. All of it runs on this actor, except the
/// device calls, which run on the device's own thread and are awaited by one loop (``deviceLoop()``).
public actor Agent {
    var configuration: MeshdConfiguration
    let state: StateDirectory
    /// Held while the agent lives: one meshd per state directory.
    let lock: StateDirectoryLock
    let identity: Ed25519PrivateKey
    let wireGuardKey: X25519PrivateKey
    let logger: Logger
    let clock = AgentClock()
    let transport: GossipTransport
    let device: DeviceController

    /// The protocol core, once enrolled.
    var node: MeshNode?
    var enrollment: Enrollment?
    var joining: JoinAttempt?
    /// Control requests waiting for the state to move (see ``waitForState(until:_:)``).
    var stateWaiters = StateWaiters()
    /// Set once shutdown begins: waiters give up.
    var stopping = false

    /// The one timer: sleeps until ``nextDeadline(now:)`` (cancelled at shutdown).
    var wakeTask: Task<Void, Never>?
    /// Relay requests being served and grants being repeated (cancelled at shutdown).
    let ownedWork = OwnedWork()
    var scheduledWake = Timestamp.distantFuture
    var reconcileDue = Timestamp.zero
    var reconcileFailures = 0
    /// When the device loop last tried to reconcile (a join waits for it).
    var lastReconcileAttempt = Timestamp.zero
    /// Whether a reconcile has finished (applied, or failed and reported) since start.
    var reconciledOnce = false
    /// Readiness, status and watchdog for systemd (nothing without `NOTIFY_SOCKET`).
    let notifier: SystemdNotifier
    /// Prometheus metrics (served when `metrics.listen` is set; recorded either way).
    let metrics: AgentMetrics
    /// Peers whose path is failing, since when (a failover's start, for its duration).
    var failingSince: [NodeID: Timestamp] = [:]
    /// `meshctl ping`'s direct probes awaiting an answer, by sequence (``pingAnswered(_:from:)``).
    var pingWaiters: [UInt32: (member: NodeID, continuation: CheckedContinuation<Bool, Never>)] = [:]
    var pingCounter: UInt32 = 0
    /// The backend the device uses, once it is open (for `meshctl status`).
    var deviceBackend: DeviceController.Backend?
    /// Whether meshd has kernel routes installed for accepted prefixes (so turning acceptance off removes them).
    var kernelRoutesInstalled = true
    /// The served prefixes (and masquerade setting) the gateway table was last made for (nil: not yet this run).
    var gatewayApplied: (prefixes: [IPPrefix], masquerade: Bool)?
    /// `meshctl exit use`'s choice (nil: `exit.use`'s), until a restart or a reload changing `exit.use`.
    var exitOverride: RouteChoice.ExitChoice?
    /// The fwmark on the gossip and relay sockets now (``applySocketMark()``).
    var socketMark: UInt32 = 0
    /// Whether the exit's routes and rules may be installed (true at start: an earlier run's go).
    var exitRoutingInstalled = true
    /// Served routes' health checks, and the routes served now (``checkServedRoutes()``).
    var routeHealth = ServedRouteHealth()
    var currentServedRoutes: [ServedRoute] = []
    /// The health-checked links' states as last read (on rtnetlink notifications, not per ping round).
    var servedRouteLinks: [String: Bool] = [:]
    /// Turns of the device loop asked for (see ``requestDeviceTurn()``).
    let deviceTurns: AsyncStream<Void>
    let deviceTurnRequests: AsyncStream<Void>.Continuation
    /// Each reload of the route settings: the health-check pinger starts or stops on it.
    let routeReloads: AsyncStream<Void>
    let routeReloaded: AsyncStream<Void>.Continuation
    /// The thread the health-check pings wait on (``echoLoop()``).
    let echoThread = NIOThreadPool(numberOfThreads: 1)
    /// A device turn was asked for and has not finished: device work that is due waits for it
    /// (and does not wake the timer again meanwhile).
    var deviceTurnPending = false
    /// Peers to re-create for a fresh first handshake, at the device loop's next turn.
    var pendingRecreations: [X25519PublicKey] = []
    /// Rerouted peers to punch once the reconcile that moves them is applied.
    var pendingPunches: [NodeID] = []
    /// Set by `meshctl leave`: the device loop deletes the interface, then clears it.
    var interfaceRemovalRequested = false
    var lastDeviceState: WireGuardDeviceState?
    /// Whether the first device read since start has been matched against relays (``PathCore/adoptRelayedPaths(_:node:sessions:now:)``).
    var adoptedDevicePaths = false
    var lastObservation = Timestamp.zero
    /// How long the last full read of the device took (see ``observationIntervalInUse``).
    var lastReadCost = Duration.zero
    var lastAddressPoll = Timestamp.zero
    /// Link and address change notifications (nil where rtnetlink refuses them: addresses are polled).
    let addressMonitor: AddressChangeMonitor?
    /// The thread that waits for those notifications.
    let addressThread = NIOThreadPool(numberOfThreads: 1)
    /// The thread that waits for route notifications (`routing.mode: daemon`).
    let routeThread = NIOThreadPool(numberOfThreads: 1)
    /// Whether the routing daemon's routes must be read again before the next plan.
    var daemonRoutesStale = true
    /// The routes last exported for the routing daemon (nil: not yet this run).
    var exportApplied: Set<IPPrefix>?
    var lastSnapshot = Timestamp.zero
    /// Whether the last snapshot written held any member.
    var lastSnapshotHeldMembers = false
    var snapshotDirty = false
    var localAddresses: [IPAddress] = []
    /// Local addresses seen by the last read that differed from ``localAddresses`` (not yet settled).
    var pendingLocalAddresses: [IPAddress]?
    /// WireGuard endpoints of ours that peers' kernels report seeing (one report per reporter).
    var observedEndpoints = ObservedEndpoints()
    /// Refusals decided in the agent (path, relay, endpoint-report and prefix rules), shown with
    /// the node's drops by `meshctl status`.
    var agentDrops = DropCounters()
    var lastError: String?
    /// Endpoint settings (reloadable with SIGHUP).
    var liveEndpoints: MeshdConfiguration.Endpoints
    /// The path decisions: direct or relayed per peer, first handshakes, the relay client.
    var pathCore: PathCore
    /// The relay service, when this node relays for others.
    var relay: RelayService?
    /// The relays this node announces it reaches (announced when the set changes; round trips at most every 30 s).
    var announcedRelays: [RelayReachability] = []
    var lastRelayAnnouncement = Timestamp.zero
    /// Relay reachability checks, relay lease expiry, heap trims.
    var chores = PeriodicChores()
    var renewal = CertificateRenewal()
    let group: EventLoopGroup

    /// Creates the agent: binds the gossip socket; loads keys and, when enrolled, the network state.
    /// `notifier`: systemd's notification socket (``SystemdNotifier``; by default none).
    public init(
        configuration: MeshdConfiguration, group: EventLoopGroup, logger: Logger, notifier: SystemdNotifier = SystemdNotifier(environment: [:])
    ) async throws {
        self.notifier = notifier
        self.metrics = AgentMetrics(peerSeriesLimit: configuration.metrics.peerSeries)
        self.configuration = configuration
        self.group = group
        self.liveEndpoints = configuration.endpoints
        self.logger = logger
        state = StateDirectory(path: .init(configuration.stateDirectory))
        try state.prepare()
        lock = try StateDirectoryLock(state)
        identity = try state.loadOrCreateIdentityKey()
        wireGuardKey = try state.loadOrCreateWireGuardKey()
        addressMonitor = try? AddressChangeMonitor()
        (deviceTurns, deviceTurnRequests) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (routeReloads, routeReloaded) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        pathCore = PathCore(ownKey: wireGuardKey.publicKey)
        pathCore.routes.settings = RouteChoice.Settings(configuration.routes, exit: .init(configuration.exit.use))
        transport = try await GossipTransport(
            group: group, port: configuration.gossip.port, bindAddresses: configuration.gossip.bind, device: configuration.underlay.bindDevice)
        device = DeviceController(
            settings: configuration.interface, privateKey: wireGuardKey, daemonLogPath: configuration.stateDirectory + "/wireguard-go.log", logger: logger)
        enrollment = try state.loadEnrollment()
    }

    /// Runs until cancelled (graceful shutdown), then saves state. The WireGuard interface and its
    /// peers are left as they are, so traffic continues while meshd restarts.
    public func run() async throws {
        localAddresses = LocalAddresses.current(excludingInterface: configuration.interface.name, excludedNetworks: liveEndpoints.excludeNetworks)
        if let enrollment {
            try startNode(enrollment, contact: nil)
        } else {
            logger.notice("not enrolled yet: waiting for `meshctl init` or `meshctl join`", metadata: ["socket": "\(configuration.effectiveControlSocket)"])
        }
        let metricsServer = try await startMetricsServer()
        await withTaskGroup(of: Void.self) { group in
            if let metricsServer { group.addTask { await metricsServer.run() } }
            group.addTask { await self.receiveLoop() }
            group.addTask { await self.deviceLoop() }
            group.addTask { await self.addressLoop() }
            group.addTask { await self.echoLoop() }
            group.addTask { await self.routingDaemonLoop() }
            group.addTask { await self.systemdLoop() }
            group.addTask { await self.ownedWork.run() }
            await group.next()
            group.cancelAll()
        }
        await metricsServer?.close()
        await shutdown()
    }

    private func receiveLoop() async {
        for await datagram in transport.datagrams {
            if Task.isCancelled { break }
            handle(datagram)
        }
    }

    private func shutdown() async {
        stopping = true
        notifier.notify("STOPPING=1")
        stateWaiters.wakeAll()
        deviceTurnRequests.finish()
        routeReloaded.finish()
        await device.close()
        try? await addressThread.shutdownGracefully()
        try? await routeThread.shutdownGracefully()
        try? await echoThread.shutdownGracefully()
        wakeTask?.cancel()
        relay?.shutdown()
        await transport.close()
        // After the transport closed: nothing accepted later can be missing from the replay state.
        saveSnapshot(force: true, clean: true)
        logger.info("meshd stopped; the WireGuard interface stays up")
    }

    // MARK: The protocol core

    /// Starts the protocol core for `enrollment`, from the persisted members.
    func startNode(_ enrollment: Enrollment, contact: (key: Ed25519PublicKey, endpoints: [SocketEndpoint])?) throws {
        let now = clock.now
        checkServedRoutes()  // what the first record serves
        routeReloaded.yield()  // the health-check pinger waits for a node
        let (snapshot, warning) = try state.loadMemberSnapshot(settings: enrollment.settings, now: now)
        if let warning { logger.warning("\(warning)") }
        var table = MemberTable()
        for member in snapshot.members { table.put(member) }
        // The announcement reads the enrollment (prefixes, relay role).
        self.enrollment = enrollment
        let node = try MeshNode(
            identity: identity, certificate: enrollment.certificate, settings: enrollment.settings,
            announcement: announcement(now: now), members: table, revocations: snapshot.revocations,
            previousVersion: snapshot.lastVersion, replayState: snapshot.replayStateForStart(now: now), newcomer: contact != nil || snapshot.members.isEmpty,
            random: .secure(), now: now)
        if let key = try state.loadAuthorityKey() {
            node.authority = try state.loadAuthority(settings: enrollment.settings, key: key)
        }
        self.node = node
        self.enrollment = enrollment
        startRelayIfAllowed(enrollment.certificate)
        applySocketMark()
        if configuration.exit.serve, !enrollment.certificate.roles.contains(.exit) {
            logger.warning("exit.serve is set but this node's certificate has no exit role (meshctl invite NAME --exit): not serving as an exit")
        }
        if let contact {
            node.addContact(identityKey: contact.key, endpoints: contact.endpoints)
            node.synchronize(with: NodeID(identityKey: contact.key), now: now)
        } else if let peer = table.all.filter({ $0.status.isLive }).map(\.id).min() {
            // Catch up with whatever changed while we were down.
            node.synchronize(with: peer, now: now)
        }
        logger.info("node started", metadata: [
            "name": "\(enrollment.certificate.name)", "network": "\(enrollment.settings.name)",
            "members": "\(table.count)", "version": "\(node.localRecord.version)",
        ])
        // Marks the saved replay state as not clean at once: a crash from here on must not leave a
        // clean snapshot that misses what this run accepts.
        saveSnapshot(force: true)
        snapshotDirty = true
        reconcileDue = now
        drain()
    }

    /// Handles one received datagram.
    func handle(_ datagram: ReceivedDatagram) {
        if let type = datagram.bytes.count > 1 ? datagram.bytes[1] : nil,
           type == PacketType.joinResponse.rawValue || type == PacketType.joinUnknownInvitation.rawValue, joining != nil {
            joinAnswer(datagram)
            return
        }
        guard let node else { return }
        node.receive(datagram.bytes, from: datagram.source, now: clock.now)
        drain()
    }

    /// Sends the core's datagrams, acts on its events, and re-arms the timer (``scheduleWake()``).
    func drain() {
        if let node {
            let (datagrams, events) = node.drainOutput()
            for datagram in datagrams { transport.send(datagram.bytes, to: datagram.endpoint) }
            for event in events { react(to: event) }
        }
        scheduleWake()
        stateWaiters.wakeAll()
    }

    /// Ends what this node keeps for `id` as a peer: its path, its relay pairs, its reports.
    private func dropPeer(_ id: NodeID) {
        if let node { apply(pathCore.forget(id, node: node, sessions: deviceSessions, now: clock.now), now: clock.now) }
        relay?.release(involving: id)
        forgetPeerState(id)
    }

    private func react(to event: NodeEvent) {
        switch event {
        case let .memberAdded(id):
            snapshotDirty = true
            reconcileSoon()
            logger.info("member added", metadata: ["member": "\(memberName(id))"])
        case let .memberUpdated(id, version):
            snapshotDirty = true
            reconcileSoon()
            logger.debug("member updated", metadata: ["member": "\(memberName(id))", "version": "\(version)"])
        case let .statusChanged(id, status):
            snapshotDirty = true
            reconcileSoon()
            if !status.isLive { dropPeer(id) }
            logger.info("member \(status)", metadata: ["member": "\(memberName(id))"])
        case let .memberForgotten(id):
            // A forgotten member may have been live (its certificate expired): it leaves
            // WireGuard, its paths and its relay pairs at once.
            snapshotDirty = true
            reconcileSoon()
            dropPeer(id)
            logger.info("member forgotten", metadata: ["member": "\(id)"])
        case let .localRecordPublished(version):
            snapshotDirty = true
            logger.debug("record published", metadata: ["version": "\(version)"])
        case let .refuted(version):
            logger.notice("refuted a suspicion about this node", metadata: ["version": "\(version)"])
        case let .reflexiveEndpoint(endpoint):
            logger.info("peers see this node at a different address (NAT)", metadata: ["endpoint": "\(endpoint)"])
            // This node moved behind NAT (or its NAT renumbered): reports of the old outside are
            // stale, and peers in use learn the new source at once (as for a local address change).
            observedEndpoints.removeAll()
            announceIfChanged()
            if let node { apply(pathCore.localAddressesChanged(node: node, sessions: deviceSessions, now: clock.now), now: clock.now) }
        case let .memberMoved(id, endpoint):
            // A relay accepts a member's traffic only from where it was last authenticated.
            relay?.allow(id, from: endpoint.address)
            if let node { apply(pathCore.memberMoved(id, node: node, sessions: deviceSessions, now: clock.now), now: clock.now) }
        case let .enrolled(certificate):
            logger.notice("enrolled a new node", metadata: ["name": "\(certificate.name)", "addresses": "\(certificate.addresses)"])
            saveAuthority()
        case let .extensionMessage(from, type, body, _):
            handleExtension(type: type, body: body, from: from)
        }
    }

    /// Drops the endpoint report of a member no longer live, so the map holds current members only
    /// (the path core forgets its endpoint choice and the last report to it).
    func forgetPeerState(_ id: NodeID) {
        if observedEndpoints.reports[id] != nil {
            observedEndpoints.forget(id)
            announceObservedEndpointsIfChanged(now: clock.now)
        }
    }

    func memberName(_ id: NodeID) -> String {
        node?.members[id]?.name ?? id.hex
    }

    /// Periodic work: join retries, relay announcements, renewal, persistence; asks the device loop
    /// for its turn (reconcile and reads when due).
    func reconcileSoon() {
        reconcileDue = min(reconcileDue, clock.now + AgentTiming.reconcileSoonDelay)
    }
}
