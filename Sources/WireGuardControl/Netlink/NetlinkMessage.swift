import CNetlink

/// One netlink message, viewed in place inside a receive buffer.
struct NetlinkMessage {
    static let headerLength = 16

    let type: UInt16
    let flags: UInt16
    let sequence: UInt32
    /// Everything after the 16-byte `nlmsghdr`.
    let payload: UnsafeRawBufferPointer

    var isError: Bool { type == UInt16(NLMSG_ERROR) }
    var isDone: Bool { type == UInt16(NLMSG_DONE) }
    var isMulti: Bool { flags & UInt16(NLM_F_MULTI) != 0 }
    var wasInterrupted: Bool { flags & UInt16(NLM_F_DUMP_INTR) != 0 }

    /// Splits `buffer` into messages, calling `body` for each; throws on a truncated or
    /// inconsistent header.
    static func forEach(
        in buffer: UnsafeRawBufferPointer, _ body: (NetlinkMessage) throws -> Void
    ) throws {
        var offset = 0
        while offset < buffer.count {
            guard buffer.count - offset >= headerLength else {
                throw WireGuardControlError.malformedReply("truncated netlink header (\(buffer.count - offset) bytes)")
            }
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            guard length >= headerLength, length <= buffer.count - offset else {
                throw WireGuardControlError.malformedReply("netlink message length \(length) does not fit the \(buffer.count - offset) bytes received")
            }
            let message = NetlinkMessage(
                type: buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self),
                flags: buffer.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self),
                sequence: buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self),
                payload: UnsafeRawBufferPointer(rebasing: buffer[(offset + headerLength)..<(offset + length)]))
            try body(message)
            offset += (length + 3) & ~3
        }
    }

    /// For `NLMSG_ERROR` (and `NLMSG_DONE` of a dump): the positive errno (0 for an
    /// acknowledgement) and the kernel's extended-ack message if it sent one.
    func errorStatus() throws -> (errno: Int32, message: String?) {
        guard payload.count >= 4 else { throw WireGuardControlError.malformedReply("netlink error message without a code") }
        // Negated without trapping: Int32.min (never a real errno) is read as Int32.max.
        let raw = payload.loadUnaligned(as: Int32.self)
        let code = raw == .min ? .max : -raw
        guard isError, flags & UInt16(NLM_F_ACK_TLVS) != 0, payload.count >= 20 else { return (code, nil) }
        let originalLength = Int(payload.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let start = 4 + (flags & UInt16(NLM_F_CAPPED) != 0 ? NetlinkMessage.headerLength : (originalLength + 3) & ~3)
        guard start <= payload.count else { return (code, nil) }
        let attributes = NetlinkAttributes(UnsafeRawBufferPointer(rebasing: payload[start...]))
        let text = attributes.first(UInt16(NLMSGERR_ATTR_MSG.rawValue))?.string()
        return (code, text?.isEmpty == false ? text : nil)
    }
}
