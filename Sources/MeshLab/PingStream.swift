import Foundation

/// A continuous ping running in the background (`ping -D`: every reply carries its arrival time),
/// for measuring loss and outages while something changes.
public final class PingStream: @unchecked Sendable {
    // The process object is thread-safe; the rest is immutable.
    /// The address pinged.
    public let target: String
    /// The namespace the pings leave from.
    public let namespace: String
    private let process: LabProcess

    /// Starts pinging `target` from `namespace` every `interval` seconds, `count` times (or until
    /// stopped when `count` is nil). Each echo request waits up to `wait` seconds for its reply.
    public init(lab: Lab, target: String, from namespace: String, interval: Double = 0.05, count: Int? = nil, wait: Int = 2) throws {
        self.target = target
        self.namespace = namespace
        var arguments = ["ping", "-D", "-n", "-i", String(interval), "-W", String(wait)]
        if let count { arguments += ["-c", String(count)] }
        process = try lab.start(arguments + [target], in: namespace)
    }

    /// What the stream saw.
    public struct Summary: Sendable, CustomStringConvertible {
        /// Echo requests sent.
        public var transmitted: Int
        /// Replies received.
        public var received: Int
        /// Arrival times of the replies (seconds since the epoch), in order.
        public var replyTimes: [Double]
        /// The `icmp_seq` of each reply, in order.
        public var replySequences: [Int]

        /// Requests sent before the last reply that never got one: losses that do not depend on
        /// when the stream was stopped (a request in flight at that moment is not among them).
        public var missingSequences: [Int] {
            guard let last = replySequences.max(), let first = replySequences.min() else { return [] }
            let seen = Set(replySequences)
            return (min(first, 1)...last).filter { !seen.contains($0) }
        }

        /// Requests without a reply.
        public var lost: Int { max(0, transmitted - received) }

        /// The longest time between two consecutive replies, and when it began.
        public var longestGap: (seconds: Double, after: Double)? {
            zip(replyTimes, replyTimes.dropFirst()).map { ($1 - $0, $0) }.max { $0.0 < $1.0 }
        }

        /// The first reply at or after `time`.
        public func firstReply(after time: Double) -> Double? { replyTimes.first { $0 >= time } }

        public var description: String {
            "\(transmitted) transmitted, \(received) received" + (longestGap.map { String(format: ", longest gap %.3f s", $0.seconds) } ?? "")
        }
    }

    /// Arrival times of the replies so far (the stream keeps running).
    public var replyTimesSoFar: [Double] { Self.replies(process.output).map(\.time) }

    /// Waits for a counted stream to end by itself (killing it after `timeout`), or, with
    /// `interrupt`, stops it now (SIGINT, so ping prints its summary); returns what it saw.
    public func finish(interrupt: Bool = false, timeout: Double = 120) throws -> Summary {
        if interrupt, process.isRunning { kill(process.processIdentifier, SIGINT) }
        process.wait(timeout: timeout)
        let output = process.output
        let counts = try Lab.pingCounts(output)
        let replies = Self.replies(output)
        return Summary(transmitted: counts.transmitted, received: counts.received, replyTimes: replies.map(\.time), replySequences: replies.map(\.sequence))
    }

    /// The `[TIME]` stamp and `icmp_seq` of each reply line of `ping -D`.
    static func replies(_ output: String) -> [(time: Double, sequence: Int)] {
        output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("["), line.contains(" bytes from "), let close = line.firstIndex(of: "]"),
                  let time = Double(line[line.index(after: line.startIndex)..<close]),
                  let range = line.range(of: "icmp_seq="),
                  let sequence = Int(line[range.upperBound...].prefix { $0.isNumber })
            else { return nil }
            return (time, sequence)
        }
    }
}
