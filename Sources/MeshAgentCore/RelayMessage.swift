import MeshCore

/// The path and relay messages agents exchange over the secure channel (extension messages of the
/// relay layer in ``MessageCode``). Layouts: docs/protocol.md, "Paths and relays".
package enum RelayMessage: Equatable {
    /// "Are you there on this path?" (answered at once with `pathAck`).
    case pathProbe(sequence: UInt32)
    /// Answer to a `pathProbe`.
    case pathAck(sequence: UInt32)
    /// To a relay: forward WireGuard traffic between me and `peer`.
    case request(id: UInt32, peer: NodeID)
    /// From a relay: send `peer`'s WireGuard traffic to my port `port`; the lease lasts `lease` seconds.
    /// Sent to the requester (answering `id`) and to the peer (id 0).
    case grant(id: UInt32, peer: NodeID, port: UInt16, lease: UInt16)
    /// From a relay: it will not relay for this pair.
    case refuse(id: UInt32, peer: NodeID, reason: RefusalReason)
    /// To a relay: the pair is still in use; extend the lease.
    case refresh(peer: NodeID)
    /// To a relay: the pair no longer needs it.
    case release(peer: NodeID)
    /// To the other end of a relayed pair: the direct path works again; switch back to it.
    case directRestored

    /// Why a relay refused.
    package enum RefusalReason: UInt8, CustomStringConvertible {
        case notARelay = 1
        case full = 2
        case unknownPeer = 3
        case peerUnreachable = 4

        package var description: String {
            switch self {
            case .notARelay: return "it does not relay"
            case .full: return "it is at its allocation limit"
            case .unknownPeer: return "it does not know the peer as a live member"
            case .peerUnreachable: return "it cannot reach the peer"
            }
        }
    }

    package var code: MessageCode {
        switch self {
        case .pathProbe: return .pathProbe
        case .pathAck: return .pathAck
        case .request: return .relayRequest
        case .grant: return .relayGrant
        case .refuse: return .relayRefuse
        case .refresh: return .relayRefresh
        case .release: return .relayRelease
        case .directRestored: return .directRestored
        }
    }

    package var body: [UInt8] {
        var writer = ByteWriter(capacity: 16)
        switch self {
        case let .pathProbe(sequence), let .pathAck(sequence):
            writer.write(sequence)
        case let .request(id, peer):
            writer.write(id)
            writer.write(peer)
        case let .grant(id, peer, port, lease):
            writer.write(id)
            writer.write(peer)
            writer.write(port)
            writer.write(lease)
        case let .refuse(id, peer, reason):
            writer.write(id)
            writer.write(peer)
            writer.write(reason.rawValue)
        case let .refresh(peer), let .release(peer):
            writer.write(peer)
        case .directRestored:
            break
        }
        return writer.bytes
    }

    /// Decodes an extension message of one of these types; nil for other types or bad bodies.
    package init?(type: UInt8, body: [UInt8]) {
        guard let code = MessageCode(rawValue: type), code.layer == .relay else { return nil }
        var reader = ByteReader(body, context: code.context)
        do {
            switch code {
            case .pathProbe: self = .pathProbe(sequence: try reader.readUInt32())
            case .pathAck: self = .pathAck(sequence: try reader.readUInt32())
            case .relayRequest: self = .request(id: try reader.readUInt32(), peer: try reader.readNodeID())
            case .relayGrant:
                self = .grant(id: try reader.readUInt32(), peer: try reader.readNodeID(), port: try reader.readUInt16(), lease: try reader.readUInt16())
            case .relayRefuse:
                let id = try reader.readUInt32(), peer = try reader.readNodeID()
                guard let reason = RefusalReason(rawValue: try reader.readUInt8()) else { return nil }
                self = .refuse(id: id, peer: peer, reason: reason)
            case .relayRefresh: self = .refresh(peer: try reader.readNodeID())
            case .relayRelease: self = .release(peer: try reader.readNodeID())
            case .directRestored: self = .directRestored
            case .ping, .ack, .pingRequest, .nack, .suspect, .dead, .record, .member, .revocation, .digest, .bucket, .request,
                 .endpointReport, .wireGuardEndpointReport, .renewalRequest, .renewal:
                return nil  // not of this layer (refused by the guard above)
            }
            try reader.expectEnd()
        } catch {
            return nil
        }
    }
}
