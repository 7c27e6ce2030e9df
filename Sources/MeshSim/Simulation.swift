import Dispatch
import MeshCore
import Synchronization

/// A deterministic world of simulated nodes: real ``MeshNode`` state machines on virtual time,
/// connected by a ``NetworkModel``, with crashes, restarts and partitions. The same seed gives the
/// same run, whatever the number of threads.
///
/// With several threads, the nodes are split into shards (several per thread, so a thread that
/// the operating system pauses holds up little) that advance in steps no longer than the
/// network's smallest one-way latency: a datagram sent during a step arrives after it, so shards
/// exchange datagrams only between steps (conservative parallel discrete-event simulation). Each
/// node draws its datagrams' fate (loss, delay) from its own generator, and events at the same
/// instant are ordered by who scheduled them, so nothing depends on the split or on timing.
public final class Simulation {
    /// The trust material and starting snapshot.
    public let cluster: Cluster
    /// The network.
    public let network: NetworkModel
    /// Protocol timing for every node.
    public let timing: MeshTiming
    /// Current virtual time.
    public private(set) var now: Timestamp
    /// Number of threads that run the nodes.
    public let threads: Int

    /// Live nodes by index (nil: crashed).
    public private(set) var nodes: [MeshNode?]
    /// Partition group of each node; datagrams cross only within a group. Empty: no partition.
    public var partition: [Int] = []
    /// Observer of node events, for metrics. During a run it sees each step's events at the end
    /// of the step, in order of time, then node index.
    public var onEvent: ((Int, NodeEvent, Timestamp) -> Void)?

    private let agreement: any KeyAgreement
    private var random: SeededRandomNumberGenerator
    private let shards: [Shard]
    /// The mailbox set the next step reads (and that flushes between steps write).
    private var pendingParity = 0
    /// Highest record version each node signed, so a restart continues above it.
    private var lastVersions: [UInt64]

    /// Shards per thread when running on several.
    static let shardsPerThread = 4

    /// Per-datagram overhead counted in bandwidth figures (IPv4 + UDP headers).
    public static let headerOverhead: UInt64 = 28
    /// The window over which peak bandwidth is measured.
    public static let bandwidthWindow = Interval.seconds(1)

    /// Builds the world and boots every node from the cluster's snapshot.
    ///
    /// - Parameter threads: threads to run the nodes on (at least 1); a network without a
    ///   minimum latency always runs on one.
    public init(
        cluster: Cluster, network: NetworkModel, timing: MeshTiming = .default, seed: UInt64, realCrypto: Bool = false,
        threads: Int = 1
    ) throws {
        self.cluster = cluster
        self.network = network
        self.timing = timing
        self.now = cluster.start
        let count = cluster.identities.count
        let threads = network.latency.nanoseconds > 0 ? max(1, min(threads, count)) : 1
        self.threads = threads
        let shardCount = threads == 1 ? 1 : min(count, threads * Self.shardsPerThread)
        self.agreement = realCrypto ? X25519KeyAgreement() : SimulatedKeyAgreement(identities: cluster.certificates.map(\.identityKey))
        var random = SeededRandomNumberGenerator(seed: seed)
        let nodeSeeds = (0..<count).map { _ in random.next() }
        let networkSeeds = (0..<count).map { _ in random.next() }
        self.random = random
        let mailboxes = Mailboxes(shardCount: shardCount)
        shards = (0..<shardCount).map { shard in
            Shard(index: shard, shardCount: shardCount, nodeCount: count, network: network, now: cluster.start,
                  networkSeeds: stride(from: shard, to: count, by: shardCount).map { networkSeeds[$0] }, mailboxes: mailboxes)
        }
        nodes = Array(repeating: nil, count: count)
        lastVersions = Array(repeating: 0, count: count)
        // Booting verifies and signs; do it on every thread, then install the nodes in order.
        let booted = try Self.parallelMap(0..<count, threads: threads) { [cluster, timing, agreement, now] index in
            try MeshNode(
                identity: cluster.identities[index], certificate: cluster.certificates[index], settings: cluster.settings,
                announcement: cluster.announcement(of: index), members: cluster.snapshot, previousVersion: 0,
                resume: cluster.records[index], newcomer: false,
                timing: timing, agreement: agreement, random: .seeded(nodeSeeds[index]), now: now)
        }
        for (index, node) in booted.enumerated() { install(node, at: index) }
    }

    private func shard(of index: Int) -> (shard: Shard, local: Int) {
        (shards[index % shards.count], index / shards.count)
    }

    /// Installs a booted node and sends what it has to say.
    private func install(_ node: MeshNode, at index: Int) {
        nodes[index] = node
        lastVersions[index] = node.localRecord.version
        let (shard, local) = shard(of: index)
        shard.set(node, at: local)
        flushNow(index)
    }

    /// Restarts node `index` with `members` as its persisted view; it signs a new record version.
    private func boot(_ index: Int, members: MemberTable) throws {
        let node = try MeshNode(
            identity: cluster.identities[index], certificate: cluster.certificates[index], settings: cluster.settings,
            announcement: cluster.announcement(of: index), members: members, previousVersion: lastVersions[index],
            resume: nil, newcomer: true, timing: timing, agreement: agreement, random: .seeded(random.next()), now: now)
        install(node, at: index)
    }

    // MARK: Faults

    /// Stops node `index` abruptly (no leave message). Returns its last member table.
    @discardableResult
    public func crash(_ index: Int) -> MemberTable? {
        let table = nodes[index]?.members
        if let node = nodes[index] { lastVersions[index] = node.localRecord.version }
        nodes[index] = nil
        let (shard, local) = shard(of: index)
        shard.set(nil, at: local)
        return table
    }

    /// Restarts a crashed node from its persisted member table.
    public func restart(_ index: Int, members: MemberTable) throws {
        guard nodes[index] == nil else { return }
        try boot(index, members: members)
    }

    /// Starts node `index` as a newly enrolled member, as meshd does after `meshctl join`: it knows
    /// only `members` (the bootstrap node's entry) and asks `bootstrap` for the rest at once.
    public func join(_ index: Int, members: MemberTable, synchronizingWith bootstrap: NodeID) throws {
        guard nodes[index] == nil else { return }
        try boot(index, members: members)
        nodes[index]?.synchronize(with: bootstrap, now: now)
        flushNow(index)
    }

    /// Whether node `index` runs.
    public func isUp(_ index: Int) -> Bool { nodes[index] != nil }

    /// Changes what node `index` announces (a new endpoint): a record change to measure.
    public func announce(_ index: Int, _ announcement: LocalAnnouncement) {
        nodes[index]?.announce(announcement, now: now)
        flushNow(index)
    }

    /// Makes node `index` leave gracefully.
    public func leave(_ index: Int) {
        nodes[index]?.leave(now: now)
        flushNow(index)
    }

    /// Sends node `index`'s output at the current time, between steps.
    private func flushNow(_ index: Int) {
        prepareShards()
        let (shard, local) = shard(of: index)
        shard.now = now
        shard.writeParity = pendingParity
        shard.flush(local)
        reportEvents()
    }

    // MARK: Running

    /// Runs events until virtual time reaches `end`.
    public func run(until end: Timestamp) {
        prepareShards()
        let step = network.latency
        let stop = Timestamp(nanoseconds: end.nanoseconds &+ 1)
        while let first = shards.compactMap(\.nextEventTime).min(), first <= end {
            // Everything sent in [first, limit) arrives at or after `limit`.
            let limit = shards.count > 1 ? min(first + step, stop) : stop
            if shards.count > 1 {
                // This step reads the mailboxes the last one wrote, and writes the others.
                let write = 1 - pendingParity
                for shard in shards { shard.writeParity = write }
                pendingParity = write
                // Each thread takes the next shard not yet run, until none is left.
                let shards = self.shards, next = ShardCounter()
                DispatchQueue.concurrentPerform(iterations: threads) { _ in
                    while true {
                        let shard = next.value.wrappingAdd(1, ordering: .relaxed).oldValue
                        guard shard < shards.count else { return }
                        shards[shard].step(before: limit)
                    }
                }
            } else {
                shards[0].run(before: limit)
            }
            reportEvents()
        }
        now = max(now, end)
        for shard in shards { shard.now = now }
    }

    /// Runs for `interval` of virtual time.
    public func run(for interval: Interval) { run(until: now + interval) }

    /// Gives the shards the current partition and whether events are observed.
    private func prepareShards() {
        for shard in shards {
            shard.partition = partition
            shard.observing = onEvent != nil
        }
    }

    /// Passes the step's node events to the observer, in order of time, then node.
    private func reportEvents() {
        var logged: [LoggedEvent] = []
        for shard in shards { logged += shard.takeLog() }
        guard let onEvent, !logged.isEmpty else { return }
        logged.sort { ($0.time, $0.node, $0.sequence) < ($1.time, $1.node, $1.sequence) }
        for entry in logged { onEvent(entry.node, entry.event, entry.time) }
    }

    // MARK: Traffic

    /// Bytes each node sent since the counters were reset (UDP payload plus ``headerOverhead``).
    public var bytesSent: [UInt64] {
        (0..<nodes.count).map { index in
            let (shard, local) = shard(of: index)
            return shard.bytesSent[local]
        }
    }

    /// The most bytes each node sent in one complete ``bandwidthWindow`` (windows are aligned to
    /// the last reset of the counters).
    public var peakBytesPerSecond: [UInt64] {
        (0..<nodes.count).map { index in
            let (shard, local) = shard(of: index)
            return shard.peakBytes(local, at: now)
        }
    }

    /// Datagrams handed to the network.
    public var datagramsSent: UInt64 { shards.reduce(0) { $0 + $1.datagramsSent } }
    /// Datagrams delivered to a running node.
    public var datagramsDelivered: UInt64 { shards.reduce(0) { $0 + $1.datagramsDelivered } }

    /// Resets bandwidth counters (to measure from the end of a warm-up).
    public func resetTrafficCounters() {
        for shard in shards { shard.resetTrafficCounters(at: now) }
    }

    // MARK: Threads

    /// `transform` over `range` on `threads` threads, results in order.
    static func parallelMap<T>(_ range: Range<Int>, threads: Int, _ transform: @Sendable (Int) throws -> T) throws -> [T] {
        guard threads > 1, range.count > 1 else { return try range.map(transform) }
        let results = ResultBuffer<T>(count: range.count)
        DispatchQueue.concurrentPerform(iterations: threads) { part in
            for offset in stride(from: part, to: range.count, by: threads) {
                results.set(offset, Result { try transform(range.lowerBound + offset) })
            }
        }
        return try results.values()
    }
}

/// The next shard to run in a step, shared by the threads.
private final class ShardCounter: Sendable {
    let value = Atomic<Int>(0)
}

/// Results written by several threads, each to its own indexes.
private final class ResultBuffer<T>: @unchecked Sendable {
    private var storage: UnsafeMutableBufferPointer<Result<T, any Error>?>

    init(count: Int) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: nil)
    }

    deinit {
        storage.deinitialize()
        storage.deallocate()
    }

    func set(_ index: Int, _ result: Result<T, any Error>) { storage[index] = result }

    func values() throws -> [T] {
        try storage.map { result in
            guard let result else { preconditionFailure("every index is computed") }
            return try result.get()
        }
    }
}
