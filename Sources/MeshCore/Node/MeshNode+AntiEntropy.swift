/// Anti-entropy: periodic digest exchange with a random member, so every node converges even
/// after lost gossip or a partition. Bucket hashes are compared first; only mismatched buckets
/// are listed, and only differing entries move.
extension MeshNode {
    /// Sends our digest (two messages of 128 bucket hashes) to `peer`.
    func startAntiEntropy(with peer: NodeID?, now: Timestamp) {
        guard let peer else { return }
        let hashes = digestHashes
        for first in stride(from: 0, to: AntiEntropy.bucketCount, by: AntiEntropy.bucketsPerDigest) {
            let digest = Digest(
                memberCount: UInt32(members.liveCount), revocationHash: revocationHash, firstBucket: UInt16(first),
                hashes: Array(hashes[first..<first + AntiEntropy.bucketsPerDigest]))
            sendPacked([.digest(digest)], to: peer, now: now, piggyback: false)
        }
    }

    /// Starts anti-entropy with a newly learned contact (after enrolling, or at start-up).
    public func synchronize(with peer: NodeID, now: Timestamp) {
        startAntiEntropy(with: peer, now: now)
    }

    /// Bucket hashes including this node's own entry.
    var digestHashes: [UInt64] {
        var hashes = members.bucketHashes
        hashes[AntiEntropy.bucket(of: id)] ^= AntiEntropy.contribution(node: id, version: localRecord.version, status: .alive)
        return hashes
    }

    func handleDigest(_ digest: Digest, from sender: NodeID, now: Timestamp) {
        if digest.revocationHash != revocationHash {
            for node in revocations.keys.sorted() {
                if let revocation = revocations[node] { queueReply(.revocation(revocation.encoded), to: sender) }
            }
            // A digest without buckets asks only for revocations; do not answer it with another.
            if !digest.hashes.isEmpty {
                queueReply(.digest(Digest(memberCount: UInt32(members.liveCount), revocationHash: revocationHash, firstBucket: 0, hashes: [])), to: sender)
            }
        }
        let ours = digestHashes
        for (offset, theirs) in digest.hashes.enumerated() {
            let bucket = Int(digest.firstBucket) + offset
            guard bucket < ours.count, ours[bucket] != theirs else { continue }
            for part in bucketSummaries(bucket) { queueReply(.bucket(part), to: sender) }
        }
    }

    /// Our entries of `bucket` (including ourselves), split into parts covering contiguous ID ranges.
    func bucketSummaries(_ bucket: Int) -> [BucketSummary] {
        var entries = members.entries(inBucket: bucket)
        if AntiEntropy.bucket(of: id) == bucket {
            entries.append(BucketSummary.Entry(node: id, version: localRecord.version, status: .alive))
            entries.sort { $0.node < $1.node }
        }
        let bucketStart = NodeID(UInt64(bucket) << 56)
        let bucketEnd = NodeID(UInt64(bucket) << 56 | 0x00FF_FFFF_FFFF_FFFF)
        var parts: [BucketSummary] = []
        var start = bucketStart
        var index = 0
        repeat {
            let chunk = Array(entries[index..<min(index + BucketSummary.entriesPerPart, entries.count)])
            index += chunk.count
            let isLast = index >= entries.count
            let end = isLast ? bucketEnd : (chunk.last?.node ?? bucketEnd)
            parts.append(BucketSummary(rangeStart: start, rangeEnd: end, entries: chunk))
            start = NodeID(end.value &+ 1)
        } while index < entries.count
        return parts
    }

    func handleBucket(_ summary: BucketSummary, from sender: NodeID, now: Timestamp) {
        var requests: [NodeID] = []
        var listed = Set<NodeID>()
        for entry in summary.entries {
            guard RecordVersion.isAcceptable(entry.version, at: now) else {
                // Not listed: what this node knows of that member is pushed to the sender below.
                channel.countDrop(.futureVersion)
                continue
            }
            listed.insert(entry.node)
            if entry.node == id {
                if entry.version > localRecord.version {
                    publish(now: now, atLeast: RecordVersion.successor(of: entry.version))
                } else if !entry.status.isLive, entry.version >= localRecord.version {
                    refute(now: now)
                } else if entry.version < localRecord.version {
                    queueReply(.record(localRecord.encoded), to: sender)
                }
                continue
            }
            if revocations[entry.node] != nil { continue }
            guard let ours = members[entry.node] else {
                if entry.status != .revoked { requests.append(entry.node) }
                continue
            }
            if entry.version > ours.record.version || !RecordVersion.isAcceptable(ours.record.version, at: now) {
                requests.append(entry.node)
            } else if entry.version < ours.record.version {
                push(ours, to: sender)
            } else if entry.status == .dead, ours.status.isLive {
                handleSuspect(node: ours.id, version: entry.version, reporter: sender, from: sender, now: now)
            } else if ours.status == .dead, entry.status.isLive {
                queueReply(.dead(node: ours.id, incarnation: ours.record.version, reporter: id), to: sender)
            }
        }
        // Members we know in the range that the sender does not: push them.
        for entry in members.entries(inBucket: AntiEntropy.bucket(of: summary.rangeStart))
        where entry.node >= summary.rangeStart && entry.node <= summary.rangeEnd && !listed.contains(entry.node) {
            if let member = members[entry.node] { push(member, to: sender) }
        }
        if id >= summary.rangeStart, id <= summary.rangeEnd, !listed.contains(id) {
            queueReply(.member(certificate: certificate.encoded, record: localRecord.encoded), to: sender)
        }
        for chunk in stride(from: 0, to: requests.count, by: Message.requestLimit) {
            let part = Array(requests[chunk..<min(chunk + Message.requestLimit, requests.count)])
            for node in part where antiEntropyRequested.count < Self.antiEntropyRequestLimit { antiEntropyRequested.insert(node) }
            queueReply(.request(part), to: sender)
        }
    }

    /// Sends what we know of `member` to `peer`: certificate and record, and a death verdict if we hold one.
    private func push(_ member: Member, to peer: NodeID) {
        if member.id != peer {
            queueReply(.member(certificate: member.certificate.encoded, record: member.record.encoded), to: peer)
        }
        if member.status == .dead {
            queueReply(.dead(node: member.id, incarnation: member.record.version, reporter: id), to: peer)
        }
    }

    func handleRequest(_ nodes: [NodeID], from sender: NodeID, now: Timestamp) {
        for node in nodes {
            if node == id {
                queueReply(.member(certificate: certificate.encoded, record: localRecord.encoded), to: sender)
            } else if let member = members[node], revocations[node] == nil {
                queueReply(.member(certificate: member.certificate.encoded, record: member.record.encoded), to: sender)
            }
        }
    }

    /// Tries to reach a random dead member, one that died recently if any: if it is alive again
    /// (a healed partition), the exchange makes it refute and both sides converge.
    func reconnect(now: Timestamp) {
        let dead = members.tombstones.compactMap { members[$0] }.filter { $0.status == .dead }
        guard !dead.isEmpty else { return }
        let recent = dead.filter { now - $0.statusChangedAt < timing.recentDeathWindow }
        let pool = (recent.isEmpty ? dead : recent).map(\.id).sorted()
        startAntiEntropy(with: pool[Int.random(in: 0..<pool.count, using: &random)], now: now)
    }

    /// Time between reconnection attempts: frequent while a member died recently, spread over the
    /// network (about one attempt per interval per 64 members).
    func reconnectPeriod(now: Timestamp) -> Interval {
        let scale = max(1, Double(members.liveCount) / 64)
        let recentDeath = lastDeathAt.map { now - $0 < timing.recentDeathWindow } ?? false
        return (recentDeath ? timing.recentDeathReconnectInterval : timing.reconnectInterval) * scale
    }
}
