import Foundation
import MeshCore
import MeshCrypto
import Testing
@testable import WireGuardControl

@Suite("UAPI text protocol")
struct UAPICodecTests {
    func hex(_ key: X25519PublicKey) -> String { key.bytes.map { String(format: "%02x", $0) }.joined() }

    @Test("set request: update-only, remove, replace_allowed_ips only where allowed IPs are sent, never replace_peers")
    func encodeSet() {
        let changes = WireGuardChangeSet(
            listenPort: 51820, fwmark: 9,
            peersToAdd: [WireGuardPeerConfiguration(publicKey: Fixtures.key(3), endpoint: Fixtures.endpoint6, persistentKeepalive: 25, allowedIPs: [Fixtures.prefix(3)])],
            peersToUpdate: [
                WireGuardPeerUpdate(publicKey: Fixtures.key(2), endpoint: Fixtures.endpoint),
                WireGuardPeerUpdate(publicKey: Fixtures.key(4), allowedIPs: [Fixtures.prefix6(4), Fixtures.prefix(5)]),
            ],
            peersToRemove: [Fixtures.key(1)])
        var output: [UInt8] = []
        UAPICodec.encodeSet(changes, into: &output)
        let text = String(decoding: output, as: UTF8.self)
        #expect(text == """
            set=1
            listen_port=51820
            fwmark=9
            public_key=\(hex(Fixtures.key(1)))
            remove=true
            public_key=\(hex(Fixtures.key(2)))
            update_only=true
            endpoint=192.0.2.1:51820
            public_key=\(hex(Fixtures.key(4)))
            update_only=true
            replace_allowed_ips=true
            allowed_ip=2001:db8:0:4::/64
            allowed_ip=10.0.0.5/32
            public_key=\(hex(Fixtures.key(3)))
            endpoint=[2001:db8::1]:51820
            persistent_keepalive_interval=25
            replace_allowed_ips=true
            allowed_ip=10.0.0.3/32


            """)
        #expect(!text.contains("replace_peers"))
    }

    @Test("a private key is sent as lowercase hex")
    func privateKeyHex() throws {
        let key = X25519PrivateKey()
        var output: [UInt8] = []
        UAPICodec.encodeSet(WireGuardChangeSet(privateKey: key), into: &output)
        let text = String(decoding: output, as: UTF8.self)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("private_key=") })
        let hexText = line.dropFirst("private_key=".count)
        #expect(hexText.count == 64 && hexText == hexText.lowercased())
        let bytes = try WireGuardKeyText.bytes(hex: Array(hexText.utf8), what: "test")
        #expect(try X25519PrivateKey(secret: SecretBytes(copying: bytes)).publicKey == key.publicKey)
    }

    @Test("get reply is parsed: device, peers, endpoints, handshake, counters")
    func parseGet() throws {
        let privateKey = X25519PrivateKey()
        let privateHex = privateKey.secretBytes.withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() }
        let reply = """
            private_key=\(privateHex)
            listen_port=51820
            fwmark=3
            public_key=\(hex(Fixtures.key(1)))
            preshared_key=0000000000000000000000000000000000000000000000000000000000000000
            protocol_version=1
            endpoint=[2001:db8::1]:51820
            last_handshake_time_sec=1700000000
            last_handshake_time_nsec=42
            tx_bytes=100
            rx_bytes=200
            persistent_keepalive_interval=25
            allowed_ip=10.0.0.2/32
            allowed_ip=10.0.0.1/32
            public_key=\(hex(Fixtures.key(2)))
            last_handshake_time_sec=0
            last_handshake_time_nsec=0
            tx_bytes=0
            rx_bytes=0
            persistent_keepalive_interval=0
            errno=0


            """
        let state = try Array(reply.utf8).withUnsafeBytes { try UAPICodec.parseGet($0, interfaceName: "mesh0") }
        #expect(state.publicKey == privateKey.publicKey)
        #expect(state.listenPort == 51820 && state.fwmark == 3)
        #expect(state.peers.count == 2)
        let one = try #require(state.peers[Fixtures.key(1)])
        #expect(one.endpoint == Fixtures.endpoint6)
        #expect(one.lastHandshakeTime == .seconds(1_700_000_000) + .nanoseconds(42))
        #expect(one.transmittedBytes == 100 && one.receivedBytes == 200)
        #expect(one.persistentKeepalive == 25)
        #expect(one.allowedIPs == [Fixtures.prefix(1), Fixtures.prefix(2)])
        let two = try #require(state.peers[Fixtures.key(2)])
        #expect(two.endpoint == nil && two.lastHandshakeTime == nil && two.allowedIPs.isEmpty)
    }

    @Test("errno=-22 is an error naming the interface; errno=0 is success")
    func errnoReplies() throws {
        #expect(try Array("errno=0\n\n".utf8).withUnsafeBytes { try UAPICodec.parseStatus($0) } == 0)
        #expect(try Array("errno=-22\n\n".utf8).withUnsafeBytes { try UAPICodec.parseStatus($0) } == 22)
        #expect(throws: WireGuardControlError.userspace(interface: "mesh0", operation: "reading the device", errno: 22)) {
            try Array("errno=-22\n\n".utf8).withUnsafeBytes { _ = try UAPICodec.parseGet($0, interfaceName: "mesh0") }
        }
        let message = WireGuardControlError.userspace(interface: "mesh0", operation: "configuring the device", errno: 22).description
        #expect(message.contains("mesh0") && message.contains("Invalid argument"))
    }

    @Test("malformed replies are errors", arguments: [
        "listen_port=51820\n\n",  // no errno
        "garbage\nerrno=0\n\n",
        "public_key=zz\nerrno=0\n\n",
        "public_key=\(String(repeating: "ab", count: 31))\nerrno=0\n\n",
        "endpoint=1.2.3.4:5\nerrno=0\n\n",  // before any peer
        "listen_port=99999\nerrno=0\n\n",
        "public_key=\(String(repeating: "ab", count: 32))\nallowed_ip=10.0.0.1\nerrno=0\n\n",
        "public_key=\(String(repeating: "ab", count: 32))\nendpoint=nonsense\nerrno=0\n\n",
        "errno=x\n\n",
    ])
    func malformed(reply: String) {
        #expect(throws: WireGuardControlError.self) {
            try Array(reply.utf8).withUnsafeBytes { _ = try UAPICodec.parseGet($0, interfaceName: "mesh0") }
        }
    }
}

@Suite("Key text")
struct WireGuardKeyTextTests {
    @Test("base64 keys parse; malformed ones give a clear error", arguments: [
        "not a key", "AAAA", "", String(repeating: "A", count: 43) + "=" + "x",
    ])
    func malformedPublicKey(text: String) {
        #expect {
            _ = try WireGuardKeyText.publicKey(base64: text)
        } throws: { error in
            guard case let .malformedKey(what, _) = error as? WireGuardControlError else { return false }
            return what.contains("public key") && "\(error)".contains("44 characters of base64")
        }
    }

    @Test("a good key round-trips; a private key error never echoes the text")
    func goodAndPrivate() throws {
        let key = X25519PrivateKey()
        #expect(try WireGuardKeyText.publicKey(base64: key.publicKey.base64) == key.publicKey)
        #expect(try WireGuardKeyText.privateKey(base64: key.base64EncodedSecret()).publicKey == key.publicKey)
        let secretLooking = "c2VjcmV0c2VjcmV0c2VjcmV0"
        #expect {
            _ = try WireGuardKeyText.privateKey(base64: secretLooking)
        } throws: { error in !"\(error)".contains(secretLooking) }
        #expect(throws: WireGuardControlError.self) {
            _ = try WireGuardDesiredPeer(publicKeyBase64: "bad")
        }
    }

    @Test("hex keys: 64 digits, anything else is malformed")
    func hex() throws {
        #expect(try WireGuardKeyText.bytes(hex: Array(String(repeating: "0f", count: 32).utf8), what: "k") == [UInt8](repeating: 15, count: 32))
        #expect(throws: WireGuardControlError.self) { _ = try WireGuardKeyText.bytes(hex: Array("0f".utf8), what: "k") }
        #expect(throws: WireGuardControlError.self) { _ = try WireGuardKeyText.bytes(hex: Array(String(repeating: "g0", count: 32).utf8), what: "k") }
    }
}

@Suite("UAPI scalar readers")
struct UAPIScalarsTests {
    func read<T>(_ text: String, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        Array(text.utf8).withUnsafeBytes(body)
    }

    @Test("integers: signs, bounds, overflow, junk")
    func integers() {
        #expect(read("0") { UAPIScalars.integer($0, as: Int32.self) } == 0)
        #expect(read("-22") { UAPIScalars.integer($0, as: Int32.self) } == -22)
        #expect(read("65535") { UAPIScalars.integer($0, as: UInt16.self) } == 65535)
        #expect(read("65536") { UAPIScalars.integer($0, as: UInt16.self) } == nil)
        #expect(read("-1") { UAPIScalars.integer($0, as: UInt16.self) } == nil)
        #expect(read("18446744073709551615") { UAPIScalars.integer($0, as: UInt64.self) } == .max)
        #expect(read("18446744073709551616") { UAPIScalars.integer($0, as: UInt64.self) } == nil)
        #expect(read("-9223372036854775808") { UAPIScalars.integer($0, as: Int64.self) } == .min)
        for junk in ["", "-", "1a", " 1", "+1", "1.0"] {
            #expect(read(junk) { UAPIScalars.integer($0, as: Int64.self) } == nil, "\(junk)")
        }
    }

    @Test("endpoints: IPv4, bracketed IPv6, zones dropped, bad forms refused")
    func endpoints() {
        #expect(read("192.0.2.1:51820") { UAPIScalars.endpoint($0) } == SocketEndpoint("192.0.2.1:51820"))
        #expect(read("[2001:db8::1]:1") { UAPIScalars.endpoint($0) } == SocketEndpoint("[2001:db8::1]:1"))
        #expect(read("[fe80::1%eth0]:7") { UAPIScalars.endpoint($0) } == SocketEndpoint("[fe80::1]:7"))
        for bad in ["2001:db8::1:5", "192.0.2.1", "192.0.2.1:99999", "[192.0.2.1]:5", "[2001:db8::1:5", "host:5", ":5", String(repeating: "1", count: 100) + ":1"] {
            #expect(read(bad) { UAPIScalars.endpoint($0) } == nil, "\(bad)")
        }
    }

    @Test("prefixes: both families, host bits cleared, bad lengths refused")
    func prefixes() {
        #expect(read("10.1.2.3/8") { UAPIScalars.prefix($0) } == IPPrefix("10.0.0.0/8"))
        #expect(read("2001:db8::/32") { UAPIScalars.prefix($0) } == IPPrefix("2001:db8::/32"))
        for bad in ["10.0.0.0/33", "10.0.0.0", "/8", "x/8", "2001:db8::/129", "10.0.0.0/-1"] {
            #expect(read(bad) { UAPIScalars.prefix($0) } == nil, "\(bad)")
        }
    }
}
