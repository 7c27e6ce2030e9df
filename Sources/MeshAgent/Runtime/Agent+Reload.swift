import Logging
import MeshAgentCore

extension Agent {
    /// Applies a re-read configuration: what can change live (announced endpoints, excluded
    /// networks) takes effect; what needs a restart (interface, ports, backend, state directory) is
    /// reported.
    public func reload(_ updated: MeshdConfiguration) {
        var restartNeeded: [String] = []
        if updated.interface != configuration.interface { restartNeeded.append("interface") }
        if updated.gossip != configuration.gossip { restartNeeded.append("gossip") }
        if updated.underlay != configuration.underlay { restartNeeded.append("underlay") }
        if updated.routing != configuration.routing { restartNeeded.append("routing") }
        if updated.stateDirectory != configuration.stateDirectory { restartNeeded.append("state_dir") }
        if updated.controlSocket != configuration.controlSocket { restartNeeded.append("control_socket") }
        if !restartNeeded.isEmpty {
            logger.warning("these settings change only with a restart of meshd", metadata: ["keys": "\(restartNeeded.joined(separator: ", "))"])
        }
        if updated.routes != configuration.routes || updated.exit != configuration.exit {
            // A changed `exit.use` replaces `meshctl exit use`'s choice.
            if updated.exit.use != configuration.exit.use { exitOverride = nil }
            configuration.routes = updated.routes
            configuration.exit = updated.exit
            pathCore.routes.settings = RouteChoice.Settings(updated.routes, exit: exitOverride ?? .init(updated.exit.use))
            applySocketMark()
            checkServedRoutes()
            routeReloaded.yield()
            announceIfChanged()
            reconcileNow(clock.now)
            logger.notice("route settings reloaded")
        }
        if updated.endpoints != liveEndpoints {
            liveEndpoints = updated.endpoints
            localAddresses = LocalAddresses.current(excludingInterface: configuration.interface.name, excludedNetworks: liveEndpoints.excludeNetworks)
            announceIfChanged()
            logger.notice("endpoint settings reloaded")
        }
    }
}
