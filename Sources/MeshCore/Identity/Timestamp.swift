/// A point in time: nanoseconds since the Unix epoch.
///
/// The core never reads a clock. The daemon passes wall-clock time anchored to a monotonic clock
/// (so timers do not jump with NTP); the simulator passes virtual time.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// A timestamp from whole seconds since the epoch.
    public init(seconds: UInt64) { nanoseconds = seconds &* 1_000_000_000 }

    /// Whole seconds since the epoch.
    public var seconds: UInt64 { nanoseconds / 1_000_000_000 }

    /// Seconds since the epoch as a floating-point number.
    public var secondsValue: Double { Double(nanoseconds) / 1e9 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// This time plus `interval`.
    public static func + (lhs: Timestamp, rhs: Interval) -> Timestamp {
        Timestamp(nanoseconds: lhs.nanoseconds &+ rhs.nanoseconds)
    }

    /// This time less `interval` (``zero`` at the earliest).
    public static func - (lhs: Timestamp, rhs: Interval) -> Timestamp {
        Timestamp(nanoseconds: lhs.nanoseconds >= rhs.nanoseconds ? lhs.nanoseconds - rhs.nanoseconds : 0)
    }

    /// The interval from `rhs` to `lhs` (zero if `rhs` is later).
    public static func - (lhs: Timestamp, rhs: Timestamp) -> Interval {
        Interval(nanoseconds: lhs.nanoseconds >= rhs.nanoseconds ? lhs.nanoseconds - rhs.nanoseconds : 0)
    }

    public var description: String { "\(secondsValue)s" }

    /// The earliest representable time.
    public static let zero = Timestamp(nanoseconds: 0)
    /// The latest representable time: "never".
    public static let distantFuture = Timestamp(nanoseconds: .max)
}

/// A non-negative length of time in nanoseconds.
public struct Interval: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public static func seconds(_ value: Double) -> Interval { Interval(nanoseconds: UInt64(max(0, value) * 1e9)) }
    public static func milliseconds(_ value: Double) -> Interval { Interval(nanoseconds: UInt64(max(0, value) * 1e6)) }

    /// The interval in seconds.
    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public static func < (lhs: Interval, rhs: Interval) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
    public static func * (lhs: Interval, rhs: Double) -> Interval { .seconds(lhs.seconds * rhs) }
    public static func + (lhs: Interval, rhs: Interval) -> Interval { Interval(nanoseconds: lhs.nanoseconds &+ rhs.nanoseconds) }

    public static let zero = Interval(nanoseconds: 0)

    public var description: String { "\(seconds)s" }
}
