import MeshAgentCore
import MeshCore

/// Public entry points to decoders of this module that are otherwise internal, for the fuzz
/// targets in `Fuzz/`. Each runs exactly the code the agent runs on bytes from outside.
public enum AgentDecoding {
    /// Decodes a path or relay message (extension types `0x24`–`0x2F`) as the agent does on
    /// receipt and encodes it again: nil when the agent would ignore the message.
    public static func reencodedRelayMessage(type: UInt8, body: [UInt8]) -> (type: UInt8, body: [UInt8])? {
        guard let message = RelayMessage(type: type, body: body) else { return nil }
        return (message.code.rawValue, message.body)
    }

    /// Reads an ICMP echo reply as a health check's raw socket delivers it (IPv4 with its IP
    /// header, or ICMPv6 without): identifier and sequence, nil for anything else.
    public static func echoReply(_ bytes: [UInt8], v6: Bool) -> (identifier: UInt16, sequence: UInt16)? {
        EchoProber.echoReply(bytes, v6: v6).map { ($0.identifier, $0.sequence) }
    }

    /// Parses YAML text with the configuration files' parser; true when the document has content.
    /// Throws the syntax error the agent would report.
    @discardableResult
    public static func parseYAML(_ text: String) throws -> Bool {
        try YAMLParser.parse(text) != nil
    }
}
