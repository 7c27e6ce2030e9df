import Foundation

/// A disposable network lab: network namespaces joined by veth pairs, addresses from the
/// documentation ranges, background processes and nftables rules, all torn down together.
///
/// Names are unique per lab (`PREFIX-PID-RANDOM-ROLE`), so parallel runs do not collide. Creating a
/// lab first sweeps namespaces with the same prefix whose creating process is gone (leftovers of a
/// crashed run), killing the processes still inside them.
///
/// ``teardown()`` kills every process the lab started (by PID), runs registered cleanups, and
/// deletes every namespace it created; it runs from `deinit` too, so a failing test cleans up:
///
/// ```swift
/// let lab = try Lab()
/// defer { lab.teardown() }
/// let a = try lab.addNamespace("a"), b = try lab.addNamespace("b")
/// try lab.connect(a, b, addressA: "192.0.2.1/24", addressB: "192.0.2.2/24")
/// ```
public final class Lab: @unchecked Sendable {
    /// The prefix every namespace name starts with.
    public let prefix: String
    /// This lab's unique tag (`PREFIX-PID-RANDOM`).
    public let tag: String

    private let lock = NSLock()
    private var namespaces: [String] = []
    private var processes: [LabProcess] = []
    private var cleanups: [() -> Void] = []
    private var interfaceCounter = 0
    private var tornDown = false

    /// Creates a lab. Needs root and `ip`.
    /// - Throws: ``LabError/notRoot`` or ``LabError/missingTool(_:package:)``.
    public init(prefix: String = "meshlab") throws {
        guard getuid() == 0 else { throw LabError.notRoot }
        _ = try LabCommand.resolve("ip")
        self.prefix = prefix
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        tag = "\(prefix)-\(getpid())-\(random)"
        Self.sweepStale(prefix: prefix)
    }

    deinit { teardown() }

    // MARK: Namespaces and links

    /// Creates a namespace named `TAG-ROLE` with loopback up; returns its name.
    @discardableResult
    public func addNamespace(_ role: String) throws -> String {
        let name = "\(tag)-\(role)"
        try LabCommand.run(["ip", "netns", "add", name])
        locked { namespaces.append(name) }
        try LabCommand.run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name
    }

    /// A fresh interface name, unique across labs and namespaces (at most 15 characters), for
    /// interfaces whose name must be globally unique (wireguard-go's UAPI socket path is shared
    /// by every namespace).
    public func uniqueInterfaceName(_ stem: String = "wg") -> String {
        let counter = locked { () -> Int in interfaceCounter += 1; return interfaceCounter }
        let random = String(UInt32.random(in: 0...(36 * 36 * 36 * 36 - 1)), radix: 36)
        return String("\(stem.prefix(5))\(random)\(counter)".prefix(15))
    }

    /// Joins namespaces `a` and `b` with a veth pair (created directly inside them), assigns the
    /// addresses (`ADDRESS/LENGTH`, IPv4 or IPv6; more can be added with ``addAddress(_:to:in:)``)
    /// and brings both ends up. Returns the interface names in `a` and in `b`.
    @discardableResult
    public func connect(
        _ a: String, _ b: String, addressA: String? = nil, addressB: String? = nil, nameA: String? = nil, nameB: String? = nil
    ) throws -> (String, String) {
        let endA = nameA ?? "v-\(short(b))"
        let endB = nameB ?? "v-\(short(a))"
        try LabCommand.run(["ip", "link", "add", endA, "netns", a, "type", "veth", "peer", "name", endB, "netns", b])
        if let addressA { try addAddress(addressA, to: endA, in: a) }
        if let addressB { try addAddress(addressB, to: endB, in: b) }
        try LabCommand.run(["ip", "-n", a, "link", "set", endA, "up"])
        try LabCommand.run(["ip", "-n", b, "link", "set", endB, "up"])
        return (endA, endB)
    }

    /// Adds `ADDRESS/LENGTH` to an interface (IPv6 without duplicate address detection, so it is
    /// usable at once).
    public func addAddress(_ address: String, to interface: String, in namespace: String) throws {
        var arguments = ["ip", "-n", namespace, "address", "add", address, "dev", interface]
        if address.contains(":") { arguments.append("nodad") }
        try LabCommand.run(arguments)
    }

    /// Enables IPv4 and IPv6 forwarding in a namespace (for routers).
    public func enableForwarding(in namespace: String) throws {
        try run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"], in: namespace)
        try run(["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"], in: namespace)
    }

    // MARK: Commands and processes

    /// Runs a command (inside `namespace`, when given) to completion and returns its output.
    @discardableResult
    public func run(_ arguments: [String], in namespace: String? = nil, input: String? = nil, check: Bool = true, timeout: Double = 120) throws -> LabCommandResult {
        try LabCommand.run(arguments, in: namespace, input: input, check: check, timeout: timeout)
    }

    /// Starts a background process (inside `namespace`, when given); teardown stops it.
    @discardableResult
    public func start(_ arguments: [String], in namespace: String? = nil) throws -> LabProcess {
        let process = try LabProcess(arguments, in: namespace)
        locked { processes.append(process) }
        return process
    }

    /// Registers cleanup work (for example stopping a daemon some other type started), run by
    /// teardown, last registered first, before the namespaces are deleted.
    public func addCleanup(_ body: @escaping () -> Void) {
        locked { cleanups.append(body) }
    }

    /// Sends `count` pings to `address` from `namespace`, waiting up to `wait` seconds for the
    /// last reply; returns (transmitted, received).
    public func ping(_ address: String, from namespace: String, count: Int = 3, interval: Double = 0.2, wait: Int = 5) throws -> (transmitted: Int, received: Int) {
        let result = try run(
            ["ping", "-n", "-q", "-c", "\(count)", "-i", "\(interval)", "-W", "\(wait)", address], in: namespace, check: false)
        return try Self.pingCounts(result.output)
    }

    /// Reads "N packets transmitted, M received" from ping's summary.
    public static func pingCounts(_ output: String) throws -> (transmitted: Int, received: Int) {
        for line in output.split(separator: "\n") where line.contains("packets transmitted") {
            let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            if numbers.count >= 2 { return (numbers[0], numbers[1]) }
        }
        throw LabError.failed("no ping summary in: \(output.suffix(300))")
    }

    // MARK: nftables

    /// Loads an nftables script into `namespace` (`nft -f -`).
    public func nft(_ script: String, in namespace: String) throws {
        _ = try LabCommand.resolve("nft")
        try run(["nft", "-f", "-"], in: namespace, input: script)
    }

    /// Drops `percent` % (1...100) of the packets arriving in `namespace` (and forwarded through
    /// it), at random: `numgen random mod 100 < N drop` in table `inet meshlab_loss`.
    public func randomDrop(percent: Int, in namespace: String) throws {
        guard (1...100).contains(percent) else { throw LabError.failed("random drop needs a percentage from 1 to 100, not \(percent)") }
        let rule = percent == 100 ? "drop" : "numgen random mod 100 < \(percent) drop"
        try nft("""
            table inet meshlab_loss {
              chain input { type filter hook input priority -10; \(rule); }
              chain forward { type filter hook forward priority -10; \(rule); }
            }
            """, in: namespace)
    }

    /// Removes the random-drop table from `namespace`.
    public func stopRandomDrop(in namespace: String) throws {
        try run(["nft", "delete", "table", "inet", "meshlab_loss"], in: namespace)
    }

    /// Masquerades traffic leaving `namespace` through `interface` (a NAT router). Plain
    /// masquerade keeps a source port for every destination (endpoint-independent mapping, which
    /// hole punching can cross); `fullyRandom` picks a new port per destination
    /// (address-and-port-dependent mapping: a "symmetric" NAT, which it cannot).
    ///
    /// Like any NAT router, it drops unsolicited TCP and UDP arriving at its outside address. Left
    /// to the kernel, such a datagram (a peer punching first) was delivered to the router itself
    /// and left a connection-tracking entry behind; the inside host's own datagram back to that
    /// peer then clashed with it, went out from another port, and the punch failed.
    public func masquerade(outOf interface: String, in namespace: String, fullyRandom: Bool = false) throws {
        try nft("""
            table ip meshlab_nat {
              chain postrouting { type nat hook postrouting priority 100; oifname "\(interface)" masquerade\(fullyRandom ? " random,fully-random" : ""); }
              chain input { type filter hook input priority 0; iifname "\(interface)" ct state new meta l4proto { tcp, udp } drop; }
            }
            """, in: namespace)
    }

    // MARK: Teardown

    /// Kills the lab's processes (by PID), runs cleanups, deletes its namespaces. Idempotent,
    /// never throws; what it cannot delete it reports on standard error.
    public func teardown() {
        let (processes, cleanups, namespaces) = locked { () -> ([LabProcess], [() -> Void], [String]) in
            defer {
                self.processes = []
                self.cleanups = []
                self.namespaces = []
                tornDown = true
            }
            return (self.processes, self.cleanups, self.namespaces)
        }
        for process in processes.reversed() { process.stop() }
        for cleanup in cleanups.reversed() { cleanup() }
        for namespace in namespaces.reversed() { Self.deleteNamespace(namespace) }
    }

    /// Namespaces this lab created and has not deleted.
    public var createdNamespaces: [String] { locked { namespaces } }

    /// What a detached lab leaves running, so that another process can tear it down later.
    public struct Detached: Codable, Sendable {
        public var namespaces: [String]
        public var processIdentifiers: [Int32]
    }

    /// Hands the lab over to the caller: nothing is torn down by this object any more (for a
    /// demo that outlives the process that built it). Registered cleanups are dropped.
    public func detach() -> Detached {
        locked {
            defer {
                processes = []
                cleanups = []
                namespaces = []
                tornDown = true
            }
            return Detached(namespaces: namespaces, processIdentifiers: processes.map(\.processIdentifier))
        }
    }

    /// Tears down what ``detach()`` returned: kills the processes by PID, deletes the namespaces.
    public static func teardown(_ detached: Detached) {
        for pid in detached.processIdentifiers.reversed() where pid > 1 {
            kill(pid, SIGTERM)
        }
        let deadline = Date().addingTimeInterval(3)
        while Date() < deadline, detached.processIdentifiers.contains(where: { kill($0, 0) == 0 }) { usleep(20_000) }
        for pid in detached.processIdentifiers where pid > 1 && kill(pid, 0) == 0 { kill(pid, SIGKILL) }
        for namespace in detached.namespaces.reversed() { deleteNamespace(namespace) }
    }

    // MARK: Helpers

    private func short(_ namespace: String) -> String {
        let role = namespace.hasPrefix(tag + "-") ? String(namespace.dropFirst(tag.count + 1)) : namespace
        return String(role.prefix(12))
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    private static func deleteNamespace(_ name: String) {
        // Processes still inside (started by the code under test) would keep nothing alive once
        // the namespace is gone, but daemons like wireguard-go keep running: kill them by PID.
        killProcesses(in: name)
        do {
            try LabCommand.run(["ip", "netns", "delete", name], timeout: 30)
        } catch {
            FileHandle.standardError.write(Data("meshlab: could not delete namespace \(name): \(error)\n".utf8))
        }
    }

    private static func killProcesses(in namespace: String) {
        guard let result = try? LabCommand.run(["ip", "netns", "pids", namespace], check: false, timeout: 30) else { return }
        let pids = result.output.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
        for pid in pids where pid != getpid() { kill(pid, SIGKILL) }
    }

    /// Deletes namespaces named `PREFIX-PID-...` whose PID no longer runs.
    static func sweepStale(prefix: String) {
        guard let result = try? LabCommand.run(["ip", "netns", "list"], check: false, timeout: 30) else { return }
        for line in result.output.split(separator: "\n") {
            guard let name = line.split(separator: " ").first.map(String.init), name.hasPrefix(prefix + "-") else { continue }
            let fields = name.dropFirst(prefix.count + 1).split(separator: "-")
            guard let pidText = fields.first, let pid = Int32(pidText) else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }  // its lab is still running
            deleteNamespace(name)
        }
    }
}
