import MeshCore

/// The agent runtime's timing, in one place, each with its reason. The decisions' own timing lives
/// with them, as settings a test can change: the membership protocol in ``MeshTiming`` (MeshCore),
/// paths and relays in ``PathManager/Settings``, first handshakes in ``FirstHandshakes/Settings``,
/// WireGuard endpoint trials in ``EndpointChoice``, endpoint reports in ``ObservedEndpoints/Settings``,
/// relay leases in ``RelayService/Limits``.
package enum AgentTiming {
    // MARK: The timer

    /// meshd and the simulator sleep until the earliest deadline of everything they schedule
    /// (the protocol core's, the path timers', device work, the chores of ``PeriodicChores``) and
    /// tick nothing on a fixed period; a wake never comes sooner than this after the last, so a
    /// condition reported due that nothing takes cannot spin.
    package static let shortestWake = Interval.milliseconds(1)

    // MARK: Local addresses

    /// How often local addresses are read where rtnetlink notifications are refused: a roamed host
    /// must announce its new address quickly, and reading a few addresses is cheap.
    package static let addressPollInterval = Duration.milliseconds(200)
    /// With notifications, addresses are read on each one, and this often anyway (a notification
    /// lost to a full socket buffer costs at most this).
    package static let addressCheckInterval = Interval.seconds(5)
    /// A second read this soon after a change was first seen (a move takes several steps; a change
    /// counts once two reads agree).
    package static let addressSettleInterval = Interval.milliseconds(100)

    /// With `routing.mode: daemon`, the daemon's table is read on each route notification, and
    /// this often anyway (a lost notification costs at most this; where notifications are
    /// refused, this is the polling interval).
    package static let daemonRouteCheckInterval = Duration.seconds(1)

    /// How often meshd's `STATUS=` line for systemd is refreshed (and, at most, its watchdog fed).
    package static let systemdStatusInterval = Duration.seconds(5)

    // MARK: WireGuard device

    /// A reconcile although nothing asked for one: repairs what someone else changed on the device.
    package static let reconcileInterval = Interval.seconds(5)
    /// A reconcile asked for soon: changes arriving together are applied in one netlink change.
    package static let reconcileSoonDelay = Interval.milliseconds(50)
    /// Retry after a failed reconcile: 0.5 s doubling per failure, at most 30 s.
    package static func reconcileBackoff(failures: Int) -> Interval {
        .seconds(min(30, 0.5 * Double(1 << min(max(failures, 0), 6))))
    }
    /// Device reads while no path is in use (counters for `meshctl peers`, endpoint reports): a
    /// read lists every peer, so larger meshes read less often.
    package static func observationInterval(livePeers: Int) -> Interval {
        livePeers <= 100 ? .seconds(1) : (livePeers <= 1000 ? .seconds(2) : .seconds(5))
    }
    /// Longest interval between device reads while a path is in use, however costly a read is.
    package static let longestObservationInUse = 2.0
    /// Device reads while a path is in use take at most 1 / this of the time.
    package static let observationCostFactor = 20.0
    /// An endpoint report that still holds is sent again this often, so it stays corroborated.
    package static let endpointReportRefresh = Interval.seconds(60)

    // MARK: Membership, enrollment and state

    /// After a path heals, a WireGuard endpoint roamed back to the relay port is set direct again
    /// for this long (packets still in flight through the relay arrive within a round trip or two).
    package static let roamedBackWindow = Interval.seconds(5)
    /// How long a direct peer's WireGuard may send to a relay's port with nothing arriving before
    /// the plan moves it back to the peer's direct endpoint (``PathCore/sendsToStaleRelayPort(_:endpoint:node:now:)``):
    /// longer than a round trip through a relay, so a working asymmetric path is left alone.
    package static let staleRelayPort = Interval.seconds(1)
    /// Relays this node reaches are re-announced at most this often when only their RTTs changed
    /// (RTTs change slowly).
    package static let relayAnnouncementInterval = Interval.seconds(30)
    /// Which relays this node reaches is checked this often, and announced at once when it changed:
    /// peers choose relays by it (at 30 s, a relay measured after the first announcement was
    /// invisible to peers for up to 30 s: the simulator's relay-dies sweep lost 10 s when the relay
    /// in use died and the other was not yet announced).
    package static let relayReachabilityCheck = Interval.seconds(1)
    /// Relay leases are checked for expiry this often (leases last tens of seconds).
    package static let relayExpiryCheck = Interval.seconds(1)
    /// Join requests are resent this often while no answer came (UDP may be lost).
    package static let joinRetryInterval = Interval.seconds(1)
    /// A join gives up after this long without an answer, saying what was tried.
    package static let joinGiveUp = Interval.seconds(15)
    /// After enrolling, `meshctl join` waits at most this long for the bootstrap node's member list.
    package static let bootstrapMemberWait = Interval.seconds(10)
    /// Leaving: the tombstone's pushes and retransmissions go out for this many turns of this length.
    package static let leaveFlushTurns = 10
    package static let leaveFlushTurn = Duration.milliseconds(100)
    /// A certificate renewal that got no answer is asked again this often.
    package static let renewalRetry = Interval.seconds(3600)
    /// The member snapshot is written at most this often while it changes (and at shutdown).
    package static let snapshotInterval = Interval.seconds(10)
    /// Freed heap is given back to the system this often (meshd's memory budget).
    package static let heapTrimInterval = Interval.seconds(30)
}
