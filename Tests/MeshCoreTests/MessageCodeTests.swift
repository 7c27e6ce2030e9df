import MeshCore
import Testing

@Suite("One registry of message codes")
struct MessageCodeTests {
    @Test("membership codes lie below the extension range, the layers above it inside")
    func layersAndRanges() {
        for code in MessageCode.allCases {
            #expect(MessageCode.extensionRange.contains(code.rawValue) == (code.layer != .membership), "\(code)")
            #expect(code.context.hasPrefix("\(code) "), "\(code)")
        }
    }

    @Test("every membership code decodes to its own message and back; extension codes pass up undecoded")
    func membershipCodesRoundTrip() throws {
        let peer = NodeID(0x0707_0707_0707_0707)
        let samples: [Message] = [
            .ping(sequence: 1, target: peer), .ack(sequence: 1), .pingRequest(sequence: 1, target: peer, endpoint: nil),
            .nack(sequence: 1), .suspect(node: peer, incarnation: 1, reporter: peer), .dead(node: peer, incarnation: 1, reporter: peer),
            .record([1]), .member(certificate: [1], record: [2]), .revocation([1]),
            .digest(Digest(memberCount: 1, revocationHash: 2, firstBucket: 0, hashes: [3])),
            .bucket(BucketSummary(rangeStart: peer, rangeEnd: peer, entries: [])), .request([peer]),
            .endpointReport(SocketEndpoint("192.0.2.1:51821")!),
        ]
        let membership = MessageCode.allCases.filter { $0.layer == .membership }
        #expect(Set(samples.map(\.code)) == Set(membership.map(\.rawValue)))
        for message in samples {
            var writer = ByteWriter()
            message.encode(into: &writer)
            #expect(try Message.decodeAll(writer.bytes) == [message])
        }
        for code in MessageCode.extensionRange {
            var writer = ByteWriter()
            Message.extensionMessage(type: code, body: [9]).encode(into: &writer)
            #expect(try Message.decodeAll(writer.bytes) == [.extensionMessage(type: code, body: [9])])
        }
    }
}
