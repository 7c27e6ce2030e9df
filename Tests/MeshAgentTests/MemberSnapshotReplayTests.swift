import MeshAgent
import MeshCore
import MeshCrypto
import Testing

/// The channel's replay state survives a restart through `members.db`, and a snapshot that may
/// miss what a crashed meshd accepted refuses everything older than the new start.
@Suite struct MemberSnapshotReplayTests {
    let authority = Ed25519PrivateKey()
    let now = Timestamp(seconds: 1_800_000_000)

    func network() throws -> (NetworkSettings, Member) {
        let settings = try NetworkSettings(
            networkID: .random(), name: "snap", authority: authority, ipv4Prefix: IPPrefix("100.80.0.0/16")!,
            ipv6Prefix: nil, gossipPort: 51821, wireGuardPort: 51820, createdAt: now.seconds)
        let identity = Ed25519PrivateKey()
        let certificate = try NodeCertificate(
            networkID: settings.networkID, serial: 1, name: "peer", identityKey: identity.publicKey,
            wireGuardKey: X25519PrivateKey().publicKey, addresses: [IPAddress("100.80.0.9")!], routes: [], roles: [],
            notBefore: now.seconds - 60, notAfter: now.seconds + 86400, issuer: authority)
        let record = try NodeRecord(
            nodeID: certificate.nodeID, version: 5, certificateDigest: certificate.digest, flags: [],
            gossipEndpoints: [], wireGuardEndpoints: [], announcedPrefixes: certificate.grantedPrefixes, relays: [],
            signedAt: now.seconds, signer: identity)
        return (settings, Member(certificate: certificate, record: record, status: .alive, statusChangedAt: now))
    }

    @Test func replayMarksRoundTripAndACleanSnapshotKeepsThem() throws {
        let (settings, member) = try network()
        let marks = ChannelReplayState(
            marks: [member.id: ReplayMark(initiation: 1_000, oneShot: 2_000)], highestTimestampSent: 3_000)
        let snapshot = MemberSnapshot(lastVersion: 7, members: [member], replayState: marks, clean: true)
        let decoded = try MemberSnapshot(decoding: snapshot.encoded, settings: settings, now: now)
        #expect(decoded.clean)
        #expect(decoded.replayState == marks)
        #expect(decoded.replayStateForStart(now: now) == marks)
    }

    @Test func aSnapshotWrittenWhileRunningRefusesEverythingOlderThanTheStart() throws {
        let (settings, member) = try network()
        let snapshot = MemberSnapshot(
            members: [member], replayState: ChannelReplayState(marks: [member.id: ReplayMark(initiation: 1_000, oneShot: 2_000)]),
            clean: false)
        let decoded = try MemberSnapshot(decoding: snapshot.encoded, settings: settings, now: now)
        let start = decoded.replayStateForStart(now: now)
        #expect(start.marks[member.id] == ReplayMark(initiation: now.nanoseconds, oneShot: now.nanoseconds))
        #expect(start.highestTimestampSent >= now.nanoseconds)
    }

    @Test func aFormerFormatOneSnapshotIsStillReadAndCountsAsUnclean() throws {
        let (settings, member) = try network()
        var bytes = MemberSnapshot(members: [member]).encoded
        bytes[4] = 1  // format 1 had no replay section
        bytes.removeLast(1 + 8 + 4)  // clean flag, highest timestamp sent, no marks
        let decoded = try MemberSnapshot(decoding: bytes, settings: settings, now: now)
        #expect(decoded.members.count == 1)
        #expect(!decoded.clean)
        #expect(decoded.replayStateForStart(now: now).marks[member.id]?.initiation == now.nanoseconds)
    }

    @Test func anAbsurdReplayMarkCountIsRefusedNotAllocated() throws {
        let (settings, _) = try network()
        var bytes = MemberSnapshot().encoded
        bytes.replaceSubrange((bytes.count - 4)..., with: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: WireError.self) { try MemberSnapshot(decoding: bytes, settings: settings, now: now) }
    }
}
