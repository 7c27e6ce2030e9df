import MeshAgentCore
import MeshCore
import MeshControl
import WireGuardControl

extension RouteChoice.Settings {
    /// The route choice that `routes` configures (`routes.accept`, `preempt`, `hold_down`), and
    /// the exit used.
    init(_ routes: MeshdConfiguration.Routes, exit: RouteChoice.ExitChoice) {
        self.init()
        switch routes.accept {
        case .none: acceptance = .none
        case .all: acceptance = .all
        case let .within(prefixes): acceptance = .within(prefixes)
        }
        preempt = routes.preempt
        holdDown = .seconds(Double(routes.holdDownSeconds))
        self.exit = exit
    }
}

extension Agent {
    /// The routes this node serves now (`routes.serve` less those whose health check fails, as
    /// last checked by ``checkServedRoutes()``; MeshCore signs only those inside the certificate's
    /// route grant).
    var servedRoutes: [ServedRoute] { currentServedRoutes }

    /// Re-checks the served routes' health and, when that changes what is served, announces at
    /// once: peers move the prefix to another gateway on the new record. `readLinks`: the links may
    /// have changed (an rtnetlink notification, a reload, the start); after a ping round only the
    /// targets did, and the links are as last read.
    func checkServedRoutes(readLinks: Bool = true) {
        let configured = configuration.servedRoutes.map {
            ServedRouteHealth.Configured(
                route: ServedRoute(prefix: $0.prefix, priority: $0.priority), link: $0.checkInterface, target: $0.checkTarget,
                timeout: .milliseconds(Double($0.checkTimeoutMilliseconds)))
        }
        if readLinks { servedRouteLinks = configured.contains { $0.link != nil } ? LinkState.current() : [:] }
        let (served, changed) = routeHealth.evaluate(configured, links: servedRouteLinks, now: clock.now)
        for change in changed {
            if let reason = change.withdrawn {
                logger.warning("withdrawing a served route", metadata: ["prefix": "\(change.prefix)", "reason": "\(reason)"])
            } else {
                logger.notice("serving a route again", metadata: ["prefix": "\(change.prefix)"])
            }
        }
        guard served != currentServedRoutes else { return }
        currentServedRoutes = served
        announceIfChanged()
    }

    /// Makes meshd's kernel routes (table `routes.table`, proto `routes.proto`, through the mesh
    /// interface) the accepted prefixes that have a gateway now; with `routes.accept` off, removes
    /// every route meshd installed and nothing else. (The default routes through an exit go in a
    /// table of their own: ``syncExitRouting()``.) Device loop only, after the plan is applied.
    func syncKernelRoutes() async {
        let routes = configuration.routes
        let wanted = routes.accept == .none ? Set<IPPrefix>() : Set(pathCore.routes.routed.filter { !$0.isDefault })
        guard !wanted.isEmpty || kernelRoutesInstalled else { return }
        if await syncRouteTable(wanted, table: routes.table, what: "kernel routes") { kernelRoutesInstalled = !wanted.isEmpty }
    }

    /// Makes meshd's routes through the mesh interface in `table` (proto `routes.proto`) exactly
    /// `wanted`, logging what changed as `what`; whether it succeeded (else it is logged and retried
    /// at the next reconcile).
    func syncRouteTable(_ wanted: Set<IPPrefix>, table: UInt32, what: String) async -> Bool {
        do {
            let (added, removed) = try await device.syncRoutes(wanted, table: table, proto: configuration.routes.proto)
            if !added.isEmpty || !removed.isEmpty {
                logger.info("\(what) updated", metadata: [
                    "added": "\(added.map(\.description).joined(separator: " "))", "removed": "\(removed.map(\.description).joined(separator: " "))",
                    "table": "\(table)",
                ])
            }
            return true
        } catch {
            logger.error("cannot update \(what); retrying at the next reconcile", metadata: ["error": "\(error)", "table": "\(table)"])
            return false
        }
    }
}

extension Agent {
    /// The gateways of one chosen prefix as `meshctl routes` and `meshctl exit` show them.
    func gatewayReports(_ entry: RouteChoice.Prefix) -> [RouteReport.Gateway] {
        entry.gateways.map { gateway in
            RouteReport.Gateway(
                name: memberName(gateway.member), priority: Int(gateway.priority),
                state: gateway.member == entry.active ? "active" : gateway.problem != nil ? "down" : "standby", reason: gateway.problem)
        }
    }

    /// `meshctl routes`: every prefix a member serves (accepted here or not) and those this node
    /// serves itself, with gateways, the active one and why.
    func routeReports() -> [RouteReport] {
        guard let node else { return [] }
        let now = clock.now
        let choice = pathCore.routes
        let acceptance = choice.settings.acceptance
        var reports: [RouteReport] = []
        var known = Set<IPPrefix>()
        for (prefix, entry) in choice.prefixes {
            known.insert(prefix)
            let gateways = gatewayReports(entry)
            reports.append(RouteReport(
                prefix: "\(prefix)", active: entry.active.map(memberName), reason: entry.reason, sinceSeconds: max(0, (now - entry.since).seconds),
                gateways: gateways, servedHere: false, accepted: true))
        }
        // Prefixes not taken here: not accepted, served by this node, or refused for safety.
        var others: [IPPrefix: [RouteReport.Gateway]] = [:]
        for member in node.members.all where member.id != node.id {
            for route in member.record.servedRoutes where !known.contains(route.prefix) {
                let state = member.status.isLive ? "standby" : "down"
                others[route.prefix, default: []].append(RouteReport.Gateway(
                    name: member.name, priority: Int(route.priority), state: state, reason: member.status.isLive ? nil : "is \(member.status)"))
            }
        }
        let own = Set(configuration.servedRoutes.map(\.prefix))
        for prefix in own where others[prefix] == nil && !known.contains(prefix) { others[prefix] = [] }
        for (prefix, gateways) in others {
            let servedHere = own.contains(prefix)
            let accepted = acceptance.accepts(prefix)
            let withdrawn = routeHealth.withdrawn[prefix]
            let reason = withdrawn.map { "withdrawn by this node: \($0.reason)" }
                ?? (servedHere ? "served by this node" : !accepted ? "not accepted (routes.accept)" : "refused: covers a member's address or this host's own")
            reports.append(RouteReport(
                prefix: "\(prefix)", active: servedHere && withdrawn == nil ? "this node" : nil, reason: reason,
                sinceSeconds: withdrawn.map { max(0, (now - $0.since).seconds) } ?? 0,
                gateways: gateways.sorted { ($0.priority, $1.name) > ($1.priority, $0.name) }, servedHere: servedHere, accepted: accepted && !servedHere))
        }
        reports += daemonRouteReports(node: node)
        return reports.sorted { $0.prefix < $1.prefix }
    }

    /// The routing daemon's routes through members (`routing.mode: daemon`): the next hops as
    /// gateways, the member carrying each prefix, and why.
    func daemonRouteReports(node: MeshNode) -> [RouteReport] {
        pathCore.daemonRoutes.chosen.values.map { entry in
            let gateways = entry.nextHops.map { id in
                let status = node.members[id]?.status
                let state = id == entry.member ? "active" : status?.isLive == true ? "standby" : "down"
                return RouteReport.Gateway(name: memberName(id), priority: 0, state: state, reason: status.map { $0.isLive ? nil : "is \($0)" } ?? nil)
            }
            return RouteReport(
                prefix: "\(entry.prefix)", active: entry.member.map(memberName), reason: entry.reason, sinceSeconds: 0, gateways: gateways,
                servedHere: false, accepted: entry.member != nil, source: "daemon")
        }
    }
}

extension Agent {
    /// Makes forwarding and the gateway table match the routes this node serves now (those its
    /// record carries: configured and inside its grant). Applied when they change; the first time
    /// in a run also when nothing is served (a table left by an earlier run goes), without
    /// complaint then if nftables is missing. Device loop only.
    func syncGateway() async {
        guard let node else { return }
        let prefixes = node.localRecord.servedRoutes.map(\.prefix).sorted { "\($0)" < "\($1)" }
        let masquerade = configuration.routes.masquerade
        if let applied = gatewayApplied, applied.prefixes == prefixes, applied.masquerade == masquerade { return }
        do {
            try await device.configureGateway(prefixes: prefixes, masquerade: masquerade, scratch: configuration.stateDirectory + "/gateway.nft")
            if !prefixes.isEmpty || gatewayApplied != nil {
                logger.info("gateway forwarding updated", metadata: [
                    "served": "\(prefixes.map(\.description).joined(separator: " "))", "masquerade": "\(masquerade)",
                ])
            }
            gatewayApplied = (prefixes, masquerade)
        } catch {
            if prefixes.isEmpty, gatewayApplied == nil {
                gatewayApplied = (prefixes, masquerade)  // nothing served, nothing known to clean up
                return
            }
            logger.error("cannot set up forwarding for served routes; retrying at the next reconcile", metadata: ["error": "\(error)"])
        }
    }
}
