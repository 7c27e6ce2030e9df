import MeshAgentCore
import MeshCore

extension Agent {
    /// Writes the member snapshot when it changed (at most every 10 s) or when `force`d; `clean`
    /// only at shutdown, once no datagram can be accepted any more (see ``MemberSnapshot/clean``).
    func saveSnapshot(force: Bool, clean: Bool = false) {
        guard let node, snapshotDirty || force else { return }
        let now = clock.now
        guard force || now >= snapshotDue else { return }
        let snapshot = MemberSnapshot(
            lastVersion: node.localRecord.version, members: node.members.all,
            revocations: node.revocations.values.sorted { $0.nodeID < $1.nodeID },
            replayState: node.replayState(now: now), clean: clean)
        do {
            try state.saveMemberSnapshot(snapshot)
            snapshotDirty = false
            lastSnapshot = now
            lastSnapshotHeldMembers = node.members.count > 0
        } catch {
            lastSnapshot = now  // tried again after the snapshot interval
            logger.error("cannot save the member snapshot", metadata: ["error": "\(error)"])
        }
    }

    /// When a changed snapshot is due: 10 s after the last one, but at once while the last one held
    /// no members and some are known now (a member that just joined and crashed within those 10 s
    /// came back knowing nobody, and stayed alone).
    var snapshotDue: Timestamp {
        if !lastSnapshotHeldMembers, (node?.members.count ?? 0) > 0 { return lastSnapshot }
        return lastSnapshot + AgentTiming.snapshotInterval
    }

    /// Writes the authority's invitations and certificates.
    func saveAuthority() {
        guard let service = node?.authority else { return }
        do { try state.saveAuthority(service) } catch {
            logger.error("cannot save the authority state", metadata: ["error": "\(error)"])
        }
    }
}
