/// Sliding-window replay protection over 64-bit message counters (RFC 6479 style): accepts each
/// counter once, tolerates reordering within the window, refuses anything older.
public struct ReplayWindow: Sendable {
    /// Number of counters behind the highest one that are still tracked.
    public static let size: UInt64 = 256

    private var highest: UInt64 = 0
    private var seenAny = false
    /// Bit i of word w marks counter `highest - (w * 64 + i)` as seen.
    private var bitmap: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}

    /// Whether `counter` would be accepted, without recording it (check before the costly
    /// authentication; ``record(_:)`` only after it succeeds).
    public func isAcceptable(_ counter: UInt64) -> Bool {
        guard seenAny else { return true }
        if counter > highest { return true }
        let distance = highest - counter
        guard distance < Self.size else { return false }
        return !bit(Int(distance))
    }

    /// Records `counter`; returns false if it was a replay.
    @discardableResult
    public mutating func record(_ counter: UInt64) -> Bool {
        guard isAcceptable(counter) else { return false }
        if !seenAny {
            seenAny = true
            highest = counter
            bitmap = (1, 0, 0, 0)
            return true
        }
        if counter > highest {
            shift(by: counter - highest)
            highest = counter
            setBit(0)
        } else {
            setBit(Int(highest - counter))
        }
        return true
    }

    private func bit(_ index: Int) -> Bool {
        let word: UInt64
        switch index / 64 {
        case 0: word = bitmap.0
        case 1: word = bitmap.1
        case 2: word = bitmap.2
        default: word = bitmap.3
        }
        return word & (1 << UInt64(index % 64)) != 0
    }

    private mutating func setBit(_ index: Int) {
        let mask: UInt64 = 1 << UInt64(index % 64)
        switch index / 64 {
        case 0: bitmap.0 |= mask
        case 1: bitmap.1 |= mask
        case 2: bitmap.2 |= mask
        default: bitmap.3 |= mask
        }
    }

    /// Moves every mark `amount` positions older (a left shift across the four words).
    private mutating func shift(by amount: UInt64) {
        guard amount < Self.size else {
            bitmap = (0, 0, 0, 0)
            return
        }
        var words = [bitmap.0, bitmap.1, bitmap.2, bitmap.3]
        let wordShift = Int(amount / 64), bitShift = UInt64(amount % 64)
        for index in stride(from: 3, through: 0, by: -1) {
            let source = index - wordShift
            var value: UInt64 = source >= 0 ? words[source] << bitShift : 0
            if bitShift > 0, source - 1 >= 0 { value |= words[source - 1] >> (64 - bitShift) }
            words[index] = value
        }
        bitmap = (words[0], words[1], words[2], words[3])
    }
}
