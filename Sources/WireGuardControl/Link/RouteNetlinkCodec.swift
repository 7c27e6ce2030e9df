import CNetlink
import MeshAddressing
#if canImport(Glibc)
import Glibc
#endif

/// Builds and parses rtnetlink messages (links, addresses, routes).
enum RouteNetlinkCodec {
    // MARK: Links

    static func linkMessage(
        type: Int, flags: Int, sequence: UInt32, index: Int32 = 0, name: String?, kind: String? = nil,
        mtu: UInt32? = nil, up: Bool? = nil, into writer: inout NetlinkMessageWriter
    ) {
        let start = writer.beginMessage(type: UInt16(type), flags: UInt16(flags), sequence: sequence)
        var header = ifinfomsg()
        header.ifi_family = UInt8(AF_UNSPEC)
        header.ifi_index = index
        if let up {
            header.ifi_flags = up ? UInt32(IFF_UP) : 0
            header.ifi_change = UInt32(IFF_UP)
        }
        writer.appendStruct(header)
        if let name { writer.appendAttribute(UInt16(IFLA_IFNAME), string: name) }
        if let mtu { writer.appendAttribute(UInt16(IFLA_MTU), integer: mtu) }
        if let kind {
            let info = writer.beginNest(UInt16(IFLA_LINKINFO))
            writer.appendAttribute(UInt16(IFLA_INFO_KIND), string: kind)
            writer.endNest(info)
        }
        writer.endMessage(start)
    }

    /// Parses an `RTM_NEWLINK` payload.
    static func parseLink(_ payload: UnsafeRawBufferPointer) throws -> LinkInfo {
        guard payload.count >= MemoryLayout<ifinfomsg>.size else { throw WireGuardControlError.malformedReply("short link message") }
        let index = payload.loadUnaligned(fromByteOffset: 4, as: Int32.self)
        let flags = payload.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        var name = ""
        var mtu: UInt32 = 0
        var kind: String? = nil
        let attributes = NetlinkAttributes(UnsafeRawBufferPointer(rebasing: payload[MemoryLayout<ifinfomsg>.size...]))
        try attributes.forEach { (attribute) throws in
            switch Int32(attribute.type) {
            case Int32(IFLA_IFNAME): name = attribute.string()
            case Int32(IFLA_MTU): mtu = try attribute.uint32()
            case Int32(IFLA_LINKINFO):
                kind = attribute.nested.first(UInt16(IFLA_INFO_KIND))?.string()
            default: break
            }
        }
        return LinkInfo(index: index, name: name, kind: kind, mtu: mtu, flags: flags)
    }

    // MARK: Addresses

    static func addressMessage(
        type: Int, flags: Int, sequence: UInt32, index: Int32, address: InterfaceAddress, noDAD: Bool,
        into writer: inout NetlinkMessageWriter
    ) {
        let start = writer.beginMessage(type: UInt16(type), flags: UInt16(flags), sequence: sequence)
        var header = ifaddrmsg()
        header.ifa_family = UInt8(address.address.isIPv4 ? AF_INET : AF_INET6)
        header.ifa_prefixlen = UInt8(address.prefixLength)
        header.ifa_index = UInt32(bitPattern: index)
        writer.appendStruct(header)
        let bytes = address.address.bytes
        writer.appendAttribute(UInt16(IFA_LOCAL), bytes: bytes)
        writer.appendAttribute(UInt16(IFA_ADDRESS), bytes: bytes)
        if noDAD { writer.appendAttribute(UInt16(IFA_FLAGS), integer: UInt32(IFA_F_NODAD)) }
        writer.endMessage(start)
    }

    /// Parses an `RTM_NEWADDR` payload: interface index and address.
    static func parseAddress(_ payload: UnsafeRawBufferPointer) throws -> (index: Int32, address: InterfaceAddress)? {
        guard payload.count >= MemoryLayout<ifaddrmsg>.size else { throw WireGuardControlError.malformedReply("short address message") }
        let prefixLength = Int(payload.loadUnaligned(fromByteOffset: 1, as: UInt8.self))
        let index = Int32(bitPattern: payload.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        var local: IPAddress? = nil
        var address: IPAddress? = nil
        let attributes = NetlinkAttributes(UnsafeRawBufferPointer(rebasing: payload[MemoryLayout<ifaddrmsg>.size...]))
        try attributes.forEach { (attribute) throws in
            switch Int32(attribute.type) {
            case Int32(IFA_LOCAL): local = IPAddress(bytes: attribute.payload)
            case Int32(IFA_ADDRESS): address = IPAddress(bytes: attribute.payload)
            default: break
            }
        }
        guard let chosen = local ?? address else { return nil }
        return (index, InterfaceAddress(address: chosen, prefixLength: prefixLength))
    }

    // MARK: Routes

    static func routeMessage(
        type: Int, flags: Int, sequence: UInt32, destination: IPPrefix, index: Int32, table: UInt32,
        protocol: UInt8 = UInt8(RTPROT_BOOT), into writer: inout NetlinkMessageWriter
    ) {
        let start = writer.beginMessage(type: UInt16(type), flags: UInt16(flags), sequence: sequence)
        var header = rtmsg()
        header.rtm_family = UInt8(destination.address.isIPv4 ? AF_INET : AF_INET6)
        header.rtm_dst_len = UInt8(destination.length)
        header.rtm_table = table < 256 ? UInt8(table) : UInt8(RT_TABLE_UNSPEC.rawValue)
        if type == RTM_NEWROUTE {
            header.rtm_protocol = `protocol`
            header.rtm_scope = UInt8(RT_SCOPE_LINK.rawValue)
            header.rtm_type = UInt8(RTN_UNICAST)
        } else {
            header.rtm_scope = UInt8(RT_SCOPE_NOWHERE.rawValue)
        }
        writer.appendStruct(header)
        writer.appendAttribute(UInt16(RTA_DST.rawValue), bytes: destination.address.bytes)
        writer.appendAttribute(UInt16(RTA_OIF.rawValue), integer: UInt32(bitPattern: index))
        writer.appendAttribute(UInt16(RTA_TABLE.rawValue), integer: table)
        writer.endMessage(start)
    }

    /// Parses an `RTM_NEWROUTE` payload: destination, output interface, table and protocol.
    static func parseRoute(_ payload: UnsafeRawBufferPointer) throws -> (destination: IPPrefix, index: Int32?, table: UInt32, protocol: UInt8)? {
        guard payload.count >= MemoryLayout<rtmsg>.size else { throw WireGuardControlError.malformedReply("short route message") }
        let family = Int32(payload.loadUnaligned(fromByteOffset: 0, as: UInt8.self))
        let length = Int(payload.loadUnaligned(fromByteOffset: 1, as: UInt8.self))
        var table = UInt32(payload.loadUnaligned(fromByteOffset: 4, as: UInt8.self))
        let routeProtocol = payload.loadUnaligned(fromByteOffset: 5, as: UInt8.self)
        var destination: IPAddress? = nil
        var index: Int32? = nil
        let attributes = NetlinkAttributes(UnsafeRawBufferPointer(rebasing: payload[MemoryLayout<rtmsg>.size...]))
        try attributes.forEach { (attribute) throws in
            switch Int(attribute.type) {
            case Int(RTA_DST.rawValue): destination = IPAddress(bytes: attribute.payload)
            case Int(RTA_OIF.rawValue): index = Int32(bitPattern: try attribute.uint32())
            case Int(RTA_TABLE.rawValue): table = try attribute.uint32()
            default: break
            }
        }
        let address = destination ?? (family == AF_INET6 ? IPAddress.v6(IPv6Address(high: 0, low: 0)) : .v4(IPv4Address(0)))
        guard family == AF_INET || family == AF_INET6, let prefix = IPPrefix(containing: address, length: length) else { return nil }
        return (prefix, index, table, routeProtocol)
    }
}
