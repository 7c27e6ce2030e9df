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
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        guard let executable = path.split(separator: ":").map({ "\($0)/wireguard-go" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
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
    /// waits for it (posix_spawn and waitpid: no run loop needed, safe on any thread).
    static func spawnAndWait(_ executable: String, _ arguments: [String], environment: [String: String], output: Int32) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if output >= 0 {
            posix_spawn_file_actions_adddup2(&actions, output, 1)
            posix_spawn_file_actions_adddup2(&actions, output, 2)
        }
        // The daemon outlives us: it must not inherit our sockets or pipes (a supervisor waiting for
        // a pipe to close would otherwise think meshd still runs).
        markDescriptorsCloseOnExec()
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw WireGuardControlError.daemonFailed(interface: arguments.first ?? "?", detail: "cannot start \(executable): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }
}
