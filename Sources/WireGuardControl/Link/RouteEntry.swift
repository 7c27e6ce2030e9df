import MeshAddressing
import CNetlink
#if canImport(Glibc)
import Glibc
#endif

/// One route as the kernel lists it, with its next hops: what a routing daemon installed
/// (`ip route show table T`), for meshd to map next hops to mesh members.
public struct RouteEntry: Hashable, Sendable, CustomStringConvertible {
    /// One next hop: a gateway address (absent for a route straight onto a link) and the output
    /// interface's index.
    public struct NextHop: Hashable, Sendable {
        public var gateway: IPAddress?
        public var interfaceIndex: Int32?
        public init(gateway: IPAddress?, interfaceIndex: Int32?) {
            self.gateway = gateway
            self.interfaceIndex = interfaceIndex
        }
    }

    public var destination: IPPrefix
    public var table: UInt32
    /// The route's `proto` (who installed it: 12 is BIRD's, 186 BGP's by FRR…).
    public var `protocol`: UInt8
    /// Its type (`RTN_UNICAST` for a route that forwards).
    public var type: UInt8
    /// The next hops: one for a plain route, several for ECMP (`RTA_MULTIPATH`).
    public var nextHops: [NextHop]

    public init(destination: IPPrefix, table: UInt32, protocol: UInt8, type: UInt8, nextHops: [NextHop]) {
        self.destination = destination
        self.table = table
        self.protocol = `protocol`
        self.type = type
        self.nextHops = nextHops
    }

    /// Whether it forwards (unicast), rather than blackholing, rejecting or being local.
    public var isUnicast: Bool { type == UInt8(RTN_UNICAST) }

    public var description: String {
        let hops = nextHops.map { hop in "via \(hop.gateway.map { "\($0)" } ?? "-") dev #\(hop.interfaceIndex.map(String.init) ?? "-")" }
        return "\(destination) \(hops.joined(separator: " ")) table \(table) proto \(`protocol`)"
    }
}

extension RouteNetlinkCodec {
    /// Parses an `RTM_NEWROUTE` payload with its next hops (`RTA_GATEWAY`, `RTA_VIA` for an IPv4
    /// route through an IPv6 gateway, `RTA_OIF`, and each `rtnexthop` of `RTA_MULTIPATH`). Nil for
    /// a family other than IPv4 and IPv6; throws for malformed input.
    static func parseRouteEntry(_ payload: UnsafeRawBufferPointer) throws -> RouteEntry? {
        guard payload.count >= MemoryLayout<rtmsg>.size else { throw WireGuardControlError.malformedReply("short route message") }
        let family = Int32(payload.loadUnaligned(fromByteOffset: 0, as: UInt8.self))
        let length = Int(payload.loadUnaligned(fromByteOffset: 1, as: UInt8.self))
        var table = UInt32(payload.loadUnaligned(fromByteOffset: 4, as: UInt8.self))
        let routeProtocol = payload.loadUnaligned(fromByteOffset: 5, as: UInt8.self)
        let type = payload.loadUnaligned(fromByteOffset: 7, as: UInt8.self)
        var destination: IPAddress?
        var single = RouteEntry.NextHop(gateway: nil, interfaceIndex: nil)
        var multipath: [RouteEntry.NextHop] = []
        let attributes = NetlinkAttributes(UnsafeRawBufferPointer(rebasing: payload[MemoryLayout<rtmsg>.size...]))
        try attributes.forEach { (attribute) throws in
            switch Int(attribute.type) {
            case Int(RTA_DST.rawValue): destination = IPAddress(bytes: attribute.payload)
            case Int(RTA_TABLE.rawValue): table = try attribute.uint32()
            case Int(RTA_OIF.rawValue): single.interfaceIndex = Int32(bitPattern: try attribute.uint32())
            case Int(RTA_GATEWAY.rawValue): single.gateway = IPAddress(bytes: attribute.payload)
            case Int(RTA_VIA.rawValue): single.gateway = try via(attribute.payload)
            case Int(RTA_MULTIPATH.rawValue): multipath = try nextHops(attribute.payload)
            default: break
            }
        }
        let address = destination ?? (family == AF_INET6 ? IPAddress.v6(IPv6Address(high: 0, low: 0)) : .v4(IPv4Address(0)))
        guard family == AF_INET || family == AF_INET6, let prefix = IPPrefix(containing: address, length: length) else { return nil }
        let hops = multipath.isEmpty ? (single.gateway == nil && single.interfaceIndex == nil ? [] : [single]) : multipath
        return RouteEntry(destination: prefix, table: table, protocol: routeProtocol, type: type, nextHops: hops)
    }

    /// `struct rtvia`: a 2-byte family, then the address.
    private static func via(_ payload: UnsafeRawBufferPointer) throws -> IPAddress? {
        guard payload.count >= 2 else { throw WireGuardControlError.malformedReply("short RTA_VIA") }
        return IPAddress(bytes: UnsafeRawBufferPointer(rebasing: payload[2...]))
    }

    /// The `rtnexthop` records of `RTA_MULTIPATH`: each a length, flags, hops, interface index
    /// (8 bytes), then its own attributes (`RTA_GATEWAY`, `RTA_VIA`).
    private static func nextHops(_ payload: UnsafeRawBufferPointer) throws -> [RouteEntry.NextHop] {
        var hops: [RouteEntry.NextHop] = []
        var offset = 0
        while payload.count - offset >= 8 {
            let length = Int(payload.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            guard length >= 8, length <= payload.count - offset else { throw WireGuardControlError.malformedReply("bad rtnexthop length") }
            let index = payload.loadUnaligned(fromByteOffset: offset + 4, as: Int32.self)
            var hop = RouteEntry.NextHop(gateway: nil, interfaceIndex: index)
            try NetlinkAttributes(UnsafeRawBufferPointer(rebasing: payload[(offset + 8)..<(offset + length)])).forEach { (attribute) throws in
                if Int(attribute.type) == Int(RTA_GATEWAY.rawValue) { hop.gateway = IPAddress(bytes: attribute.payload) }
                if Int(attribute.type) == Int(RTA_VIA.rawValue) { hop.gateway = try via(attribute.payload) }
            }
            hops.append(hop)
            guard hops.count <= 512 else { throw WireGuardControlError.malformedReply("more than 512 next hops") }
            offset += (length + 3) & ~3
        }
        return hops
    }
}

extension LinkManager {
    /// The routes in `table` (both families), with their next hops.
    public func routeEntries(table: UInt32) throws -> [RouteEntry] {
        var result: [RouteEntry] = []
        for family in [AF_INET, AF_INET6] {
            result += try dump(type: RTM_GETROUTE, family: UInt8(family), operation: "listing the routes of table \(table)") { part in
                guard part.type == UInt16(RTM_NEWROUTE), let route = try RouteNetlinkCodec.parseRouteEntry(part.payload), route.table == table
                else { return nil }
                return route
            }
        }
        return result
    }
}
