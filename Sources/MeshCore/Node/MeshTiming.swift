/// The timing profile of the membership protocol. Defaults follow memberlist's LAN profile
/// (itself tuned from SWIM and Lifeguard), with faster dissemination: new information is pushed
/// at once to `gossipFanout` members instead of waiting for the next gossip round.
public struct MeshTiming: Sendable {
    /// Time between probes of successive members.
    public var probeInterval = Interval.seconds(1)
    /// How long to wait for a direct ack before asking others to probe.
    public var probeTimeout = Interval.milliseconds(500)
    /// Members asked to probe indirectly (memberlist asks 3; 5 makes false suspicions, each of
    /// which costs a suspicion and a refutation broadcast to every node, ~25× rarer at 5 % loss).
    public var indirectProbes = 5
    /// Minimum suspicion timeout is `suspicionMultiplier * log10(N) * probeInterval`.
    public var suspicionMultiplier = 4.0
    /// Maximum suspicion timeout is this multiple of the minimum.
    public var suspicionMaximumMultiplier = 6.0
    /// Interval of gossip rounds while broadcasts are queued.
    public var gossipInterval = Interval.milliseconds(200)
    /// Members each gossip round (and each immediate push) goes to.
    public var gossipFanout = 3
    /// Broadcasts are transmitted `retransmitMultiplier * ceil(log10(N + 1))` times.
    public var retransmitMultiplier = 4
    /// Highest Lifeguard local health score.
    public var localHealthMaximum = 8
    /// Interval of anti-entropy exchanges with a random member.
    public var antiEntropyInterval = Interval.seconds(30)
    /// Interval of attempts to reach a random dead member (heals partitions).
    public var reconnectInterval = Interval.seconds(30)
    /// The same while a member died within ``recentDeathWindow``: a partition shows as members
    /// declared dead, and its heal is noticed at the next attempt (at 30 s, six nodes split 3|3
    /// for 40 s took 10 s after the heal to see each other alive again). Attempts go to the
    /// recently dead first; like ``reconnectInterval``, it is scaled by the members / 64.
    public var recentDeathReconnectInterval = Interval.seconds(2)
    /// How long after a death reconnection attempts stay frequent.
    public var recentDeathWindow = Interval.seconds(600)
    /// Keep gossiping to members declared dead for this long, so they can refute.
    public var gossipToDeadFor = Interval.seconds(30)
    /// Dead members are forgotten after this long.
    public var deadRetention = Interval.seconds(3600)
    /// Left tombstones are kept this long (must far exceed convergence time).
    public var leftRetention = Interval.seconds(86400)
    /// Send the certificate in handshakes during this long after joining.
    public var newcomerPeriod = Interval.seconds(120)

    public init() {}

    /// The default profile.
    public static let `default` = MeshTiming()
}
