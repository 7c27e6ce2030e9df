import Logging
import MeshAgentCore
import MeshCore
import NIOPosix
import WireGuardControl

/// `routing.mode: daemon` (issue 13): a routing daemon's routes through members become their
/// allowed IPs (``DaemonRouteChoice``), and members' overlay addresses are exported for it.
extension Agent {
    /// Waits for route changes (rtnetlink) and has the device loop re-read the daemon's table at
    /// once; every ``AgentTiming/daemonRouteCheckInterval`` anyway, in case a notification was
    /// lost. Idle (until cancelled) unless `routing.mode` is daemon.
    func routingDaemonLoop() async {
        guard configuration.routing.mode == .daemon else {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            return
        }
        let monitor: AddressChangeMonitor
        do {
            monitor = try AddressChangeMonitor(namespace: configuration.interface.netns, watching: .routes)
        } catch {
            logger.warning("no rtnetlink route notifications here; reading the daemon's routes every second", metadata: ["error": "\(error)"])
            while !Task.isCancelled {
                daemonRoutesMayHaveChanged()
                try? await Task.sleep(for: AgentTiming.daemonRouteCheckInterval)
            }
            return
        }
        routeThread.start()
        let timeout = Int32(AgentTiming.daemonRouteCheckInterval.components.seconds * 1000)
        await withTaskCancellationHandler {
            while !Task.isCancelled {
                let outcome = (try? await routeThread.runIfActive { monitor.wait(timeoutMilliseconds: timeout) }) ?? .interrupted
                guard outcome != .interrupted, !Task.isCancelled else { continue }
                daemonRoutesMayHaveChanged()
            }
        } onCancel: {
            monitor.interrupt()
        }
    }

    /// Marks the daemon's routes for a re-read at the device loop's next turn, and asks for one.
    func daemonRoutesMayHaveChanged() {
        guard node != nil else { return }
        daemonRoutesStale = true
        reconcileNow(clock.now)
    }

    /// Re-reads the daemon's routes when they may have changed. Device loop only, before planning.
    func readDaemonRoutes() async {
        guard configuration.routing.mode == .daemon, daemonRoutesStale else { return }
        daemonRoutesStale = false
        do {
            pathCore.daemonRoutes.observed = try await device.daemonRoutes(table: configuration.routing.table, ownProto: configuration.routes.proto)
        } catch {
            daemonRoutesStale = true
            logger.error("cannot read the routing daemon's routes; retrying at the next reconcile", metadata: ["error": "\(error)"])
        }
    }

    /// Logs the daemon routes whose member changed and counts those refused (``DevicePlan``).
    func reportDaemonRoutes(_ plan: DevicePlan) {
        for change in plan.daemonRoutesChanged {
            logger.notice("routing daemon's route", metadata: [
                "prefix": "\(change.prefix)", "member": "\(change.member.map(memberName) ?? "none")", "reason": "\(change.reason)",
            ])
        }
        for refusal in plan.refusedDaemonRoutes {
            agentDrops.count(.daemonRouteRefused)
            logger.warning("not routing a prefix through a member: the routing daemon's next hop may not carry it", metadata: [
                "prefix": "\(refusal.prefix)", "reason": "\(refusal.reason)",
            ])
        }
        if plan.ignoredDaemonRoutes > 0 {
            agentDrops.count(.daemonRouteRefused, by: UInt64(plan.ignoredDaemonRoutes))
            logger.warning("the routing daemon routes more prefixes through members than meshd follows; the rest are ignored", metadata: [
                "ignored": "\(plan.ignoredDaemonRoutes)", "maximum": "\(DaemonRouteChoice.maximumRoutes)",
            ])
        }
    }

    /// The routes exported for the daemon: every live member's overlay addresses (host routes,
    /// not link-local ones) through the mesh interface.
    var exportedRoutes: Set<IPPrefix> {
        guard configuration.routing.mode == .daemon, configuration.routing.exportTable != 0, let node else { return [] }
        var prefixes = Set<IPPrefix>()
        for member in node.members.all where member.id != node.id && member.status.isLive {
            for prefix in member.record.announcedPrefixes where !IPPrefix.linkLocalIPv6.contains(prefix) { prefixes.insert(prefix) }
        }
        return prefixes
    }

    /// Makes the export table hold exactly ``exportedRoutes`` (proto `routes.proto`). Device
    /// loop only, after the plan is applied.
    func syncExportedRoutes() async {
        let routing = configuration.routing
        guard routing.mode == .daemon, routing.exportTable != 0 else { return }
        let wanted = exportedRoutes
        guard wanted != exportApplied else { return }
        if await syncRouteTable(wanted, table: routing.exportTable, what: "exported routes") { exportApplied = wanted }
    }
}
