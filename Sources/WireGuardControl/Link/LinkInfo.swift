import MeshAddressing

/// A network interface as rtnetlink reports it.
public struct LinkInfo: Equatable, Sendable {
    /// The interface index.
    public var index: Int32
    /// The interface name.
    public var name: String
    /// The link kind (`wireguard`, `veth`, `dummy`, `tun`, ...); `nil` for physical devices and
    /// loopback.
    public var kind: String?
    /// The MTU.
    public var mtu: UInt32
    /// The interface flags (`IFF_UP`, ...).
    public var flags: UInt32

    /// Whether the interface is administratively up.
    public var isUp: Bool { flags & 1 != 0 }  // IFF_UP

    /// Creates a link description.
    public init(index: Int32, name: String, kind: String?, mtu: UInt32, flags: UInt32) {
        self.index = index
        self.name = name
        self.kind = kind
        self.mtu = mtu
        self.flags = flags
    }
}

/// An address assigned to an interface, with its prefix length (`192.0.2.1/24`).
public struct InterfaceAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address.
    public var address: IPAddress
    /// The prefix length of the attached subnet.
    public var prefixLength: Int

    /// Creates an interface address.
    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses `ADDRESS/LENGTH` (host bits allowed, as `ip address add` takes them).
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let address = IPAddress(String(parts[0])), let length = Int(parts[1]),
            (0...address.bitWidth).contains(length)
        else { return nil }
        self.init(address: address, prefixLength: length)
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
