import MeshCore
import Testing

@Suite struct CodecTests {
    @Test func roundTripsEveryFieldKind() throws {
        var writer = ByteWriter()
        writer.write(UInt8(7))
        writer.write(UInt16(0xBEEF))
        writer.write(UInt32(0xDEAD_BEEF))
        writer.write(UInt64(0x0123_4567_89AB_CDEF))
        writer.write(shortString: "mesh")
        writer.write(longBytes: [1, 2, 3])
        writer.write(SocketEndpoint("[2001:db8::1]:51820")!)
        writer.write(IPPrefix("100.80.0.0/16")!)
        var reader = ByteReader(writer.bytes, context: "test")
        #expect(try reader.readUInt8() == 7)
        #expect(try reader.readUInt16() == 0xBEEF)
        #expect(try reader.readUInt32() == 0xDEAD_BEEF)
        #expect(try reader.readUInt64() == 0x0123_4567_89AB_CDEF)
        #expect(try reader.readShortString() == "mesh")
        #expect(Array(try reader.readLongBytes()) == [1, 2, 3])
        #expect(try reader.readEndpoint() == SocketEndpoint("[2001:db8::1]:51820"))
        #expect(try reader.readPrefix() == IPPrefix("100.80.0.0/16"))
        try reader.expectEnd()
    }

    @Test func readsPastTheEndThrow() {
        var reader = ByteReader([0x00, 0x05, 1, 2], context: "short")
        #expect(throws: WireError.truncated(what: "short")) { try reader.readLongBytes() }
        var other = ByteReader([9], context: "family")
        #expect(throws: WireError.invalidValue(what: "family address family")) { try other.readAddress() }
        var prefix = ByteReader([4, 10, 0, 0, 1, 8], context: "prefix")
        #expect(throws: WireError.invalidValue(what: "prefix prefix")) { try prefix.readPrefix() }
        var zeroPort = ByteReader([4, 192, 0, 2, 1, 0, 0], context: "endpoint")
        #expect(throws: WireError.invalidValue(what: "endpoint port")) { try zeroPort.readEndpoint() }
    }

    @Test func messagesRoundTrip() throws {
        let a = NodeID(0x0102_0304_0506_0708), b = NodeID(0x1112_1314_1516_1718)
        let messages: [Message] = [
            .ping(sequence: 1, target: a), .ack(sequence: 2), .pingRequest(sequence: 3, target: b, endpoint: SocketEndpoint("192.0.2.9:51821")),
            .pingRequest(sequence: 4, target: b, endpoint: nil), .nack(sequence: 5), .suspect(node: a, incarnation: 9, reporter: b),
            .dead(node: b, incarnation: 10, reporter: a), .record([1, 2, 3]), .member(certificate: [4, 5], record: [6]),
            .revocation([7]), .digest(Digest(memberCount: 3, revocationHash: 11, firstBucket: 128, hashes: [1, 2, 3])),
            .bucket(BucketSummary(rangeStart: NodeID(0), rangeEnd: NodeID(.max), entries: [.init(node: a, version: 3, status: .suspect), .init(node: b, version: 4, status: .dead)])),
            .request([a, b]), .endpointReport(SocketEndpoint("203.0.113.5:40000")!), .extensionMessage(type: 0x21, body: [9, 9]),
        ]
        var writer = ByteWriter()
        for message in messages { message.encode(into: &writer) }
        #expect(try Message.decodeAll(writer.bytes) == messages)
        // Every truncation fails cleanly.
        for truncated in writer.bytes.truncations where !truncated.isEmpty {
            if let decoded = try? Message.decodeAll(truncated) { #expect(decoded.count < messages.count) }
        }
    }

    @Test func rejectsMalformedMessages() {
        #expect(throws: WireError.self) { try Message.decodeAll([0x7F, 0, 0]) }  // unknown type
        #expect(throws: WireError.self) { try Message.decodeAll([0x02, 0, 5, 1, 2, 3, 4, 5]) }  // ack with trailing bytes
        #expect(throws: WireError.self) { try Message.decodeAll([0x0A, 0, 16] + [UInt8](repeating: 0, count: 12) + [0xFF, 0xFF, 0, 1]) }  // digest range
        // Bucket entries out of order.
        var writer = ByteWriter()
        Message.bucket(BucketSummary(rangeStart: NodeID(0), rangeEnd: NodeID(.max), entries: [.init(node: NodeID(5), version: 1, status: .alive), .init(node: NodeID(4), version: 1, status: .alive)])).encode(into: &writer)
        #expect(throws: WireError.self) { try Message.decodeAll(writer.bytes) }
    }
}
