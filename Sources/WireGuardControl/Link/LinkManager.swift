import CNetlink
import MeshAddressing
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Network interfaces over rtnetlink: create and delete links (of kind `wireguard` or others),
/// MTU, up/down, IPv4 and IPv6 addresses, routes (optionally in a table), and lookups by name and
/// by kind. Works in the namespace given at creation.
///
/// Operations on an interface that does not exist (or vanished underneath) throw
/// ``WireGuardControlError/noSuchInterface(_:)``.
public final class LinkManager: Sendable {
    /// The network namespace (`nil`: the caller's).
    public let namespace: String?
    private let socket: Mutex<NetlinkSocket>

    /// The main routing table.
    public static let mainTable: UInt32 = 254

    /// Opens an rtnetlink socket in `namespace` (a name under `/var/run/netns`, or a path).
    public init(namespace: String? = nil) throws {
        self.namespace = namespace
        socket = Mutex(try NetlinkSocket(protocol: NETLINK_ROUTE, namespace: namespace))
    }

    // MARK: Lookups

    /// The link named `name`, or `nil` when there is none.
    public func link(named name: String) throws -> LinkInfo? {
        try socket.withLock { (socket) throws -> LinkInfo? in
            var writer = NetlinkMessageWriter(capacity: 256)
            let sequence = socket.nextSequence()
            RouteNetlinkCodec.linkMessage(
                type: RTM_GETLINK, flags: Int(NLM_F_REQUEST | NLM_F_ACK), sequence: sequence, name: name, into: &writer)
            var found: LinkInfo? = nil
            do {
                try writer.bytes.withUnsafeBytes { (bytes) throws in
                    try socket.request(bytes, sequence: sequence, operation: "looking up interface \(name)") {
                        (reply) throws in
                        if reply.type == UInt16(RTM_NEWLINK) { found = try RouteNetlinkCodec.parseLink(reply.payload) }
                    }
                }
            } catch let error as WireGuardControlError where error.kernelErrno == ENODEV {
                return nil
            }
            return found
        }
    }

    /// Every link, or those of one kind (`wireguard`, `veth`, ...).
    public func links(ofKind kind: String? = nil) throws -> [LinkInfo] {
        try socket.withLock { (socket) throws -> [LinkInfo] in
            var writer = NetlinkMessageWriter(capacity: 256)
            let sequence = socket.nextSequence()
            RouteNetlinkCodec.linkMessage(
                type: RTM_GETLINK, flags: Int(NLM_F_REQUEST | NLM_F_DUMP), sequence: sequence, name: nil, into: &writer)
            var links: [LinkInfo] = []
            _ = try writer.bytes.withUnsafeBytes { (bytes) throws -> Bool in
                try socket.dump(bytes, sequence: sequence, operation: "listing interfaces") { (part) throws in
                    guard part.type == UInt16(RTM_NEWLINK) else { return }
                    let link = try RouteNetlinkCodec.parseLink(part.payload)
                    if kind == nil || link.kind == kind { links.append(link) }
                }
            }
            return links
        }
    }

    // MARK: Links

    /// Creates a link of `kind` (such as `wireguard` or `dummy`), down, and returns it.
    /// - Throws: ``WireGuardControlError/interfaceExists(_:)``; for kind `wireguard` on a kernel
    ///   without the module, ``WireGuardControlError/moduleNotLoaded``.
    @discardableResult
    public func createLink(named name: String, kind: String) throws -> LinkInfo {
        do {
            try send("creating \(kind) interface \(name)") { writer, sequence in
                RouteNetlinkCodec.linkMessage(
                    type: RTM_NEWLINK, flags: Int(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL), sequence: sequence,
                    name: name, kind: kind, into: &writer)
            }
        } catch let error as WireGuardControlError where error.kernelErrno == EEXIST {
            throw WireGuardControlError.interfaceExists(name)
        } catch let error as WireGuardControlError where error.kernelErrno == EOPNOTSUPP && kind == "wireguard" {
            throw WireGuardControlError.moduleNotLoaded
        }
        guard let link = try link(named: name) else { throw WireGuardControlError.noSuchInterface(name) }
        return link
    }

    /// Deletes the link named `name`.
    public func deleteLink(named name: String) throws {
        try onLink(name, "deleting interface \(name)") { writer, sequence in
            RouteNetlinkCodec.linkMessage(type: RTM_DELLINK, flags: Int(NLM_F_REQUEST | NLM_F_ACK), sequence: sequence, name: name, into: &writer)
        }
    }

    /// Sets the MTU.
    public func setMTU(_ mtu: UInt32, on name: String) throws {
        try onLink(name, "setting the MTU of \(name) to \(mtu)") { writer, sequence in
            RouteNetlinkCodec.linkMessage(
                type: RTM_NEWLINK, flags: Int(NLM_F_REQUEST | NLM_F_ACK), sequence: sequence, name: name, mtu: mtu, into: &writer)
        }
    }

    /// Brings the link up or down.
    public func setUp(_ up: Bool, _ name: String) throws {
        try onLink(name, "bringing \(name) \(up ? "up" : "down")") { writer, sequence in
            RouteNetlinkCodec.linkMessage(
                type: RTM_NEWLINK, flags: Int(NLM_F_REQUEST | NLM_F_ACK), sequence: sequence, name: name, up: up, into: &writer)
        }
    }

    // MARK: Addresses

    /// Adds an address (idempotent: an address already there is kept). `noDAD` skips IPv6
    /// duplicate address detection, so the address is usable at once.
    public func addAddress(_ address: InterfaceAddress, to name: String, noDAD: Bool = false) throws {
        let index = try requireIndex(name)
        try onLink(name, "adding address \(address) to \(name)") { writer, sequence in
            RouteNetlinkCodec.addressMessage(
                type: RTM_NEWADDR, flags: Int(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE), sequence: sequence,
                index: index, address: address, noDAD: noDAD, into: &writer)
        }
    }

    /// Removes an address.
    public func removeAddress(_ address: InterfaceAddress, from name: String) throws {
        let index = try requireIndex(name)
        try onLink(name, "removing address \(address) from \(name)") { writer, sequence in
            RouteNetlinkCodec.addressMessage(
                type: RTM_DELADDR, flags: Int(NLM_F_REQUEST | NLM_F_ACK), sequence: sequence, index: index, address: address,
                noDAD: false, into: &writer)
        }
    }

    /// The addresses on the link named `name`.
    public func addresses(of name: String) throws -> [InterfaceAddress] {
        let index = try requireIndex(name)
        return try socket.withLock { (socket) throws -> [InterfaceAddress] in
            var writer = NetlinkMessageWriter(capacity: 64)
            let sequence = socket.nextSequence()
            let start = writer.beginMessage(type: UInt16(RTM_GETADDR), flags: UInt16(NLM_F_REQUEST | NLM_F_DUMP), sequence: sequence)
            writer.appendStruct(ifaddrmsg())
            writer.endMessage(start)
            var result: [InterfaceAddress] = []
            _ = try writer.bytes.withUnsafeBytes { (bytes) throws -> Bool in
                try socket.dump(bytes, sequence: sequence, operation: "listing addresses of \(name)") { (part) throws in
                    guard part.type == UInt16(RTM_NEWADDR), let entry = try RouteNetlinkCodec.parseAddress(part.payload),
                        entry.index == index
                    else { return }
                    result.append(entry.address)
                }
            }
            return result
        }
    }

    // MARK: Routes

    /// Adds (or replaces) a route to `destination` through the link, in `table` (main by default),
    /// marked with `protocol` (`proto` in `ip route`: boot unless given).
    public func addRoute(_ destination: IPPrefix, via name: String, table: UInt32 = LinkManager.mainTable, protocol: UInt8? = nil) throws {
        let index = try requireIndex(name)
        try onLink(name, "adding route \(destination) via \(name) (table \(table))") { writer, sequence in
            RouteNetlinkCodec.routeMessage(
                type: RTM_NEWROUTE, flags: Int(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE), sequence: sequence,
                destination: destination, index: index, table: table, protocol: `protocol` ?? UInt8(RTPROT_BOOT), into: &writer)
        }
    }

    /// Removes the route to `destination` through the link from `table`.
    public func removeRoute(_ destination: IPPrefix, via name: String, table: UInt32 = LinkManager.mainTable) throws {
        let index = try requireIndex(name)
        try onLink(name, "removing route \(destination) via \(name) (table \(table))") { writer, sequence in
            RouteNetlinkCodec.routeMessage(
                type: RTM_DELROUTE, flags: Int(NLM_F_REQUEST | NLM_F_ACK), sequence: sequence, destination: destination,
                index: index, table: table, into: &writer)
        }
    }

    /// Destinations of the routes through the link in `table` (only those marked with `protocol`, when given).
    public func routes(via name: String, table: UInt32 = LinkManager.mainTable, protocol: UInt8? = nil) throws -> [IPPrefix] {
        let index = try requireIndex(name)
        var result: [IPPrefix] = []
        for family in [AF_INET, AF_INET6] {
            result += try dump(type: RTM_GETROUTE, family: UInt8(family), operation: "listing routes via \(name)") { part in
                guard part.type == UInt16(RTM_NEWROUTE), let route = try RouteNetlinkCodec.parseRoute(part.payload),
                    route.index == index, route.table == table, `protocol`.map({ $0 == route.protocol }) ?? true
                else { return nil }
                return route.destination
            }
        }
        return result
    }

    // MARK: Plumbing

    private func requireIndex(_ name: String) throws -> Int32 {
        guard let link = try link(named: name) else { throw WireGuardControlError.noSuchInterface(name) }
        return link.index
    }

    /// Sends one request about the link `name`, mapping "no such device" to a clear error.
    private func onLink(
        _ name: String, _ operation: String, build: (inout NetlinkMessageWriter, UInt32) -> Void
    ) throws {
        do {
            try send(operation, build: build)
        } catch let error as WireGuardControlError where error.kernelErrno == ENODEV {
            throw WireGuardControlError.noSuchInterface(name)
        }
    }

    /// Dumps the objects of `type` (`RTM_GETROUTE`, `RTM_GETRULE`) of one family, each reply
    /// message to `body`. The header after the netlink one is `rtmsg`-sized: its first byte is the
    /// family in every rtnetlink dump request this module sends. Returns what `parse` made of them.
    func dump<Parsed: Sendable>(
        type: Int, family: UInt8, operation: String, parse: @Sendable (NetlinkMessage) throws -> Parsed?
    ) throws -> [Parsed] {
        try socket.withLock { (socket) throws -> [Parsed] in
            var parsed: [Parsed] = []
            var writer = NetlinkMessageWriter(capacity: 64)
            let sequence = socket.nextSequence()
            let start = writer.beginMessage(type: UInt16(type), flags: UInt16(NLM_F_REQUEST | NLM_F_DUMP), sequence: sequence)
            var header = rtmsg()
            header.rtm_family = family
            writer.appendStruct(header)
            writer.endMessage(start)
            _ = try writer.bytes.withUnsafeBytes { (bytes) throws -> Bool in
                try socket.dump(bytes, sequence: sequence, operation: operation) { (part) throws in
                    if let item = try parse(part) { parsed.append(item) }
                }
            }
            return parsed
        }
    }

    /// Sends one request built by `build` and waits for its acknowledgement.
    func request(_ operation: String, build: (inout NetlinkMessageWriter, UInt32) -> Void) throws {
        try send(operation, build: build)
    }

    private func send(_ operation: String, build: (inout NetlinkMessageWriter, UInt32) -> Void) throws {
        try socket.withLock { (socket) throws in
            var writer = NetlinkMessageWriter(capacity: 256)
            let sequence = socket.nextSequence()
            build(&writer, sequence)
            try writer.bytes.withUnsafeBytes { (bytes) throws in
                try socket.request(bytes, sequence: sequence, operation: operation)
            }
        }
    }
}
