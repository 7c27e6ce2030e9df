import CNetlink
import MeshAddressing
import MeshCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Decodes the parts of a `WG_CMD_GET_DEVICE` dump into one ``WireGuardDeviceState``.
///
/// The kernel sends the device attributes in the first part and as many peers as fit in each part.
/// A peer whose allowed IPs do not fit continues in the next part under the same public key, with
/// only the public key and more allowed IPs: those are merged into the peer already seen.
struct WireGuardNetlinkDecoder {
    private var interfaceName: String
    private var publicKey: X25519PublicKey?
    private var listenPort: UInt16 = 0
    private var fwmark: UInt32 = 0
    private var peers: [X25519PublicKey: WireGuardPeerState] = [:]

    init(interfaceName: String) { self.interfaceName = interfaceName }

    /// Consumes one dump part: the payload after the `nlmsghdr` (generic header and attributes).
    mutating func consume(part payload: UnsafeRawBufferPointer) throws {
        guard payload.count >= 4 else { throw WireGuardControlError.malformedReply("WireGuard dump part without a generic-netlink header") }
        let attributes = NetlinkAttributes(UnsafeRawBufferPointer(rebasing: payload[4...]))
        try attributes.forEach { (attribute) throws in
            switch Int(attribute.type) {
            case Int(WGDEVICE_A_IFNAME.rawValue):
                interfaceName = attribute.string()
            case Int(WGDEVICE_A_PUBLIC_KEY.rawValue):
                publicKey = try WireGuardKeyText.publicKey(bytes: attribute.payload, what: "device public key from the kernel")
            case Int(WGDEVICE_A_LISTEN_PORT.rawValue):
                listenPort = try attribute.uint16()
            case Int(WGDEVICE_A_FWMARK.rawValue):
                fwmark = try attribute.uint32()
            case Int(WGDEVICE_A_PEERS.rawValue):
                try attribute.nested.forEach { (peer) throws in try consumePeer(peer.nested) }
            default:
                break  // private key (not kept), ifindex, flags, future attributes
            }
        }
    }

    /// The device as read.
    func finish() -> WireGuardDeviceState {
        var sortedPeers = peers
        for (key, peer) in peers where peer.allowedIPs.count > 1 {
            sortedPeers[key]?.allowedIPs.sort()
        }
        return WireGuardDeviceState(
            interfaceName: interfaceName, publicKey: publicKey, listenPort: listenPort, fwmark: fwmark, peers: sortedPeers)
    }

    private mutating func consumePeer(_ attributes: NetlinkAttributes) throws {
        var key: X25519PublicKey? = nil
        var endpoint: SocketEndpoint?? = nil
        var keepalive: UInt16? = nil
        var handshake: Duration?? = nil
        var received: UInt64? = nil
        var transmitted: UInt64? = nil
        var allowed: [IPPrefix] = []
        try attributes.forEach { (attribute) throws in
            switch Int(attribute.type) {
            case Int(WGPEER_A_PUBLIC_KEY.rawValue):
                key = try WireGuardKeyText.publicKey(bytes: attribute.payload, what: "peer public key from the kernel")
            case Int(WGPEER_A_ENDPOINT.rawValue):
                endpoint = .some(try SocketAddressCodec.decode(attribute.payload))
            case Int(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL.rawValue):
                keepalive = try attribute.uint16()
            case Int(WGPEER_A_LAST_HANDSHAKE_TIME.rawValue):
                handshake = .some(try Self.timespec(attribute.payload))
            case Int(WGPEER_A_RX_BYTES.rawValue):
                received = try attribute.uint64()
            case Int(WGPEER_A_TX_BYTES.rawValue):
                transmitted = try attribute.uint64()
            case Int(WGPEER_A_ALLOWEDIPS.rawValue):
                try attribute.nested.forEach { (entry) throws in
                    allowed.append(try Self.allowedIP(entry.nested))
                }
            default:
                break  // preshared key, protocol version, future attributes
            }
        }
        guard let key else { throw WireGuardControlError.malformedReply("a peer in the WireGuard dump has no public key") }
        // One hash lookup: modify in place (a continuation finds the peer its first part created).
        peers[key, default: WireGuardPeerState(publicKey: key)].merge(
            endpoint: endpoint, keepalive: keepalive, handshake: handshake, received: received, transmitted: transmitted, allowed: allowed)
    }

    private static func timespec(_ payload: UnsafeRawBufferPointer) throws -> Duration? {
        guard payload.count == 16 else { throw WireGuardControlError.malformedReply("last-handshake time of \(payload.count) bytes") }
        let seconds = payload.loadUnaligned(as: Int64.self)
        let nanoseconds = payload.loadUnaligned(fromByteOffset: 8, as: Int64.self)
        if seconds == 0 && nanoseconds == 0 { return nil }
        return .seconds(seconds) + .nanoseconds(nanoseconds)
    }

    /// An address from 4 or 16 network-order bytes, without intermediate arrays.
    private static func address(_ bytes: UnsafeRawBufferPointer) -> IPAddress? {
        switch bytes.count {
        case 4: return .v4(IPv4Address(UInt32(bigEndian: bytes.loadUnaligned(as: UInt32.self))))
        case 16:
            return .v6(IPv6Address(
                high: UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self)),
                low: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))))
        default: return nil
        }
    }

    private static func allowedIP(_ attributes: NetlinkAttributes) throws -> IPPrefix {
        var family: UInt16? = nil
        var address: IPAddress? = nil
        var length: UInt8? = nil
        try attributes.forEach { (attribute) throws in
            switch Int(attribute.type) {
            case Int(WGALLOWEDIP_A_FAMILY.rawValue): family = try attribute.uint16()
            case Int(WGALLOWEDIP_A_IPADDR.rawValue): address = Self.address(attribute.payload)
            case Int(WGALLOWEDIP_A_CIDR_MASK.rawValue): length = try attribute.uint8()
            default: break
            }
        }
        guard let address, let length, let prefix = IPPrefix(containing: address, length: Int(length)),
            family == nil || Int32(family ?? 0) == (address.isIPv4 ? AF_INET : AF_INET6)
        else { throw WireGuardControlError.malformedReply("an allowed IP in the WireGuard dump is incomplete or inconsistent") }
        return prefix
    }
}

extension WireGuardPeerState {
    /// Folds one dump fragment of this peer in: scalars when present, allowed IPs appended.
    fileprivate mutating func merge(
        endpoint: SocketEndpoint??, keepalive: UInt16?, handshake: Duration??, received: UInt64?, transmitted: UInt64?, allowed: [IPPrefix]
    ) {
        if let endpoint { self.endpoint = endpoint }
        if let keepalive { persistentKeepalive = keepalive }
        if let handshake { lastHandshakeTime = handshake }
        if let received { receivedBytes = received }
        if let transmitted { transmittedBytes = transmitted }
        if allowedIPs.isEmpty {
            allowedIPs = allowed
        } else {
            allowedIPs.append(contentsOf: allowed)
        }
    }
}
