import HashTreeCollections

/// The members a node knows, with the bookkeeping the protocol needs: an order for random
/// selection, live counts, and incrementally maintained anti-entropy bucket hashes.
///
/// Storage is a persistent hash trie (`TreeDictionary`): copies share structure, so a simulator
/// can hand the same 10,000-member table to 10,000 nodes and each pays only for what it changes.
public struct MemberTable: Sendable {
    private(set) var members: TreeDictionary<NodeID, Member> = [:]
    /// Every known member's ID, for random selection (order is insertion, then swap-removal).
    private(set) var order: [NodeID] = []
    private var orderIndex: TreeDictionary<NodeID, Int> = [:]
    /// Per-bucket XOR hashes (see ``AntiEntropy``).
    private(set) var bucketHashes = [UInt64](repeating: 0, count: AntiEntropy.bucketCount)
    /// Number of alive or suspect members.
    public private(set) var liveCount = 0
    /// The node owning this table. A shared snapshot may contain it; it is then hidden from every
    /// accessor instead of being removed, so the snapshot's storage stays shared.
    private(set) var owner: NodeID?
    /// Members whose verdict is dead, left or revoked (the ones timers look at).
    private(set) var tombstones = Set<NodeID>()

    public init() {}

    /// Hides `node` (the table's owner) without touching the shared storage.
    mutating func exclude(_ node: NodeID) {
        guard owner == nil else { return }
        owner = node
        if let member = members[node] { unaccount(member) }
    }

    /// Number of members known, tombstones included.
    public var count: Int { members.count - (owner.flatMap { members[$0] } == nil ? 0 : 1) }

    /// The member with `id`.
    public subscript(id: NodeID) -> Member? { id == owner ? nil : members[id] }

    /// All members, in no particular order.
    public var all: [Member] { members.values.filter { $0.id != owner } }

    /// Size of the selection order (may include the hidden owner; see ``member(atOrder:)``).
    var orderCount: Int { order.count }

    /// The member at position `index` of the selection order (nil for the hidden owner).
    func member(atOrder index: Int) -> Member? {
        guard order.indices.contains(index), order[index] != owner else { return nil }
        return members[order[index]]
    }

    /// Adds or replaces a member, keeping counts and hashes right. The caller vouches that the
    /// member is valid (it was verified, or read back from this node's own state).
    public mutating func put(_ member: Member) {
        let id = member.id
        guard id != owner else { return }
        if let old = members[id] {
            unaccount(old)
        } else {
            orderIndex[id] = order.count
            order.append(id)
        }
        members[id] = member
        account(member)
    }

    /// Removes a member entirely (tombstone expiry).
    mutating func remove(_ id: NodeID) {
        guard id != owner, let old = members.removeValue(forKey: id) else { return }
        unaccount(old)
        if let index = orderIndex.removeValue(forKey: id) {
            let last = order.removeLast()
            if last != id {
                order[index] = last
                orderIndex[last] = index
            }
        }
    }

    /// Entries of one bucket, sorted by ID.
    func entries(inBucket bucket: Int) -> [BucketSummary.Entry] {
        // Buckets hold about count/256 members; scanning the order array is cheap next to I/O.
        order.lazy.filter { AntiEntropy.bucket(of: $0) == bucket && $0 != owner }.sorted().compactMap { id in
            members[id].map { BucketSummary.Entry(node: id, version: $0.record.version, status: $0.status) }
        }
    }

    private mutating func account(_ member: Member) {
        if member.status.isLive { liveCount += 1 } else { tombstones.insert(member.id) }
        bucketHashes[AntiEntropy.bucket(of: member.id)] ^= AntiEntropy.contribution(node: member.id, version: member.record.version, status: member.status)
    }

    private mutating func unaccount(_ member: Member) {
        if member.status.isLive { liveCount -= 1 } else { tombstones.remove(member.id) }
        bucketHashes[AntiEntropy.bucket(of: member.id)] ^= AntiEntropy.contribution(node: member.id, version: member.record.version, status: member.status)
    }
}
