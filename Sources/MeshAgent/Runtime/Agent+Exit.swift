import MeshAgentCore
import MeshControl
import MeshCore
import WireGuardControl

extension RouteChoice.ExitChoice {
    /// The choice `exit.use` configures.
    init(_ use: MeshdConfiguration.Exit.Use) {
        switch use {
        case .none: self = .none
        case .auto: self = .auto
        case let .member(name): self = .member(name)
        }
    }
}

extension Agent {
    /// The fwmark WireGuard and meshd mark their packets with while an exit is used and
    /// `interface.fwmark` is 0 (wg-quick's choice).
    static let exitFwmark: UInt32 = 51820

    /// The exit this node uses now: `meshctl exit use`'s choice, else `exit.use`.
    var exitChoice: RouteChoice.ExitChoice { pathCore.routes.settings.exit }

    /// The fwmark of WireGuard's and meshd's own packets: `interface.fwmark`, or ``exitFwmark``
    /// while an exit is chosen and none is configured (0: unmarked).
    var underlayMark: UInt32 {
        if configuration.interface.fwmark != 0 { return configuration.interface.fwmark }
        return exitChoice == .none ? 0 : Self.exitFwmark
    }

    /// Marks the gossip and relay sockets with ``underlayMark`` when it changed: their packets
    /// then leave by the host's real routes while the default route points into the mesh.
    func applySocketMark() {
        let mark = underlayMark
        guard mark != socketMark else { return }
        let failure = transport.setMark(mark)
        relay?.setMark(mark)
        if failure != 0 {
            logger.error("cannot mark meshd's sockets (SO_MARK needs CAP_NET_ADMIN): gossip may follow the exit's route", metadata: [
                "mark": "\(mark)", "errno": "\(failure)",
            ])
        }
        socketMark = mark
    }

    /// `meshctl exit use`: takes effect at once and lasts until meshd restarts or a reload changes
    /// `exit.use`. Throws for a name that is not a member's.
    func useExit(_ text: String) throws(CommandFailure) -> ExitReport {
        guard let choice = RouteChoice.ExitChoice(text) else {
            throw CommandFailure("\"\(text)\" is not none, auto or a member's name")
        }
        if case let .member(name) = choice {
            guard let member = node?.members.all.first(where: { $0.name == name }) else {
                throw CommandFailure("no member is named \(name) (meshctl peers lists them)")
            }
            guard member.certificate.roles.contains(.exit) else {
                throw CommandFailure("\(name) is not an exit node: its certificate has no exit role (meshctl invite NAME --exit)")
            }
        }
        exitOverride = choice
        pathCore.routes.settings.exit = choice
        applySocketMark()
        logger.notice("exit choice changed", metadata: ["use": "\(choice)"])
        reconcileNow(clock.now)
        return exitReport()
    }

    /// `meshctl exit`: the exit used, why, and every member serving the default routes.
    func exitReport() -> ExitReport {
        let choice = pathCore.routes.prefixes[.defaultIPv4] ?? pathCore.routes.prefixes[.defaultIPv6]
        var exits: [RouteReport.Gateway] = []
        if let choice {
            exits = gatewayReports(choice)
        } else if let node {
            for member in node.members.all where member.id != node.id && member.certificate.roles.contains(.exit) {
                guard let route = member.record.servedRoutes.first(where: { $0.prefix.isDefault }) else { continue }
                exits.append(RouteReport.Gateway(
                    name: member.name, priority: Int(route.priority), state: member.status.isLive ? "standby" : "down",
                    reason: member.status.isLive ? nil : "is \(member.status)"))
            }
            exits.sort { ($0.priority, $1.name) > ($1.priority, $0.name) }
        }
        let reason = exitChoice == .none ? "not using an exit (exit use none)" : choice?.reason ?? "no exit serves the default routes"
        return ExitReport(
            use: "\(exitChoice)", active: choice?.active.map(memberName), reason: reason,
            sinceSeconds: choice.map { max(0, (clock.now - $0.since).seconds) } ?? 0, exits: exits,
            serving: node?.localRecord.servedRoutes.contains { $0.prefix.isDefault } ?? false, fwmark: underlayMark,
            table: configuration.exit.table)
    }

    /// Makes the default routes through the exit (in `exit.table`, proto `routes.proto`) and the
    /// policy rules that select them for unmarked packets (wg-quick's technique: `not fwmark M
    /// lookup T`, preceded by `lookup main suppress_prefixlength 0` so the host's more specific
    /// routes, the mesh's own included, still win) match the exit in use; removes them when none
    /// is. Device loop only, after the plan is applied (the exit is in its peer's allowed IPs).
    func syncExitRouting() async {
        let prefixes = exitChoice == .none ? [] : pathCore.routes.routed.filter(\.isDefault)
        guard !prefixes.isEmpty || exitRoutingInstalled else { return }
        do {
            let changed = try await device.syncExit(
                Set(prefixes), table: configuration.exit.table, mark: underlayMark, proto: configuration.routes.proto)
            exitRoutingInstalled = !prefixes.isEmpty
            if changed {
                logger.info("exit routing updated", metadata: [
                    "through": "\(pathCore.routes.active(for: .defaultIPv4).map(memberName) ?? "none")",
                    "families": "\(prefixes.map(\.description).sorted().joined(separator: " "))", "table": "\(configuration.exit.table)",
                ])
            }
        } catch {
            if prefixes.isEmpty {
                // Nothing wanted and nothing readable to clean up (a host without policy routing
                // for a family): not an error at every reconcile.
                exitRoutingInstalled = false
                logger.debug("cannot list policy rules to clean up after an exit", metadata: ["error": "\(error)"])
                return
            }
            logger.error("cannot update the exit's routes and rules; retrying at the next reconcile", metadata: ["error": "\(error)"])
        }
    }
}
