extension DemoMesh {
    /// Drops every packet between two hosts' underlay addresses, in both directions, at host `a`
    /// (an nftables table of its own there): their direct path is cut, relays still work.
    public func blockUnderlay(between a: String, and b: String) throws {
        var input: [String] = [], output: [String] = []
        for address in self[b].underlay {
            let family = address.contains(":") ? "ip6" : "ip"
            input.append("\(family) saddr \(address) drop")
            output.append("\(family) daddr \(address) drop")
        }
        try lab.nft("""
            table inet meshlab_block {
              chain input { type filter hook input priority -20; \(input.joined(separator: "; ")); }
              chain output { type filter hook output priority -20; \(output.joined(separator: "; ")); }
            }
            """, in: self[a].namespace)
    }

    /// Removes ``blockUnderlay(between:and:)``'s rules at host `a`.
    public func unblockUnderlay(at a: String) throws {
        try lab.run(["nft", "delete", "table", "inet", "meshlab_block"], in: self[a].namespace)
    }
}
