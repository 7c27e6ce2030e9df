import Dispatch
import Foundation
import MeshCore
import Synchronization

extension AgentScenario {
    /// The invariants a run must hold, as a sentence naming the first one broken (nil: all hold).
    ///
    /// - No pair without replies for longer than the failover goal's maximum (2 s) while a working
    ///   path exists (under 30 % loss, replies are missing by chance: 3 s there).
    /// - Bounded path flaps: each end changes route at most as often as the scenario's faults
    ///   ask for (a lossy path that still carries traffic stays put).
    /// - One relay holds the pair, never two.
    /// - Quiet when traffic flows: at most 1 path probe per second from each end of a pair with
    ///   two-way traffic on a working path.
    public func violation(of result: Result) -> String? {
        let maximumGap = Interval.seconds(2)
        if self != .lossy, self != .lossyDirect, result.longestGap > maximumGap {
            return "no reply for \(result.longestGap.seconds) s (goal at most \(maximumGap.seconds) s)"
        }
        // Under 30 % loss a round trip fails about half the time: 3 s of nothing (30 pings) happens
        // by chance about once in 10⁹ windows, so a longer gap is a path that stopped carrying.
        if self == .lossy, result.longestGap > .seconds(3) {
            return "no reply for \(result.longestGap.seconds) s under 30 % loss (at most 3 s)"
        }
        // Until the pair moves, a round trip on the direct link fails 3 times in 4: 4 s of nothing
        // (40 pings) happens by chance about once in 10⁵ windows.
        if self == .lossyDirect, result.longestGap > .seconds(4) {
            return "no reply for \(result.longestGap.seconds) s with the direct link at 50 % loss (at most 4 s)"
        }
        let allowedChanges = allowedRouteChanges
        if let changes = result.routeChanges.max(), changes > allowedChanges {
            return "\(changes) route changes at one end (at most \(allowedChanges))"
        }
        if result.relaysHolding > 1 { return "\(result.relaysHolding) relays hold the pair" }
        if let pair = result.declaredDead.first { return "host \(pair[0]) has running host \(pair[1]) as dead at the end" }
        switch self {
        case .relayedStart, .nat, .symmetricNAT:
            guard let first = result.firstReply, first <= maximumGap else { return "no reply within \(maximumGap.seconds) s of the start" }
            if self == .nat, !result.endedDirect { return "the pair behind address-dependent NATs did not end direct" }
            if self == .symmetricNAT, result.endedDirect { return "the pair behind symmetric NATs claims a direct path" }
        case .heal, .lossy:
            if !result.endedDirect { return "the pair did not end on the direct path" }
        case .lossyDirect:
            if result.endedDirect { return "the pair stayed on a direct link that loses 50 % each way (a clean relay was there)" }
            if let delivered = result.lateDelivery, delivered < 0.9 {
                return "only \(Int(delivered * 100)) % of pings answered once settled (through a clean relay: at least 90 %)"
            }
        case .relayDies:
            if result.firstReply == nil { return "the pair never went through a relay that could die" }
        case .roaming, .renumber:
            if !result.endedDirect { return "the pair did not end on the direct path after \(self == .roaming ? "roaming" : "renumbering")" }
        case .restart, .restartRelayed:
            if !result.endsAgree { return "the two ends' path states disagree at the end (a restarted end forgot its relay?)" }
        case .cutMidStream, .renumberRelayed:
            break
        case .gatewayDies, .exitDies:
            // Back to the better gateway once it held for the hold-down (5 s), not before, and
            // without an outage on the way.
            guard let back = result.movedBack else { return "the prefix never moved back to the returning gateway" }
            if back < .seconds(5) { return "moved back after \(back.seconds) s, before the 5 s hold-down" }
            if back > .seconds(9) { return "moved back only after \(back.seconds) s (hold-down 5 s)" }
            if let gap = result.moveBackGap, gap > .seconds(1) { return "\(gap.seconds) s without a reply while moving back" }
            if result.gatewayAtEnd != 2 { return "the prefix ended on host \(result.gatewayAtEnd.map(String.init) ?? "none"), not the better gateway 2" }
        case .daemonRoutes:
            if let missed = result.prefixMoves.first(where: { $0.after == nil }) { return "the prefix never moved when the next hop was \(missed.fault)" }
            // A withdrawal or a restore is one re-read and one plan; a crash waits for the path
            // to fail (about 0.5 s), as a gateway's does.
            if let slow = result.prefixMoves.first(where: { $0.fault != "crashed" && $0.after! > .milliseconds(100) }) {
                return "the prefix moved \(slow.after!.seconds) s after the next hop was \(slow.fault) (one plan: at most 0.1 s)"
            }
            if let crash = result.prefixMoves.first(where: { $0.fault == "crashed" }), crash.after! > .seconds(1) {
                return "the prefix left the crashed next hop only after \(crash.after!.seconds) s (at most 1 s)"
            }
            if result.overlappingPlans > 0 { return "\(result.overlappingPlans) device plans gave one prefix to two peers" }
            if !result.refusedCarried.isEmpty { return "refused routes carried: \(result.refusedCarried.joined(separator: ", "))" }
            if result.refusals < 2 { return "\(result.refusals) routes counted as refused (2 were)" }
            if result.hostsDisagreed { return "the two daemon hosts chose different next hops for one ECMP route" }
        }
        if let rates = result.probesPerSecond, let highest = rates.max(), highest > 1 {
            return "\(highest) path probes per second with two-way traffic (at most 1)"
        }
        return nil
    }

    /// The route changes each end may make: as many as the scenario's faults ask for. Under 30 %
    /// loss, at most two round trips to a relay in the minute (the sweep of 200 seeds at
    /// 2026-12-07: one end changed route in 10 seeds, at most 3 times; before issue 11 the lab saw
    /// about 50 path failures a minute under the same loss).
    public var allowedRouteChanges: Int {
        switch self {
        case .heal: return 2
        case .lossy: return 4
        // To the relay, and no flapping back; under 50 % loss each way, 450 ms without an answer
        // can come first (a failure, then a heal) before the measure decides.
        case .lossyDirect: return 4  // (1 seed in 200 at 2026-12-07: a grant and a release crossing added one)
        case .restart: return 0
        case .relayedStart, .cutMidStream, .relayDies, .restartRelayed, .renumberRelayed: return 1
        case .nat: return 2  // possibly through the relay until the punch works, and back
        case .symmetricNAT: return 1
        case .roaming, .renumber: return 2  // through the relay until the new endpoint is known, and back
        case .gatewayDies, .exitDies, .daemonRoutes: return 0  // (path changes are not what these measure: none recorded)
        }
    }

    /// One line summing up a sweep's `results`: first reply and longest gap (median, p95, max),
    /// the most route changes of one end, and how many seeds changed route beyond what the
    /// scenario's faults ask for (beyond none, under loss).
    public func summary(of results: [Result]) -> String {
        let gaps = results.map(\.longestGap.seconds).sorted()
        let firsts = results.compactMap { $0.firstReply?.seconds }.sorted()
        func quantile(_ values: [Double], _ q: Double) -> String {
            values.isEmpty ? "-" : String(format: "%.3f", values[min(values.count - 1, Int(Double(values.count) * q))])
        }
        let mostChanges = results.compactMap { $0.routeChanges.max() }.max() ?? 0
        let beyond = results.filter { ($0.routeChanges.max() ?? 0) > min(allowedRouteChanges, self == .lossy ? 0 : .max) }.count
        return "\(rawValue), \(results.count) seeds: first reply median \(quantile(firsts, 0.5)) s, p95 \(quantile(firsts, 0.95)) s, "
            + "max \(quantile(firsts, 1)) s; longest gap median \(quantile(gaps, 0.5)) s, max \(quantile(gaps, 1)) s; "
            + "route changes per end at most \(mostChanges), seeds with route changes beyond the faults' \(beyond)"
    }

    /// Runs the scenario for every seed in `seeds` on `threads` threads (links with one-way
    /// `latency`); results in seed order.
    public func sweep(seeds: ClosedRange<UInt64>, threads: Int, latency: Interval = .milliseconds(10)) throws -> [Result] {
        let collected = Mutex<[UInt64: Result]>([:])
        let failure = Mutex<(any Error)?>(nil)
        let all = Array(seeds)
        let workers = max(1, min(threads, all.count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: all.count, by: workers) {
                do {
                    let result = try run(seed: all[index], latency: latency)
                    collected.withLock { $0[all[index]] = result }
                } catch {
                    failure.withLock { $0 = error }
                    return
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return collected.withLock { table in all.compactMap { table[$0] } }
    }
}
