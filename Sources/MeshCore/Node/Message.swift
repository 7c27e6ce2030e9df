/// One message inside an authenticated datagram. A datagram's plaintext is a sequence of
/// `type (1) | length (2) | body`, so probes carry gossip piggybacked. Layouts: `docs/protocol.md`.
public enum Message: Equatable, Sendable {
    /// Direct probe; `target` is who the sender means to reach.
    case ping(sequence: UInt32, target: NodeID)
    /// Answer to a ping (directly, or relayed by an intermediary for an indirect probe).
    case ack(sequence: UInt32)
    /// Ask the receiver to probe `target` at `endpoint` on the sender's behalf.
    case pingRequest(sequence: UInt32, target: NodeID, endpoint: SocketEndpoint?)
    /// An intermediary could not reach the target of an indirect probe (Lifeguard).
    case nack(sequence: UInt32)
    /// `node` at `incarnation` is suspected by `reporter`.
    case suspect(node: NodeID, incarnation: UInt64, reporter: NodeID)
    /// `node` at `incarnation` was declared dead by `reporter`.
    case dead(node: NodeID, incarnation: UInt64, reporter: NodeID)
    /// A signed node record (an update, a refutation, or a tombstone).
    case record([UInt8])
    /// A certificate with the record made under it (a member the receiver may not know).
    case member(certificate: [UInt8], record: [UInt8])
    /// An authority-signed revocation.
    case revocation([UInt8])
    /// Anti-entropy: hashes of a range of the sender's member buckets.
    case digest(Digest)
    /// Anti-entropy: the sender's entries of one bucket.
    case bucket(BucketSummary)
    /// Anti-entropy: please send these members (certificate and record).
    case request([NodeID])
    /// "I see your datagrams coming from `endpoint`" (reflexive address discovery).
    case endpointReport(SocketEndpoint)
    /// Messages of a layer above the membership (path probes, relay allocation), carried opaquely.
    case extensionMessage(type: UInt8, body: [UInt8])

    /// Most IDs in one request message.
    public static let requestLimit = 128
}

/// Hashes of a contiguous range of member buckets (anti-entropy).
public struct Digest: Equatable, Sendable {
    /// Number of live members the sender knows (informational).
    public var memberCount: UInt32
    /// Hash of the sender's revocation set.
    public var revocationHash: UInt64
    /// First bucket covered.
    public var firstBucket: UInt16
    /// One hash per bucket from `firstBucket`.
    public var hashes: [UInt64]

    public init(memberCount: UInt32, revocationHash: UInt64, firstBucket: UInt16, hashes: [UInt64]) {
        self.memberCount = memberCount
        self.revocationHash = revocationHash
        self.firstBucket = firstBucket
        self.hashes = hashes
    }
}

/// One bucket's entries: who, which record version, and the sender's verdict. A large bucket is
/// split into parts; each part lists every member the sender knows with an ID in
/// `rangeStart...rangeEnd`, so the receiver can tell what the sender lacks.
public struct BucketSummary: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var node: NodeID
        public var version: UInt64
        public var status: MemberStatus
        public init(node: NodeID, version: UInt64, status: MemberStatus) {
            self.node = node
            self.version = version
            self.status = status
        }
    }
    /// First ID covered by this part.
    public var rangeStart: NodeID
    /// Last ID covered by this part.
    public var rangeEnd: NodeID
    /// The sender's entries in the range, sorted by ID.
    public var entries: [Entry]

    public init(rangeStart: NodeID, rangeEnd: NodeID, entries: [Entry]) {
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
        self.entries = entries
    }

    /// Most entries in one part (17 bytes each, within one datagram's payload).
    public static let entriesPerPart = 64
}

extension Message {
    /// The wire type code.
    public var code: UInt8 {
        switch self {
        case .ping: return MessageCode.ping.rawValue
        case .ack: return MessageCode.ack.rawValue
        case .pingRequest: return MessageCode.pingRequest.rawValue
        case .nack: return MessageCode.nack.rawValue
        case .suspect: return MessageCode.suspect.rawValue
        case .dead: return MessageCode.dead.rawValue
        case .record: return MessageCode.record.rawValue
        case .member: return MessageCode.member.rawValue
        case .revocation: return MessageCode.revocation.rawValue
        case .digest: return MessageCode.digest.rawValue
        case .bucket: return MessageCode.bucket.rawValue
        case .request: return MessageCode.request.rawValue
        case .endpointReport: return MessageCode.endpointReport.rawValue
        case let .extensionMessage(type, _): return type
        }
    }

    /// Appends this message to `writer`.
    public func encode(into writer: inout ByteWriter) {
        writer.write(code)
        let lengthOffset = writer.count
        writer.write(UInt16(0))  // the body's length, patched below
        switch self {
        case let .ping(sequence, target):
            writer.write(sequence)
            writer.write(target)
        case let .ack(sequence):
            writer.write(sequence)
        case let .pingRequest(sequence, target, endpoint):
            writer.write(sequence)
            writer.write(target)
            if let endpoint { writer.write(endpoint) }
        case let .nack(sequence):
            writer.write(sequence)
        case let .suspect(node, incarnation, reporter):
            writer.write(node)
            writer.write(incarnation)
            writer.write(reporter)
        case let .dead(node, incarnation, reporter):
            writer.write(node)
            writer.write(incarnation)
            writer.write(reporter)
        case let .record(bytes):
            writer.write(raw: bytes)
        case let .member(certificate, record):
            writer.write(longBytes: certificate)
            writer.write(raw: record)
        case let .revocation(bytes):
            writer.write(raw: bytes)
        case let .digest(digest):
            writer.write(digest.memberCount)
            writer.write(digest.revocationHash)
            writer.write(digest.firstBucket)
            writer.write(UInt16(digest.hashes.count))
            for hash in digest.hashes { writer.write(hash) }
        case let .bucket(summary):
            writer.write(summary.rangeStart)
            writer.write(summary.rangeEnd)
            writer.write(UInt16(summary.entries.count))
            for entry in summary.entries {
                writer.write(entry.node)
                writer.write(entry.version)
                writer.write(entry.status.rawValue)
            }
        case let .request(nodes):
            writer.write(UInt16(nodes.count))
            for node in nodes { writer.write(node) }
        case let .endpointReport(endpoint):
            writer.write(endpoint)
        case let .extensionMessage(_, bytes):
            writer.write(raw: bytes)
        }
        let length = writer.count - lengthOffset - 2
        precondition(length <= Int(UInt16.max), "message body too long for a two-byte length")
        writer.patch(UInt16(length), at: lengthOffset)
    }

    /// The encoded size, including type and length.
    public var encodedSize: Int {
        var writer = ByteWriter()
        encode(into: &writer)
        return writer.count
    }

    /// Decodes every message of a datagram's plaintext.
    public static func decodeAll(_ bytes: [UInt8]) throws(WireError) -> [Message] {
        var reader = ByteReader(bytes, context: "message")
        var messages: [Message] = []
        while !reader.isAtEnd {
            let code = try reader.readUInt8()
            let body = try reader.readLongBytes()
            messages.append(try decode(code: code, body: body))
        }
        return messages
    }

    static func decode(code: UInt8, body: ArraySlice<UInt8>) throws(WireError) -> Message {
        if MessageCode.extensionRange.contains(code) { return .extensionMessage(type: code, body: Array(body)) }
        guard let kind = MessageCode(rawValue: code) else { throw .invalidValue(what: "message type \(code)") }
        var reader = ByteReader(body, context: kind.context)
        let message: Message
        switch kind {
        case .ping:
            message = .ping(sequence: try reader.readUInt32(), target: try reader.readNodeID())
        case .ack:
            message = .ack(sequence: try reader.readUInt32())
        case .pingRequest:
            let sequence = try reader.readUInt32(), target = try reader.readNodeID()
            message = .pingRequest(sequence: sequence, target: target, endpoint: reader.isAtEnd ? nil : try reader.readEndpoint())
        case .nack:
            message = .nack(sequence: try reader.readUInt32())
        case .suspect:
            message = .suspect(node: try reader.readNodeID(), incarnation: try reader.readUInt64(), reporter: try reader.readNodeID())
        case .dead:
            message = .dead(node: try reader.readNodeID(), incarnation: try reader.readUInt64(), reporter: try reader.readNodeID())
        case .record:
            message = .record(Array(reader.readRemaining()))
        case .member:
            let certificate = Array(try reader.readLongBytes())
            message = .member(certificate: certificate, record: Array(reader.readRemaining()))
        case .revocation:
            message = .revocation(Array(reader.readRemaining()))
        case .digest:
            let memberCount = try reader.readUInt32(), revocationHash = try reader.readUInt64()
            let first = try reader.readUInt16(), count = Int(try reader.readUInt16())
            guard Int(first) + count <= AntiEntropy.bucketCount else { throw .invalidValue(what: "digest range") }
            var hashes: [UInt64] = []
            hashes.reserveCapacity(count)
            for _ in 0..<count { hashes.append(try reader.readUInt64()) }
            message = .digest(Digest(memberCount: memberCount, revocationHash: revocationHash, firstBucket: first, hashes: hashes))
        case .bucket:
            let rangeStart = try reader.readNodeID(), rangeEnd = try reader.readNodeID()
            guard rangeStart <= rangeEnd else { throw .invalidValue(what: "bucket range") }
            let count = Int(try reader.readUInt16())
            guard count <= BucketSummary.entriesPerPart else { throw .invalidValue(what: "bucket entry count") }
            var entries: [BucketSummary.Entry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let node = try reader.readNodeID(), version = try reader.readUInt64()
                guard let status = MemberStatus(rawValue: try reader.readUInt8()) else { throw .invalidValue(what: "member status") }
                guard node >= rangeStart, node <= rangeEnd, entries.last.map({ $0.node < node }) ?? true else {
                    throw .invalidValue(what: "bucket entry order")
                }
                entries.append(BucketSummary.Entry(node: node, version: version, status: status))
            }
            message = .bucket(BucketSummary(rangeStart: rangeStart, rangeEnd: rangeEnd, entries: entries))
        case .request:
            let count = Int(try reader.readUInt16())
            guard count <= Message.requestLimit else { throw .invalidValue(what: "request count") }
            var nodes: [NodeID] = []
            for _ in 0..<count { nodes.append(try reader.readNodeID()) }
            message = .request(nodes)
        case .endpointReport:
            message = .endpointReport(try reader.readEndpoint())
        case .wireGuardEndpointReport, .renewalRequest, .renewal, .pathProbe, .pathAck, .relayRequest, .relayGrant, .relayRefuse,
             .relayRefresh, .relayRelease, .directRestored:
            // In the extension range, passed up above; unreachable while the registry keeps them there.
            return .extensionMessage(type: code, body: Array(body))
        }
        try reader.expectEnd()
        return message
    }
}
