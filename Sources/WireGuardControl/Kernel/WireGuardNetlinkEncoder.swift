import CNetlink
import MeshAddressing
import MeshCrypto

/// Encodes a change set as `WG_CMD_SET_DEVICE` messages, split so that each stays within
/// `maximumMessageSize` bytes (wireguard-tools keeps each under a page).
///
/// - Device attributes (private key, listen port, fwmark) go in the first message only; every
///   message names the interface.
/// - Removals come first, then updates, then additions.
/// - A peer's scalar fields (flags, endpoint, keepalive) go in its first fragment. When its
///   allowed IPs do not fit, the message is closed and the next one continues the peer under the
///   same public key with only `WGPEER_F_UPDATE_ONLY` and the remaining allowed IPs.
/// - `WGDEVICE_F_REPLACE_PEERS` is never set. Updates carry `WGPEER_F_UPDATE_ONLY`; a peer's
///   allowed IPs are replaced (`WGPEER_F_REPLACE_ALLOWEDIPS`) only when the change carries them.
struct WireGuardNetlinkEncoder {
    let familyID: UInt16
    let interfaceName: String
    let maximumMessageSize: Int

    /// Where each message lies in the writer's buffer, and its sequence number.
    struct Message: Equatable {
        var range: Range<Int>
        var sequence: UInt32
    }

    private enum PeerOperation {
        case remove(X25519PublicKey)
        case update(WireGuardPeerUpdate)
        case add(WireGuardPeerConfiguration)
    }

    /// Writes the messages for `changes` into `writer` (after what it holds) and returns them,
    /// numbered from `firstSequence` upwards (wrapping). An empty change set gives no
    /// messages.
    func encode(
        _ changes: WireGuardChangeSet, into writer: inout NetlinkMessageWriter, firstSequence: UInt32
    ) throws -> [Message] {
        guard !changes.isEmpty else { return [] }
        var session = Session(encoder: self, firstSequence: firstSequence)
        session.begin(&writer, device: changes)
        guard session.fits(writer) else {
            throw WireGuardControlError.invalidRequest("the device attributes alone exceed the message size limit of \(maximumMessageSize) bytes")
        }
        for key in changes.peersToRemove { try session.write(.remove(key), into: &writer) }
        for update in changes.peersToUpdate { try session.write(.update(update), into: &writer) }
        for add in changes.peersToAdd { try session.write(.add(add), into: &writer) }
        session.finish(&writer)
        return session.messages
    }

    /// The state of one encoding run.
    private struct Session {
        let encoder: WireGuardNetlinkEncoder
        var messages: [Message] = []
        var messageStart = 0
        var sequence: UInt32
        private var started = false
        var peersNest: Int? = nil
        /// Whether the current message holds anything beyond its fixed header.
        var messageHasContent = false

        init(encoder: WireGuardNetlinkEncoder, firstSequence: UInt32) {
            self.encoder = encoder
            self.sequence = firstSequence
        }

        private mutating func nextSequence() -> UInt32 {
            if started { sequence &+= 1 }
            started = true
            return sequence
        }

        func fits(_ writer: NetlinkMessageWriter) -> Bool {
            writer.count - messageStart <= encoder.maximumMessageSize
        }

        mutating func begin(_ writer: inout NetlinkMessageWriter, device: WireGuardChangeSet?) {
            sequence = nextSequence()
            messageStart = writer.beginMessage(
                type: encoder.familyID, flags: UInt16(NLM_F_REQUEST | NLM_F_ACK), sequence: sequence)
            writer.appendGenericHeader(command: UInt8(WG_CMD_SET_DEVICE.rawValue), version: UInt8(WG_GENL_VERSION))
            writer.appendAttribute(UInt16(WGDEVICE_A_IFNAME.rawValue), string: encoder.interfaceName)
            peersNest = nil
            messageHasContent = false
            guard let device else { return }
            if let key = device.privateKey {
                key.secretBytes.withUnsafeBytes { writer.appendAttribute(UInt16(WGDEVICE_A_PRIVATE_KEY.rawValue), $0) }
                messageHasContent = true
            }
            if let port = device.listenPort {
                writer.appendAttribute(UInt16(WGDEVICE_A_LISTEN_PORT.rawValue), integer: port)
                messageHasContent = true
            }
            if let mark = device.fwmark {
                writer.appendAttribute(UInt16(WGDEVICE_A_FWMARK.rawValue), integer: mark)
                messageHasContent = true
            }
        }

        mutating func finish(_ writer: inout NetlinkMessageWriter) {
            if let nest = peersNest { writer.endNest(nest) }
            writer.endMessage(messageStart)
            messages.append(Message(range: messageStart..<writer.count, sequence: sequence))
            peersNest = nil
        }

        private mutating func nextMessage(_ writer: inout NetlinkMessageWriter) {
            finish(&writer)
            begin(&writer, device: nil)
        }

        mutating func write(_ operation: PeerOperation, into writer: inout NetlinkMessageWriter) throws {
            let allowedIPs: [IPPrefix]
            switch operation {
            case .remove: allowedIPs = []
            case let .update(update): allowedIPs = update.allowedIPs ?? []
            case let .add(add): allowedIPs = add.allowedIPs
            }
            // The peer's first fragment: its header and (if any) its first allowed IP must fit.
            var attempt = 0
            var open: (peer: Int, allowed: Int?)
            while true {
                let mark = writer.count
                let hadNest = peersNest
                open = writeHeader(operation, hasAllowedIPs: !allowedIPs.isEmpty, into: &writer)
                if let first = allowedIPs.first { WireGuardNetlinkEncoder.appendAllowedIP(first, to: &writer) }
                if fits(writer) { break }
                writer.truncate(to: mark)
                peersNest = hadNest
                attempt += 1
                guard messageHasContent, attempt < 2 else {
                    throw WireGuardControlError.invalidRequest("one peer does not fit the message size limit of \(encoder.maximumMessageSize) bytes")
                }
                nextMessage(&writer)
            }
            messageHasContent = true
            guard !allowedIPs.isEmpty else {
                writer.endNest(open.peer)
                return
            }
            for prefix in allowedIPs.dropFirst() {
                let mark = writer.count
                WireGuardNetlinkEncoder.appendAllowedIP(prefix, to: &writer)
                if fits(writer) { continue }
                // Close this fragment and continue the peer in the next message.
                writer.truncate(to: mark)
                if let allowed = open.allowed { writer.endNest(allowed) }
                writer.endNest(open.peer)
                nextMessage(&writer)
                open = writeContinuation(publicKey: Self.publicKey(of: operation), into: &writer)
                WireGuardNetlinkEncoder.appendAllowedIP(prefix, to: &writer)
                messageHasContent = true
                guard fits(writer) else {
                    throw WireGuardControlError.invalidRequest("one allowed IP does not fit the message size limit of \(encoder.maximumMessageSize) bytes")
                }
            }
            if let allowed = open.allowed { writer.endNest(allowed) }
            writer.endNest(open.peer)
        }

        private static func publicKey(of operation: PeerOperation) -> X25519PublicKey {
            switch operation {
            case let .remove(key): return key
            case let .update(update): return update.publicKey
            case let .add(add): return add.publicKey
            }
        }

        private mutating func openPeer(_ key: X25519PublicKey, flags: UInt32, into writer: inout NetlinkMessageWriter) -> Int {
            if peersNest == nil { peersNest = writer.beginNest(UInt16(WGDEVICE_A_PEERS.rawValue)) }
            let peer = writer.beginNest(0)
            writer.appendAttribute(UInt16(WGPEER_A_PUBLIC_KEY.rawValue), bytes: key.bytes)
            writer.appendAttribute(UInt16(WGPEER_A_FLAGS.rawValue), integer: flags)
            return peer
        }

        private mutating func writeHeader(
            _ operation: PeerOperation, hasAllowedIPs: Bool, into writer: inout NetlinkMessageWriter
        ) -> (peer: Int, allowed: Int?) {
            let peer: Int
            switch operation {
            case let .remove(key):
                peer = openPeer(key, flags: UInt32(WGPEER_F_REMOVE_ME.rawValue), into: &writer)
            case let .update(update):
                var flags = UInt32(WGPEER_F_UPDATE_ONLY.rawValue)
                if update.allowedIPs != nil { flags |= UInt32(WGPEER_F_REPLACE_ALLOWEDIPS.rawValue) }
                peer = openPeer(update.publicKey, flags: flags, into: &writer)
                if let endpoint = update.endpoint {
                    SocketAddressCodec.append(endpoint, as: UInt16(WGPEER_A_ENDPOINT.rawValue), to: &writer)
                }
                if let keepalive = update.persistentKeepalive {
                    writer.appendAttribute(UInt16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL.rawValue), integer: keepalive)
                }
            case let .add(add):
                peer = openPeer(add.publicKey, flags: UInt32(WGPEER_F_REPLACE_ALLOWEDIPS.rawValue), into: &writer)
                if let endpoint = add.endpoint {
                    SocketAddressCodec.append(endpoint, as: UInt16(WGPEER_A_ENDPOINT.rawValue), to: &writer)
                }
                writer.appendAttribute(UInt16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL.rawValue), integer: add.persistentKeepalive)
            }
            let allowed = hasAllowedIPs ? writer.beginNest(UInt16(WGPEER_A_ALLOWEDIPS.rawValue)) : nil
            return (peer, allowed)
        }

        private mutating func writeContinuation(publicKey: X25519PublicKey, into writer: inout NetlinkMessageWriter) -> (peer: Int, allowed: Int?) {
            let peer = openPeer(publicKey, flags: UInt32(WGPEER_F_UPDATE_ONLY.rawValue), into: &writer)
            return (peer, writer.beginNest(UInt16(WGPEER_A_ALLOWEDIPS.rawValue)))
        }
    }
}

extension WireGuardNetlinkEncoder {
    /// Appends one allowed-IP entry (family, address, prefix length) as a nested attribute.
    static func appendAllowedIP(_ prefix: IPPrefix, to writer: inout NetlinkMessageWriter) {
        let nest = writer.beginNest(0)
        switch prefix.address {
        case let .v4(address):
            writer.appendAttribute(UInt16(WGALLOWEDIP_A_FAMILY.rawValue), integer: UInt16(AF_INET))
            writer.appendAttribute(UInt16(WGALLOWEDIP_A_IPADDR.rawValue), integer: address.value.bigEndian)
        case let .v6(address):
            writer.appendAttribute(UInt16(WGALLOWEDIP_A_FAMILY.rawValue), integer: UInt16(AF_INET6))
            var raw = (address.high.bigEndian, address.low.bigEndian)
            withUnsafeBytes(of: &raw) { writer.appendAttribute(UInt16(WGALLOWEDIP_A_IPADDR.rawValue), $0) }
        }
        writer.appendAttribute(UInt16(WGALLOWEDIP_A_CIDR_MASK.rawValue), integer: UInt8(prefix.length))
        writer.endNest(nest)
    }
}
