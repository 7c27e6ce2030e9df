import CNetlink
#if canImport(Glibc)
import Glibc
#endif

/// One policy routing rule (`ip rule`): at `priority`, packets of the family that match (with
/// ``invert``: that do not match) ``fwmark`` look up `table`; with ``suppressPrefixLength``, a
/// route found there of that length or shorter is ignored (`suppress_prefixlength 0`: the table's
/// default route is). ``protocol`` tells whose rule it is.
public struct PolicyRule: Hashable, Sendable, CustomStringConvertible {
    public var isIPv6: Bool
    public var priority: UInt32
    public var table: UInt32
    public var fwmark: UInt32?
    public var invert: Bool
    public var suppressPrefixLength: UInt32?
    public var `protocol`: UInt8

    public init(
        isIPv6: Bool, priority: UInt32, table: UInt32, fwmark: UInt32? = nil, invert: Bool = false, suppressPrefixLength: UInt32? = nil,
        protocol: UInt8
    ) {
        self.isIPv6 = isIPv6
        self.priority = priority
        self.table = table
        self.fwmark = fwmark
        self.invert = invert
        self.suppressPrefixLength = suppressPrefixLength
        self.protocol = `protocol`
    }

    /// As `ip rule` prints it.
    public var description: String {
        var words = [isIPv6 ? "-6" : "-4", "\(priority):"]
        if invert { words.append("not") }
        if let fwmark { words.append("fwmark 0x" + String(fwmark, radix: 16)) } else if !invert { words.append("from all") }
        words.append("lookup \(table)")
        if let suppressPrefixLength { words.append("suppress_prefixlength \(suppressPrefixLength)") }
        words.append("proto \(`protocol`)")
        return words.joined(separator: " ")
    }
}

/// Encoding and decoding of rtnetlink rule messages (`RTM_NEWRULE`, `RTM_DELRULE`).
enum PolicyRuleCodec {
    static func message(type: Int, flags: Int, sequence: UInt32, rule: PolicyRule, into writer: inout NetlinkMessageWriter) {
        let start = writer.beginMessage(type: UInt16(type), flags: UInt16(flags), sequence: sequence)
        var header = fib_rule_hdr()
        header.family = UInt8(rule.isIPv6 ? AF_INET6 : AF_INET)
        header.table = rule.table < 256 ? UInt8(rule.table) : UInt8(RT_TABLE_UNSPEC.rawValue)
        header.action = UInt8(FR_ACT_TO_TBL)
        header.flags = rule.invert ? UInt32(FIB_RULE_INVERT) : 0
        writer.appendStruct(header)
        writer.appendAttribute(UInt16(FRA_PRIORITY), integer: rule.priority)
        writer.appendAttribute(UInt16(FRA_TABLE), integer: rule.table)
        if let mark = rule.fwmark {
            writer.appendAttribute(UInt16(FRA_FWMARK), integer: mark)
            writer.appendAttribute(UInt16(FRA_FWMASK), integer: UInt32.max)
        }
        if let length = rule.suppressPrefixLength { writer.appendAttribute(UInt16(FRA_SUPPRESS_PREFIXLEN), integer: length) }
        writer.appendAttribute(UInt16(FRA_PROTOCOL), integer: rule.protocol)
        writer.endMessage(start)
    }

    /// Parses an `RTM_NEWRULE` payload (nil: a family or action this module does not install).
    static func parse(_ payload: UnsafeRawBufferPointer) throws -> PolicyRule? {
        guard payload.count >= MemoryLayout<fib_rule_hdr>.size else { throw WireGuardControlError.malformedReply("short rule message") }
        let family = Int32(payload.loadUnaligned(fromByteOffset: 0, as: UInt8.self))
        var table = UInt32(payload.loadUnaligned(fromByteOffset: 4, as: UInt8.self))
        let action = payload.loadUnaligned(fromByteOffset: 7, as: UInt8.self)
        let flags = payload.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        var priority: UInt32 = 0
        var fwmark: UInt32?
        var suppress: UInt32?
        var ruleProtocol: UInt8 = 0
        let attributes = NetlinkAttributes(UnsafeRawBufferPointer(rebasing: payload[MemoryLayout<fib_rule_hdr>.size...]))
        try attributes.forEach { (attribute) throws in
            switch Int(attribute.type) {
            case Int(FRA_PRIORITY): priority = try attribute.uint32()
            case Int(FRA_TABLE): table = try attribute.uint32()
            case Int(FRA_FWMARK): fwmark = try attribute.uint32()
            case Int(FRA_SUPPRESS_PREFIXLEN):
                // The kernel reports -1 (none) as 0xffffffff.
                let value = try attribute.uint32()
                suppress = value == UInt32.max ? nil : value
            case Int(FRA_PROTOCOL): ruleProtocol = try attribute.uint8()
            default: break
            }
        }
        guard family == AF_INET || family == AF_INET6, action == UInt8(FR_ACT_TO_TBL) else { return nil }
        return PolicyRule(
            isIPv6: family == AF_INET6, priority: priority, table: table, fwmark: fwmark == 0 ? nil : fwmark,
            invert: flags & UInt32(FIB_RULE_INVERT) != 0, suppressPrefixLength: suppress, protocol: ruleProtocol)
    }
}

extension LinkManager {
    /// The policy rules of both families (only those marked with `protocol`, when given).
    public func rules(protocol: UInt8? = nil) throws -> [PolicyRule] {
        var result: [PolicyRule] = []
        for family in [AF_INET, AF_INET6] {
            result += try dump(type: RTM_GETRULE, family: UInt8(family), operation: "listing policy rules") { message in
                guard message.type == UInt16(RTM_NEWRULE), let rule = try PolicyRuleCodec.parse(message.payload),
                    `protocol`.map({ $0 == rule.protocol }) ?? true
                else { return nil }
                return rule
            }
        }
        return result
    }

    /// Adds `rule` (an identical one already there is no error).
    public func addRule(_ rule: PolicyRule) throws {
        do {
            try request("adding policy rule \(rule)") { writer, sequence in
                PolicyRuleCodec.message(
                    type: RTM_NEWRULE, flags: Int(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL), sequence: sequence, rule: rule, into: &writer)
            }
        } catch let error as WireGuardControlError where error.kernelErrno == EEXIST {
            return
        }
    }

    /// Removes `rule` (one already gone is no error).
    public func removeRule(_ rule: PolicyRule) throws {
        do {
            try request("removing policy rule \(rule)") { writer, sequence in
                PolicyRuleCodec.message(type: RTM_DELRULE, flags: Int(NLM_F_REQUEST | NLM_F_ACK), sequence: sequence, rule: rule, into: &writer)
            }
        } catch let error as WireGuardControlError where error.kernelErrno == ENOENT {
            return
        }
    }
}
