import CNetlink
import Glibc
import Testing
@testable import WireGuardControl

@Suite("Netlink attribute and message codec")
struct NetlinkCodecTests {
    @Test("attributes round-trip: integers, strings, raw bytes, nests")
    func roundTrip() throws {
        var writer = NetlinkMessageWriter()
        let start = writer.beginMessage(type: 0x1234, flags: UInt16(NLM_F_REQUEST), sequence: 99)
        writer.appendGenericHeader(command: 1, version: 1)
        writer.appendAttribute(1, integer: UInt8(7))
        writer.appendAttribute(2, integer: UInt16(0xBEEF))
        writer.appendAttribute(3, integer: UInt32(0xDEAD_BEEF))
        writer.appendAttribute(4, integer: UInt64(0x0102_0304_0506_0708))
        writer.appendAttribute(5, string: "mesh0")
        writer.appendAttribute(6, bytes: [1, 2, 3])
        let nest = writer.beginNest(7)
        writer.appendAttribute(1, integer: UInt32(42))
        let inner = writer.beginNest(2)
        writer.appendAttribute(9, string: "deep")
        writer.endNest(inner)
        writer.endNest(nest)
        writer.endMessage(start)
        #expect(writer.count % 4 == 0)

        var seen = 0
        try writer.bytes.withUnsafeBytes { buffer in
            try NetlinkMessage.forEach(in: buffer) { (message) throws in
                seen += 1
                #expect(message.type == 0x1234)
                #expect(message.sequence == 99)
                #expect(message.payload.count + 16 == buffer.count)
                var types: [UInt16] = []
                try NetlinkAttributes(UnsafeRawBufferPointer(rebasing: message.payload[4...])).forEach { (attribute) throws in
                    types.append(attribute.type)
                    switch attribute.type {
                    case 1: #expect(try attribute.uint8() == 7)
                    case 2: #expect(try attribute.uint16() == 0xBEEF)
                    case 3: #expect(try attribute.uint32() == 0xDEAD_BEEF)
                    case 4: #expect(try attribute.uint64() == 0x0102_0304_0506_0708)
                    case 5: #expect(attribute.string() == "mesh0")
                    case 6: #expect(Array(attribute.payload) == [1, 2, 3])
                    case 7:
                        #expect(attribute.isNested)
                        #expect(try attribute.nested.first(1)?.uint32() == 42)
                        #expect(attribute.nested.first(2)?.nested.first(9)?.string() == "deep")
                    default: Issue.record("unexpected attribute \(attribute.type)")
                    }
                }
                #expect(types == [1, 2, 3, 4, 5, 6, 7])
            }
        }
        #expect(seen == 1)
    }

    @Test("an integer attribute of the wrong size is an error, not a crash")
    func wrongIntegerSize() throws {
        var writer = NetlinkMessageWriter()
        writer.appendAttribute(1, integer: UInt16(5))
        try writer.bytes.withUnsafeBytes { buffer in
            let attribute = try #require(NetlinkAttributes(buffer).first(1))
            #expect(throws: WireGuardControlError.self) { try attribute.uint32() }
            #expect(throws: WireGuardControlError.self) { try attribute.uint8() }
        }
    }

    @Test("attribute lengths that are too small or overrun the buffer are errors", arguments: [
        [UInt8]([3, 0, 1, 0]),  // length 3 < header
        [8, 0, 1, 0, 1, 2],  // claims 8, has 6
        [4, 0, 1, 0, 0xFF],  // trailing garbage shorter than a header
        [0xFF, 0xFF, 1, 0, 0, 0, 0, 0],
    ])
    func badAttributeLengths(bytes: [UInt8]) throws {
        _ = bytes.withUnsafeBytes { buffer in
            #expect(throws: WireGuardControlError.self) {
                try NetlinkAttributes(buffer).forEach { _ in }
            }
        }
    }

    @Test("truncated or inconsistent message headers are errors", arguments: [
        [UInt8]([16, 0, 0]),  // shorter than a header
        [32, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],  // claims 32 bytes, has 16
        [8, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],  // claims less than a header
    ])
    func badMessageHeaders(bytes: [UInt8]) throws {
        _ = bytes.withUnsafeBytes { buffer in
            #expect(throws: WireGuardControlError.self) {
                try NetlinkMessage.forEach(in: buffer) { _ in }
            }
        }
    }

    @Test("every truncation of a valid dump part fails cleanly or parses a prefix, never crashes")
    func truncationsNeverCrash() throws {
        var dump = DumpBuilder()
        dump.part { writer in
            writer.appendAttribute(UInt16(WGDEVICE_A_LISTEN_PORT.rawValue), integer: UInt16(51820))
            let peers = writer.beginNest(UInt16(WGDEVICE_A_PEERS.rawValue))
            DumpBuilder.peer(Fixtures.key(1), endpoint: Fixtures.endpoint, allowed: [Fixtures.prefix(1), Fixtures.prefix6(2)], into: &writer)
            writer.endNest(peers)
        }
        let bytes = dump.writer.bytes
        for cut in 0..<bytes.count {
            var truncated = Array(bytes[..<cut])
            // Keep the header's length consistent with the cut, so the attribute parser is exercised too.
            if cut >= 4 {
                truncated.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(cut), as: UInt32.self) }
            }
            var decoder = WireGuardNetlinkDecoder(interfaceName: "wg0")
            _ = try? truncated.withUnsafeBytes { buffer in
                try NetlinkMessage.forEach(in: buffer) { message in try decoder.consume(part: message.payload) }
            }
        }
    }

    @Test("an NLMSG_ERROR carries the errno and the kernel's extended-ack text")
    func errorWithExtendedAck() throws {
        var writer = NetlinkMessageWriter()
        let start = writer.beginMessage(
            type: UInt16(NLMSG_ERROR), flags: UInt16(NLM_F_CAPPED | NLM_F_ACK_TLVS), sequence: 5)
        writer.appendInteger(Int32(-95))  // -EOPNOTSUPP
        // The original header (capped: no payload).
        writer.appendInteger(UInt32(16)); writer.appendInteger(UInt16(16)); writer.appendInteger(UInt16(5))
        writer.appendInteger(UInt32(5)); writer.appendInteger(UInt32(0))
        writer.appendAttribute(UInt16(NLMSGERR_ATTR_MSG.rawValue), string: "Unknown device type")
        writer.endMessage(start)
        try writer.bytes.withUnsafeBytes { buffer in
            try NetlinkMessage.forEach(in: buffer) { (message) throws in
                #expect(message.isError)
                let status = try message.errorStatus()
                #expect(status.errno == 95)
                #expect(status.message == "Unknown device type")
            }
        }
    }

    @Test("an acknowledgement is errno 0")
    func acknowledgement() throws {
        var writer = NetlinkMessageWriter()
        let start = writer.beginMessage(type: UInt16(NLMSG_ERROR), flags: UInt16(NLM_F_CAPPED), sequence: 5)
        writer.appendInteger(Int32(0))
        for _ in 0..<4 { writer.appendInteger(UInt32(0)) }
        writer.endMessage(start)
        try writer.bytes.withUnsafeBytes { buffer in
            try NetlinkMessage.forEach(in: buffer) { (message) throws in
                #expect(try message.errorStatus().errno == 0)
                #expect(try message.errorStatus().message == nil)
            }
        }
    }

    @Test("the generic-netlink family reply yields the id; ENOENT maps to 'module not loaded'")
    func familyResolution() throws {
        var writer = NetlinkMessageWriter()
        let start = writer.beginMessage(type: UInt16(GENL_ID_CTRL), flags: 0, sequence: 1)
        writer.appendGenericHeader(command: UInt8(CTRL_CMD_NEWFAMILY), version: 2)
        writer.appendAttribute(UInt16(CTRL_ATTR_FAMILY_NAME), string: "wireguard")
        writer.appendAttribute(UInt16(CTRL_ATTR_FAMILY_ID), integer: UInt16(0x1F))
        writer.endMessage(start)
        try writer.bytes.withUnsafeBytes { buffer in
            try NetlinkMessage.forEach(in: buffer) { (message) throws in
                #expect(try GenericNetlinkFamily.parseReply(message) == 0x1F)
            }
        }
        #expect(WireGuardControlError.moduleNotLoaded.description.contains("modprobe wireguard"))
        #expect(WireGuardControlError.moduleNotLoaded.description.contains("--backend userspace"))
    }

    @Test("endpoints encode as sockaddr_in / sockaddr_in6 and decode back")
    func socketAddresses() throws {
        for endpoint in [Fixtures.endpoint, Fixtures.endpoint6] {
            var writer = NetlinkMessageWriter()
            SocketAddressCodec.append(endpoint, as: 4, to: &writer)
            try writer.bytes.withUnsafeBytes { buffer in
                let attribute = try #require(NetlinkAttributes(buffer).first(4))
                #expect(attribute.payload.count == (endpoint.address.isIPv4 ? 16 : 28))
                #expect(try SocketAddressCodec.decode(attribute.payload) == endpoint)
            }
        }
        #expect(throws: WireGuardControlError.self) {
            try [UInt8]([2, 0, 1]).withUnsafeBytes { _ = try SocketAddressCodec.decode($0) }
        }
    }
}

@Suite("Error messages")
struct WireGuardControlErrorTests {
    @Test("kernel errnos map to errors that name the operation and what to do")
    func mapping() {
        #expect(NetlinkSocket.mapped(EPERM, message: nil, operation: "configuring WireGuard device mesh0")
            == .permissionDenied(operation: "configuring WireGuard device mesh0"))
        #expect(WireGuardControlError.permissionDenied(operation: "configuring WireGuard device mesh0").description
            == "configuring WireGuard device mesh0 needs CAP_NET_ADMIN: run as root (or grant the capability)")
        let kernel = NetlinkSocket.mapped(EINVAL, message: "bad attribute", operation: "configuring WireGuard device mesh0")
        #expect(kernel.description == "configuring WireGuard device mesh0 failed: Invalid argument (errno 22): bad attribute")
        #expect(WireGuardControlError.noSuchInterface("mesh0").description.hasPrefix("no network interface named mesh0"))
        #expect(WireGuardControlError.notWireGuard(interface: "eth0", kind: "veth").description.hasPrefix("eth0 is a veth link, not wireguard"))
        #expect(WireGuardControlError.noUserspaceDaemon(interface: "wg1", socketPath: "/var/run/wireguard/wg1.sock").description.contains("wireguard-go wg1"))
    }
}
