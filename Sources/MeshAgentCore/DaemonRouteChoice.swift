import MeshCore

/// Routes a routing daemon installed (`routing.mode: daemon`), turned into WireGuard allowed IPs
/// (sans-I/O: the shell reads the kernel's table into ``observed``; each device plan chooses).
///
/// A route whose next hop is a member's overlay or link-local address on the mesh interface makes
/// its prefix that member's allowed IP — when the prefix is inside the member's route grant (its
/// routes, and the default routes with the exit role), covers no member's address and none of
/// this host's underlay addresses, and the member is alive. WireGuard gives a prefix to one peer
/// only, so an ECMP route (several member next hops) goes to one of them, chosen by rendezvous
/// hashing of the prefix and the members' IDs: the same choice on every host and every run, and
/// adding or losing a next hop moves only the prefixes it wins or held. A next hop whose path has
/// failed (no answer since, direct or relayed) is passed over while another is sound, as a
/// gateway is (``RouteChoice``): the prefix moves before the daemon's own timers notice. The
/// choice and its reason are reported (`meshctl routes`).
package struct DaemonRouteChoice: Equatable, Sendable {
    /// Most routes with member next hops taken into account (routes come from routing peers:
    /// remote input); the rest are ignored and counted.
    package static let maximumRoutes = 4096

    /// A route as the shell read it: its destination and its gateways through the mesh interface.
    package struct Observed: Hashable, Sendable {
        package var prefix: IPPrefix
        package var nextHops: [IPAddress]
        package init(prefix: IPPrefix, nextHops: [IPAddress]) {
            self.prefix = prefix
            self.nextHops = nextHops
        }
    }

    /// What became of one observed route.
    package struct Chosen: Equatable, Sendable {
        package var prefix: IPPrefix
        /// The member whose allowed IPs carry the prefix (nil: none may).
        package var member: NodeID?
        /// The members named as next hops.
        package var nextHops: [NodeID]
        /// Why: the next hop, the ECMP choice, or the refusal.
        package var reason: String
        /// Whether the prefix was refused (outside every next hop's grant, or unsafe), not merely
        /// without a live next hop.
        package var refused: Bool
    }

    /// The daemon's routes with member next hops, as last read (set by the shell).
    package var observed: [Observed] = []
    /// The outcome per prefix, from the last plan.
    package private(set) var chosen: [IPPrefix: Chosen] = [:]

    package init() {}

    /// The prefixes each member carries.
    package var carried: [NodeID: [IPPrefix]] {
        var result: [NodeID: [IPPrefix]] = [:]
        for entry in chosen.values.sorted(by: { "\($0.prefix)" < "\($1.prefix)" }) {
            if let member = entry.member { result[member, default: []].append(entry.prefix) }
        }
        return result
    }

    /// Chooses again with the mesh as it is now; `doubt` says why a member's path is in doubt
    /// (nil: sound). Returns the outcomes that changed (to log), the routes newly refused (to
    /// count), and how many routes with member next hops were over ``maximumRoutes`` (ignored).
    package mutating func update(
        node: MeshNode, host: PlanningHost, addressBook: OverlayAddressBook, doubt: (NodeID) -> String? = { _ in nil }
    ) -> (changed: [Chosen], newlyRefused: [Chosen], ignored: Int) {
        // Without a daemon's routes (every node not in daemon mode), nothing to map: the plan runs
        // often, and the member address map below costs a pass over every member.
        if observed.isEmpty, chosen.isEmpty { return ([], [], 0) }
        var owners: [IPAddress: Member] = [:]
        for member in node.members.all where member.id != host.nodeID {
            for address in member.certificate.ownedAddresses where owners[address] == nil { owners[address] = member }
        }
        var next: [IPPrefix: Chosen] = [:]
        var ignored = 0
        for route in observed {
            var seen = Set<NodeID>()
            let hops = route.nextHops.compactMap { owners[$0] }.filter { seen.insert($0.id).inserted }
            guard !hops.isEmpty, next[route.prefix] == nil else { continue }
            guard next.count < Self.maximumRoutes else {
                ignored += 1
                continue
            }
            next[route.prefix] = choose(route.prefix, hops: hops, host: host, addressBook: addressBook, doubt: doubt)
        }
        let changed = next.values.filter { chosen[$0.prefix] != $0 } + chosen.values.filter { next[$0.prefix] == nil }.map {
            Chosen(prefix: $0.prefix, member: nil, nextHops: [], reason: "the route is gone", refused: false)
        }
        let newlyRefused = next.values.filter { $0.refused && chosen[$0.prefix]?.refused != true }
        chosen = next
        return (changed.sorted { "\($0.prefix)" < "\($1.prefix)" }, newlyRefused, ignored)
    }

    private func choose(_ prefix: IPPrefix, hops: [Member], host: PlanningHost, addressBook: OverlayAddressBook, doubt: (NodeID) -> String?) -> Chosen {
        let ids = hops.map(\.id)
        if host.localAddresses.contains(where: { prefix.contains($0) }) {
            return Chosen(prefix: prefix, member: nil, nextHops: ids, reason: "refused: covers this host's own underlay address", refused: true)
        }
        var problems: [String] = []
        var eligible: [Member] = []
        for member in hops {
            if !member.certificate.grantsRoute(prefix) {
                problems.append("outside \(member.name)'s grant")
            } else if !addressBook.filter([prefix], of: member.id).refused.isEmpty {
                problems.append("covers another member's address")
            } else if !member.status.isLive {
                problems.append("\(member.name) is \(member.status)")
            } else {
                eligible.append(member)
            }
        }
        // Next hops in doubt only when no sound one is left (better one that may answer than none).
        let doubts = eligible.map { doubt($0.id) }
        let sound = zip(eligible, doubts).filter { $0.1 == nil }.map(\.0)
        let candidates = sound.isEmpty ? eligible : sound
        guard let winner = candidates.max(by: { Self.weight(prefix, $0.id) < Self.weight(prefix, $1.id) }) else {
            let refused = problems.contains { $0.hasPrefix("outside") || $0.hasPrefix("covers") }
            return Chosen(prefix: prefix, member: nil, nextHops: ids, reason: (refused ? "refused: " : "no live next hop: ") + problems.joined(separator: "; "),
                          refused: refused)
        }
        var reason = candidates.count == 1
            ? "next hop \(winner.name)"
            : "ECMP over \(candidates.map(\.name).sorted().joined(separator: ", ")): \(winner.name) by rendezvous hash (WireGuard gives a prefix to one peer)"
        let passedOver = zip(eligible, doubts).compactMap { member, why in why.map { "\(member.name) \($0)" } }
        if !sound.isEmpty, !passedOver.isEmpty { reason += "; passed over: " + passedOver.joined(separator: "; ") }
        if sound.isEmpty, let why = doubt(winner.id) { reason += " (in doubt: \(why); no sound next hop)" }
        return Chosen(prefix: prefix, member: winner.id, nextHops: ids, reason: reason, refused: false)
    }

    /// The rendezvous weight of `member` for `prefix`: FNV-1a over the prefix and the ID, then a
    /// 64-bit finaliser (stable across hosts, runs and releases; not a secret).
    static func weight(_ prefix: IPPrefix, _ member: NodeID) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in prefix.address.bytes + [UInt8(prefix.length)] + withUnsafeBytes(of: member.value.bigEndian, Array.init) {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return hash
    }
}
