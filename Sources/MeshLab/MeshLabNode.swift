import Foundation

/// One host of a mesh lab: a network namespace running `meshd`, operated with `meshctl` through
/// its control socket (a file, so the lab drives it from outside the namespace).
public final class MeshLabNode: @unchecked Sendable {
    // Mutated only by the thread driving the lab.
    /// The node's name in the mesh (also its role in the lab).
    public let name: String
    /// Its network namespace.
    public let namespace: String
    /// Its state directory.
    public let stateDirectory: String
    /// Its WireGuard interface (unique on the host: wireguard-go's UAPI socket path is shared).
    public let interface: String
    /// Its underlay addresses (without prefix length), IPv4 first.
    public internal(set) var underlay: [String]
    /// Its overlay addresses, once enrolled.
    public internal(set) var overlay: [String] = []
    /// The running meshd, if any.
    public private(set) var daemon: LabProcess?

    let lab: Lab
    let binaries: String
    let backend: String
    /// Extra meshd arguments.
    let daemonArguments: [String]

    init(name: String, namespace: String, stateDirectory: String, interface: String, underlay: [String], lab: Lab, binaries: String,
         backend: String, daemonArguments: [String] = []) {
        self.name = name
        self.namespace = namespace
        self.stateDirectory = stateDirectory
        self.interface = interface
        self.underlay = underlay
        self.lab = lab
        self.binaries = binaries
        self.backend = backend
        self.daemonArguments = daemonArguments
    }

    /// meshd's log file.
    public var logPath: String { stateDirectory + "/meshd.log" }

    /// Starts meshd in the namespace (its output appended to ``logPath``) and waits for its socket.
    public func startDaemon(extraArguments: [String] = []) throws {
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // MESHWORK_LAB_LOG_LEVEL (debug, trace…) raises every lab daemon's log level, to trace a run.
        let level = ProcessInfo.processInfo.environment["MESHWORK_LAB_LOG_LEVEL"].map { ["--log-level", $0] } ?? []
        let command = ([binaries + "/meshd", "--state-dir", stateDirectory, "--interface", interface, "--backend", backend] + level + daemonArguments + extraArguments)
            .map { "'\($0)'" }.joined(separator: " ")
        daemon = try lab.start(["sh", "-c", "exec \(command) >>'\(logPath)' 2>&1"], in: namespace)
        let deadline = Date().addingTimeInterval(20)
        while (try? meshctl(["status", "--json"]))?.succeeded != true {
            guard Date() < deadline, daemon?.isRunning == true else {
                throw LabError.failed("meshd in \(name) did not start; its log:\n\(log(lastLines: 20))")
            }
            usleep(50_000)
        }
    }

    /// Stops meshd gracefully (SIGTERM); the WireGuard interface stays.
    public func stopDaemon() {
        daemon?.stop(grace: 5)
        daemon = nil
    }

    /// Runs meshctl against this node's meshd.
    @discardableResult
    public func meshctl(_ arguments: [String], timeout: Double = 60) throws -> LabCommandResult {
        try lab.run([binaries + "/meshctl", "--state-dir", stateDirectory] + arguments, check: false, timeout: timeout)
    }

    /// Runs meshctl and fails with its message unless it succeeds.
    @discardableResult
    public func meshctlChecked(_ arguments: [String], timeout: Double = 60) throws -> String {
        let result = try meshctl(arguments, timeout: timeout)
        guard result.succeeded else {
            throw LabError.failed("meshctl \(arguments.joined(separator: " ")) on \(name) failed: \(result.errorOutput)\(result.output)")
        }
        return result.output
    }

    /// `meshctl peers --json`, decoded as JSON objects.
    public func peers() throws -> [[String: Any]] {
        let output = try meshctlChecked(["peers", "--json"])
        guard let array = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]] else {
            throw LabError.failed("meshctl peers --json on \(name) did not print an array: \(output)")
        }
        return array
    }

    /// `meshctl status --json`, decoded.
    public func status() throws -> [String: Any] {
        let output = try meshctlChecked(["status", "--json"])
        guard let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else {
            throw LabError.failed("meshctl status --json on \(name) did not print an object: \(output)")
        }
        return object
    }

    /// The last lines of meshd's log.
    public func log(lastLines count: Int) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(count).joined(separator: "\n")
    }

    /// Runs a command inside the node's namespace.
    @discardableResult
    public func run(_ arguments: [String], check: Bool = true, timeout: Double = 60) throws -> LabCommandResult {
        try lab.run(arguments, in: namespace, check: check, timeout: timeout)
    }
}
