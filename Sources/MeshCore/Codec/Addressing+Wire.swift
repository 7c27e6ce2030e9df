/// Wire forms of addresses, shared by every structure that carries them:
///
/// - address: family (`4` or `6`), then 4 or 16 bytes;
/// - prefix: address, then the prefix length (one byte);
/// - endpoint: address, then the port (two bytes).
extension ByteWriter {
    public mutating func write(_ address: IPAddress) {
        write(address.isIPv4 ? UInt8(4) : UInt8(6))
        write(raw: address.bytes)
    }

    public mutating func write(_ prefix: IPPrefix) {
        write(prefix.address)
        write(UInt8(prefix.length))
    }

    public mutating func write(_ endpoint: SocketEndpoint) {
        write(endpoint.address)
        write(endpoint.port)
    }
}

extension ByteReader {
    public mutating func readAddress() throws(WireError) -> IPAddress {
        let family = try readUInt8()
        let length: Int
        switch family {
        case 4: length = 4
        case 6: length = 16
        default: throw .invalidValue(what: "\(context) address family")
        }
        guard let address = IPAddress(bytes: try readBytes(length)) else { throw .invalidValue(what: "\(context) address") }
        return address
    }

    public mutating func readPrefix() throws(WireError) -> IPPrefix {
        let address = try readAddress()
        let length = Int(try readUInt8())
        guard length <= address.bitWidth, let prefix = IPPrefix(containing: address, length: length), prefix.address == address else {
            throw .invalidValue(what: "\(context) prefix")
        }
        return prefix
    }

    public mutating func readEndpoint() throws(WireError) -> SocketEndpoint {
        let address = try readAddress()
        let port = try readUInt16()
        guard port != 0 else { throw .invalidValue(what: "\(context) port") }
        return SocketEndpoint(address: address, port: port)
    }

    /// A one-byte count followed by that many items, refusing counts above `limit`.
    public mutating func readList<Item>(limit: Int, _ item: (inout ByteReader) throws(WireError) -> Item) throws(WireError) -> [Item] {
        let count = Int(try readUInt8())
        guard count <= limit else { throw .invalidValue(what: "\(context) list of \(count) items (limit \(limit))") }
        var items: [Item] = []
        items.reserveCapacity(count)
        for _ in 0..<count { items.append(try item(&self)) }
        return items
    }
}
