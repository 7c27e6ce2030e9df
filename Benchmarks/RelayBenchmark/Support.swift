import Foundation
import MeshLab

/// Seconds on the monotonic clock.
func monotonic() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// Seconds since the epoch (the clock `ping -D` stamps its replies with).
func wallClock() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

let startTime = monotonic()

/// Progress on standard error, so a slow step shows where the time goes.
func progress(_ text: String) {
    FileHandle.standardError.write(Data("[\(String(format: "%8.3f", monotonic() - startTime))] \(text)\n".utf8))
}

/// Sleeps `seconds` (fractions allowed).
func pause(_ seconds: Double) {
    guard seconds > 0 else { return }
    usleep(UInt32(min(seconds, 4000) * 1_000_000))
}

/// Median (the mean of the two middle values for an even count) and maximum.
struct Summary {
    var median: Double
    var maximum: Double
    var minimum: Double
    var count: Int

    init(_ values: [Double]) {
        let sorted = values.filter { !$0.isNaN }.sorted()
        count = sorted.count
        if sorted.isEmpty {
            median = .nan
            maximum = .nan
            minimum = .nan
            return
        }
        let middle = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        maximum = sorted[sorted.count - 1]
        minimum = sorted[0]
    }
}

/// `value` with `digits` decimals, "—" for NaN.
func format(_ value: Double, _ digits: Int = 3) -> String {
    value.isNaN ? "—" : String(format: "%.\(digits)f", value)
}

/// The machine and its load, for the record.
func machineDescription() -> String {
    let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
        .split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?"
    var name = utsname()
    uname(&name)
    let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    return "cpu: \(model), \(ProcessInfo.processInfo.activeProcessorCount) cores; kernel \(release); loadavg: \(load)"
}

/// CPU time (user + system) a process has used, in seconds; nil when it is gone.
func processCPUSeconds(_ pid: Int32) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")")
    else { return nil }
    // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Per-CPU busy and total jiffies from /proc/stat (index 0 is the "cpu" total line).
func cpuJiffies() -> [(busy: Double, total: Double)] {
    guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return [] }
    return text.split(separator: "\n").filter { $0.hasPrefix("cpu") }.map { line in
        let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        let total = values.reduce(0, +)
        let idle = values.count > 4 ? values[3] + values[4] : 0  // idle + iowait
        return (total - idle, total)
    }
}

/// Busy fraction of each CPU between two `cpuJiffies()` readings (index 0: all CPUs).
func busyFractions(_ before: [(busy: Double, total: Double)], _ after: [(busy: Double, total: Double)]) -> [Double] {
    zip(before, after).map { old, new in
        let total = new.total - old.total
        return total > 0 ? (new.busy - old.busy) / total : .nan
    }
}
