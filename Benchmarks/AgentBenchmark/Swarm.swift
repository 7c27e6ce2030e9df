import BenchmarkSupport
import Foundation
import MeshAgent
import MeshCore
import MeshCrypto
import SystemPackage

/// `swarm --state-dir DIR --count N --address IPV4 --meshd ADDRESS:PORT [--base-port P] [--first-host H]`:
/// N live members of the network of the meshd whose state directory is DIR, in this one process:
/// N ``MeshNode``s (the state machine meshd runs), each on its own UDP socket (`IPV4`:`P + i`),
/// ticked from one loop in real time.
///
/// Each member has its own identity, WireGuard key and certificate, issued with the network's
/// authority key read from DIR (`StateDirectory.loadAuthorityKey`), for overlay address H + i of
/// the network's IPv4 prefix; its WireGuard endpoint is `IPV4:51820`, where nobody listens.
/// The members join in stages (see below), each stage introduced to meshd by an anti-entropy
/// exchange, as a node does after enrolling. Path probes (`0x24`) are answered as meshd answers
/// them. Prints a status line every 5 s.
enum Swarm {
    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func run(_ options: [String: String]) throws {
        guard let directory = options["--state-dir"], let address = options["--address"].flatMap(IPv4Address.init),
              let meshd = options["--meshd"].flatMap(SocketEndpoint.init)
        else { throw SwarmError("swarm needs --state-dir DIR --address IPV4 --meshd ADDRESS:PORT") }
        let count = Int(options["--count"] ?? "") ?? 1000
        let basePort = Int(options["--base-port"] ?? "") ?? 20000
        let firstHost = UInt64(options["--first-host"] ?? "") ?? 4096
        let stage = max(1, Int(options["--stage"] ?? "") ?? 100)
        let stagePause = Double(options["--stage-pause"] ?? "") ?? 10
        let star = (options["--topology"] ?? "full") == "star"
        // The members' timing profile: meshd's (MeshTiming.default) unless told otherwise.
        var timing = MeshTiming.default
        if star {
            // Each member knows only meshd and does its share of the work of a mesh of `count`
            // nodes towards it: together the members probe meshd about once per probe interval
            // and run anti-entropy with it about once per anti-entropy interval, as the members
            // of a real mesh of that size would.
            timing.probeInterval = timing.probeInterval * Double(count)
            timing.antiEntropyInterval = timing.antiEntropyInterval * Double(count)
            timing.reconnectInterval = timing.reconnectInterval * Double(count)
            // Members learn of each other from meshd's gossip; passing it on among themselves is
            // the rest of the mesh's work, not meshd's (what they have to say reaches meshd on
            // the answers to its probes).
            timing.gossipFanout = 0
        }
        if let seconds = options["--probe-interval"].flatMap(Double.init) {
            timing.probeInterval = .seconds(seconds)
            timing.probeTimeout = .seconds(min(seconds / 2, max(0.5, seconds / 4)))
        }
        guard count > 0, basePort + count <= 65535 else { throw SwarmError("ports \(basePort)+\(count) do not fit") }
        try raiseFileLimit(to: count + 256)

        // The network's trust material, read with the agent's own loaders.
        let state = StateDirectory(path: FilePath(directory))
        guard let enrollment = try state.loadEnrollment() else { throw SwarmError("\(directory) holds no enrollment") }
        guard let authority = try state.loadAuthorityKey() else { throw SwarmError("\(directory) holds no authority key") }
        let settings = enrollment.settings
        let meshdID = enrollment.certificate.nodeID
        guard settings.authorityKey == authority.publicKey else { throw SwarmError("the authority key does not match the network settings") }

        let clock = AgentClock()
        let start = clock.now
        let version = start.nanoseconds / 1_000_000
        emit("issuing \(count) certificates")
        var identities: [Ed25519PrivateKey] = [], members: [Member] = [], announcements: [LocalAnnouncement] = []
        for index in 0..<count {
            let identity = Ed25519PrivateKey()
            let wireGuard = X25519PrivateKey().publicKey
            guard let overlay = AuthorityService.address(in: settings.ipv4Prefix, index: firstHost + UInt64(index)) else {
                throw SwarmError("host \(firstHost + UInt64(index)) is outside \(settings.ipv4Prefix)")
            }
            let certificate = try NodeCertificate(
                networkID: settings.networkID, serial: 1_000_000 + UInt64(index), name: "swarm-\(index)", identityKey: identity.publicKey,
                wireGuardKey: wireGuard, addresses: [overlay], routes: [], roles: [], notBefore: start.seconds - 600,
                notAfter: start.seconds + 30 * 86400, issuer: authority)
            let announcement = LocalAnnouncement(
                gossipEndpoints: [AnnouncedEndpoint(.local, SocketEndpoint(address: .v4(address), port: UInt16(basePort + index)))],
                wireGuardEndpoints: [AnnouncedEndpoint(.local, SocketEndpoint(address: .v4(address), port: 51820))],
                prefixes: [IPPrefix(host: overlay)])
            let record = try NodeRecord(
                nodeID: certificate.nodeID, version: version, certificateDigest: certificate.digest, flags: [],
                gossipEndpoints: announcement.gossipEndpoints, wireGuardEndpoints: announcement.wireGuardEndpoints,
                announcedPrefixes: announcement.prefixes, relays: [], signedAt: start.seconds, signer: identity)
            identities.append(identity)
            members.append(Member(certificate: certificate, record: record, status: .alive, statusChangedAt: start))
            announcements.append(announcement)
        }
        // The swarm joins in stages of `stage` members, `stagePause` seconds apart (so meshd, and
        // the swarm answering it, take on `stage` new peers at a time, as when hosts come up in waves).
        // Each stage: a bootstrap node (the stage's first member, knowing the running members, the
        // stage's members and meshd, with a timing profile that neither probes nor gossips) meets
        // meshd, as a contact for the first stage and as a member later, and synchronizes with it
        // (anti-entropy): meshd learns the stage's members, the bootstrap learns meshd's current
        // record. The bootstrap is then discarded (socket closed) and the stage's members start
        // afresh, knowing meshd, the running members and each other; the running members learn
        // them by gossip. New members send their certificate in handshakes (newcomers), as joining
        // nodes do.
        var quiet = timing
        quiet.probeInterval = .seconds(86400)
        quiet.antiEntropyInterval = .seconds(86400)
        quiet.reconnectInterval = .seconds(86400)
        var known = MemberTable()
        let agreement = SwarmKeyAgreement()
        let loop = SwarmLoop(clock: clock)
        var lastStatus = monotonic()
        func runFor(_ seconds: Double, also other: SwarmLoop? = nil, until done: () -> Bool = { false }) {
            let end = monotonic() + seconds
            while monotonic() < end, !done() {
                loop.runOnce(maximumWait: other == nil ? 0.02 : 0.005)
                other?.runOnce(maximumWait: 0.005)
                if monotonic() - lastStatus >= 5 {
                    lastStatus = monotonic()
                    emit(loop.status(meshd: meshdID) + " agreements-x25519 \(agreement.full) agreements-cheap \(agreement.cheap)")
                }
            }
        }
        // meshd's record first: a bootstrap node (member 0's identity, knowing nobody, meshd as its
        // contact, a timing profile that neither probes nor gossips) synchronizes with meshd, which
        // answers with its own record (and learns member 0). The bootstrap is then discarded.
        let bootstrap = try MeshNode(
            identity: identities[0], certificate: members[0].certificate, settings: settings, announcement: announcements[0],
            members: MemberTable(), resume: members[0].record, newcomer: true, timing: quiet, agreement: agreement,
            random: .secure(), now: clock.now)
        bootstrap.addContact(identityKey: enrollment.certificate.identityKey, endpoints: [meshd])
        bootstrap.synchronize(with: meshdID, now: clock.now)
        let bootstrapLoop = SwarmLoop(clock: clock)
        try bootstrapLoop.add(bootstrap, address: address, port: UInt16(basePort))
        let bootstrapStart = monotonic()
        var lastSync = bootstrapStart
        while bootstrap.members[meshdID] == nil {
            guard monotonic() - bootstrapStart < 120 else { throw SwarmError("no answer from meshd in 120 s") }
            bootstrapLoop.runOnce()
            if monotonic() - lastSync > 1.5 {
                lastSync = monotonic()
                bootstrap.synchronize(with: meshdID, now: clock.now)
            }
        }
        let drainUntil = monotonic() + 0.3
        while monotonic() < drainUntil { bootstrapLoop.runOnce(maximumWait: 0.01) }
        bootstrapLoop.closeAll()
        guard let first = bootstrap.members[meshdID] else { throw SwarmError("unreachable") }
        known.put(first)
        emit("meshd's record learned in \(format(monotonic() - bootstrapStart)) s")

        if star {
            // Member 0 knows every member and synchronizes with meshd, as a node does after
            // enrolling: meshd's anti-entropy takes in all the members at once.
            var everyone = MemberTable()
            everyone.put(first)
            for member in members { everyone.put(member) }
            var justMeshd = MemberTable()
            justMeshd.put(first)
            for index in 0..<count {
                let node = try MeshNode(
                    identity: identities[index], certificate: members[index].certificate, settings: settings, announcement: announcements[index],
                    members: index == 0 ? everyone : justMeshd, resume: members[index].record, newcomer: true, timing: timing,
                    agreement: agreement, random: .secure(), now: clock.now)
                try loop.add(node, address: address, port: UInt16(basePort + index))
            }
            emit("all \(count) members running, each knowing only meshd (member 0 knows all and synchronizes with meshd)")
            for _ in 0..<6 {  // again a few times, in case a datagram of the exchange is lost
                loop.nodes[0].synchronize(with: meshdID, now: clock.now)
                runFor(5)
            }
            while true { runFor(3600) }
        }

        // Then the members, in stages: each stage starts knowing meshd, the running members and
        // each other, and its first member synchronizes with meshd (anti-entropy pushes meshd the
        // members it lacks, as after a node joins); the running members learn the new ones by gossip.
        for stageStart in stride(from: 0, to: count, by: stage) {
            let range = stageStart..<min(count, stageStart + stage)
            for index in range { known.put(members[index]) }
            var firstOfStage: MeshNode?
            for index in range {
                let node = try MeshNode(
                    identity: identities[index], certificate: members[index].certificate, settings: settings, announcement: announcements[index],
                    members: known, resume: members[index].record, newcomer: true, timing: timing, agreement: agreement,
                    random: .secure(), now: clock.now)
                try loop.add(node, address: address, port: UInt16(basePort + index))
                if firstOfStage == nil { firstOfStage = node }
            }
            firstOfStage?.synchronize(with: meshdID, now: clock.now)
            emit("stage: members \(range.lowerBound)–\(range.upperBound - 1) running (\(loop.nodes.count) in all); member \(stageStart) synchronizes with meshd")
            runFor(range.upperBound < count ? stagePause : 1)
        }
        emit("all \(count) members running")

        while true {
            loop.runOnce()
            if monotonic() - lastStatus >= 5 {
                lastStatus = monotonic()
                emit(loop.status(meshd: meshdID) + " agreements-x25519 \(agreement.full) agreements-cheap \(agreement.cheap)")
            }
        }
    }

    /// Raises the soft (and if needed the hard) limit of open files.
    static func raiseFileLimit(to wanted: Int) throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur >= rlim_t(wanted) { return }
        limit.rlim_cur = rlim_t(wanted)
        if limit.rlim_max < rlim_t(wanted) { limit.rlim_max = rlim_t(wanted) }
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { throw SwarmError("setrlimit(RLIMIT_NOFILE, \(wanted)): errno \(errno)") }
    }
}

struct SwarmError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The swarm's one loop: `poll(2)` over every member's socket, datagrams into `receive`, timers
/// into `tick`, and whatever the nodes output sent with `sendto(2)`.
final class SwarmLoop {
    let clock: AgentClock
    private(set) var nodes: [MeshNode] = []
    private var descriptors: [pollfd] = []
    private var deadlines: [Timestamp] = []
    private var buffer = [UInt8](repeating: 0, count: 65536)
    private(set) var sendFailures = 0
    private(set) var pathProbesAnswered = 0
    private(set) var busySeconds = 0.0
    private var lastBusyReport = (monotonic(), 0.0)
    private var lastTurn = 0.0
    /// Shortest time between two turns of the loop.
    var minimumTurn = 0.002

    init(clock: AgentClock) { self.clock = clock }

    /// Binds the node's socket (`address`:`port`, non-blocking) and starts driving it.
    func add(_ node: MeshNode, address: IPv4Address, port: UInt16) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw SwarmError("socket: errno \(errno)") }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_port = port.bigEndian
        local.sin_addr.s_addr = address.value.bigEndian
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw SwarmError("bind \(address):\(port): errno \(errno)") }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        nodes.append(node)
        descriptors.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0))
        deadlines.append(.zero)
        flush(nodes.count - 1)
    }

    /// Closes every socket (the nodes stop being driven).
    func closeAll() {
        for descriptor in descriptors { close(descriptor.fd) }
        descriptors = []
        nodes = []
        deadlines = []
    }

    /// One turn: due timers, then up to `maximumWait` seconds of waiting for datagrams, which are
    /// all read and handled.
    func runOnce(maximumWait: Double = 0.02) {
        // At most one turn per `minimumTurn`: each turn polls every socket, so under load
        // datagrams are handled in batches rather than one poll(2) of N descriptors each.
        let sinceLast = monotonic() - lastTurn
        if sinceLast < minimumTurn { usleep(UInt32((minimumTurn - sinceLast) * 1e6)) }
        lastTurn = monotonic()
        var now = clock.now
        let turnStart = monotonic()
        var earliest = Timestamp.distantFuture
        for index in nodes.indices {
            if deadlines[index] <= now {
                nodes[index].tick(now: now)
                flush(index)
            }
            earliest = min(earliest, deadlines[index])
        }
        busySeconds += monotonic() - turnStart
        now = clock.now
        let wait = earliest > now ? min(maximumWait, (earliest - now).seconds) : 0
        let ready = poll(&descriptors, nfds_t(descriptors.count), Int32((wait * 1000).rounded(.up)))
        guard ready > 0 else { return }
        let readStart = monotonic()
        for index in descriptors.indices where descriptors[index].revents & Int16(POLLIN) != 0 {
            descriptors[index].revents = 0
            receiveAll(index)
        }
        busySeconds += monotonic() - readStart
    }

    private func receiveAll(_ index: Int) {
        let descriptor = descriptors[index].fd
        while true {
            var source = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let received = buffer.withUnsafeMutableBytes { bytes in
                withUnsafeMutablePointer(to: &source) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(descriptor, bytes.baseAddress, bytes.count, 0, $0, &length) }
                }
            }
            guard received > 0 else { return }
            let endpoint = SocketEndpoint(address: .v4(IPv4Address(UInt32(bigEndian: source.sin_addr.s_addr))), port: UInt16(bigEndian: source.sin_port))
            nodes[index].receive(Array(buffer[0..<received]), from: endpoint, now: clock.now)
            flush(index)
        }
    }

    /// Sends node `index`'s datagrams, answers path probes, and notes its next deadline.
    private func flush(_ index: Int) {
        let node = nodes[index]
        var (datagrams, events) = node.drainOutput()
        var answered = false
        for event in events {
            // A path probe (0x24) is answered at once with a path ack (0x25, same body), as meshd does.
            if case let .extensionMessage(from, type, body, _) = event, type == 0x24 {
                node.sendExtension(type: 0x25, body: body, to: from, now: clock.now)
                pathProbesAnswered += 1
                answered = true
            }
        }
        if answered {
            (datagrams, events) = { let more = node.drainOutput(); return (datagrams + more.datagrams, more.events) }()
        }
        for datagram in datagrams { send(datagram, from: descriptors[index].fd) }
        deadlines[index] = node.nextDeadline
    }

    private func send(_ datagram: OutboundDatagram, from descriptor: Int32) {
        guard case let .v4(address) = datagram.endpoint.address else {
            sendFailures += 1
            return
        }
        var destination = sockaddr_in()
        destination.sin_family = sa_family_t(AF_INET)
        destination.sin_port = datagram.endpoint.port.bigEndian
        destination.sin_addr.s_addr = address.value.bigEndian
        let sent = datagram.bytes.withUnsafeBytes { bytes in
            withUnsafePointer(to: &destination) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        if sent < 0 { sendFailures += 1 }
    }

    /// One line: how many members know meshd alive, membership sizes, traffic, the loop's load.
    func status(meshd: NodeID) -> String {
        var knowMeshd = 0, suspects = 0, dead = 0, sent: UInt64 = 0, received: UInt64 = 0, live = 0
        for node in nodes {
            if node.members[meshd]?.status == .alive { knowMeshd += 1 }
            live += node.members.liveCount
            for member in [node.members[meshd]].compactMap({ $0 }) where member.status == .suspect { suspects += 1 }
            sent += node.statistics.datagramsSent
            received += node.statistics.datagramsReceived
            dead += Int(node.statistics.deathsDeclared)
        }
        let now = monotonic()
        let busy = (busySeconds - lastBusyReport.1) / max(0.001, now - lastBusyReport.0)
        lastBusyReport = (now, busySeconds)
        return "status members \(nodes.count) know-meshd-alive \(knowMeshd) suspect-meshd \(suspects) mean-live-members \(nodes.isEmpty ? 0 : live / nodes.count) "
            + "deaths-declared \(dead) datagrams-sent \(sent) received \(received) send-failures \(sendFailures) path-probes-answered \(pathProbesAnswered) "
            + String(format: "loop-busy %.2f", busy)
    }
}

/// The swarm's key agreement: X25519 (libsodium) for everything that involves meshd, and for
/// agreements between two swarm members a BLAKE2b of the two public keys instead of the X25519
/// multiplication. Key pairs are always real X25519 pairs (an ephemeral key may be meant for
/// meshd); only `agree` is cheapened, and only when both keys are ones the swarm itself made, so
/// meshd's handshakes, and the work meshd does, are exactly those of real members. Without this,
/// one thread cannot run 1,000 members' handshakes (about eight X25519 multiplications each) on the
/// benchmark machine. Single-threaded, like the swarm.
final class SwarmKeyAgreement: KeyAgreement, @unchecked Sendable {
    private let real = X25519KeyAgreement()
    /// Public key by secret, for every key pair the swarm made.
    private var publicBySecret: [[UInt8]: [UInt8]] = [:]
    private var swarmPublicKeys = Set<[UInt8]>()
    /// Ephemeral secrets in the order made (forgotten after `ephemeralLimit`).
    private var ephemeralOrder: [[UInt8]] = []
    private var ephemeralStart = 0
    private let ephemeralLimit = 100_000
    private(set) var cheap = 0
    private(set) var full = 0

    private func register(_ pair: (secret: SecretBytes, publicKey: [UInt8]), ephemeral: Bool) {
        let secret = pair.secret.withUnsafeBytes { Array($0) }
        publicBySecret[secret] = pair.publicKey
        swarmPublicKeys.insert(pair.publicKey)
        guard ephemeral else { return }
        ephemeralOrder.append(secret)
        if ephemeralOrder.count - ephemeralStart > ephemeralLimit {
            let old = ephemeralOrder[ephemeralStart]
            ephemeralStart += 1
            if let publicKey = publicBySecret.removeValue(forKey: old) { swarmPublicKeys.remove(publicKey) }
            if ephemeralStart > ephemeralLimit {
                ephemeralOrder.removeFirst(ephemeralStart)
                ephemeralStart = 0
            }
        }
    }

    func staticKeyPair(for identity: Ed25519PrivateKey) -> (secret: SecretBytes, publicKey: [UInt8]) {
        let pair = real.staticKeyPair(for: identity)
        register(pair, ephemeral: false)
        return pair
    }

    func staticPublicKey(for identity: Ed25519PublicKey) throws -> [UInt8] {
        try real.staticPublicKey(for: identity)
    }

    func ephemeralKeyPair(using generator: inout RandomSource) -> (secret: SecretBytes, publicKey: [UInt8]) {
        let pair = real.ephemeralKeyPair(using: &generator)
        register(pair, ephemeral: true)
        return pair
    }

    func agree(_ secret: SecretBytes, _ peerPublic: [UInt8]) throws -> SecretBytes {
        if swarmPublicKeys.contains(peerPublic), let mine = secret.withUnsafeBytes({ publicBySecret[Array($0)] }) {
            cheap += 1
            let (low, high) = mine.lexicographicallyPrecedes(peerPublic) ? (mine, peerPublic) : (peerPublic, mine)
            return SecretBytes(copying: try BLAKE2b.hash(low + high, outputByteCount: 32))
        }
        full += 1
        return try real.agree(secret, peerPublic)
    }
}
