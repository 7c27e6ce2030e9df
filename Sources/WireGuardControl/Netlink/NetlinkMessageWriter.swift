import CNetlink

/// Builds netlink messages into one reusable byte buffer: headers, attributes and nested
/// attributes, with lengths patched when a message or nest ends. Several messages may sit back to
/// back in the buffer, ready for one `send`.
///
/// Integers are written in host byte order (netlink's), except where a caller passes
/// network-order bytes (addresses, ports inside `sockaddr`).
struct NetlinkMessageWriter {
    private(set) var bytes: [UInt8]

    init(capacity: Int = 64 * 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Bytes written so far.
    var count: Int { bytes.count }

    /// Forgets the content, keeping the allocation.
    mutating func reset() { bytes.removeAll(keepingCapacity: true) }

    /// Zeroes and forgets the content (after it held a private key).
    mutating func wipe() {
        for index in bytes.indices { bytes[index] = 0 }
        bytes.removeAll(keepingCapacity: true)
    }

    /// Drops everything written after `offset` (to undo an attribute that did not fit).
    mutating func truncate(to offset: Int) {
        bytes.removeSubrange(offset...)
    }

    // MARK: Messages

    /// Starts a message; returns its offset for ``endMessage(_:)``.
    mutating func beginMessage(type: UInt16, flags: UInt16, sequence: UInt32) -> Int {
        let start = bytes.count
        appendInteger(UInt32(0))  // nlmsg_len, patched in endMessage
        appendInteger(type)
        appendInteger(flags)
        appendInteger(sequence)
        appendInteger(UInt32(0))  // nlmsg_pid: the kernel fills it in
        return start
    }

    /// Ends the message started at `start`, writing its length.
    mutating func endMessage(_ start: Int) {
        pad()
        patchUInt32(at: start, UInt32(bytes.count - start))
    }

    /// Appends a generic-netlink header.
    mutating func appendGenericHeader(command: UInt8, version: UInt8) {
        bytes.append(command)
        bytes.append(version)
        appendInteger(UInt16(0))
    }

    /// Appends the bytes of a fixed header (`ifinfomsg`, `rtmsg`, ...), padded to 4.
    mutating func appendStruct<T>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
        pad()
    }

    // MARK: Attributes

    /// Appends an attribute with a raw payload.
    mutating func appendAttribute(_ type: UInt16, _ payload: UnsafeRawBufferPointer) {
        appendAttributeHeader(type, payloadLength: payload.count)
        bytes.append(contentsOf: payload)
        pad()
    }

    /// Appends an attribute whose payload is `payload`.
    mutating func appendAttribute(_ type: UInt16, bytes payload: [UInt8]) {
        payload.withUnsafeBytes { appendAttribute(type, $0) }
    }

    /// Appends an integer attribute in host byte order.
    mutating func appendAttribute<T: FixedWidthInteger>(_ type: UInt16, integer value: T) {
        appendAttributeHeader(type, payloadLength: MemoryLayout<T>.size)
        appendInteger(value)
        pad()
    }

    /// Appends a NUL-terminated string attribute.
    mutating func appendAttribute(_ type: UInt16, string: String) {
        var utf8 = Array(string.utf8)
        utf8.append(0)
        appendAttribute(type, bytes: utf8)
    }

    /// Starts a nested attribute; returns its offset for ``endNest(_:)``.
    mutating func beginNest(_ type: UInt16) -> Int {
        let start = bytes.count
        appendAttributeHeader(type | UInt16(NLA_F_NESTED), payloadLength: 0)
        return start
    }

    /// Ends the nest started at `start`, writing its length.
    mutating func endNest(_ start: Int) {
        patchUInt16(at: start, UInt16(truncatingIfNeeded: bytes.count - start))
    }

    // MARK: Low level

    private mutating func appendAttributeHeader(_ type: UInt16, payloadLength: Int) {
        appendInteger(UInt16(truncatingIfNeeded: 4 + payloadLength))
        appendInteger(type)
    }

    mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    private mutating func pad() {
        let remainder = bytes.count & 3
        if remainder != 0 { bytes.append(contentsOf: repeatElement(0, count: 4 - remainder)) }
    }

    private mutating func patchUInt32(at offset: Int, _ value: UInt32) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: value, toByteOffset: offset, as: UInt32.self) }
    }

    private mutating func patchUInt16(at offset: Int, _ value: UInt16) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: value, toByteOffset: offset, as: UInt16.self) }
    }
}
