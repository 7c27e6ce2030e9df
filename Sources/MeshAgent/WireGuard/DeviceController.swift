#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import MeshAgentCore
import MeshCore
import MeshCrypto
import NIOCore
import NIOPosix
import WireGuardControl

/// meshd's hands on its WireGuard interface: picks the backend, creates the interface when it is
/// missing (and again if someone deletes it), keeps its key, port, addresses and MTU, and applies
/// desired peer state as differences only. Never tears the interface down on restart: a running
/// interface and its peers are adopted as they are.
///
/// Netlink and UAPI calls block (up to their 10 s timeouts when wireguard-go hangs), so this actor
/// runs on a thread of its own: its calls never hold the agent's actor or Swift's shared threads,
/// and probes, gossip and control requests go on while a device call waits.
actor DeviceController {
    /// The backend in use.
    enum Backend: String, Sendable { case kernel, userspace }

    nonisolated let name: String
    let settings: MeshdConfiguration.Interface
    let privateKey: X25519PrivateKey
    let logger: Logger
    private(set) var backend: Backend?
    private var device: (any WireGuardDevice)?
    /// rtnetlink where the interface lives (`interface.netns`, or meshd's own namespace); opened
    /// again at the next reconcile when it could not be (the namespace did not exist yet).
    private var links: LinkManager?
    /// rtnetlink in meshd's own namespace, when the interface lives in another: it is created
    /// here (its UDP socket stays here) and moved there.
    private let creator: LinkManager?
    /// The one thread this actor runs on.
    private nonisolated let thread: MultiThreadedEventLoopGroup
    private nonisolated let loop: any EventLoop

    /// Whether the kernel's own link-local addresses were switched off on the interface.
    private var linkLocalGenerationOff = false

    /// Where wireguard-go writes its log, when meshd starts it.
    let daemonLogPath: String

    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.executor.asUnownedSerialExecutor() }

    init(settings: MeshdConfiguration.Interface, privateKey: X25519PrivateKey, daemonLogPath: String, logger: Logger) {
        self.name = settings.name
        self.daemonLogPath = daemonLogPath
        self.settings = settings
        self.privateKey = privateKey
        self.logger = logger
        self.links = try? LinkManager(namespace: settings.netns)
        self.creator = settings.netns == nil ? nil : try? LinkManager()
        thread = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = thread.next()
    }

    /// Stops the device thread (at shutdown, once no call is pending).
    nonisolated func close() async {
        try? await thread.shutdownGracefully()
    }

    /// Makes sure the interface exists, is up, and carries `addresses` (see ``prepare(addresses:)``);
    /// returns the backend in use, and the device as it is then when `reading` (one hop for both).
    func prepare(addresses: [InterfaceAddress], reading: Bool) throws -> (backend: Backend?, state: WireGuardDeviceState?) {
        try prepare(addresses: addresses)
        return (backend, reading ? try? read() : nil)
    }

    /// Makes sure the interface exists, is up, and carries `addresses`; creates it if needed.
    func prepare(addresses: [InterfaceAddress]) throws {
        if links == nil, let namespace = settings.netns {
            do {
                links = try LinkManager(namespace: namespace)
            } catch {
                throw DeviceSetupError("cannot open interface.netns \(namespace): \(error)")
            }
        }
        guard let links else { throw WireGuardControlError.permissionDenied(operation: "opening rtnetlink") }
        if device == nil || (try? links.link(named: name)) == nil {
            try attach(links: links)
        }
        let present = Set((try? links.addresses(of: name)) ?? [])
        for address in addresses where !present.contains(address) {
            try links.addAddress(address, to: name, noDAD: !address.address.isIPv4)
            logger.info("address added", metadata: ["interface": "\(name)", "address": "\(address)"])
        }
        try keepOnlyWantedLinkLocal(present: present, wanted: addresses, links: links)
        if let link = try links.link(named: name) {
            if link.mtu != UInt32(settings.mtu) { try links.setMTU(UInt32(settings.mtu), on: name) }
            if !link.isUp { try links.setUp(true, name) }
        }
    }

    /// The mesh interface carries exactly the link-local address meshd wants (none when
    /// `interface.link_local` is off): a routing daemon must not pick another as its source, one
    /// no peer has in its allowed IPs. The kernel's own (a TUN device gets one; kernel WireGuard
    /// turns them off) is switched off (`addr_gen_mode` 1) and removed.
    private func keepOnlyWantedLinkLocal(present: Set<InterfaceAddress>, wanted: [InterfaceAddress], links: LinkManager) throws {
        let unwanted = present.filter { IPPrefix.linkLocalIPv6.contains($0.address) && !wanted.contains($0) }
        guard !unwanted.isEmpty else { return }
        if !linkLocalGenerationOff {
            try? GatewayForwarding.writeSysctl("/proc/sys/net/ipv6/conf/\(name)/addr_gen_mode", "1")
            linkLocalGenerationOff = true
        }
        for address in unwanted {
            try links.removeAddress(address, from: name)
            logger.info("address removed", metadata: ["interface": "\(name)", "address": "\(address)"])
        }
    }

    /// Opens (and if needed creates) the interface with the configured or best available backend.
    private func attach(links: LinkManager) throws {
        linkLocalGenerationOff = false
        let existing = try links.link(named: name)
        if let existing, existing.kind != nil, existing.kind != "wireguard", existing.kind != "tun" {
            throw WireGuardControlError.notWireGuard(interface: name, kind: existing.kind)
        }
        if let namespace = settings.netns {
            // Only kernel WireGuard keeps its socket behind when the interface moves.
            do {
                try attachKernel(links: links, existing: existing)
            } catch WireGuardControlError.moduleNotLoaded {
                throw DeviceSetupError("interface.netns \(namespace) needs kernel WireGuard, and this kernel has no WireGuard module")
            }
            return try applyKeyPortAndMark()
        }
        switch settings.backend {
        case .kernel:
            try attachKernel(links: links, existing: existing)
        case .userspace:
            try attachUserspace(existing: existing)
        case .auto:
            if existing?.kind == "tun" {
                try attachUserspace(existing: existing)
            } else {
                do {
                    try attachKernel(links: links, existing: existing)
                } catch WireGuardControlError.moduleNotLoaded {
                    logger.notice("no WireGuard kernel module; using wireguard-go", metadata: ["interface": "\(name)"])
                    try attachUserspace(existing: existing)
                }
            }
        }
        try applyKeyPortAndMark()
    }

    /// Key, port and mark: set only what differs, so a restart changes nothing.
    private func applyKeyPortAndMark() throws {
        guard let device else { return }
        let current = try device.read()
        var changes = WireGuardChangeSet()
        if current.publicKey != privateKey.publicKey { changes.privateKey = privateKey }
        if current.listenPort != settings.listenPort { changes.listenPort = settings.listenPort }
        if current.fwmark != settings.fwmark { changes.fwmark = settings.fwmark }
        if !changes.isEmpty { try device.apply(changes) }
    }

    private func attachKernel(links: LinkManager, existing: LinkInfo?) throws {
        let kernel = try KernelWireGuardDevice(interfaceName: name, namespace: settings.netns)
        if existing == nil, let creator, let namespace = settings.netns {
            // Created here (a run that stopped before the move left it here), then moved.
            if try creator.link(named: name) == nil {
                _ = try creator.createLink(named: name, kind: "wireguard")
                logger.info("interface created", metadata: ["interface": "\(name)", "backend": "kernel"])
            }
            try creator.moveLink(named: name, toNamespace: namespace)
            logger.info("interface moved into its namespace; its UDP socket stays here", metadata: ["interface": "\(name)", "netns": "\(namespace)"])
        } else if existing == nil {
            do {
                _ = try links.createLink(named: name, kind: "wireguard")
            } catch let error as WireGuardControlError {
                if case .kernel(_, let code, _) = error, code == EOPNOTSUPP || code == ENODEV { throw WireGuardControlError.moduleNotLoaded }
                throw error
            }
            logger.info("interface created", metadata: ["interface": "\(name)", "backend": "kernel"])
        }
        device = kernel
        backend = .kernel
    }

    private func attachUserspace(existing: LinkInfo?) throws {
        let userspace = UserspaceWireGuardDevice(interfaceName: name)
        if (try? userspace.read()) == nil {
            try WireGuardGoLauncher.start(interface: name, logPath: daemonLogPath, logger: logger)
            logger.info("interface created", metadata: ["interface": "\(name)", "backend": "userspace"])
        }
        device = userspace
        backend = .userspace
    }

    /// Plans and applies the difference to `desired`; returns what changed, and the device as it is
    /// afterwards when anything did.
    func apply(_ desired: WireGuardDesiredState) throws -> (changes: WireGuardChangeSet, after: WireGuardDeviceState?) {
        guard let device else { throw WireGuardControlError.noSuchInterface(name) }
        let changes = try device.reconcile(to: desired)
        return (changes, changes.isEmpty ? nil : try? device.read())
    }

    /// Reads the device.
    func read() throws -> WireGuardDeviceState {
        guard let device else { throw WireGuardControlError.noSuchInterface(name) }
        return try device.read()
    }

    /// Forgets the device (after an error that suggests it vanished), so ``prepare(addresses:)``
    /// looks again.
    func reset() {
        device = nil
    }

    /// Makes the kernel routes through the interface in `table` marked with `proto` exactly
    /// `prefixes` (accepted routed prefixes with a gateway): adds the missing, removes the rest of
    /// meshd's own (marked) routes, and never touches a route meshd did not install. Returns what
    /// it added and removed.
    func syncRoutes(_ prefixes: Set<IPPrefix>, table: UInt32, proto: UInt8) throws -> (added: [IPPrefix], removed: [IPPrefix]) {
        guard let links, device != nil else { throw WireGuardControlError.noSuchInterface(name) }
        let installed = Set(try links.routes(via: name, table: table, protocol: proto))
        let added = prefixes.subtracting(installed).sorted { "\($0)" < "\($1)" }
        let removed = installed.subtracting(prefixes).sorted { "\($0)" < "\($1)" }
        for prefix in added { try links.addRoute(prefix, via: name, table: table, protocol: proto) }
        for prefix in removed { try links.removeRoute(prefix, via: name, table: table) }
        return (added, removed)
    }

    /// The routes of `table` through the mesh interface whose next hops are gateways there (a
    /// routing daemon's), less those marked `ownProto` (meshd's): each with those gateways.
    func daemonRoutes(table: UInt32, ownProto: UInt8) throws -> [DaemonRouteChoice.Observed] {
        guard let links else { throw WireGuardControlError.noSuchInterface(name) }
        guard let index = try links.link(named: name)?.index else { throw WireGuardControlError.noSuchInterface(name) }
        return try links.routeEntries(table: table).compactMap { entry in
            guard entry.isUnicast, entry.protocol != ownProto else { return nil }
            let gateways = entry.nextHops.filter { $0.interfaceIndex == index }.compactMap(\.gateway)
            return gateways.isEmpty ? nil : DaemonRouteChoice.Observed(prefix: entry.destination, nextHops: gateways)
        }
    }

    /// Priorities of the exit's policy rules: the host's own routes but its default route first
    /// (`suppress_prefixlength 0`), then unmarked packets to the exit's table; both just before
    /// the main table's rule (32766), as wg-quick's.
    static let exitRulePriorities = (suppress: UInt32(32764), unmarked: UInt32(32765))

    /// Makes the exit's default routes `prefixes` (in `table`, marked `proto`) and the policy
    /// rules selecting them for packets without `mark`, per family, exactly what is wanted:
    /// adds the missing, removes meshd's own rules and routes no longer wanted, and never touches
    /// others. With an IPv4 exit, `src_valid_mark` lets reverse-path filtering see the mark.
    /// Returns whether anything changed.
    func syncExit(_ prefixes: Set<IPPrefix>, table: UInt32, mark: UInt32, proto: UInt8) throws -> Bool {
        guard let links else { throw WireGuardControlError.noSuchInterface(name) }
        let wanted = Self.exitRules(for: prefixes, table: table, mark: mark, proto: proto)
        var changed = false
        if device != nil {
            let (added, removed) = try syncRoutes(prefixes, table: table, proto: proto)
            changed = !added.isEmpty || !removed.isEmpty
        }
        let installed = Set(try links.rules(protocol: proto))
        let missing = wanted.subtracting(installed)
        // Once, with the rules (not at every reconcile): the sysctl stays set.
        if missing.contains(where: { !$0.isIPv6 }) {
            try GatewayForwarding.writeSysctl("/proc/sys/net/ipv4/conf/all/src_valid_mark", "1")
        }
        for rule in installed.subtracting(wanted) { try links.removeRule(rule) }
        for rule in missing { try links.addRule(rule) }
        return changed || installed != wanted
    }

    /// The policy rules that send what is not marked with `mark` to `table` (the exit's default
    /// routes), per family of `prefixes`, after the main table without its default route (none
    /// without a mark: WireGuard's own packets could not be told apart).
    static func exitRules(for prefixes: Set<IPPrefix>, table: UInt32, mark: UInt32, proto: UInt8) -> Set<PolicyRule> {
        guard mark != 0 else { return [] }
        var rules = Set<PolicyRule>()
        for isIPv6 in Set(prefixes.map { !$0.address.isIPv4 }) {
            rules.insert(PolicyRule(
                isIPv6: isIPv6, priority: exitRulePriorities.suppress, table: LinkManager.mainTable, suppressPrefixLength: 0, protocol: proto))
            rules.insert(PolicyRule(isIPv6: isIPv6, priority: exitRulePriorities.unmarked, table: table, fwmark: mark, invert: true, protocol: proto))
        }
        return rules
    }

    /// Forwarding and masquerade for the prefixes this node serves (``GatewayForwarding``), run
    /// here so the `nft` child never blocks the agent.
    func configureGateway(prefixes: [IPPrefix], masquerade: Bool, scratch: String) throws {
        try GatewayForwarding.apply(interface: name, prefixes: prefixes, masquerade: masquerade, scratch: scratch)
    }

    /// Removes the given peers.
    func remove(_ keys: [X25519PublicKey]) throws {
        guard let device, !keys.isEmpty else { return }
        try device.apply(WireGuardChangeSet(peersToRemove: keys))
    }

    /// Deletes the interface, its peers and its overlay addresses (after leaving the network: a
    /// later enrollment gets other addresses, and stale ones would stay the kernel's source
    /// address). A wireguard-go daemon exits when its interface goes.
    func removeInterface() throws {
        defer { reset() }
        guard let links, try links.link(named: name) != nil else { return }
        try links.deleteLink(named: name)
        logger.info("interface deleted", metadata: ["interface": "\(name)"])
    }
}

/// A device set-up step that cannot succeed as configured, in one sentence.
struct DeviceSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
