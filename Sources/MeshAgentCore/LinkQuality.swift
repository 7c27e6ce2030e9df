#if canImport(Glibc)
import Glibc
#endif
import MeshCore

/// What path probes measured of one path: the share of round trips lost lately and the round
/// trip of those answered, as moving averages.
package struct LinkQuality: Equatable {
    /// Weight of each outcome in ``steadyLoss``: about the last 60 outcomes count, so at 50 %
    /// loss the measure strays by about ±6 % (with the fast weight of 0.1, ±11 %: too much to
    /// choose between two lossy paths on).
    package static let steadyWeight = 0.03

    /// The share of probe round trips lost lately (0 on a clean path), each outcome weighing
    /// what the caller says: quick to follow a change, for judging failures.
    package private(set) var loss = 0.0
    /// The same over more outcomes (``steadyWeight``): for choosing between paths. Corrected for
    /// starting at 0 (an average of few outcomes is not pulled towards "no loss").
    package var steadyLoss: Double {
        let weightSoFar = 1 - pow(1 - Self.steadyWeight, Double(samples))
        return weightSoFar > 0 ? steadyAccumulated / weightSoFar : 0
    }
    private var steadyAccumulated = 0.0
    /// The round trip of answered probes (nil until one is answered).
    package private(set) var roundTrip: Interval?
    /// Outcomes seen (answered or lost), saturating.
    package private(set) var samples = 0

    package init() {}

    /// A probe was answered after `rtt`.
    package mutating func answered(after rtt: Interval, weight: Double) {
        loss *= 1 - weight
        steadyAccumulated *= 1 - Self.steadyWeight
        roundTrip = roundTrip.map { Interval.seconds($0.seconds * (1 - weight) + rtt.seconds * weight) } ?? rtt
        samples = min(samples + 1, Int(UInt16.max))
    }

    /// A probe went unanswered for long enough to count as lost.
    package mutating func lost(weight: Double) {
        loss = loss * (1 - weight) + weight
        steadyAccumulated = steadyAccumulated * (1 - Self.steadyWeight) + Self.steadyWeight
        samples = min(samples + 1, Int(UInt16.max))
    }

    /// The share lost on a path made of this leg and another one like it: relaying a pair takes
    /// this node's leg to the relay and the peer's, and records carry the peer's round trip to
    /// its relays but not its loss, so the peer's leg is taken to lose as much as ours.
    package var steadyLossOverTwoLegs: Double { 1 - (1 - steadyLoss) * (1 - steadyLoss) }
}
