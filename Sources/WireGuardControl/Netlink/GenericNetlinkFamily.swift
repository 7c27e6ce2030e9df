import CNetlink
#if canImport(Glibc)
import Glibc
#endif

/// Resolves a generic-netlink family name (such as "wireguard") to the message type the kernel
/// assigned it, through the generic-netlink controller (`CTRL_CMD_GETFAMILY`).
enum GenericNetlinkFamily {
    /// The family's id; throws ``WireGuardControlError/kernel(operation:errno:message:)`` with
    /// `ENOENT` when the kernel has no such family.
    static func resolve(_ name: String, on socket: NetlinkSocket) throws -> UInt16 {
        var writer = NetlinkMessageWriter(capacity: 128)
        let sequence = socket.nextSequence()
        try writeRequest(name, sequence: sequence, into: &writer)
        var familyID: UInt16? = nil
        try writer.bytes.withUnsafeBytes { (bytes) throws in
            try socket.request(bytes, sequence: sequence, operation: "resolving generic-netlink family \"\(name)\"") {
                (reply) throws in
                familyID = try parseReply(reply)
            }
        }
        guard let familyID else {
            throw WireGuardControlError.malformedReply("the generic-netlink controller did not return an id for \"\(name)\"")
        }
        return familyID
    }

    static func writeRequest(_ name: String, sequence: UInt32, into writer: inout NetlinkMessageWriter) throws {
        let start = writer.beginMessage(
            type: UInt16(GENL_ID_CTRL), flags: UInt16(NLM_F_REQUEST | NLM_F_ACK), sequence: sequence)
        writer.appendGenericHeader(command: UInt8(CTRL_CMD_GETFAMILY), version: 1)
        writer.appendAttribute(UInt16(CTRL_ATTR_FAMILY_NAME), string: name)
        writer.endMessage(start)
    }

    /// The family id in a controller reply, if present.
    static func parseReply(_ reply: NetlinkMessage) throws -> UInt16? {
        guard reply.type == UInt16(GENL_ID_CTRL), reply.payload.count >= 4 else { return nil }
        let attributes = NetlinkAttributes(UnsafeRawBufferPointer(rebasing: reply.payload[4...]))
        var id: UInt16? = nil
        try attributes.forEach { (attribute) throws in
            if attribute.type == UInt16(CTRL_ATTR_FAMILY_ID) { id = try attribute.uint16() }
        }
        return id
    }
}
