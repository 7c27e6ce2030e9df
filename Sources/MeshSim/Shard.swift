import HeapModule
import MeshCore

/// The nodes one thread runs, with their events and counters. Node `g` (a global index) lives in
/// shard `g % shardCount` at local index `g / shardCount`.
///
/// During a step a shard touches only its own state: its nodes, its event heap, its counters, the
/// mailboxes it writes for other shards in this step and those they wrote for it in the previous
/// one (see ``Mailboxes``). A shard is never used by two threads at once (hence `@unchecked Sendable`).
final class Shard: @unchecked Sendable {
    let index: Int
    let shardCount: Int
    /// Number of nodes in the whole simulation.
    let nodeCount: Int

    /// Running nodes by local index (nil: crashed).
    var nodes: [MeshNode?]
    /// This shard's current virtual time.
    var now: Timestamp

    private var queue = Heap<SimulationEvent>()
    /// Datagrams in flight to this shard's nodes, by slot, and the free slots.
    private var inFlight: [[UInt8]] = []
    private var freeSlots: [Int32] = []
    private var scheduledWake: [Timestamp]
    /// Events each node has scheduled (the second part of ``SimulationEvent/key``).
    private var scheduled: [UInt64]
    /// Each node's generator for its datagrams' fate (loss and delay).
    private var networkRandom: [SeededRandomNumberGenerator]

    /// Bytes each node sent since the counters were reset, and per bandwidth window.
    private(set) var bytesSent: [UInt64]
    private var windowBytes: [UInt64]
    private var windowIndex: [UInt64]
    private var peakWindowBytes: [UInt64]
    private(set) var datagramsSent: UInt64 = 0
    private(set) var datagramsDelivered: UInt64 = 0

    /// Datagrams between shards (shared by all shards; see ``Mailboxes``).
    private let mailboxes: Mailboxes
    /// The mailbox set written in the current step.
    var writeParity = 0
    /// The earliest arrival among datagrams written to other shards since the last step began.
    private(set) var earliestSent = Timestamp.distantFuture
    /// Node events since the log was last taken (only when someone observes them).
    private(set) var log: [LoggedEvent] = []

    /// The world the shard's nodes live in, set by the simulation.
    var network: NetworkModel
    var partition: [Int] = []
    var observing = false
    /// Start of bandwidth window 0.
    private var windowOrigin: Timestamp

    init(index: Int, shardCount: Int, nodeCount: Int, network: NetworkModel, now: Timestamp, networkSeeds: [UInt64],
         mailboxes: Mailboxes) {
        self.index = index
        self.mailboxes = mailboxes
        self.shardCount = shardCount
        self.nodeCount = nodeCount
        self.network = network
        self.now = now
        windowOrigin = now
        let count = networkSeeds.count
        nodes = Array(repeating: nil, count: count)
        scheduledWake = Array(repeating: .distantFuture, count: count)
        scheduled = Array(repeating: 0, count: count)
        networkRandom = networkSeeds.map { SeededRandomNumberGenerator(seed: $0) }
        bytesSent = Array(repeating: 0, count: count)
        windowBytes = Array(repeating: 0, count: count)
        windowIndex = Array(repeating: 0, count: count)
        peakWindowBytes = Array(repeating: 0, count: count)
    }

    /// The global index of local node `local`.
    func global(_ local: Int) -> Int { local * shardCount + index }

    /// The time of this shard's next event, or of the earliest datagram it sent another shard.
    var nextEventTime: Timestamp? {
        guard let next = queue.min?.time else { return earliestSent == .distantFuture ? nil : earliestSent }
        return min(next, earliestSent)
    }

    // MARK: Running

    /// One step: takes the datagrams other shards sent in the previous step (mailbox set
    /// `1 - writeParity`), then runs this shard's events due before `limit`.
    func step(before limit: Timestamp) {
        if shardCount > 1 {
            for source in 0..<shardCount where source != index {
                let mailbox = mailboxes.box(parity: 1 - writeParity, from: source, to: index)
                guard !mailbox.transits.isEmpty else { continue }
                for transit in mailbox.transits { accept(transit) }
                mailbox.transits.removeAll(keepingCapacity: true)
            }
            earliestSent = .distantFuture
        }
        run(before: limit)
    }

    /// Runs this shard's events due before `limit`.
    func run(before limit: Timestamp) {
        while let next = queue.min, next.time < limit {
            guard let event = queue.popMin() else { break }
            now = event.time
            let local = Int(event.node)
            if event.source == SimulationEvent.timer {
                guard let node = nodes[local], scheduledWake[local] == event.time else { continue }
                scheduledWake[local] = .distantFuture
                node.tick(now: now)
                flush(local, node)
            } else {
                let slot = Int(event.slot)
                let datagram = inFlight[slot]
                inFlight[slot] = []
                freeSlots.append(event.slot)
                guard let node = nodes[local] else { continue }
                datagramsDelivered += 1
                node.receive(datagram, from: Cluster.endpoint(of: Int(event.source)), now: now)
                flush(local, node)
            }
        }
    }

    /// Sends a node's output into the network and reschedules its timer.
    func flush(_ local: Int) {
        guard let node = nodes[local] else { return }
        flush(local, node)
    }

    private func flush(_ local: Int, _ node: MeshNode) {
        let source = global(local)
        let (datagrams, events) = node.drainOutput()
        if observing {
            for event in events { log.append(LoggedEvent(time: now, node: source, sequence: log.count, event: event)) }
        }
        for datagram in datagrams {
            count(UInt64(datagram.bytes.count) + Simulation.headerOverhead, local: local)
            datagramsSent += 1
            guard let target = Cluster.index(of: datagram.endpoint), target < nodeCount, target != source else { continue }
            if !partition.isEmpty, partition[source] != partition[target] { continue }
            guard let delay = network.delay(using: &networkRandom[local]) else { continue }
            let transit = Transit(time: now + delay, key: nextKey(local), target: target, source: source, bytes: datagram.bytes)
            if target % shardCount == index {
                accept(transit)
            } else {
                mailboxes.box(parity: writeParity, from: index, to: target % shardCount).transits.append(transit)
                earliestSent = min(earliestSent, transit.time)
            }
        }
        let deadline = max(node.nextDeadline, now)
        if deadline < scheduledWake[local] {
            scheduledWake[local] = deadline
            queue.insert(SimulationEvent(time: deadline, key: nextKey(local), node: Int32(local), source: SimulationEvent.timer, slot: 0))
        }
    }

    /// The next event key of local node `local`: its global index, then how many events it scheduled.
    private func nextKey(_ local: Int) -> UInt64 {
        scheduled[local] += 1
        return UInt64(global(local)) << 40 | scheduled[local]
    }

    /// Queues a datagram for one of this shard's nodes.
    func accept(_ transit: Transit) {
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            inFlight[Int(slot)] = transit.bytes
        } else {
            slot = Int32(inFlight.count)
            inFlight.append(transit.bytes)
        }
        queue.insert(SimulationEvent(
            time: transit.time, key: transit.key, node: Int32(transit.target / shardCount), source: Int32(transit.source), slot: slot))
    }

    /// Hands over the logged node events.
    func takeLog() -> [LoggedEvent] {
        guard !log.isEmpty else { return [] }
        defer { log = [] }
        return log
    }

    // MARK: Nodes

    /// Installs a booted node (or removes a crashed one).
    func set(_ node: MeshNode?, at local: Int) {
        nodes[local] = node
        if node == nil { scheduledWake[local] = .distantFuture }
    }

    // MARK: Bandwidth

    private func count(_ size: UInt64, local: Int) {
        bytesSent[local] += size
        let window = (now - windowOrigin).nanoseconds / Simulation.bandwidthWindow.nanoseconds
        if window != windowIndex[local] {
            peakWindowBytes[local] = max(peakWindowBytes[local], windowBytes[local])
            windowBytes[local] = 0
            windowIndex[local] = window
        }
        windowBytes[local] += size
    }

    /// The most bytes local node `local` sent in one complete bandwidth window, as of `time`.
    func peakBytes(_ local: Int, at time: Timestamp) -> UInt64 {
        let current = (time - windowOrigin).nanoseconds / Simulation.bandwidthWindow.nanoseconds
        return windowIndex[local] < current ? max(peakWindowBytes[local], windowBytes[local]) : peakWindowBytes[local]
    }

    /// Zeroes the bandwidth counters; windows start again at `time`.
    func resetTrafficCounters(at time: Timestamp) {
        windowOrigin = time
        for local in bytesSent.indices {
            bytesSent[local] = 0
            windowBytes[local] = 0
            windowIndex[local] = 0
            peakWindowBytes[local] = 0
        }
    }
}

/// Datagrams in transit between shards: for each of two sets (steps alternate between them), a
/// mailbox from every shard to every other. In a step, shard `s` appends only to the boxes
/// `(p, s, _)` and empties only the boxes `(1 - p, _, s)`, so no box is touched by two threads.
final class Mailboxes: @unchecked Sendable {
    final class Box {
        var transits: [Transit] = []
    }

    private let boxes: [Box]
    private let shardCount: Int

    init(shardCount: Int) {
        self.shardCount = shardCount
        boxes = (0..<2 * shardCount * shardCount).map { _ in Box() }
    }

    func box(parity: Int, from source: Int, to destination: Int) -> Box {
        boxes[(parity * shardCount + source) * shardCount + destination]
    }
}
