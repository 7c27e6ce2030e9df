import HeapModule
import MeshCore

/// A deterministic world of simulated nodes: real ``MeshNode`` state machines on virtual time,
/// connected by a ``NetworkModel``, with crashes, restarts and partitions. The same seed gives the
/// same run.
public final class Simulation {
    /// The trust material and starting snapshot.
    public let cluster: Cluster
    /// The network.
    public var network: NetworkModel
    /// Protocol timing for every node.
    public let timing: MeshTiming
    /// Current virtual time.
    public private(set) var now: Timestamp

    /// Live nodes by index (nil: crashed).
    public private(set) var nodes: [MeshNode?]
    /// Partition group of each node; datagrams cross only within a group. Empty: no partition.
    public var partition: [Int] = []
    /// Observer of node events, for metrics.
    public var onEvent: ((Int, NodeEvent, Timestamp) -> Void)?

    private let agreement: any KeyAgreement
    private var random: SeededRandomNumberGenerator
    private var queue = Heap<SimulationEvent>()
    private var sequence: UInt64 = 0
    /// Datagrams in flight, by slot (see ``SimulationEvent/slot``), and the free slots.
    private var inFlight: [[UInt8]] = []
    private var freeSlots: [Int32] = []
    private var scheduledWake: [Timestamp]
    /// Highest record version each node signed, so a restart continues above it.
    private var lastVersions: [UInt64]
    /// Bytes sent per node in the current one-second window, and the largest window seen.
    public private(set) var bytesSent: [UInt64]
    public private(set) var peakBytesPerSecond: [UInt64]
    private var windowBytes: [UInt64]
    private var windowStart: Timestamp
    /// Datagrams handed to the network, and delivered.
    public private(set) var datagramsSent: UInt64 = 0
    public private(set) var datagramsDelivered: UInt64 = 0

    /// Per-datagram overhead counted in bandwidth figures (IPv4 + UDP headers).
    public static let headerOverhead: UInt64 = 28

    public init(cluster: Cluster, network: NetworkModel, timing: MeshTiming = .default, seed: UInt64, realCrypto: Bool = false) throws {
        self.cluster = cluster
        self.network = network
        self.timing = timing
        self.now = cluster.start
        self.agreement = realCrypto ? X25519KeyAgreement() : SimulatedKeyAgreement(identities: cluster.certificates.map(\.identityKey))
        self.random = SeededRandomNumberGenerator(seed: seed)
        let count = cluster.identities.count
        nodes = Array(repeating: nil, count: count)
        scheduledWake = Array(repeating: .distantFuture, count: count)
        lastVersions = Array(repeating: 0, count: count)
        bytesSent = Array(repeating: 0, count: count)
        peakBytesPerSecond = Array(repeating: 0, count: count)
        windowBytes = Array(repeating: 0, count: count)
        windowStart = cluster.start
        for index in 0..<count { try boot(index, members: cluster.snapshot) }
    }

    /// Starts node `index` with `members` as its persisted view.
    private func boot(_ index: Int, members: MemberTable) throws {
        // The first boot resumes the snapshot's record (a converged start); a restart signs a new version.
        let firstBoot = lastVersions[index] == 0
        let node = try MeshNode(
            identity: cluster.identities[index], certificate: cluster.certificates[index], settings: cluster.settings,
            announcement: cluster.announcement(of: index), members: members, previousVersion: lastVersions[index],
            resume: firstBoot ? cluster.records[index] : nil, newcomer: !firstBoot,
            timing: timing, agreement: agreement, random: .seeded(random.next()), now: now)
        nodes[index] = node
        lastVersions[index] = node.localRecord.version
        flush(index)
    }

    // MARK: Faults

    /// Stops node `index` abruptly (no leave message). Returns its last member table.
    @discardableResult
    public func crash(_ index: Int) -> MemberTable? {
        let table = nodes[index]?.members
        if let node = nodes[index] { lastVersions[index] = node.localRecord.version }
        nodes[index] = nil
        scheduledWake[index] = .distantFuture
        return table
    }

    /// Restarts a crashed node from its persisted member table.
    public func restart(_ index: Int, members: MemberTable) throws {
        guard nodes[index] == nil else { return }
        try boot(index, members: members)
    }

    /// Whether node `index` runs.
    public func isUp(_ index: Int) -> Bool { nodes[index] != nil }

    /// Changes what node `index` announces (a new endpoint): a record change to measure.
    public func announce(_ index: Int, _ announcement: LocalAnnouncement) {
        nodes[index]?.announce(announcement, now: now)
        flush(index)
    }

    /// Makes node `index` leave gracefully.
    public func leave(_ index: Int) {
        nodes[index]?.leave(now: now)
        flush(index)
    }

    // MARK: Running

    /// Runs events until virtual time reaches `end`.
    public func run(until end: Timestamp) {
        while let next = queue.min, next.time <= end {
            guard let event = queue.popMin() else { break }
            now = event.time
            rollWindow()
            let index = Int(event.node)
            if event.source == SimulationEvent.timer {
                guard let node = nodes[index], scheduledWake[index] == event.time else { continue }
                scheduledWake[index] = .distantFuture
                node.tick(now: now)
                flush(index, node)
            } else {
                let datagram = inFlight[Int(event.slot)]
                inFlight[Int(event.slot)] = []
                freeSlots.append(event.slot)
                guard let node = nodes[index] else { continue }
                datagramsDelivered += 1
                node.receive(datagram, from: Cluster.endpoint(of: Int(event.source)), now: now)
                flush(index, node)
            }
        }
        now = max(now, end)
        rollWindow()
    }

    /// Runs for `interval` of virtual time.
    public func run(for interval: Interval) { run(until: now + interval) }

    /// Sends a node's output into the network and reschedules its timer.
    private func flush(_ index: Int) {
        guard let node = nodes[index] else { return }
        flush(index, node)
    }

    private func flush(_ index: Int, _ node: MeshNode) {
        let (datagrams, events) = node.drainOutput()
        if let onEvent { for event in events { onEvent(index, event, now) } }
        for datagram in datagrams {
            let size = UInt64(datagram.bytes.count) + Self.headerOverhead
            bytesSent[index] += size
            windowBytes[index] += size
            datagramsSent += 1
            guard let target = Cluster.index(of: datagram.endpoint), target < nodes.count, target != index else { continue }
            if !partition.isEmpty, partition[index] != partition[target] { continue }
            guard let delay = network.delay(using: &random) else { continue }
            let slot: Int32
            if let free = freeSlots.popLast() {
                slot = free
                inFlight[Int(slot)] = datagram.bytes
            } else {
                slot = Int32(inFlight.count)
                inFlight.append(datagram.bytes)
            }
            push(now + delay, node: target, source: Int32(index), slot: slot)
        }
        let deadline = max(node.nextDeadline, now)
        if deadline < scheduledWake[index] {
            scheduledWake[index] = deadline
            push(deadline, node: index, source: SimulationEvent.timer, slot: 0)
        }
    }

    private func push(_ time: Timestamp, node: Int, source: Int32, slot: Int32) {
        sequence += 1
        queue.insert(SimulationEvent(time: time, sequence: sequence, node: Int32(node), source: source, slot: slot))
    }

    private func rollWindow() {
        guard now - windowStart >= .seconds(1) else { return }
        for index in windowBytes.indices where windowBytes[index] > 0 {
            peakBytesPerSecond[index] = max(peakBytesPerSecond[index], windowBytes[index])
            windowBytes[index] = 0
        }
        windowStart = now
    }

    /// Resets bandwidth counters (to measure from the end of a warm-up).
    public func resetTrafficCounters() {
        for index in bytesSent.indices {
            bytesSent[index] = 0
            peakBytesPerSecond[index] = 0
            windowBytes[index] = 0
        }
        windowStart = now
    }
}
