#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MeshCore

/// The protocol core's notion of time in the daemon: wall-clock time at start, advanced by a
/// monotonic clock, so timers never jump when NTP adjusts the wall clock.
public struct AgentClock: Sendable {
    private let startWall: UInt64
    private let startInstant: ContinuousClock.Instant

    public init() {
        startWall = UInt64(max(0, Date().timeIntervalSince1970 * 1e9))
        startInstant = ContinuousClock.now
    }

    /// Now, as a protocol timestamp.
    public var now: Timestamp {
        let elapsed = ContinuousClock.now - startInstant
        let nanoseconds = UInt64(elapsed.components.seconds) * 1_000_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000)
        return Timestamp(nanoseconds: startWall + nanoseconds)
    }

    /// The monotonic instant of a protocol timestamp (for sleeping until it). Timestamps beyond
    /// `Int64` nanoseconds (``Timestamp/distantFuture``: "never") map to the latest instant it holds.
    public func instant(of timestamp: Timestamp) -> ContinuousClock.Instant {
        let offset = Int64(clamping: timestamp.nanoseconds) - Int64(clamping: startWall)
        return startInstant + .nanoseconds(offset)
    }

    /// Seconds since the agent started.
    public var uptime: Double {
        let elapsed = ContinuousClock.now - startInstant
        return elapsed.secondsValue
    }
}
