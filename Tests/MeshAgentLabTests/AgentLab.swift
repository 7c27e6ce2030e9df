import Foundation
import MeshLab
import Testing

/// Which WireGuard the agent lab runs meshd on, from `MESHWORK_AGENT_LAB` (`userspace`: wireguard-go
/// in namespaces on the host, tier `lab`; `kernel`: the kernel module inside the VM, tier `kernel`).
enum AgentLab {
    static let variable = "MESHWORK_AGENT_LAB"
    static let setting = ProcessInfo.processInfo.environment[variable]
    static let isEnabled = setting != nil

    enum Backend: String {
        case userspace
        case kernel
    }

    /// The backend, or a failure saying what is wrong (never a silent skip once the variable is set).
    static func backend() throws -> Backend {
        guard let backend = setting.flatMap(Backend.init) else {
            throw LabError.failed("\(variable) must be 'userspace' or 'kernel', not '\(setting ?? "")'")
        }
        return backend
    }

    /// Checks root, the tools the tests use and the built executables; throws naming what is missing.
    static func requirements() throws -> Backend {
        let backend = try backend()
        guard getuid() == 0 else { throw LabError.notRoot }
        var tools = ["ip", "ping", "wg", "nft", "bash", "sysctl"]
        if backend == .userspace { tools.append("wireguard-go") }
        for tool in tools { _ = try LabCommand.resolve(tool) }
        for product in ["meshd", "meshctl"] where !FileManager.default.isExecutableFile(atPath: binaries + "/" + product) {
            throw LabError.failed("\(binaries)/\(product) is missing: build it first (swift build --build-tests)")
        }
        return backend
    }

    /// The folder with meshd and meshctl: `MESHWORK_AGENT_BINARIES` when set (the kernel tier runs
    /// release builds in the VM, where debug builds are too slow for the protocol's timers),
    /// otherwise beside the test bundle.
    static var binaries: String {
        if let folder = ProcessInfo.processInfo.environment["MESHWORK_AGENT_BINARIES"], !folder.isEmpty { return folder }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().path
    }

    /// The overlay prefixes every lab network uses.
    static let prefix = "100.80.0.0/16", prefix6 = "fd5a:1::/48"

    /// The LAN addresses of the NAT routers in front of delta and echo (their IPv4 traffic shows up from there).
    static let natRouters = ["delta": ["198.51.100.11", "2001:db8:100::11"], "echo": ["198.51.100.12", "2001:db8:100::12"]]
}

/// Builds a mesh of `hosts` (DemoMesh topology) in a fresh lab, enrolls and waits for it to converge
/// unless `enroll` is false, runs `body`, and tears everything down afterwards, even when it fails.
/// A thrown error carries the last lines of every meshd log.
func withMesh<Result>(
    _ hosts: [String], backend: AgentLab.Backend, enroll: Bool = true, _ body: (DemoMesh) throws -> Result
) throws -> Result {
    try withLab(prefix: "mwal") { lab, directory in try meshBody(lab, directory, hosts, backend, enroll, body) }
}

/// A fresh lab (namespaces named `prefix-PID-…`) and a scratch directory `/tmp/prefix-PID-…`
/// (mode 0700) for `body`; both are removed afterwards, even when `body` throws.
func withLab<Result>(prefix: String, _ body: (Lab, String) throws -> Result) throws -> Result {
    let lab = try Lab(prefix: prefix)
    defer { lab.teardown() }
    let directory = "/tmp/\(prefix)-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try body(lab, directory)
}

private func meshBody<Result>(
    _ lab: Lab, _ directory: String, _ hosts: [String], _ backend: AgentLab.Backend, _ enroll: Bool, _ body: (DemoMesh) throws -> Result
) throws -> Result {
    let mesh = try DemoMesh(lab: lab, binaries: AgentLab.binaries, directory: directory, backend: backend.rawValue, hosts: hosts)
    do {
        if enroll {
            try mesh.enroll(prefix: AgentLab.prefix, prefix6: AgentLab.prefix6)
            try mesh.waitForFullMesh(timeout: 90)
        }
        return try body(mesh)
    } catch {
        throw LabError.failed("\(error)\n\(mesh.diagnostics())")
    }
}


/// Polls `condition` until it holds or `timeout` seconds pass; returns whether it held. Outcomes,
/// not timings: the deadline is generous, and benchmarks measure how long it really takes.
@discardableResult
func eventually(timeout: Double = 60, every interval: Double = 0.2, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        if try condition() { return true }
        usleep(UInt32(interval * 1_000_000))
    } while Date() < deadline
    return try condition()
}

/// Whether `count` pings from `source` to `address` get at least one answer.
func reaches(_ address: String, from source: MeshLabNode, in mesh: DemoMesh, count: Int = 2) -> Bool {
    ((try? mesh.lab.ping(address, from: source.namespace, count: count, interval: 0.2, wait: 1))?.received ?? 0) > 0
}

/// Pings every host's overlay IPv4 address from every other host until each pair has answered
/// once (or `timeout` passes). A pair that fails is tried again: a WireGuard handshake that
/// raced with the other side's is retried by WireGuard after 5 s. Returns the pairs that never answered.
func unansweredPairs(in mesh: DemoMesh, timeout: Double = 45) -> [String] {
    var pending = mesh.nodes.flatMap { source in mesh.others(than: source).map { (source, $0) } }
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        pending = pending.filter { source, target in !reaches(target.overlay[0], from: source, in: mesh) }
    } while !pending.isEmpty && Date() < deadline
    return pending.map { "\($0.0.name)→\($0.1.name)" }
}
