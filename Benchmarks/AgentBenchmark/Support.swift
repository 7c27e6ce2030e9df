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

/// Median (the mean of the two middle values for an even count), maximum and minimum.
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

/// The 1, 5 and 15 minute load averages.
func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}

/// The machine and its load, for the record.
func machineDescription() -> String {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
        .split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?"
    var name = utsname()
    uname(&name)
    let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    return "cpu: \(model), \(ProcessInfo.processInfo.activeProcessorCount) cores; kernel \(release); loadavg: \(loadAverage())"
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

/// VmRSS, VmHWM, RssAnon (private, anonymous) and RssFile (file-backed: the executable and the
/// shared libraries' pages) of a process from /proc/PID/status, in MiB; nil when it is gone.
func processMemory(_ pid: Int32) -> (rss: Double, highWater: Double, anonymous: Double, file: Double)? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    func kilobytes(_ field: String) -> Double? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return nil }
        return line.split(separator: " ").compactMap { Double($0) }.first
    }
    guard let rss = kilobytes("VmRSS"), let hwm = kilobytes("VmHWM") else { return nil }
    return (rss / 1024, hwm / 1024, (kilobytes("RssAnon") ?? .nan) / 1024, (kilobytes("RssFile") ?? .nan) / 1024)
}

/// The process ids of the processes called `name` (their `comm`) inside `namespace`.
func processes(named name: String, in namespace: String) -> [Int32] {
    guard let result = try? LabCommand.run(["ip", "netns", "pids", namespace], check: false, timeout: 30) else { return [] }
    return result.output.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }.filter { pid in
        (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == name
    }
}

/// Polls `condition` every `interval` seconds until it holds or `timeout` passes; returns the
/// seconds it took, nil on timeout.
@discardableResult
func waitUntil(timeout: Double, interval: Double = 0.05, _ condition: () throws -> Bool) rethrows -> Double? {
    let start = monotonic()
    repeat {
        if try condition() { return monotonic() - start }
        pause(interval)
    } while monotonic() - start < timeout
    return try condition() ? monotonic() - start : nil
}

/// The host part of `ADDRESS:PORT` or `[ADDRESS]:PORT`.
func endpointHost(_ endpoint: String) -> String {
    if endpoint.hasPrefix("["), let close = endpoint.firstIndex(of: "]") {
        return String(endpoint[endpoint.index(after: endpoint.startIndex)..<close])
    }
    return String(endpoint.prefix { $0 != ":" })
}

/// The overlay prefixes every benchmark network uses (as the lab tests do).
let overlayPrefix = "100.80.0.0/16", overlayPrefix6 = "fd5a:1::/48"

extension DemoMesh {
    /// Each host's `meshctl peers` and the end of its meshd log, for failure messages.
    func diagnostics(logLines: Int = 25) -> String {
        nodes.map { host in
            let peers = (try? host.meshctl(["peers"], timeout: 10).output) ?? "(meshctl peers failed)"
            return "--- \(host.name): meshctl peers\n\(peers)\n--- \(host.name): meshd log\n\(host.log(lastLines: logLines))"
        }.joined(separator: "\n")
    }

    /// The hosts other than `host`.
    func others(than host: MeshLabNode) -> [MeshLabNode] { nodes.filter { $0 !== host } }

    /// Builds the demo mesh (the given hosts), enrolls every host and waits until it converged.
    static func enrolled(lab: Lab, binaries: String, directory: String, backend: String, hosts: [String] = DemoMesh.names) throws -> DemoMesh {
        let mesh = try DemoMesh(lab: lab, binaries: binaries, directory: directory, backend: backend, hosts: hosts)
        progress("enrolling \(hosts.joined(separator: ", "))")
        try mesh.enroll(prefix: overlayPrefix, prefix6: overlayPrefix6)
        try mesh.waitForFullMesh(timeout: 90)
        return mesh
    }
}

/// A fresh directory for the lab's state directories, removed by the lab's teardown.
func labDirectory(_ lab: Lab) throws -> String {
    let directory = "/tmp/mwab-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    lab.addCleanup { try? FileManager.default.removeItem(atPath: directory) }
    return directory
}

/// Seconds from `reference` to the first `ping -D` reply line in `output` (nil if none).
func firstReplyTime(_ output: String) -> Double? {
    for line in output.split(separator: "\n") where line.hasPrefix("[") && line.contains(" bytes from ") {
        guard let close = line.firstIndex(of: "]"), let time = Double(line[line.index(after: line.startIndex)..<close]) else { continue }
        return time
    }
    return nil
}
