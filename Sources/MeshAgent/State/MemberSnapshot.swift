import MeshCore
import SystemPackage

/// What a node persists about the network so that a restart reconnects at once, even when the
/// bootstrap node is down: every known member (certificate, record, verdict), the revocations,
/// the highest record version this node signed, and the secure channel's replay state.
///
/// File `members.db`: `MWMS`, `u8` format (2; 1 is still read), `u64` last version, `u32` member count,
/// then per member `bytes16` certificate, `bytes16` record, `u8` status; `u32` revocation count, then
/// `bytes16` each; format 2 only: `u8` clean (1 when written at shutdown), `u64` highest timestamp sent,
/// `u32` replay mark count (≤ 65,536), then per mark node ID `u64`, initiation `u64`, one-shot `u64`.
public struct MemberSnapshot: Sendable {
    public var lastVersion: UInt64
    public var members: [Member]
    public var revocations: [Revocation]
    /// The channel's replay marks (newest accepted initiation and one-shot timestamps per peer).
    public var replayState: ChannelReplayState
    /// Whether `replayState` was written at shutdown, after the last datagram was accepted. A
    /// snapshot written while running may miss what was accepted after it (a crash), so a start
    /// from it refuses every timestamp older than the start (``replayStateForStart(now:)``).
    public var clean: Bool

    /// Most replay marks read from a file (more than any mesh's members; a bound on a damaged file).
    static let maximumReplayMarks = 65_536

    public init(
        lastVersion: UInt64 = 0, members: [Member] = [], revocations: [Revocation] = [],
        replayState: ChannelReplayState = ChannelReplayState(), clean: Bool = false
    ) {
        self.lastVersion = lastVersion
        self.members = members
        self.revocations = revocations
        self.replayState = replayState
        self.clean = clean
    }

    /// The replay state to start the channel with at `now`. After a clean shutdown it is the saved
    /// one. Otherwise meshd may have accepted handshakes after the last save, which an attacker
    /// could replay: every known member's mark is raised to `now`, so only timestamps newer than
    /// this start are accepted (a peer whose clock lags ours is refused for as long as it lags).
    public func replayStateForStart(now: Timestamp) -> ChannelReplayState {
        guard !clean else { return replayState }
        var state = replayState
        let floor = ReplayMark(initiation: now.nanoseconds, oneShot: now.nanoseconds)
        for member in members {
            let mark = state.marks[member.id] ?? ReplayMark()
            state.marks[member.id] = ReplayMark(
                initiation: max(mark.initiation, floor.initiation), oneShot: max(mark.oneShot, floor.oneShot))
        }
        state.highestTimestampSent = max(state.highestTimestampSent, now.nanoseconds)
        return state
    }

    static let magic = Array("MWMS".utf8)

    /// The encoded file.
    public var encoded: [UInt8] {
        var writer = ByteWriter(capacity: 512 * members.count + 64)
        writer.write(raw: Self.magic)
        writer.write(UInt8(2))
        writer.write(lastVersion)
        writer.write(UInt32(members.count))
        for member in members {
            writer.write(longBytes: member.certificate.encoded)
            writer.write(longBytes: member.record.encoded)
            writer.write(member.status.rawValue)
        }
        writer.write(UInt32(revocations.count))
        for revocation in revocations { writer.write(longBytes: revocation.encoded) }
        writer.write(UInt8(clean ? 1 : 0))
        writer.write(replayState.highestTimestampSent)
        let marks = replayState.marks.sorted { $0.key < $1.key }.prefix(Self.maximumReplayMarks)
        writer.write(UInt32(marks.count))
        for (peer, mark) in marks {
            writer.write(peer)
            writer.write(mark.initiation)
            writer.write(mark.oneShot)
        }
        return writer.bytes
    }

    /// Decodes a snapshot, checking every signature (the file is a cache of network state: a
    /// member that does not verify is left out rather than trusted).
    public init(decoding bytes: [UInt8], settings: NetworkSettings, now: Timestamp) throws(WireError) {
        var reader = ByteReader(bytes, context: "member snapshot")
        guard Array(try reader.readBytes(4)) == Self.magic else { throw .invalidValue(what: "member snapshot header") }
        let format = try reader.readUInt8()
        guard format == 1 || format == 2 else { throw .unsupportedVersion(what: "member snapshot", version: format) }
        lastVersion = try reader.readUInt64()
        let count = Int(try reader.readUInt32())
        var revokedIDs = Set<NodeID>()
        var pending: [(NodeCertificate, NodeRecord, MemberStatus)] = []
        for _ in 0..<count {
            let certificateBytes = Array(try reader.readLongBytes())
            let recordBytes = Array(try reader.readLongBytes())
            guard let status = MemberStatus(rawValue: try reader.readUInt8()) else { throw .invalidValue(what: "member status") }
            guard let certificate = try? NodeCertificate(decoding: certificateBytes), let record = try? NodeRecord(decoding: recordBytes) else { continue }
            pending.append((certificate, record, status))
        }
        var revocations: [Revocation] = []
        let revocationCount = Int(try reader.readUInt32())
        for _ in 0..<revocationCount {
            // Read outside `try?`: a truncated file is an error, not one skipped revocation per counted entry.
            let revocationBytes = Array(try reader.readLongBytes())
            guard let revocation = try? Revocation(decoding: revocationBytes) else { continue }
            guard revocation.networkID == settings.networkID, revocation.issuerKey == settings.authorityKey else { continue }
            revocations.append(revocation)
            revokedIDs.insert(revocation.nodeID)
        }
        replayState = ChannelReplayState()
        clean = false
        if format >= 2 {
            let flag = try reader.readUInt8()
            guard flag <= 1 else { throw .invalidValue(what: "member snapshot clean flag") }
            clean = flag == 1
            replayState.highestTimestampSent = try reader.readUInt64()
            let markCount = Int(try reader.readUInt32())
            guard markCount <= Self.maximumReplayMarks else { throw .invalidValue(what: "replay mark count") }
            for _ in 0..<markCount {
                let peer = try reader.readNodeID()
                replayState.marks[peer] = ReplayMark(initiation: try reader.readUInt64(), oneShot: try reader.readUInt64())
            }
        }
        try reader.expectEnd()
        let validator = CertificateValidator(settings: settings)
        members = pending.compactMap { certificate, record, status in
            guard (try? validator.validate(certificate, at: now, revoked: { revokedIDs.contains($0) })) != nil,
                  (try? record.validate(against: certificate)) != nil
            else { return nil }
            // Verdicts are local opinions: start from alive (or left) and let probing decide again.
            let restored: MemberStatus = record.isTombstone ? .left : (status == .dead ? .dead : .alive)
            return Member(certificate: certificate, record: record, status: restored, statusChangedAt: now)
        }
        self.revocations = revocations
    }
}

extension StateDirectory {
    /// Loads the member snapshot. A damaged file is moved aside (`members.db.damaged`) and an empty
    /// snapshot returned: the members come back from peers.
    public func loadMemberSnapshot(settings: NetworkSettings, now: Timestamp) throws(StateError) -> (snapshot: MemberSnapshot, warning: String?) {
        guard exists(membersPath) else { return (MemberSnapshot(), nil) }
        let bytes = try readFile(membersPath, what: "the known members")
        do {
            return (try MemberSnapshot(decoding: bytes, settings: settings, now: now), nil)
        } catch {
            let aside = membersPath.string + ".damaged"
            _ = rename(membersPath.string, aside)
            return (MemberSnapshot(), "\(membersPath) is damaged (\(error)); moved it to \(aside) and starting with no known members: they come back from peers")
        }
    }

    /// Stores the member snapshot atomically (mode 0600).
    public func saveMemberSnapshot(_ snapshot: MemberSnapshot) throws(StateError) {
        try AtomicFile.write(snapshot.encoded, to: membersPath)
    }
}

#if canImport(Glibc)
import Glibc
#endif
