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
        joining = JoinAttempt(client: client, startedAt: now, lastSentAt: now, attempts: 1)
        for datagram in client.requestDatagrams { transport.send(datagram.bytes, to: datagram.endpoint) }
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
                name: certificate.name, network: settings.name, addresses: interfaceAddresses.map(\.description)))))
        }
    }

    /// A join answer from a bootstrap endpoint.
    func joinAnswer(_ datagram: ReceivedDatagram) {
        guard var attempt = joining, attempt.outcome == nil else { return }
        attempt.outcome = attempt.client.receive(datagram.bytes, from: datagram.source)
        joining = attempt
        if attempt.outcome != nil { stateWaiters.wakeAll() }
    }

    /// Resends the join request every second; gives up after 15 s with what was tried.
    func joinTick(now: Timestamp) {
        guard var attempt = joining, attempt.outcome == nil else { return }
        if now - attempt.startedAt >= AgentTiming.joinGiveUp {
            let endpoints = attempt.client.token.bootstrapEndpoints.map(\.description).joined(separator: ", ")
            attempt.outcome = .refused(
                "no answer from the bootstrap node at \(endpoints) after \(attempt.attempts) attempts in 15 s: check that meshd runs there, "
                    + "that this host can reach it over UDP (port \(attempt.client.token.bootstrapEndpoints.first?.port ?? 0)), "
                    + "or give other addresses with `meshctl invite --endpoint`")
            joining = attempt
            stateWaiters.wakeAll()
            return
        }
        guard now - attempt.lastSentAt >= AgentTiming.joinRetryInterval else { return }
        attempt.lastSentAt = now
        attempt.attempts += 1
        // A fresh request each time: the bootstrap node refuses the same bytes again as a replay.
        var random = RandomSource.secure()
        for datagram in attempt.client.retryDatagrams(now: now, random: &random) { transport.send(datagram.bytes, to: datagram.endpoint) }
        joining = attempt
    }

    /// Suspends until `condition` holds (true) or, checked whenever the state may have moved,
    /// `deadline` has passed or meshd is stopping (false). No polling: see ``StateWaiters``.
    @discardableResult
    func waitForState(until deadline: Timestamp? = nil, _ condition: () -> Bool) async -> Bool {
        while !condition() {
            guard !stopping, !Task.isCancelled, deadline.map({ clock.now < $0 }) ?? true else { return false }
            await withCheckedContinuation { stateWaiters.add($0) }
        }
        return true
    }
}
