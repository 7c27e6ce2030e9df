import CNetlink

/// Public entry points to the decoders of replies this module reads from outside the process
/// (a userspace daemon's UAPI socket, the kernel's netlink sockets), for the fuzz targets in
/// `Fuzz/`. Each runs exactly the code the backends run on a received reply.
public enum ReplyDecoding {
    /// Parses the reply to a UAPI `get=1` request, as ``UserspaceWireGuardDevice`` does.
    public static func uapiGetReply(_ reply: [UInt8], interfaceName: String = "wg0") throws -> WireGuardDeviceState {
        try reply.withUnsafeBytes { (bytes) throws in try UAPICodec.parseGet(bytes, interfaceName: interfaceName) }
    }

    /// Parses the `errno=N` reply to a UAPI `set=1` request.
    public static func uapiStatusReply(_ reply: [UInt8]) throws -> Int32 {
        try reply.withUnsafeBytes { (bytes) throws in try UAPICodec.parseStatus(bytes) }
    }

    /// Splits one received netlink datagram into messages and decodes each as the netlink backends
    /// would: error and done messages through their status, every other message as a WireGuard dump
    /// part and as an rtnetlink link, address, route (also with its next hops) and rule. Returns the device the WireGuard parts
    /// describe; throws the first framing error (a decoding error of one reading is ignored, since
    /// a message is only ever one of them).
    @discardableResult
    public static func netlinkDatagram(_ datagram: [UInt8], interfaceName: String = "wg0") throws -> WireGuardDeviceState {
        var decoder = WireGuardNetlinkDecoder(interfaceName: interfaceName)
        try datagram.withUnsafeBytes { (buffer) throws in
            try NetlinkMessage.forEach(in: buffer) { (message) throws in
                if message.isError || message.isDone {
                    if message.payload.count >= 4 { _ = try? message.errorStatus() }
                    return
                }
                try? decoder.consume(part: message.payload)
                _ = try? RouteNetlinkCodec.parseLink(message.payload)
                _ = try? RouteNetlinkCodec.parseAddress(message.payload)
                _ = try? RouteNetlinkCodec.parseRoute(message.payload)
                _ = try? RouteNetlinkCodec.parseRouteEntry(message.payload)
                _ = try? PolicyRuleCodec.parse(message.payload)
            }
        }
        return decoder.finish()
    }
}
