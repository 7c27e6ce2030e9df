/// Rules for node and network names: a DNS label (1–63 of `a-z`, `0-9`, `-`, not starting or
/// ending with `-`), so names work as hostnames and in logs without quoting.
public enum NodeName {
    /// Why `name` is not acceptable, or `nil` if it is.
    public static func problem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count) else { return "a name must be 1 to 63 characters long" }
        let allowed = bytes.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "-") }
        guard allowed else { return "\"\(name)\" may use only lowercase letters, digits and '-'" }
        guard bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else { return "\"\(name)\" cannot start or end with '-'" }
        return nil
    }
}
