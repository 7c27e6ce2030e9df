/// One fuzz target: a decoder (or a receive path) fed with libFuzzer's bytes, and the handful of
/// valid inputs its seed corpus starts from.
struct FuzzTarget: Sendable {
    /// Name on the command line, in scripts/fuzz and as the corpus folder (Fuzz/Corpus/<name>).
    let name: String
    /// What it exercises, for `meshwork-fuzz list`.
    let summary: String
    /// Runs one input. Must return normally on any input; anything else is a finding.
    let run: @Sendable ([UInt8]) -> Void
    /// Valid inputs the corpus starts from.
    let seeds: @Sendable () -> [[UInt8]]

    static let all: [FuzzTarget] = [
        ChannelTargets.datagram, ChannelTargets.authenticated,
        MessageTargets.messages, MessageTargets.relayMessages, MessageTargets.joinRequest, MessageTargets.joinResponse,
        TrustTargets.certificate, TrustTargets.record, TrustTargets.revocation, TrustTargets.settings, TrustTargets.token,
        AgentTargets.controlRequest, AgentTargets.echoReply, AgentTargets.yaml, AgentTargets.configuration, AgentTargets.membersDB, AgentTargets.authorityJSON,
        ReplyTargets.uapi, ReplyTargets.netlink,
    ]

    static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

/// Reads a fuzz input piece by piece; past the end it yields zeros and empty slices (never traps).
struct FuzzInput {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }

    /// The next `count` bytes, or what is left.
    mutating func take(_ count: Int) -> [UInt8] {
        let end = min(bytes.count, offset + max(0, count))
        defer { offset = end }
        return Array(bytes[min(offset, end)..<end])
    }

    /// A chunk framed as `u16 length | bytes` (see ``frame(_:)``).
    mutating func chunk() -> [UInt8] { take(Int(uint16())) }

    mutating func rest() -> [UInt8] { take(bytes.count - offset) }

    /// Frames `chunks` the way ``chunk()`` reads them (for seeds).
    static func frame(_ chunks: [[UInt8]]) -> [UInt8] {
        chunks.flatMap { [UInt8(truncatingIfNeeded: $0.count >> 8), UInt8(truncatingIfNeeded: $0.count)] + $0 }
    }
}

/// A harness's own check failed: the decoder broke a property it must keep (a finding).
func expect(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("fuzz property violated: \(message())") }
}
