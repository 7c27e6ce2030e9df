import MeshCore

/// Who owns each overlay address (from certificates), and which of a member's announced prefixes
/// may become its WireGuard allowed IPs (sans-I/O).
///
/// WireGuard gives an allowed IP to one peer only: installing a prefix that covers another
/// member's overlay address would move that address (or part of it) to the announcer, so a member
/// could take another's traffic. Such a prefix is never installed; the member's other prefixes are.
package struct OverlayAddressBook {
    /// The owner of each overlay address.
    private var owners: [IPAddress: NodeID] = [:]

    /// An address book of `members`' overlay addresses (this node's own included).
    package init(_ members: some Sequence<(id: NodeID, addresses: [IPAddress])>) {
        for member in members {
            for address in member.addresses where owners[address] == nil { owners[address] = member.id }
        }
    }

    /// `announced` split into the prefixes `member` may have as allowed IPs and those covering
    /// another member's overlay address (IPv4 or IPv6), which it may not.
    package func filter(_ announced: [IPPrefix], of member: NodeID) -> (allowed: [IPPrefix], refused: [IPPrefix]) {
        var allowed: [IPPrefix] = [], refused: [IPPrefix] = []
        for prefix in announced {
            if coversAnotherMember(prefix, member: member) { refused.append(prefix) } else { allowed.append(prefix) }
        }
        return (allowed, refused)
    }

    private func coversAnotherMember(_ prefix: IPPrefix, member: NodeID) -> Bool {
        if prefix.isHost {
            // The common case (a member's own address): one lookup.
            return owners[prefix.address].map { $0 != member } ?? false
        }
        return owners.contains { address, owner in owner != member && prefix.contains(address) }
    }
}
