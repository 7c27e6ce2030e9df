/// A running suspicion of one member (Lifeguard): the timeout starts long and shrinks, on a
/// logarithmic curve, with each independent confirmation, down to a minimum. Suspected members
/// have that long to refute.
struct Suspicion {
    let version: UInt64
    let startedAt: Timestamp
    let minimum: Interval
    let maximum: Interval
    /// Confirmations after which the timeout reaches its minimum.
    let expectedConfirmations: Int
    private(set) var reporters: Set<NodeID>
    /// When the suspicion becomes a death verdict (``startedAt`` plus ``timeout``), kept current
    /// as confirmations arrive: timers read it on every event.
    private(set) var deadline: Timestamp

    init(version: UInt64, reporter: NodeID, startedAt: Timestamp, minimum: Interval, maximum: Interval, expectedConfirmations: Int) {
        self.version = version
        self.startedAt = startedAt
        self.minimum = minimum
        self.maximum = maximum
        self.expectedConfirmations = max(1, expectedConfirmations)
        self.reporters = [reporter]
        self.deadline = startedAt  // every property set: `timeout` may be read now
        self.deadline = startedAt + timeout
    }

    /// Records a confirmation; returns true if it is new and still shortens the timeout (only
    /// then is it worth gossiping: beyond the expected count, confirmations change nothing).
    mutating func confirm(by reporter: NodeID) -> Bool {
        guard confirmations < expectedConfirmations else { return false }
        guard reporters.insert(reporter).inserted else { return false }
        deadline = startedAt + timeout
        return true
    }

    /// Independent confirmations beyond the first report.
    var confirmations: Int { reporters.count - 1 }

    /// Current timeout: `max - (max - min) * log(c + 1) / log(k + 1)`, never below `min`.
    var timeout: Interval {
        let c = Double(min(confirmations, expectedConfirmations))
        let fraction = c <= 0 ? 0 : log2(c + 1) / log2(Double(expectedConfirmations) + 1)
        let seconds = maximum.seconds - (maximum.seconds - minimum.seconds) * fraction
        return .seconds(max(minimum.seconds, seconds))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
