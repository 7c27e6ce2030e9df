import BenchmarkSupport
import Foundation
import MeshLab

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
    if ProcessInfo.processInfo.environment["MESHWORK_LAB_KEEP_LOGS"] == nil {
        lab.addCleanup { try? FileManager.default.removeItem(atPath: directory) }
    } else {
        progress("state and logs kept in \(directory)")
    }
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
