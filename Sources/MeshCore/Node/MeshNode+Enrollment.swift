/// Join traffic arriving at a running node: the authority answers join requests; everyone else
/// counts them as drops.
extension MeshNode {
    /// Join requests answered per source address: a joiner resends every second to each of its
    /// token's bootstrap endpoints (several may reach this node), each request costing a key
    /// agreement, an AEAD and a signature check here.
    static let joinRequestsPerSourcePerSecond = 4.0
    static let joinRequestBurstPerSource = 8.0

    func handleEnrollmentPacket(type: PacketType, datagram: [UInt8], from endpoint: SocketEndpoint, now: Timestamp) {
        guard type == .joinRequest else {
            channel.countDrop(.unexpectedJoinResponse)
            return
        }
        guard var service = authority else {
            channel.countDrop(.joinUnknownInvitation)
            return
        }
        // Each request with a known invitation costs a key agreement: a few per source address.
        guard joinSources.take(from: endpoint.address, now: now) else {
            channel.countDrop(.rateLimited)
            return
        }
        let staticSecret = agreement.staticKeyPair(for: identity).secret
        let handling = service.handleJoinRequest(datagram, staticSecret: staticSecret, agreement: agreement, now: now)
        authority = service
        switch handling {
        case let .drop(reason):
            channel.countDrop(reason)
        case let .respond(response, enrolled):
            if datagram.count > 1, response.count > 1, response[1] == PacketType.joinUnknownInvitation.rawValue {
                channel.countDrop(.joinUnknownInvitation)
            }
            emit([OutboundDatagram(bytes: response, endpoint: endpoint)])
            if let enrolled {
                admittedCertificates[enrolled.nodeID] = enrolled
                events.append(.enrolled(enrolled))
            }
        }
    }
}
