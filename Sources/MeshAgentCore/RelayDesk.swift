import MeshCore

/// The relay side's decisions, without sockets: whether to serve a member's request for a pair,
/// between which addresses, and the grants that tell both ends. The ports themselves are the
/// shell's (``RelayService`` in meshd, a model in the simulator).
package enum RelayDesk {
    /// What to do with a request.
    package enum Decision: Equatable {
        /// Allocate the pair: each end may send only from its address; `expected` is where each
        /// end's WireGuard listens (an endpoint it announces at that address), used until that
        /// end has sent itself.
        case allocate(requesterAddress: IPAddress, peerAddress: IPAddress, expected: [NodeID: SocketEndpoint])
        /// Refuse; `counted`: the refusal is a drop (`relay-pair-refused`).
        case refuse(RelayMessage.RefusalReason, counted: Bool)
    }

    /// The grant to the peer is sent again after each of these gaps (0.3, 1, 2.5 and 5 s after
    /// the first), unless the peer
    /// has sent through the relay (it switched) meanwhile. The peer learns of the allocation from
    /// one datagram: without repeats, a lost grant left one end relayed and the other direct, and
    /// no traffic passed until the next refresh.
    package static let grantRepeatGaps: [Interval] = [.milliseconds(300), .milliseconds(700), .milliseconds(1500), .milliseconds(2500)]

    /// Whether this relay (`node`) serves `requester`'s request for a pair with `peer`.
    package static func decide(peer: NodeID, requester: NodeID, node: MeshNode) -> Decision {
        guard peer != requester, peer != node.id,
              let requesterMember = node.members[requester], requesterMember.status.isLive,
              let peerMember = node.members[peer], peerMember.status.isLive,
              let requesterAddress = node.lastEndpoint(of: requester)?.address
        else { return .refuse(.unknownPeer, counted: true) }
        // The peer's address as this node last authenticated it, else what it announces.
        guard let peerAddress = node.lastEndpoint(of: peer)?.address
            ?? peerMember.record.wireGuardEndpoints.sorted(by: { $0.kind > $1.kind }).first?.endpoint.address
        else { return .refuse(.peerUnreachable, counted: false) }
        var expected: [NodeID: SocketEndpoint] = [:]
        for (member, address) in [(requesterMember, requesterAddress), (peerMember, peerAddress)] {
            expected[member.id] = member.record.wireGuardEndpoints.first { $0.endpoint.address == address }?.endpoint
        }
        return .allocate(requesterAddress: requesterAddress, peerAddress: peerAddress, expected: expected)
    }

    /// What the relay tells the other end of a pair that `releaser` released: the allocation is
    /// gone (a refusal with id 0, as for a refresh of a pair it no longer holds). Without it, an
    /// end that missed its peer's direct-restored notice kept sending into a closed port until its
    /// next lease refresh.
    package static func released(by releaser: NodeID) -> RelayMessage {
        .refuse(id: 0, peer: releaser, reason: .unknownPeer)
    }

    /// The two grants of an allocation: to the requester (answering `id`) and to the peer (id 0).
    package static func grants(
        id: UInt32, requester: NodeID, peer: NodeID, ports: [NodeID: UInt16], lease: Interval
    ) -> (requester: RelayMessage, peer: RelayMessage) {
        let seconds = UInt16(min(65535, lease.seconds))
        return (.grant(id: id, peer: peer, port: ports[requester] ?? 0, lease: seconds),
                .grant(id: 0, peer: requester, port: ports[peer] ?? 0, lease: seconds))
    }
}
