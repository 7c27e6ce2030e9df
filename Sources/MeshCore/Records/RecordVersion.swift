/// The rules for record versions (which double as SWIM incarnations). A node signs versions
/// from its wall clock in milliseconds (or one past its previous version, if that is higher), so
/// an honest version is never far ahead of any member's clock. Versions arrive from the wire in
/// records, verdicts and anti-entropy entries; one that is ahead of this node's clock by more
/// than ``allowedSkew`` can only be forged or corrupt and is refused, never adopted: adopting it
/// would push this node's own versions to the end of the range (and, at `UInt64.max`, stop them).
public enum RecordVersion {
    /// How far a version may be ahead of this node's clock. Members' clocks differ (certificate
    /// validity tolerates the same 300 s), and a node publishing many times within one
    /// millisecond runs a little ahead of its own clock.
    public static let allowedSkew = Interval.seconds(300)

    /// The highest version accepted at `now`.
    public static func ceiling(at now: Timestamp) -> UInt64 {
        let (sum, overflow) = clockVersion(at: now).addingReportingOverflow(allowedSkew.nanoseconds / 1_000_000)
        return overflow ? .max : sum
    }

    /// Whether `version` may be believed at `now` (not ahead of the clock plus the skew).
    public static func isAcceptable(_ version: UInt64, at now: Timestamp) -> Bool { version <= ceiling(at: now) }

    /// The version a clock reading gives (milliseconds since the epoch).
    public static func clockVersion(at now: Timestamp) -> UInt64 { now.nanoseconds / 1_000_000 }

    /// The version after `version`, saturating at `UInt64.max` (never traps).
    public static func successor(of version: UInt64) -> UInt64 { version == .max ? .max : version + 1 }
}
