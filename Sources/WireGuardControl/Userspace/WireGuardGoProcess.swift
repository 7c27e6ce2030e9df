#if canImport(Glibc)
import Glibc
#endif

/// Owns a `wireguard-go` daemon: starts `wireguard-go -f IFNAME` (inside a network namespace
/// through `ip netns exec`, when given), waits until its UAPI socket answers, and stops it by PID.
///
/// wireguard-go keeps running when its namespace is deleted: always call ``stop(timeout:)``.
/// Dropping the owner stops the daemon too (and removes its log file).
public final class WireGuardGoProcess: @unchecked Sendable {
    // The child process is only touched in init and stop, which callers serialise.
    /// The interface the daemon owns.
    public let interfaceName: String
    /// The namespace it runs in (`nil`: the caller's).
    public let namespace: String?
    /// The daemon's process id.
    public let processIdentifier: Int32
    /// Where its output goes.
    public let logPath: String
    /// Its UAPI socket directory.
    public let socketDirectory: String
    private let process: ChildProcess

    /// Starts the daemon and waits up to `timeout` seconds for its UAPI socket.
    /// - Parameters:
    ///   - executable: the `wireguard-go` binary (looked up on `PATH` when not a path).
    /// - Throws: ``WireGuardControlError/daemonFailed(interface:detail:)`` with the daemon's own
    ///   output when it exits or does not answer in time.
    public init(
        interfaceName: String, namespace: String? = nil, executable: String = "wireguard-go",
        socketDirectory: String = UserspaceWireGuardDevice.defaultSocketDirectory, timeout: Double = 10
    ) throws {
        guard !interfaceName.isEmpty, interfaceName.utf8.count < 16, !interfaceName.contains("/") else {
            throw WireGuardControlError.invalidRequest("\"\(interfaceName)\" is not a valid interface name (1 to 15 characters, no '/')")
        }
        guard let daemon = ChildProcess.resolve(executable) else {
            throw WireGuardControlError.daemonFailed(
                interface: interfaceName, detail: "\(executable) not found on PATH: install wireguard-go (Debian: apt-get install wireguard-go)")
        }
        var arguments = ["-f", interfaceName]
        var launcher = daemon
        if let namespace {
            guard let ip = ChildProcess.resolve("ip") else {
                throw WireGuardControlError.daemonFailed(interface: interfaceName, detail: "ip not found on PATH: install iproute2")
            }
            launcher = ip
            arguments = ["netns", "exec", namespace, daemon] + arguments
        }
        let temporary = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        let log = "\(temporary)/meshwork-wireguard-go-\(interfaceName)-\(getpid()).log"
        let output = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)

        var environment = ChildProcess.environment
        environment["WG_PROCESS_FOREGROUND"] = "1"
        environment["LOG_LEVEL"] = environment["LOG_LEVEL"] ?? "error"
        let process: ChildProcess
        do {
            process = try ChildProcess(executable: launcher, arguments: arguments, environment: environment, output: output)
        } catch {
            if output >= 0 { close(output) }
            throw WireGuardControlError.daemonFailed(interface: interfaceName, detail: "\(error)")
        }
        if output >= 0 { close(output) }

        self.interfaceName = interfaceName
        self.namespace = namespace
        self.processIdentifier = process.processIdentifier
        self.logPath = log
        self.socketDirectory = socketDirectory
        self.process = process

        let device = UserspaceWireGuardDevice(interfaceName: interfaceName, namespace: namespace, socketDirectory: socketDirectory)
        let deadline = ContinuousClock.now + .seconds(timeout)
        while true {
            if let status = process.terminationStatus {
                throw WireGuardControlError.daemonFailed(
                    interface: interfaceName, detail: "wireguard-go exited with status \(status): \(Self.tail(of: log))")
            }
            if (try? UAPIConnection.exchange(UAPICodec.getRequest, path: device.socketPath, interface: interfaceName, timeoutSeconds: 2)) != nil {
                return
            }
            if ContinuousClock.now > deadline {
                stop()
                throw WireGuardControlError.daemonFailed(
                    interface: interfaceName, detail: "no UAPI socket at \(device.socketPath) after \(timeout) s: \(Self.tail(of: log))")
            }
            usleep(20_000)
        }
    }

    /// A device talking to this daemon.
    public func device() -> UserspaceWireGuardDevice {
        UserspaceWireGuardDevice(interfaceName: interfaceName, namespace: namespace, socketDirectory: socketDirectory)
    }

    /// Whether the daemon is still running.
    public var isRunning: Bool { process.isRunning }

    /// Stops the daemon: SIGTERM, then SIGKILL after `timeout` seconds. Only this PID is signalled.
    /// Safe to call more than once.
    public func stop(timeout: Double = 5) {
        guard process.isRunning else { return }
        kill(processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(timeout)
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning {
            kill(processIdentifier, SIGKILL)
            process.waitUntilExit()
            // A killed daemon leaves its socket behind; it is ours to remove.
            unlink("\(socketDirectory)/\(interfaceName).sock")
        }
    }

    deinit {
        stop()
        unlink(logPath)
    }

    private static func tail(of path: String) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return "(no output)" }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(descriptor, &chunk, chunk.count)
            guard count > 0 else { break }
            bytes += chunk[0..<count]
            if bytes.count > 65536 { bytes.removeFirst(bytes.count - 600) }
        }
        let text = String(decoding: bytes.suffix(600), as: UTF8.self)
        let trimmed = text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()
        return trimmed.isEmpty ? "(no output)" : String(trimmed)
    }
}
