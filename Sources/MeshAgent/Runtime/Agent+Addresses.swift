import MeshAgentCore
import MeshCore
import NIOPosix
import WireGuardControl

extension Agent {
    /// Re-reads the local addresses when rtnetlink says links or addresses changed (and every
    /// ``AgentTiming/addressCheckInterval`` anyway, in case a notification was lost); where
    /// notifications are refused, polls every ``AgentTiming/addressPollInterval``. The wait blocks a
    /// thread of its own (``addressThread``); cancellation interrupts it.
    func addressLoop() async {
        guard let monitor = addressMonitor else {
            logger.notice("no rtnetlink address notifications here; polling local addresses")
            while !Task.isCancelled {
                addressesMayHaveChanged()
                try? await Task.sleep(for: AgentTiming.addressPollInterval)
            }
            return
        }
        addressThread.start()
        let timeout = Int32(AgentTiming.addressCheckInterval.nanoseconds / 1_000_000)
        await withTaskCancellationHandler {
            while !Task.isCancelled {
                let outcome = (try? await addressThread.runIfActive { monitor.wait(timeoutMilliseconds: timeout) }) ?? .interrupted
                guard outcome != .interrupted, !Task.isCancelled else { continue }
                addressesMayHaveChanged()
            }
        } onCancel: {
            monitor.interrupt()
        }
    }

    /// Reads the addresses now, when enrolled (the settle re-read is a deadline of the timer).
    func addressesMayHaveChanged() {
        guard node != nil else { return }
        checkServedRoutes()  // a served route's link may have gone down (or come back)
        pollLocalAddresses(now: clock.now)
        drain()
    }

    /// Reads the local addresses and announces a settled change. Often (on every rtnetlink notification,
    /// and 100 ms after a change was first seen): a roamed host announces its new address only
    /// once it has seen it, and reading a few addresses is cheap. A move takes several steps (old
    /// addresses removed, new ones added), so a change counts once two reads in a row agree, and
    /// never when no address is left: announcing a passing state sent peers to endpoints that
    /// were about to vanish.
    func pollLocalAddresses(now: Timestamp) {
        lastAddressPoll = now
        let current = LocalAddresses.current(excludingInterface: configuration.interface.name, excludedNetworks: liveEndpoints.excludeNetworks)
        let settled = current == pendingLocalAddresses
        pendingLocalAddresses = current == localAddresses ? nil : current
        guard current != localAddresses, settled, !current.isEmpty else { return }
        pendingLocalAddresses = nil
        logger.notice("local addresses changed", metadata: ["addresses": "\(current.map(\.description))"])
        localAddresses = current
        // Endpoints peers saw before the move are stale now.
        observedEndpoints.removeAll()
        announceIfChanged()
        // Relays we use learn the new address at once (a pair accepts a member only from the
        // address it was last authenticated from), and peers in use the new record: with traffic
        // flowing, quiet paths would send them nothing before the next refresh or gossip round.
        if let node { apply(pathCore.localAddressesChanged(node: node, sessions: deviceSessions, now: now), now: now) }
    }
}
