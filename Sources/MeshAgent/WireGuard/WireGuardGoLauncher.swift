#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import WireGuardControl

/// Starts `wireguard-go` for meshd's interface as a detached daemon (it forks into the background
/// itself), so the interface and its sessions survive a restart of meshd.
enum WireGuardGoLauncher {
    static func start(interface: String, logPath: String, logger: Logger, timeout: Double = 10) throws {
        guard let executable = ChildProcess.resolve("wireguard-go") else {
            throw WireGuardControlError.daemonFailed(
                interface: interface, detail: "wireguard-go not found on PATH: install it (Debian: apt-get install wireguard-go) or load the kernel module")
        }
        // A file, not a pipe: the daemon keeps its output open after the launcher exits.
        let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        defer { if log >= 0 { close(log) } }
        var environment = ProcessInfo.processInfo.environment
        environment["WG_PROCESS_FOREGROUND"] = nil
        environment["LOG_LEVEL"] = environment["LOG_LEVEL"] ?? "error"
        let status = try spawnAndWait(executable, [interface], environment: environment, output: log)
        guard status == 0 else {
            throw WireGuardControlError.daemonFailed(interface: interface, detail: "wireguard-go exited with status \(status); see \(logPath)")
        }
        let device = UserspaceWireGuardDevice(interfaceName: interface)
        let deadline = Date().addingTimeInterval(timeout)
        while (try? device.read()) == nil {
            guard Date() < deadline else {
                throw WireGuardControlError.daemonFailed(interface: interface, detail: "its UAPI socket did not answer within \(Int(timeout)) s")
            }
            usleep(20_000)
        }
        logger.debug("wireguard-go started", metadata: ["interface": "\(interface)"])
    }

    /// Sets close-on-exec on every descriptor above standard error (glibc's `closefrom` file
    /// action is not visible to Swift).
    static func markDescriptorsCloseOnExec() {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for entry in entries {
            guard let descriptor = Int32(entry), descriptor > 2 else { continue }
            let flags = fcntl(descriptor, F_GETFD)
            if flags >= 0, flags & FD_CLOEXEC == 0 { _ = fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// Runs `executable` with `arguments`, stdin from /dev/null and stdout/stderr to `output`, and
    /// waits for it. The daemon outlives us: it must not inherit our sockets or pipes (a supervisor
    /// waiting for a pipe to close would otherwise think meshd still runs).
    static func spawnAndWait(_ executable: String, _ arguments: [String], environment: [String: String], output: Int32) throws -> Int32 {
        markDescriptorsCloseOnExec()
        do {
            return try ChildProcess(executable: executable, arguments: arguments, environment: environment, output: output).waitUntilExit()
        } catch {
            throw WireGuardControlError.daemonFailed(interface: arguments.first ?? "?", detail: "\(error)")
        }
    }
}
