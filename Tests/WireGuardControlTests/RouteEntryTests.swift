import CNetlink
import Glibc
import MeshAddressing
import Testing
@testable import WireGuardControl

/// Issue 13: a routing daemon's routes as the kernel lists them, next hops included.
@Suite("Route entries with next hops")
struct RouteEntryTests {
    func attribute(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        var bytes = le(UInt16(4 + payload.count)) + le(type) + payload
        while bytes.count % 4 != 0 { bytes.append(0) }
        return bytes
    }

    func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    func linkLocal(_ last: UInt8) -> [UInt8] { [0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [last] }

    @Test("an ECMP IPv4 route through IPv6 link-local next hops (RTA_MULTIPATH, RTA_VIA), an IPv6 route through one gateway, a blackhole")
    func nextHops() throws {
        let via: (UInt8) -> [UInt8] = { self.attribute(UInt16(RTA_VIA.rawValue), self.le(UInt16(AF_INET6)) + self.linkLocal($0)) }
        let hop: (UInt8, Int32) -> [UInt8] = { last, index in self.le(UInt16(8 + via(last).count)) + [0, 0] + self.le(index) + via(last) }
        // rtmsg: family, dst_len, src_len, tos, table, protocol (12: BIRD), scope, type (1: unicast), flags.
        let ecmp = [UInt8(AF_INET), 24, 0, 0, 254, 12, 0, 1] + le(UInt32(0))
            + attribute(UInt16(RTA_DST.rawValue), [10, 9, 50, 0]) + attribute(UInt16(RTA_MULTIPATH.rawValue), hop(3, 7) + hop(4, 7))
        let entry = try #require(try ecmp.withUnsafeBytes { try RouteNetlinkCodec.parseRouteEntry($0) })
        #expect(entry.destination == IPPrefix("10.9.50.0/24") && entry.protocol == 12 && entry.table == 254 && entry.isUnicast)
        #expect(entry.nextHops == [
            RouteEntry.NextHop(gateway: IPAddress("fe80::3"), interfaceIndex: 7), RouteEntry.NextHop(gateway: IPAddress("fe80::4"), interfaceIndex: 7),
        ])

        let single = [UInt8(AF_INET6), 64, 0, 0, 0, 12, 0, 1] + le(UInt32(0))
            + attribute(UInt16(RTA_DST.rawValue), [0xfd, 0x09, 0, 3] + [UInt8](repeating: 0, count: 12))
            + attribute(UInt16(RTA_GATEWAY.rawValue), linkLocal(3)) + attribute(UInt16(RTA_OIF.rawValue), le(Int32(7)))
            + attribute(UInt16(RTA_TABLE.rawValue), le(UInt32(1023)))
        let six = try #require(try single.withUnsafeBytes { try RouteNetlinkCodec.parseRouteEntry($0) })
        #expect(six.destination == IPPrefix("fd09:3::/64") && six.table == 1023)
        #expect(six.nextHops == [RouteEntry.NextHop(gateway: IPAddress("fe80::3"), interfaceIndex: 7)])

        let blackhole = [UInt8(AF_INET), 8, 0, 0, 254, 4, 0, UInt8(RTN_BLACKHOLE)] + le(UInt32(0)) + attribute(UInt16(RTA_DST.rawValue), [10, 0, 0, 0])
        let hole = try #require(try blackhole.withUnsafeBytes { try RouteNetlinkCodec.parseRouteEntry($0) })
        #expect(!hole.isUnicast && hole.nextHops.isEmpty)

        // A next hop whose length runs past the attribute is an error, not a crash.
        let broken = [UInt8(AF_INET), 24, 0, 0, 254, 12, 0, 1] + le(UInt32(0)) + attribute(UInt16(RTA_MULTIPATH.rawValue), le(UInt16(200)) + [0, 0] + le(Int32(1)))
        #expect(throws: WireGuardControlError.self) { try broken.withUnsafeBytes { try RouteNetlinkCodec.parseRouteEntry($0) } }
    }
}
