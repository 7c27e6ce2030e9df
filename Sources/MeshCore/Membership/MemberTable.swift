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

    public init() {}

    /// Number of members known, tombstones included.
    public var count: Int { members.count }

    /// The member with `id`.
    public subscript(id: NodeID) -> Member? { members[id] }

    /// All members, in no particular order.
    public var all: some Collection<Member> { members.values }

    /// The member at position `index` of the selection order.
    func member(atOrder index: Int) -> Member? {
        guard order.indices.contains(index) else { return nil }
        return members[order[index]]
    }

    /// Adds or replaces a member, keeping counts and hashes right.
    mutating func put(_ member: Member) {
        let id = member.id
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
        guard let old = members.removeValue(forKey: id) else { return }
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
        order.lazy.filter { AntiEntropy.bucket(of: $0) == bucket }.sorted().compactMap { id in
            members[id].map { BucketSummary.Entry(node: id, version: $0.record.version, status: $0.status) }
        }
    }

    private mutating func account(_ member: Member) {
        if member.status.isLive { liveCount += 1 }
        bucketHashes[AntiEntropy.bucket(of: member.id)] ^= AntiEntropy.contribution(node: member.id, version: member.record.version, status: member.status)
    }

    private mutating func unaccount(_ member: Member) {
        if member.status.isLive { liveCount -= 1 }
        bucketHashes[AntiEntropy.bucket(of: member.id)] ^= AntiEntropy.contribution(node: member.id, version: member.record.version, status: member.status)
    }
}
