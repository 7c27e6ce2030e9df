import MeshAgentCore
import MeshCore

extension Agent {
    /// Tells systemd (``SystemdNotifier``) when meshd is ready — its control socket listens (it
    /// is bound before the agent runs) and, once enrolled, the first configuration of the
    /// WireGuard interface finished — then keeps a `STATUS=` line current and, with a watchdog,
    /// sends `WATCHDOG=1` at half its interval from this actor (a hung agent stops feeding it).
    /// Idle until cancelled without `NOTIFY_SOCKET`.
    func systemdLoop() async {
        guard notifier.isEnabled else {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            return
        }
        while !Task.isCancelled, node != nil, !reconciledOnce { try? await Task.sleep(for: .milliseconds(20)) }
        guard !Task.isCancelled else { return }
        var status = systemdStatus
        notifier.notify("READY=1\nSTATUS=\(status)")
        logger.debug("told systemd meshd is ready", metadata: ["status": "\(status)"])
        let period = notifier.watchdogInterval.map { min($0 / 2, AgentTiming.systemdStatusInterval) } ?? AgentTiming.systemdStatusInterval
        while !Task.isCancelled {
            try? await Task.sleep(for: period)
            guard !Task.isCancelled else { return }
            let current = systemdStatus
            var lines: [String] = []
            if notifier.watchdogInterval != nil { lines.append("WATCHDOG=1") }
            if current != status { lines.append("STATUS=\(current)") }
            status = current
            if !lines.isEmpty { notifier.notify(lines.joined(separator: "\n")) }
        }
    }

    /// One line for `systemctl status`: peers alive and relayed, or what meshd waits for.
    var systemdStatus: String {
        guard let node else { return joining != nil ? "joining a network" : "waiting for meshctl init or meshctl join" }
        let live = node.members.all.filter { $0.id != node.id && $0.status.isLive }
        let relayed = live.filter { if case .relayed = pathCore.paths.route(to: $0.id) { return true } else { return false } }.count
        let unreachable = live.filter { if case .unreachable = pathCore.paths.route(to: $0.id) { return true } else { return false } }.count
        var text = "\(live.count) peer\(live.count == 1 ? "" : "s") alive, \(relayed) relayed"
        if unreachable > 0 { text += ", \(unreachable) without a path" }
        if let lastError { text += "; WireGuard: \(lastError)" }
        return text
    }
}
