import Foundation

extension DemoMesh {
    /// Moves a LAN host (alpha, bravo) to new underlay addresses, as a new DHCP lease or a move
    /// to another uplink would: its old addresses (and the routes through them) go, the new ones
    /// come with the routes to the NATed sites. `addresses` are the new IPv4 and IPv6 addresses,
    /// in the order of the host's current ``MeshLabNode/underlay``.
    public func move(_ host: MeshLabNode, to addresses: [String]) throws {
        guard addresses.count == host.underlay.count else {
            throw LabError.failed("\(host.name) has \(host.underlay.count) underlay addresses; give as many new ones")
        }
        let moves = zip(host.underlay, addresses).map { old, new in
            (from: "\(old)/\(old.contains(":") ? 64 : 24)", to: "\(new)/\(new.contains(":") ? 64 : 24)")
        }
        try host.moveUnderlay(moves)
        // Router n sits at 2001:db8:100::1n on the LAN and routes its site 2001:db8:20n::/64.
        for index in routers.keys.compactMap({ Int($0.dropFirst("router".count)) }).sorted() {
            try lab.run(["ip", "-6", "route", "replace", "2001:db8:20\(index)::/64", "via", "2001:db8:100::1\(index)"], in: host.namespace)
        }
    }
}
