import CNetlink
import MeshCore
import MeshCrypto
import Testing
@testable import WireGuardControl

@Suite("SET_DEVICE message splitting")
struct WireGuardNetlinkEncoderTests {
    let encoder = WireGuardNetlinkEncoder(familyID: 0x1F, interfaceName: "mesh0", maximumMessageSize: 4096)

    func encode(_ changes: WireGuardChangeSet, with encoder: WireGuardNetlinkEncoder? = nil) throws -> ([WireGuardNetlinkEncoder.Message], [DecodedSetMessage]) {
        var writer = NetlinkMessageWriter()
        let messages = try (encoder ?? self.encoder).encode(changes, into: &writer, firstSequence: 100)
        let decoded = try DecodedSetMessage.decodeAll(writer.bytes)
        #expect(decoded.count == messages.count)
        return (messages, decoded)
    }

    func checkCommon(_ decoded: [DecodedSetMessage], limit: Int = 4096) {
        for (index, message) in decoded.enumerated() {
            #expect(message.length <= limit, "message \(index) is \(message.length) bytes")
            #expect(message.type == 0x1F)
            #expect(message.flags == UInt16(NLM_F_REQUEST | NLM_F_ACK))
            #expect(message.command == UInt8(WG_CMD_SET_DEVICE.rawValue))
            #expect(message.interfaceName == "mesh0")
            #expect(message.deviceFlags == nil, "WGDEVICE_A_FLAGS (replace-peers) must never be sent")
            #expect(message.sequence == UInt32(100 + index))
            if index > 0 { #expect(!message.hasDeviceAttributes, "device attributes only in the first message") }
        }
    }

    @Test("an empty change set gives no messages")
    func empty() throws {
        let (messages, _) = try encode(WireGuardChangeSet())
        #expect(messages.isEmpty)
    }

    @Test("device fields alone: one message")
    func deviceOnly() throws {
        let (_, decoded) = try encode(WireGuardChangeSet(privateKey: X25519PrivateKey(), listenPort: 51820, fwmark: 0x10))
        checkCommon(decoded)
        #expect(decoded.count == 1)
        #expect(decoded[0].hasPrivateKey)
        #expect(decoded[0].listenPort == 51820)
        #expect(decoded[0].fwmark == 0x10)
        #expect(decoded[0].peers.isEmpty)
    }

    @Test("a peer with 1,000 allowed IPs splits: scalars in the first fragment, update-only continuations")
    func peerWithThousandAllowedIPs() throws {
        let allowed = (0..<1000).map { $0 % 2 == 0 ? Fixtures.prefix($0) : Fixtures.prefix6($0) }
        let add = WireGuardPeerConfiguration(publicKey: Fixtures.key(1), endpoint: Fixtures.endpoint, persistentKeepalive: 25, allowedIPs: allowed)
        let (_, decoded) = try encode(WireGuardChangeSet(listenPort: 51820, peersToAdd: [add]))
        checkCommon(decoded)
        #expect(decoded.count > 1)
        #expect(decoded[0].listenPort == 51820)
        let fragments = decoded.flatMap(\.peers)
        #expect(fragments.count == decoded.count, "one fragment of the peer per message")
        #expect(fragments.allSatisfy { $0.key == Fixtures.key(1).bytes })
        #expect(fragments[0].flags == UInt32(WGPEER_F_REPLACE_ALLOWEDIPS.rawValue))
        #expect(fragments[0].endpoint == Fixtures.endpoint)
        #expect(fragments[0].keepalive == 25)
        for continuation in fragments.dropFirst() {
            #expect(continuation.flags == UInt32(WGPEER_F_UPDATE_ONLY.rawValue))
            #expect(continuation.endpoint == nil)
            #expect(continuation.keepalive == nil)
            #expect(!continuation.allowedIPs.isEmpty)
        }
        #expect(fragments.flatMap(\.allowedIPs) == allowed, "every allowed IP exactly once, in order")
    }

    @Test("a device with 1,000 peers splits; device attributes only in the first message")
    func thousandPeers() throws {
        let adds = (0..<1000).map {
            WireGuardPeerConfiguration(publicKey: Fixtures.key($0), endpoint: Fixtures.endpoint6, persistentKeepalive: 0, allowedIPs: [Fixtures.prefix($0)])
        }
        let (_, decoded) = try encode(WireGuardChangeSet(privateKey: X25519PrivateKey(), fwmark: 7, peersToAdd: adds))
        checkCommon(decoded)
        #expect(decoded.count > 10)
        #expect(decoded[0].hasPrivateKey && decoded[0].fwmark == 7)
        let peers = decoded.flatMap(\.peers)
        #expect(peers.count == 1000, "no peer split: each has one allowed IP")
        #expect(peers.map(\.key) == adds.map(\.publicKey.bytes))
        #expect(peers.allSatisfy { $0.flags == UInt32(WGPEER_F_REPLACE_ALLOWEDIPS.rawValue) && $0.endpoint == Fixtures.endpoint6 && $0.keepalive == 0 })
        #expect(peers.map(\.allowedIPs) == adds.map(\.allowedIPs))
    }

    @Test("removals, then updates, then additions, with the right flags")
    func peerOperations() throws {
        let changes = WireGuardChangeSet(
            peersToAdd: [WireGuardPeerConfiguration(publicKey: Fixtures.key(3), allowedIPs: [])],
            peersToUpdate: [
                WireGuardPeerUpdate(publicKey: Fixtures.key(2), endpoint: Fixtures.endpoint),
                WireGuardPeerUpdate(publicKey: Fixtures.key(4), persistentKeepalive: 0, allowedIPs: []),
                WireGuardPeerUpdate(publicKey: Fixtures.key(5), allowedIPs: [Fixtures.prefix(9)]),
            ],
            peersToRemove: [Fixtures.key(1)])
        let (_, decoded) = try encode(changes)
        checkCommon(decoded)
        #expect(decoded.count == 1)
        let peers = decoded[0].peers
        #expect(peers.map(\.key) == [1, 2, 4, 5, 3].map { Fixtures.key($0).bytes })
        #expect(peers[0].flags == UInt32(WGPEER_F_REMOVE_ME.rawValue))
        #expect(peers[0].endpoint == nil && peers[0].keepalive == nil && !peers[0].hasAllowedIPsNest)
        // Endpoint only: update-only, no replace, nothing else.
        #expect(peers[1].flags == UInt32(WGPEER_F_UPDATE_ONLY.rawValue))
        #expect(peers[1].endpoint == Fixtures.endpoint && peers[1].keepalive == nil && !peers[1].hasAllowedIPsNest)
        // Allowed IPs emptied: replace with an empty list.
        #expect(peers[2].flags == UInt32(WGPEER_F_UPDATE_ONLY.rawValue | WGPEER_F_REPLACE_ALLOWEDIPS.rawValue))
        #expect(peers[2].keepalive == 0 && !peers[2].hasAllowedIPsNest)
        #expect(peers[3].flags == UInt32(WGPEER_F_UPDATE_ONLY.rawValue | WGPEER_F_REPLACE_ALLOWEDIPS.rawValue))
        #expect(peers[3].allowedIPs == [Fixtures.prefix(9)])
        #expect(peers[4].flags == UInt32(WGPEER_F_REPLACE_ALLOWEDIPS.rawValue))
    }

    @Test("an update with many allowed IPs: replace only in the first fragment")
    func updateSplit() throws {
        let allowed = (0..<600).map(Fixtures.prefix6)
        let (_, decoded) = try encode(
            WireGuardChangeSet(peersToUpdate: [WireGuardPeerUpdate(publicKey: Fixtures.key(8), endpoint: Fixtures.endpoint, allowedIPs: allowed)]),
            with: WireGuardNetlinkEncoder(familyID: 0x1F, interfaceName: "mesh0", maximumMessageSize: 1024))
        checkCommon(decoded, limit: 1024)
        let fragments = decoded.flatMap(\.peers)
        #expect(fragments.count > 5)
        #expect(fragments[0].flags == UInt32(WGPEER_F_UPDATE_ONLY.rawValue | WGPEER_F_REPLACE_ALLOWEDIPS.rawValue))
        #expect(fragments.dropFirst().allSatisfy { $0.flags == UInt32(WGPEER_F_UPDATE_ONLY.rawValue) && $0.endpoint == nil })
        #expect(fragments.flatMap(\.allowedIPs) == allowed)
    }

    @Test("every size limit from tiny to large gives complete, bounded messages", arguments: [200, 256, 333, 512, 1000, 4096, 16384])
    func sizeLimits(limit: Int) throws {
        let encoder = WireGuardNetlinkEncoder(familyID: 0x1F, interfaceName: "mesh0", maximumMessageSize: limit)
        let adds = (0..<50).map { n in
            WireGuardPeerConfiguration(publicKey: Fixtures.key(n), endpoint: Fixtures.endpoint, persistentKeepalive: 5, allowedIPs: (0..<n).map { Fixtures.prefix(n * 100 + $0) })
        }
        let (_, decoded) = try encode(WireGuardChangeSet(listenPort: 1, peersToAdd: adds), with: encoder)
        checkCommon(decoded, limit: limit)
        var byKey: [[UInt8]: [IPPrefix]] = [:]
        var firstFragments = 0
        for fragment in decoded.flatMap(\.peers) {
            if fragment.flags == UInt32(WGPEER_F_REPLACE_ALLOWEDIPS.rawValue) {
                firstFragments += 1
                #expect(byKey[fragment.key] == nil, "the first fragment comes first")
                #expect(fragment.keepalive == 5)
            } else {
                #expect(fragment.flags == UInt32(WGPEER_F_UPDATE_ONLY.rawValue))
                #expect(byKey[fragment.key] != nil, "a continuation follows its first fragment")
            }
            byKey[fragment.key, default: []] += fragment.allowedIPs
        }
        #expect(firstFragments == 50)
        for add in adds { #expect(byKey[add.publicKey.bytes] == add.allowedIPs) }
    }

    @Test("a limit too small for one peer is an error, not a crash or a loop")
    func limitTooSmall() throws {
        let encoder = WireGuardNetlinkEncoder(familyID: 0x1F, interfaceName: "mesh0", maximumMessageSize: 60)
        var writer = NetlinkMessageWriter()
        #expect(throws: WireGuardControlError.self) {
            _ = try encoder.encode(
                WireGuardChangeSet(peersToAdd: [WireGuardPeerConfiguration(publicKey: Fixtures.key(1), allowedIPs: [Fixtures.prefix(1)])]),
                into: &writer, firstSequence: 1)
        }
    }
}
