import MeshCore
import MeshCrypto
import Testing
import WireGuardControl

/// The public entry points the fuzz targets use run the backends' decoders.
@Suite("ReplyDecoding (fuzzing entry points)")
struct ReplyDecodingTests {
    @Test("a UAPI get reply is read as the userspace backend reads it; a non-zero errno is an error")
    func uapi() throws {
        let key = X25519PrivateKey().publicKey
        let hex = key.bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let reply = "listen_port=51820\npublic_key=\(hex)\nendpoint=192.0.2.3:51820\nallowed_ip=100.80.0.3/32\nerrno=0\n\n"
        let state = try ReplyDecoding.uapiGetReply(Array(reply.utf8), interfaceName: "mesh0")
        #expect(state.listenPort == 51820)
        #expect(state.peers[key]?.allowedIPs == [IPPrefix("100.80.0.3/32")!])
        #expect(try ReplyDecoding.uapiStatusReply(Array("errno=-22\n\n".utf8)) == 22)
        #expect(throws: (any Error).self) { try ReplyDecoding.uapiGetReply(Array("errno=-2\n\n".utf8)) }
    }

    @Test("a netlink datagram with a truncated header or a length beyond the datagram is an error")
    func netlinkFraming() throws {
        #expect(throws: (any Error).self) { try ReplyDecoding.netlinkDatagram([16, 0, 0]) }
        #expect(throws: (any Error).self) { try ReplyDecoding.netlinkDatagram([64, 0, 0, 0] + [UInt8](repeating: 0, count: 12)) }
        // NLMSG_DONE alone: an empty device.
        let done: [UInt8] = [20, 0, 0, 0, 3, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(try ReplyDecoding.netlinkDatagram(done, interfaceName: "mesh0").peers.isEmpty)
    }

    /// netlink-reply fuzz target: an error message with code Int32.min trapped on negation.
    @Test("a netlink error with code Int32.min is read without trapping")
    func errorCodeMinimum() throws {
        let error: [UInt8] = [20, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0] + [0x00, 0x00, 0x00, 0x80]
        _ = try ReplyDecoding.netlinkDatagram(error)
    }
}
