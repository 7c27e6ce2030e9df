import MeshCore
import MeshCrypto
import WireGuardControl

/// Replies from the WireGuard backends: a userspace daemon's UAPI socket and the kernel's
/// netlink sockets (generic netlink for WireGuard, rtnetlink for links, addresses and routes).
enum ReplyTargets {
    static let uapi = FuzzTarget(
        name: "uapi-reply",
        summary: "UAPI replies from a userspace WireGuard daemon (get=1 device dump, set=1 errno)",
        run: { bytes in
            _ = try? ReplyDecoding.uapiGetReply(bytes)
            _ = try? ReplyDecoding.uapiStatusReply(bytes)
        },
        seeds: {
            let hex = { (bytes: [UInt8]) in bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
            let device = """
                private_key=\(hex([UInt8](repeating: 0x22, count: 32)))
                listen_port=51820
                fwmark=0
                public_key=\(hex(Fixture.agreementKey(3).publicKey.bytes))
                preshared_key=\(hex([UInt8](repeating: 0, count: 32)))
                protocol_version=1
                endpoint=192.0.2.3:51820
                last_handshake_time_sec=1800000000
                last_handshake_time_nsec=250
                tx_bytes=1024
                rx_bytes=2048
                persistent_keepalive_interval=25
                allowed_ip=100.80.0.3/32
                allowed_ip=10.3.0.0/16
                public_key=\(hex(Fixture.agreementKey(4).publicKey.bytes))
                endpoint=[2001:db8::4]:51820
                allowed_ip=fd5a:1::4/128
                errno=0


                """
            return [Array(device.utf8), Array("errno=0\n\n".utf8), Array("errno=-22\n\n".utf8)]
        })

    /// One received netlink datagram (one or more messages).
    static let netlink = FuzzTarget(
        name: "netlink-reply",
        summary: "netlink datagrams: message framing, errors and extended acks, WireGuard dump parts, rtnetlink links/addresses/routes (with next hops, ECMP)/rules",
        run: { bytes in _ = try? ReplyDecoding.netlinkDatagram(bytes) },
        seeds: { NetlinkSeeds.all() })
}

/// Hand-built netlink replies (host byte order, 4-byte alignment, as the kernel sends them).
enum NetlinkSeeds {
    static let nested: UInt16 = 0x8000

    static func attribute(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        let length = 4 + payload.count
        var bytes = le(UInt16(length)) + le(type) + payload
        while bytes.count % 4 != 0 { bytes.append(0) }
        return bytes
    }

    static func message(type: UInt16, flags: UInt16, _ payload: [UInt8]) -> [UInt8] {
        le(UInt32(16 + payload.count)) + le(type) + le(flags) + le(UInt32(1)) + le(UInt32(0)) + payload
    }

    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    static func all() -> [[UInt8]] {
        let multi: UInt16 = 0x2
        // WireGuard GET_DEVICE dump part: genlmsghdr (cmd 0, version 1), device attributes, one peer.
        let allowedIP = attribute(0 | nested, attribute(1, le(UInt16(2))) + attribute(2, [100, 80, 0, 3]) + attribute(3, [32]))
        let allowedIP6 = attribute(1 | nested, attribute(1, le(UInt16(10))) + attribute(2, [0xfd, 0x5a, 0, 1] + [UInt8](repeating: 0, count: 11) + [3]) + attribute(3, [128]))
        let sockaddr = le(UInt16(2)) + [0xC8, 0x4C] + [192, 0, 2, 3] + [UInt8](repeating: 0, count: 8)
        let peer = attribute(0 | nested,
            attribute(1, Fixture.agreementKey(3).publicKey.bytes) + attribute(4, sockaddr) + attribute(5, le(UInt16(25)))
            + attribute(6, le(Int64(1_800_000_000)) + le(Int64(250))) + attribute(7, le(UInt64(2048))) + attribute(8, le(UInt64(1024)))
            + attribute(9 | nested, allowedIP + allowedIP6) + attribute(10, le(UInt32(1))))
        let device = [0, 1, 0, 0] + attribute(1, le(UInt32(4))) + attribute(2, Array("mesh0\0".utf8))
            + attribute(4, Fixture.agreementKey(2).publicKey.bytes) + attribute(6, le(UInt16(51820))) + attribute(7, le(UInt32(0)))
            + attribute(8 | nested, peer)
        let dump = message(type: 0x15, flags: multi, device) + message(type: 3, flags: multi, le(Int32(0)))
        // An error with an extended ack message (NLM_F_ACK_TLVS 0x200), and a plain ack.
        let original = message(type: 0x15, flags: 0x5, [])
        let errorWithText = message(type: 2, flags: 0x200, le(Int32(-22)) + original + attribute(1, Array("invalid peer\0".utf8)))
        let ack = message(type: 2, flags: 0x100, le(Int32(0)) + original)
        // rtnetlink: a link (ifinfomsg 16 bytes), an address (ifaddrmsg 8), a route (rtmsg 12).
        let link = message(type: 16, flags: 0, [0, 0] + le(UInt16(65534)) + le(Int32(4)) + le(UInt32(0x41)) + le(UInt32(0))
            + attribute(3, Array("mesh0\0".utf8)) + attribute(4, le(UInt32(1420))) + attribute(18 | nested, attribute(1, Array("wireguard\0".utf8))))
        let address = message(type: 20, flags: 0, [2, 16, 0, 0] + le(UInt32(4)) + attribute(2, [100, 80, 0, 2]) + attribute(1, [100, 80, 0, 2]))
        let route = message(type: 24, flags: 0, [2, 16, 0, 0, 254, 4, 0, 1] + le(UInt32(0))
            + attribute(1, [10, 3, 0, 0]) + attribute(4, le(Int32(4))) + attribute(15, le(UInt32(254))))
        // A routing daemon's routes (issue 13): IPv4 over ECMP through two IPv6 link-local next
        // hops (RTA_MULTIPATH of rtnexthop records with RTA_VIA), IPv6 through one (RTA_GATEWAY).
        let linkLocal: (UInt8) -> [UInt8] = { last in [0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [last] }
        let via: (UInt8) -> [UInt8] = { last in attribute(18, le(UInt16(10)) + linkLocal(last)) }
        let hop: (UInt8) -> [UInt8] = { last in le(UInt16(8 + via(last).count)) + [0, 0] + le(Int32(4)) + via(last) }
        let ecmp = message(type: 24, flags: multi, [2, 24, 0, 0, 254, 12, 0, 1] + le(UInt32(0))
            + attribute(1, [10, 9, 50, 0]) + attribute(15, le(UInt32(254))) + attribute(9, hop(3) + hop(4)))
        let gateway = message(type: 24, flags: multi, [10, 64, 0, 0, 254, 12, 0, 1] + le(UInt32(0))
            + attribute(1, [0xfd, 0x09, 0, 3] + [UInt8](repeating: 0, count: 12)) + attribute(5, linkLocal(3)) + attribute(4, le(Int32(4))))
        return [dump, errorWithText, ack, link + address + route, ecmp + gateway]
    }
}
