/// What the authority allows a node to do beyond being a member.
public struct NodeRoles: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// May forward other members' WireGuard traffic.
    public static let relay = NodeRoles(rawValue: 1 << 0)
    /// Holds the network authority key: may sign certificates and revocations.
    public static let authority = NodeRoles(rawValue: 1 << 1)
    /// May serve the default routes (0.0.0.0/0 and ::/0): other members may send their Internet
    /// traffic through it.
    public static let exit = NodeRoles(rawValue: 1 << 2)

    /// Bits this implementation understands; others are refused when decoding.
    public static let known: NodeRoles = [.relay, .authority, .exit]

    /// The role names ("relay", "authority", "exit"); empty for a plain member.
    public var names: [String] {
        var names: [String] = []
        if contains(.relay) { names.append("relay") }
        if contains(.authority) { names.append("authority") }
        if contains(.exit) { names.append("exit") }
        return names
    }

    public var description: String { names.isEmpty ? "member" : names.joined(separator: ",") }
}
