import Synchronization
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MeshAgentCore
import MeshCore
import MeshCrypto
import WireGuardControl
import MeshControl

extension Agent: ControlHandler {
    /// Serves one control request (see ``ControlRequest``).
    public func handle(_ request: ControlRequest, reply: @Sendable (String) async -> Void) async {
        switch request {
        case .status: await reply(Self.encode(ControlReply(ok: true, result: status())))
        case .peers: await reply(Self.encode(ControlReply(ok: true, result: peers())))
        case .routes: await reply(Self.encode(ControlReply(ok: true, result: routeReports())))
        case .graph: await reply(Self.encode(ControlReply(ok: true, result: graphReport())))
        case .exit(let use):
            await respond(reply) { () throws(CommandFailure) -> ExitReport in try use.map(useExit) ?? exitReport() }
        case .initialize(let fields): await respond(reply) { try initNetwork(fields) }
        case .invite(let fields): await respond(reply) { try invite(fields) }
        case .revoke(let name): await respond(reply) { try revoke(name: name) }
        case .leave: await leave(reply: reply)
        case .join(let token): await join(token: token, reply: reply)
        case .ping(let request): await ping(request, reply: reply)
        }
    }

    private func respond<Result: Codable & Sendable>(_ reply: @Sendable (String) async -> Void, _ body: () throws -> Result) async {
        do {
            await reply(Self.encode(ControlReply(ok: true, result: try body())))
        } catch {
            await reply(Self.failure("\(error)"))
        }
    }

    static func encode<Result: Codable & Sendable>(_ reply: ControlReply<Result>) -> String { reply.line }
    static func failure(_ message: String) -> String { ControlReply<NoResult>.failureLine(message) }
    static func progress(_ message: String) -> String { ControlReply<NoResult>.progressLine(message) }

    // MARK: Reports

    func status() -> StatusReport {
        let certificate = enrollment?.certificate
        var byState: [String: Int] = [:]
        for member in node?.members.all ?? [] { byState[member.status.description, default: 0] += 1 }
        let drops = dropCounts()
        return StatusReport(
            name: certificate?.name, id: certificate?.nodeID.hex, network: enrollment?.settings.name,
            networkID: enrollment?.settings.networkID.hex,
            enrollment: node != nil ? "enrolled" : (joining != nil ? "joining" : "waiting"),
            interface: configuration.interface.name, backend: deviceBackend?.rawValue ?? configuration.interface.backend.rawValue,
            addresses: overlayInterfaceAddresses.map(\.description), peerCount: node?.members.liveCount ?? 0, membersByState: byState,
            drops: drops, authority: node?.authority != nil, roles: certificate?.roles.names ?? [],
            wireGuardPublicKey: wireGuardKey.publicKey.base64, listenPort: configuration.interface.listenPort,
            gossipPort: configuration.gossip.port,
            gossipEndpoints: node?.localRecord.gossipEndpoints.map(\.description) ?? [],
            wireGuardEndpoints: node?.localRecord.wireGuardEndpoints.map(\.description) ?? [],
            behindNAT: isBehindNAT, recordVersion: node?.localRecord.version, certificateExpiresAt: certificate?.notAfter,
            uptimeSeconds: clock.uptime, version: Meshwork.version, lastError: lastError,
            relay: relay.map { service in
                RelayStatus(
                    allocations: service.allocationCount, forwardedPackets: service.counters.forwardedPackets.load(ordering: .relaxed),
                    forwardedBytes: service.counters.forwardedBytes.load(ordering: .relaxed), dropped: service.counters.dropped.load(ordering: .relaxed))
            },
            linkLocal: configuration.interface.linkLocal ? certificate?.linkLocalAddress.description : nil,
            routes: routeReports().filter { $0.accepted && !IPPrefix.defaultRoutes.map(\.description).contains($0.prefix) }.map {
                StatusRoute(prefix: $0.prefix, active: $0.active, source: $0.source)
            },
            exit: StatusExit(use: "\(exitChoice)", active: exitReport().active))
    }

    /// Refused or discarded input by reason, from every counter (protocol core, agent, paths, relay).
    func dropCounts() -> [String: UInt64] {
        var drops: [String: UInt64] = [:]
        for (reason, count) in node?.drops.counts ?? [:] { drops[reason.rawValue] = count }
        for (reason, count) in agentDrops.counts { drops[reason.rawValue, default: 0] += count }
        for (reason, count) in paths.drops.counts { drops[reason.rawValue, default: 0] += count }
        if let relay { drops[DropReason.relayUnauthorized.rawValue] = relay.counters.unauthorized.load(ordering: .relaxed) }
        return drops
    }

    func peers() -> [PeerReport] {
        guard let node else { return [] }
        let now = clock.now
        return node.members.all.sorted { $0.name < $1.name }.map { member in
            let kernel = lastDeviceState?.peers[member.certificate.wireGuardKey]
            let handshake = kernel?.lastHandshakeTime.map(\.secondsValue)
            let age = handshake.map { max(0, now.secondsValue - $0) }
            var (path, reason) = pathAndReason(member, kernel: kernel, handshakeAge: age)
            var relayName: String?
            switch paths.route(to: member.id) {
            case let .relayed(relayNode, _) where member.status.isLive:
                path = "relay"
                relayName = node.members[relayNode]?.name ?? relayNode.hex
                reason = paths.reason(for: member.id) ?? reason
            case .unreachable where member.status.isLive:
                path = "none"
                reason = paths.reason(for: member.id) ?? reason
            default:
                break
            }
            return PeerReport(
                name: member.name, id: member.id.hex,
                addresses: member.certificate.addresses.map { IPPrefix(host: $0).description },
                endpoint: path == "none" ? nil : kernel?.endpoint?.description, path: path, relay: relayName, reason: reason,
                lastHandshakeSeconds: age.map { ($0 * 10).rounded() / 10 },
                rttMilliseconds: node.roundTrip(to: member.id).map { ($0.seconds * 10_000).rounded() / 10 },
                rxBytes: kernel?.receivedBytes ?? 0, txBytes: kernel?.transmittedBytes ?? 0, state: member.status.description,
                wireGuardKey: member.certificate.wireGuardKey.base64,
                roles: member.certificate.roles.names,
                behindNAT: member.record.flags.contains(.behindNAT), version: member.record.version,
                linkLocal: member.record.announcedPrefixes.contains(IPPrefix(host: member.certificate.linkLocalAddress))
                    ? member.certificate.linkLocalAddress.description : nil)
        }
    }

    /// How traffic to `member` goes, and when it does not, why.
    func pathAndReason(_ member: Member, kernel: WireGuardPeerState?, handshakeAge: Double?) -> (String, String?) {
        switch member.status {
        case .dead: return ("none", "declared dead: direct and indirect probes went unanswered")
        case .left: return ("none", "left the network")
        case .revoked: return ("none", "revoked by the network authority")
        case .alive, .suspect: break
        }
        guard let kernel else { return ("none", "not configured in WireGuard yet") }
        guard let endpoint = kernel.endpoint else {
            let families = member.record.wireGuardEndpoints.map { $0.endpoint.address.isIPv4 ? "IPv4" : "IPv6" }
            return ("none", families.isEmpty
                ? "it announces no WireGuard endpoint"
                : "none of its endpoints (\(Set(families).sorted().joined(separator: ", "))) is reachable from this host's address families")
        }
        if let age = handshakeAge, age < 180 {
            return ("direct", member.status == .suspect ? "suspected: recent probes went unanswered" : nil)
        }
        if kernel.transmittedBytes > 0, handshakeAge == nil {
            return ("none", "no WireGuard handshake answer from \(endpoint) yet")
        }
        return ("direct", handshakeAge == nil ? "no traffic yet" : "idle: no handshake for \(Int(handshakeAge ?? 0)) s")
    }

    // MARK: Operator commands

    func initNetwork(_ request: InitializeRequest) throws -> EnrollResult {
        guard enrollment == nil else {
            throw CommandFailure("this node is already a member of network \(enrollment?.settings.name ?? "?"); run `meshctl leave` first, or use another --state-dir")
        }
        let network = request.network
        if let problem = NodeName.problem(network) { throw CommandFailure("--network: \(problem)") }
        let ipv4: IPPrefix
        do { ipv4 = try IPPrefix(parsing: request.prefix) } catch { throw CommandFailure("--prefix: \(error)") }
        guard ipv4.address.isIPv4, ipv4.length <= 30 else { throw CommandFailure("--prefix must be an IPv4 prefix of /30 or larger, e.g. 100.80.0.0/16") }
        var ipv6: IPPrefix?
        if let text = request.prefix6 {
            do { ipv6 = try IPPrefix(parsing: text) } catch { throw CommandFailure("--prefix6: \(error)") }
            guard let v6 = ipv6, !v6.address.isIPv4, v6.length <= 120 else { throw CommandFailure("--prefix6 must be an IPv6 prefix of /120 or larger, e.g. fd5a:1::/48") }
        }
        let name = request.name ?? Self.defaultNodeName()
        if let problem = NodeName.problem(name) { throw CommandFailure("--name: \(problem)") }
        let now = clock.now
        let authorityKey = Ed25519PrivateKey()
        let settings = try NetworkSettings(
            networkID: .random(), name: network, authority: authorityKey, ipv4Prefix: ipv4, ipv6Prefix: ipv6,
            gossipPort: configuration.gossip.port, wireGuardPort: configuration.interface.listenPort, createdAt: now.seconds)
        var service = AuthorityService(settings: settings, key: authorityKey)
        let addresses = [AuthorityService.address(in: ipv4, index: 1), ipv6.flatMap { AuthorityService.address(in: $0, index: 1) }].compactMap { $0 }
        let certificate = try service.issueCertificate(
            name: name, identityKey: identity.publicKey, wireGuardKey: wireGuardKey.publicKey, addresses: addresses, routes: [],
            roles: [.authority, .relay], now: now)
        try state.saveAuthorityKey(authorityKey)
        try state.saveAuthority(service)
        let enrollment = Enrollment(settings: settings, certificate: certificate)
        try state.saveEnrollment(enrollment)
        try startNode(enrollment, contact: nil)
        logger.notice("network created", metadata: ["network": "\(network)", "node": "\(name)", "addresses": "\(addresses)"])
        return EnrollResult(name: name, network: network, addresses: overlayInterfaceAddresses.map(\.description))
    }

    func invite(_ request: InviteRequest) throws -> InviteResult {
        guard let node else { throw CommandFailure("this node is not a member of a network yet: run `meshctl init` first") }
        guard var service = node.authority else {
            throw CommandFailure("this node does not hold the network authority: run `meshctl invite` on the node where `meshctl init` ran")
        }
        let name = request.name
        var address: IPAddress?
        if let text = request.address {
            guard let parsed = IPAddress(text) else { throw CommandFailure("--address: \"\(text)\" is not an IP address") }
            address = parsed
        }
        var routes: [IPPrefix] = []
        for text in request.routes ?? [] {
            do { routes.append(try IPPrefix(parsing: text)) } catch { throw CommandFailure("--route: \(error)") }
        }
        var endpoints: [SocketEndpoint] = []
        for text in request.endpoints ?? [] {
            guard let endpoint = SocketEndpoint(text) else {
                throw CommandFailure("--endpoint: \"\(text)\" is not an endpoint; write ADDRESS:PORT or [IPv6]:PORT")
            }
            endpoints.append(endpoint)
        }
        if endpoints.isEmpty {
            endpoints = node.localRecord.gossipEndpoints.sorted { $0.kind > $1.kind }.map(\.endpoint)
        }
        guard !endpoints.isEmpty else {
            throw CommandFailure("this node announces no endpoint other hosts could use to reach it: pass --endpoint HOST:PORT")
        }
        let token = try service.invite(
            name: name, ttl: request.ttlSeconds ?? 3600, address: address, roles: NodeRoles(request.relay == true ? [.relay] : []).union(request.exit == true ? [.exit] : []),
            routes: routes, bootstrapKey: identity.publicKey, bootstrapEndpoints: Array(endpoints.prefix(8)), now: clock.now)
        node.authority = service
        saveAuthority()
        let invitation = service.invitations.values.first { $0.id == token.invitationID }
        logger.notice("invitation created", metadata: ["name": "\(name)", "expires": "\(token.expiresAt)"])
        return InviteResult(
            token: token.text, name: name, addresses: invitation?.addresses.map(\.description) ?? [], expiresAt: token.expiresAt,
            bootstrapEndpoints: token.bootstrapEndpoints.map(\.description))
    }

    func revoke(name: String) throws -> NoResult {
        guard let node, var service = node.authority else {
            throw CommandFailure("this node does not hold the network authority: run `meshctl revoke` on the node where `meshctl init` ran")
        }
        guard name != enrollment?.certificate.name else { throw CommandFailure("the authority node cannot revoke itself") }
        let revocation = try service.revoke(name: name, now: clock.now)
        node.authority = service
        node.addRevocation(revocation, now: clock.now)
        saveAuthority()
        snapshotDirty = true
        reconcileSoon()
        drain()
        logger.notice("node revoked", metadata: ["name": "\(name)"])
        return NoResult()
    }

    func leave(reply: @Sendable (String) async -> Void) async {
        guard let node else { return await reply(Self.failure("this node is not a member of a network")) }
        guard node.authority == nil else {
            return await reply(Self.failure("this node holds the network authority; it cannot leave its own network (revoke other nodes instead)"))
        }
        node.leave(now: clock.now)
        drain()
        await reply(Self.progress("leaving: telling the other members"))
        // Let the tombstone's pushes and retransmissions go out.
        for _ in 0..<AgentTiming.leaveFlushTurns {
            try? await Task.sleep(for: AgentTiming.leaveFlushTurn)
            node.tick(now: clock.now)
            drain()
        }
        wakeTask?.cancel()
        wakeTask = nil
        self.node = nil  // no reconcile from here on
        interfaceRemovalRequested = true
        askForDeviceTurn()
        await waitForState { !self.interfaceRemovalRequested }
        state.archiveEnrollment()
        self.enrollment = nil
        pathCore.resetDevicePlan()
        logger.notice("left the network")
        await reply(Self.encode(ControlReply(ok: true, result: NoResult())))
    }

    static func defaultNodeName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        let host = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let dashed = host.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }.prefix(63)
        let cleaned = String(dashed.drop(while: { $0 == "-" }).reversed().drop(while: { $0 == "-" }).reversed())
        return NodeName.problem(cleaned) == nil ? cleaned : "authority"
    }
}
