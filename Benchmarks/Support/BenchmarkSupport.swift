// What the benchmarks share: clocks, progress, statistics, /proc readings, options, lab teardown.
import Foundation
import MeshLab

/// Seconds on the monotonic clock.
public func monotonic() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// Seconds since the epoch (the clock `ping -D` stamps its replies with).
public func wallClock() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

private let startTime = monotonic()

/// Progress on standard error, so a slow step shows where the time goes.
public func progress(_ text: String) {
    FileHandle.standardError.write(Data("[\(String(format: "%8.3f", monotonic() - startTime))] \(text)\n".utf8))
}

/// Sleeps `seconds` (fractions allowed).
public func pause(_ seconds: Double) {
    guard seconds > 0 else { return }
    usleep(UInt32(min(seconds, 4000) * 1_000_000))
}

/// Median (the mean of the two middle values for an even count), maximum and minimum.
public struct Summary {
    public var median: Double
    public var maximum: Double
    public var minimum: Double
    public var count: Int

    public init(_ values: [Double]) {
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
public func format(_ value: Double, _ digits: Int = 3) -> String {
    value.isNaN ? "—" : String(format: "%.\(digits)f", value)
}

/// The 1, 5 and 15 minute load averages.
public func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}

/// The machine and its load, for the record.
public func machineDescription() -> String {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
        .split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?"
    var name = utsname()
    uname(&name)
    let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    return "cpu: \(model), \(ProcessInfo.processInfo.activeProcessorCount) cores; kernel \(release); loadavg: \(loadAverage())"
}

/// CPU time (user + system) a process has used, in seconds; nil when it is gone.
public func processCPUSeconds(_ pid: Int32) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")")
    else { return nil }
    // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// VmRSS, VmHWM, RssAnon (private, anonymous) and RssFile (file-backed: the executable and the
/// shared libraries' pages) of a process from /proc/PID/status, in MiB; nil when it is gone.
public func processMemory(_ pid: Int32) -> (rss: Double, highWater: Double, anonymous: Double, file: Double)? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    func kilobytes(_ field: String) -> Double? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return nil }
        return line.split(separator: " ").compactMap { Double($0) }.first
    }
    guard let rss = kilobytes("VmRSS"), let hwm = kilobytes("VmHWM") else { return nil }
    return (rss / 1024, hwm / 1024, (kilobytes("RssAnon") ?? .nan) / 1024, (kilobytes("RssFile") ?? .nan) / 1024)
}

/// Per-CPU busy and total jiffies from /proc/stat (index 0 is the "cpu" total line).
public func cpuJiffies() -> [(busy: Double, total: Double)] {
    guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return [] }
    return text.split(separator: "\n").filter { $0.hasPrefix("cpu") }.map { line in
        let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        let total = values.reduce(0, +)
        let idle = values.count > 4 ? values[3] + values[4] : 0  // idle + iowait
        return (total - idle, total)
    }
}

/// Busy fraction of each CPU between two `cpuJiffies()` readings (index 0: all CPUs).
public func busyFractions(_ before: [(busy: Double, total: Double)], _ after: [(busy: Double, total: Double)]) -> [Double] {
    zip(before, after).map { old, new in
        let total = new.total - old.total
        return total > 0 ? (new.busy - old.busy) / total : .nan
    }
}

/// The lab a benchmark is using, torn down on SIGINT and SIGTERM as well as on the normal way out.
public final class LabHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var lab: Lab?
    private var signalSources: [DispatchSourceSignal] = []

    public init() {}

    /// The lab to tear down (nil: none).
    public func set(_ lab: Lab?) { lock.withLock { self.lab = lab } }

    /// Tears the lab down.
    public func teardown() { lock.withLock { lab }?.teardown() }

    /// Tears the lab down and exits on SIGINT and SIGTERM.
    public func tearDownOnSignals() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [self] in
                teardown()
                exit(128 + signalNumber)
            }
            source.resume()
            lock.withLock { signalSources.append(source) }
        }
    }
}

/// `--name value` pairs after a benchmark's command.
public func options(_ arguments: ArraySlice<String>) throws -> [String: String] {
    var result: [String: String] = [:]
    var iterator = arguments.makeIterator()
    while let name = iterator.next() {
        guard name.hasPrefix("--"), let value = iterator.next() else { throw LabError.failed("expected --option value, got \(name)") }
        result[name] = value
    }
    return result
}

/// The directory of the running executable (where `meshd` and `meshctl` are built beside it).
public func executableDirectory() -> (executable: String, directory: String) {
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return (executable, URL(fileURLWithPath: executable).deletingLastPathComponent().path)
}
