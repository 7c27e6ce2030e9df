import CNetlink
import MeshCore
import MeshCrypto
@testable import WireGuardControl

/// Deterministic keys and prefixes for tests.
enum Fixtures {
    static func key(_ n: Int) -> X25519PublicKey {
        var bytes = [UInt8](repeating: 0, count: 32)
        withUnsafeBytes(of: UInt32(n).bigEndian) { for i in 0..<4 { bytes[i] = $0[i] } }
        bytes[31] = 0x42
        return try! X25519PublicKey(bytes: bytes)
    }

    /// 10.(n/65536).(n/256).(n%256)/32-style distinct host prefixes.
    static func prefix(_ n: Int) -> IPPrefix {
        IPPrefix(host: .v4(IPv4Address(0x0A00_0000 | UInt32(n))))
    }

    static func prefix6(_ n: Int) -> IPPrefix {
        IPPrefix(containing: .v6(IPv6Address(high: 0x2001_0db8_0000_0000 | UInt64(n), low: 0)), length: 64)!
    }

    static let endpoint = SocketEndpoint("192.0.2.1:51820")!
    static let endpoint6 = SocketEndpoint("[2001:db8::1]:51820")!
}

/// A SET_DEVICE message as the kernel would read it, for checking the encoder.
struct DecodedSetMessage {
    struct Peer {
        var key: [UInt8]
        var flags: UInt32?
        var endpoint: SocketEndpoint?
        var keepalive: UInt16?
        var allowedIPs: [IPPrefix] = []
        var hasAllowedIPsNest = false
    }
    var length: Int
    var type: UInt16
    var flags: UInt16
    var sequence: UInt32
    var command: UInt8
    var interfaceName: String?
    var hasPrivateKey = false
    var listenPort: UInt16?
    var fwmark: UInt32?
    var deviceFlags: UInt32?
    var peers: [Peer] = []

    var hasDeviceAttributes: Bool { hasPrivateKey || listenPort != nil || fwmark != nil || deviceFlags != nil }

    static func decodeAll(_ bytes: [UInt8]) throws -> [DecodedSetMessage] {
        var result: [DecodedSetMessage] = []
        try bytes.withUnsafeBytes { buffer in
            try NetlinkMessage.forEach(in: buffer) { message in
                var decoded = DecodedSetMessage(
                    length: message.payload.count + 16, type: message.type, flags: message.flags, sequence: message.sequence,
                    command: message.payload[0])
                let attributes = NetlinkAttributes(UnsafeRawBufferPointer(rebasing: message.payload[4...]))
                try attributes.forEach { attribute in
                    switch Int(attribute.type) {
                    case Int(WGDEVICE_A_IFNAME.rawValue): decoded.interfaceName = attribute.string()
                    case Int(WGDEVICE_A_PRIVATE_KEY.rawValue): decoded.hasPrivateKey = true
                    case Int(WGDEVICE_A_LISTEN_PORT.rawValue): decoded.listenPort = try attribute.uint16()
                    case Int(WGDEVICE_A_FWMARK.rawValue): decoded.fwmark = try attribute.uint32()
                    case Int(WGDEVICE_A_FLAGS.rawValue): decoded.deviceFlags = try attribute.uint32()
                    case Int(WGDEVICE_A_PEERS.rawValue):
                        try attribute.nested.forEach { peerAttribute in
                            var peer = Peer(key: [])
                            try peerAttribute.nested.forEach { field in
                                switch Int(field.type) {
                                case Int(WGPEER_A_PUBLIC_KEY.rawValue): peer.key = Array(field.payload)
                                case Int(WGPEER_A_FLAGS.rawValue): peer.flags = try field.uint32()
                                case Int(WGPEER_A_ENDPOINT.rawValue): peer.endpoint = try SocketAddressCodec.decode(field.payload)
                                case Int(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL.rawValue): peer.keepalive = try field.uint16()
                                case Int(WGPEER_A_ALLOWEDIPS.rawValue):
                                    peer.hasAllowedIPsNest = true
                                    try field.nested.forEach { entry in
                                        var address: IPAddress?
                                        var length = 0
                                        try entry.nested.forEach { part in
                                            if part.type == UInt16(WGALLOWEDIP_A_IPADDR.rawValue) { address = IPAddress(bytes: part.payload) }
                                            if part.type == UInt16(WGALLOWEDIP_A_CIDR_MASK.rawValue) { length = Int(try part.uint8()) }
                                        }
                                        if let address, let prefix = IPPrefix(containing: address, length: length) {
                                            peer.allowedIPs.append(prefix)
                                        }
                                    }
                                default: break
                                }
                            }
                            decoded.peers.append(peer)
                        }
                    default: break
                    }
                }
                result.append(decoded)
            }
        }
        return result
    }
}

/// Builds GET_DEVICE dump parts the way the kernel does, for the decoder tests.
struct DumpBuilder {
    var writer = NetlinkMessageWriter()
    var sequence: UInt32 = 7

    mutating func part(_ body: (inout NetlinkMessageWriter) -> Void) {
        let start = writer.beginMessage(type: 0x20, flags: UInt16(NLM_F_MULTI), sequence: sequence)
        writer.appendGenericHeader(command: UInt8(WG_CMD_GET_DEVICE.rawValue), version: 1)
        body(&writer)
        writer.endMessage(start)
    }

    static func peer(
        _ key: X25519PublicKey, endpoint: SocketEndpoint? = nil, keepalive: UInt16? = nil, handshake: (Int64, Int64)? = nil,
        rx: UInt64? = nil, tx: UInt64? = nil, allowed: [IPPrefix], into writer: inout NetlinkMessageWriter
    ) {
        let nest = writer.beginNest(0)
        writer.appendAttribute(UInt16(WGPEER_A_PUBLIC_KEY.rawValue), bytes: key.bytes)
        if let endpoint { SocketAddressCodec.append(endpoint, as: UInt16(WGPEER_A_ENDPOINT.rawValue), to: &writer) }
        if let keepalive { writer.appendAttribute(UInt16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL.rawValue), integer: keepalive) }
        if let handshake {
            var raw = handshake
            withUnsafeBytes(of: &raw) { writer.appendAttribute(UInt16(WGPEER_A_LAST_HANDSHAKE_TIME.rawValue), $0) }
        }
        if let rx { writer.appendAttribute(UInt16(WGPEER_A_RX_BYTES.rawValue), integer: rx) }
        if let tx { writer.appendAttribute(UInt16(WGPEER_A_TX_BYTES.rawValue), integer: tx) }
        let list = writer.beginNest(UInt16(WGPEER_A_ALLOWEDIPS.rawValue))
        for prefix in allowed {
            WireGuardNetlinkEncoder.appendAllowedIP(prefix, to: &writer)
        }
        writer.endNest(list)
        writer.endNest(nest)
    }

    func decode(interfaceName: String = "wg0") throws -> WireGuardDeviceState {
        var decoder = WireGuardNetlinkDecoder(interfaceName: interfaceName)
        try writer.bytes.withUnsafeBytes { buffer in
            try NetlinkMessage.forEach(in: buffer) { message in try decoder.consume(part: message.payload) }
        }
        return decoder.finish()
    }
}
