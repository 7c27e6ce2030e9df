import MeshAgentCore
import MeshControl
import MeshCore
import NIOPosix

/// `meshctl ping NAME` (issue 14): probes one member, once a second, over the path in use — an ICMP
/// echo to its overlay address, through WireGuard, whichever way WireGuard sends (direct or through
/// the relay) — and over the direct path, meshd to meshd on the underlay (a path probe on the
/// gossip channel). Each probe's answer is streamed as it comes; the report ends with the reason
/// when nothing answered.
extension Agent {
    /// Probe sequences of `ping` (the path manager's own probes count up from 0; these have the
    /// top bit set, and an answer is taken only from the member probed).
    static let pingSequenceBase: UInt32 = 0x8000_0000

    func ping(_ request: PingRequest, reply: @Sendable (String) async -> Void) async {
        guard let node else {
            await reply(Self.failure("this node is not a member of a network yet"))
            return
        }
        guard let member = node.members.all.first(where: { $0.name == request.name }) else {
            await reply(Self.failure("\(request.name) is not a member of network \(enrollment?.settings.name ?? "?") (meshctl peers lists the members)"))
            return
        }
        guard member.id != node.id else {
            await reply(Self.failure("\(request.name) is this node"))
            return
        }
        let count = min(100, max(1, request.count ?? 3))
        let paths = request.path ?? .both
        let address = member.certificate.addresses.first { $0.isIPv4 } ?? member.certificate.addresses.first
        var report = PingReport(name: member.name, address: address.map { "\($0)" }, probes: [], received: 0, reason: nil)
        if !member.status.isLive {
            let kernel = lastDeviceState?.peers[member.certificate.wireGuardKey]
            report.reason = pathAndReason(member, kernel: kernel, handshakeAge: nil).1 ?? "\(member.name) is \(member.status)"
            await reply(Self.encode(ControlReply(ok: true, result: report)))
            return
        }
        var notes: [String] = []
        var prober: EchoProber?
        let probeThread = NIOThreadPool(numberOfThreads: 1)
        if paths != .direct {
            if let netns = configuration.interface.netns {
                notes.append("the path in use is not probed: the mesh interface lives in namespace \(netns), meshd does not")
            } else {
                do { prober = try EchoProber() } catch { notes.append("the path in use is not probed: \(error)") }
                if prober != nil { probeThread.start() }
            }
        }
        for round in 1...count {
            let started = ContinuousClock.now
            if let prober, let address {
                let path = pathInUse(to: member)
                let rtt = await echo(address, round: round, prober: prober, thread: probeThread)
                let probe = PingReport.Probe(round: round, kind: "in-use", path: path, rttMilliseconds: rtt)
                report.probes.append(probe)
                await reply(Self.progress(probe.line(member: member.name)))
            }
            if paths != .inUse {
                let target = self.node?.lastEndpoint(of: member.id).map { "direct \($0)" } ?? "direct (no gossip endpoint known)"
                let rtt = await probeDirect(member.id, round: round)
                let probe = PingReport.Probe(round: round, kind: "direct", path: target, rttMilliseconds: rtt)
                report.probes.append(probe)
                await reply(Self.progress(probe.line(member: member.name)))
            }
            if round < count {
                let rest = Duration.seconds(1) - (ContinuousClock.now - started)
                if rest > .zero { try? await Task.sleep(for: rest) }
                if Task.isCancelled { break }
            }
        }
        try? await probeThread.shutdownGracefully()
        // Replies that count: the path traffic takes (the direct probes only when they were all).
        let counted = report.probes.contains { $0.kind == "in-use" } ? report.probes.filter { $0.kind == "in-use" } : report.probes
        report.received = counted.filter { $0.rttMilliseconds != nil }.count
        report.reason = pingReason(member.id, report: report, notes: notes)
        await reply(Self.encode(ControlReply(ok: true, result: report)))
    }

    /// The path in use to `member`, in words (`via relay bravo`, `direct 198.51.100.2:51820`).
    private func pathInUse(to member: Member) -> String {
        if case let .relayed(relay, _) = paths.route(to: member.id) { return "via relay \(memberName(relay))" }
        if let endpoint = lastDeviceState?.peers[member.certificate.wireGuardKey]?.endpoint { return "direct \(endpoint)" }
        return "direct (no WireGuard endpoint yet)"
    }

    /// One ICMP echo to `address` through the tunnel; its round trip in milliseconds, nil without
    /// an answer within a second.
    private func echo(_ address: IPAddress, round: Int, prober: EchoProber, thread: NIOThreadPool) async -> Double? {
        let started = ContinuousClock.now
        let answered = try? await thread.runIfActive { prober.round(targets: [address], sequence: UInt16(truncatingIfNeeded: round), waitMilliseconds: 1000) }
        guard answered?.contains(address) == true else { return nil }
        return (ContinuousClock.now - started).secondsValue * 1000
    }

    /// One path probe to `member`'s meshd on the gossip channel (its direct underlay endpoint);
    /// its round trip in milliseconds, nil without an answer within a second.
    private func probeDirect(_ member: NodeID, round: Int) async -> Double? {
        pingCounter &+= 1
        let sequence = Self.pingSequenceBase | (pingCounter & 0x7FFF_FFFF)
        let started = ContinuousClock.now
        send(.pathProbe(sequence: sequence), to: member, now: clock.now)
        drain()
        let answered = await withCheckedContinuation { continuation in
            pingWaiters[sequence] = (member, continuation)
            ownedWork.start {
                try? await Task.sleep(for: .seconds(1))
                await self.pingAnswered(sequence, from: nil)
            }
        }
        return answered ? (ContinuousClock.now - started).secondsValue * 1000 : nil
    }

    /// An answer to a `ping` probe (`from`), or its timeout (nil). Returns whether `sequence` was
    /// one of `ping`'s (then the path manager has nothing to do with it).
    @discardableResult
    func pingAnswered(_ sequence: UInt32, from sender: NodeID?) -> Bool {
        guard sequence & Self.pingSequenceBase != 0, let waiter = pingWaiters[sequence] else { return false }
        guard sender == nil || sender == waiter.member else {
            agentDrops.count(.unexpectedAck)  // not the member probed
            return true
        }
        pingWaiters[sequence] = nil
        waiter.continuation.resume(returning: sender != nil)
        return true
    }

    /// Why nothing answered, or what could not be probed (nil when every probe was answered).
    private func pingReason(_ member: NodeID, report: PingReport, notes: [String]) -> String? {
        let inUse = report.probes.filter { $0.kind == "in-use" }, direct = report.probes.filter { $0.kind == "direct" }
        let inUseAnswered = inUse.contains { $0.rttMilliseconds != nil }, directAnswered = direct.contains { $0.rttMilliseconds != nil }
        var reasons = notes
        guard let node, let target = node.members[member] else { return reasons.first }
        let kernel = lastDeviceState?.peers[target.certificate.wireGuardKey]
        let age = kernel?.lastHandshakeTime.map { max(0, clock.now.secondsValue - $0.secondsValue) }
        let why = paths.reason(for: member) ?? pathAndReason(target, kernel: kernel, handshakeAge: age).1
        if !inUse.isEmpty, !inUseAnswered {
            if directAnswered {
                reasons.append("WireGuard unanswered while \(target.name)'s meshd answers on the underlay: a firewall in front of its WireGuard port, "
                    + "or its interface down" + (why.map { " (\($0))" } ?? ""))
            } else {
                reasons.append(why ?? "neither WireGuard nor \(target.name)'s meshd answer: down, or cut off from this host and every relay")
            }
        }
        if !direct.isEmpty, !directAnswered, inUseAnswered {
            reasons.append("the direct path does not answer" + (why.map { ": \($0)" } ?? "") + "; traffic takes the path in use")
        } else if !direct.isEmpty, !directAnswered, inUse.isEmpty {
            reasons.append(why ?? "\(target.name)'s meshd does not answer on the direct path")
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }
}
