import MeshAgentCore
import MeshCore
import MeshCrypto
import MeshControl

extension Agent {
    /// Enrolls this host with the token: sends the join request to the token's bootstrap
    /// endpoints (resending every second for 15 s), reports progress, and on success starts the
    /// node with the bootstrap node as first contact.
    func join(token text: String, reply: @Sendable (String) async -> Void) async {
        if let enrollment {
            return await reply(Self.failure(
                "this host is already a member of network \(enrollment.settings.name) as \(enrollment.certificate.name); run `meshctl leave` first, or use another --state-dir"))
        }
        guard joining == nil else { return await reply(Self.failure("a join is already in progress")) }
        let token: InvitationToken
        do { token = try InvitationToken(text: text) } catch {
            return await reply(Self.failure("the token is not usable: \(error)"))
        }
        let now = clock.now
        var random = RandomSource.secure()
        let client: JoinClient
        do {
            client = try JoinClient(token: token, identity: identity, wireGuardKey: wireGuardKey.publicKey, now: now, random: &random)
        } catch {
            return await reply(Self.failure("\(error)"))
        }
        let attempt = JoinAttempt(client: client, now: now)
        joining = attempt
        for datagram in attempt.firstDatagrams { transport.send(datagram.bytes, to: datagram.endpoint) }
        scheduleWake()  // the retries and the give-up are the timer's
        await reply(Self.progress("asking the bootstrap node at \(token.bootstrapEndpoints.map(\.description).joined(separator: ", ")) to enroll \(token.nodeName) in network \(token.networkName)"))

        // Wait for the answer (datagrams arrive through `joinAnswer`, retries go out from `joinTick`,
        // which also gives up after 15 s).
        await waitForState { self.joining?.outcome != nil }
        guard let attempt = joining, let outcome = attempt.outcome else { return }
        joining = nil
        switch outcome {
        case let .refused(reason):
            return await reply(Self.failure(reason))
        case let .enrolled(settings, certificate):
            await reply(Self.progress("enrolled as \(certificate.name) with \(certificate.addresses.map(\.description).joined(separator: ", "))"))
            let enrollment = Enrollment(settings: settings, certificate: certificate)
            do {
                try state.saveEnrollment(enrollment)
                try startNode(enrollment, contact: (token.bootstrapKey, token.bootstrapEndpoints))
            } catch {
                return await reply(Self.failure("enrolled, but cannot start: \(error)"))
            }
            await reply(Self.progress("fetching the member list from the bootstrap node"))
            let bootstrap = NodeID(identityKey: token.bootstrapKey)
            await waitForState(until: clock.now + AgentTiming.bootstrapMemberWait) { self.node?.members[bootstrap] != nil }
            let configureFrom = clock.now
            reconcileNow(configureFrom)
            await waitForState(until: configureFrom + AgentTiming.bootstrapMemberWait) { self.lastReconcileAttempt >= configureFrom }
            let members = node?.members.liveCount ?? 0
            await reply(Self.progress("knows \(members) member\(members == 1 ? "" : "s"); WireGuard interface \(configuration.interface.name) configured"))
            await reply(Self.encode(ControlReply(ok: true, result: EnrollResult(
                name: certificate.name, network: settings.name, addresses: overlayInterfaceAddresses.map(\.description)))))
        }
    }

    /// A join answer from a bootstrap endpoint.
    func joinAnswer(_ datagram: ReceivedDatagram) {
        guard joining?.receive(datagram.bytes, from: datagram.source) == true else { return }
        stateWaiters.wakeAll()
    }

    /// Resends the join request every second; gives up after 15 s with what was tried (``JoinAttempt``).
    func joinTick(now: Timestamp) {
        guard joining != nil else { return }
        var random = RandomSource.secure()
        let resend = joining?.tick(now: now, random: &random) ?? []
        for datagram in resend { transport.send(datagram.bytes, to: datagram.endpoint) }
        if joining?.outcome != nil { stateWaiters.wakeAll() }
    }

    /// Suspends until `condition` holds (true) or, checked whenever the state may have moved,
    /// `deadline` has passed or meshd is stopping (false). No polling: see ``StateWaiters``.
    @discardableResult
    func waitForState(until deadline: Timestamp? = nil, _ condition: () -> Bool) async -> Bool {
        while !condition() {
            guard !stopping, !Task.isCancelled, deadline.map({ clock.now < $0 }) ?? true else { return false }
            await withCheckedContinuation {
                stateWaiters.add($0, until: deadline)
                scheduleWake()  // the deadline is the timer's too
            }
        }
        return true
    }
}
