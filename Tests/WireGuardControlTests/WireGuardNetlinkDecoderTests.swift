import CNetlink
import MeshCore
import MeshCrypto
import Testing
@testable import WireGuardControl

@Suite("GET_DEVICE dump decoding and merging")
struct WireGuardNetlinkDecoderTests {
    @Test("device attributes and peers are read; a peer split across parts is merged")
    func mergeSplitPeer() throws {
        let deviceKey = X25519PrivateKey().publicKey
        var dump = DumpBuilder()
        dump.part { writer in
            writer.appendAttribute(UInt16(WGDEVICE_A_IFINDEX.rawValue), integer: UInt32(4))
            writer.appendAttribute(UInt16(WGDEVICE_A_IFNAME.rawValue), string: "mesh0")
            writer.appendAttribute(UInt16(WGDEVICE_A_PUBLIC_KEY.rawValue), bytes: deviceKey.bytes)
            writer.appendAttribute(UInt16(WGDEVICE_A_LISTEN_PORT.rawValue), integer: UInt16(51820))
            writer.appendAttribute(UInt16(WGDEVICE_A_FWMARK.rawValue), integer: UInt32(0x33))
            let peers = writer.beginNest(UInt16(WGDEVICE_A_PEERS.rawValue))
            DumpBuilder.peer(Fixtures.key(1), endpoint: Fixtures.endpoint, allowed: [Fixtures.prefix(1)], into: &writer)
            DumpBuilder.peer(
                Fixtures.key(2), endpoint: Fixtures.endpoint6, keepalive: 25, handshake: (1_700_000_000, 500), rx: 10, tx: 20,
                allowed: [Fixtures.prefix(20), Fixtures.prefix(21)], into: &writer)
            writer.endNest(peers)
        }
        dump.part { writer in
            // The kernel continues peer 2 with only its key and more allowed IPs.
            let peers = writer.beginNest(UInt16(WGDEVICE_A_PEERS.rawValue))
            DumpBuilder.peer(Fixtures.key(2), allowed: [Fixtures.prefix6(22), Fixtures.prefix(23)], into: &writer)
            DumpBuilder.peer(Fixtures.key(3), allowed: [], into: &writer)
            writer.endNest(peers)
        }
        let state = try dump.decode()
        #expect(state.interfaceName == "mesh0")
        #expect(state.publicKey == deviceKey)
        #expect(state.listenPort == 51820)
        #expect(state.fwmark == 0x33)
        #expect(state.peers.count == 3)
        let two = try #require(state.peers[Fixtures.key(2)])
        #expect(two.endpoint == Fixtures.endpoint6, "scalars from the first fragment survive the continuation")
        #expect(two.persistentKeepalive == 25)
        #expect(two.lastHandshakeTime == .seconds(1_700_000_000) + .nanoseconds(500))
        #expect(two.receivedBytes == 10 && two.transmittedBytes == 20)
        #expect(Set(two.allowedIPs) == [Fixtures.prefix(20), Fixtures.prefix(21), Fixtures.prefix6(22), Fixtures.prefix(23)])
        #expect(two.allowedIPs == two.allowedIPs.sorted())
        #expect(state.peers[Fixtures.key(1)]?.lastHandshakeTime == nil)
        #expect(state.peers[Fixtures.key(3)]?.allowedIPs == [])
    }

    @Test("a peer with 1,000 allowed IPs spread over many parts reads back whole")
    func manyParts() throws {
        let allowed = (0..<1000).map(Fixtures.prefix)
        var dump = DumpBuilder()
        for chunk in stride(from: 0, to: 1000, by: 90) {
            dump.part { writer in
                let peers = writer.beginNest(UInt16(WGDEVICE_A_PEERS.rawValue))
                DumpBuilder.peer(
                    Fixtures.key(9), endpoint: chunk == 0 ? Fixtures.endpoint : nil,
                    allowed: Array(allowed[chunk..<min(chunk + 90, 1000)]), into: &writer)
                writer.endNest(peers)
            }
        }
        let state = try dump.decode()
        #expect(state.peers.count == 1)
        #expect(state.peers[Fixtures.key(9)]?.allowedIPs == allowed)
        #expect(state.peers[Fixtures.key(9)]?.endpoint == Fixtures.endpoint)
    }

    @Test("malformed dumps are errors", arguments: ["short key", "no key", "bad family", "bad cidr", "bad endpoint"])
    func malformed(kind: String) throws {
        var dump = DumpBuilder()
        dump.part { writer in
            let peers = writer.beginNest(UInt16(WGDEVICE_A_PEERS.rawValue))
            let peer = writer.beginNest(0)
            if kind != "no key" {
                writer.appendAttribute(UInt16(WGPEER_A_PUBLIC_KEY.rawValue), bytes: kind == "short key" ? [1, 2, 3] : Fixtures.key(1).bytes)
            }
            if kind == "bad endpoint" { writer.appendAttribute(UInt16(WGPEER_A_ENDPOINT.rawValue), bytes: [99, 0, 0, 0]) }
            let list = writer.beginNest(UInt16(WGPEER_A_ALLOWEDIPS.rawValue))
            let entry = writer.beginNest(0)
            writer.appendAttribute(UInt16(WGALLOWEDIP_A_FAMILY.rawValue), integer: UInt16(kind == "bad family" ? AF_INET6 : AF_INET))
            writer.appendAttribute(UInt16(WGALLOWEDIP_A_IPADDR.rawValue), bytes: [10, 0, 0, 1])
            writer.appendAttribute(UInt16(WGALLOWEDIP_A_CIDR_MASK.rawValue), integer: UInt8(kind == "bad cidr" ? 33 : 32))
            writer.endNest(entry)
            writer.endNest(list)
            writer.endNest(peer)
            writer.endNest(peers)
        }
        #expect(throws: WireGuardControlError.self) { try dump.decode() }
    }
}
