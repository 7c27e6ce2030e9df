import Foundation

/// Whether a child process has exited, without relying on Foundation alone to notice.
///
/// Foundation's `Process` learns of a child's exit from its own monitor; under heavy load (the
/// kernel VM, emulated) the relayed-start benchmark hung for good in `waitUntilExit()` after a
/// daemon it had stopped had logged its exit. The lab therefore also asks the kernel: a child
/// whose `/proc` entry is gone or a zombie has exited, whatever `Process` says, and no wait is
/// ever unbounded.
enum ChildExit {
    /// Whether `process` has exited (Foundation says so, or `/proc` shows it gone or a zombie).
    static func hasExited(_ process: Process) -> Bool {
        guard process.isRunning else { return true }
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8) else { return true }
        // "pid (comm) S …": the state follows the last ')' (comm may contain spaces or parentheses).
        guard let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
        return state == "Z" || state == "X"
    }

    /// Waits up to `timeout` seconds for `process` to exit; whether it did.
    @discardableResult
    static func wait(for process: Process, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !hasExited(process) {
            guard Date() < deadline else { return false }
            usleep(5_000)
        }
        return true
    }

    /// Its exit status as a shell reports it (128 + signal when killed), or nil when it cannot be
    /// known. Foundation's answer when it has one; for a zombie Foundation has not reaped yet, the
    /// kernel's (`exit_code`, field 52 of `/proc/PID/stat`, a `waitpid` status) — under load
    /// Foundation noticed a child's exit more than a second late, and a guessed status failed a
    /// CI run. A child already reaped but not yet reported gets up to 10 s more.
    static func status(of process: Process) -> Int32? {
        if !process.isRunning { return foundationStatus(of: process) }
        if let raw = zombieExitCode(process.processIdentifier) { return shellStatus(waitStatus: raw) }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning, Date() < deadline {
            if let raw = zombieExitCode(process.processIdentifier) { return shellStatus(waitStatus: raw) }
            usleep(5_000)
        }
        return process.isRunning ? nil : foundationStatus(of: process)
    }

    private static func foundationStatus(of process: Process) -> Int32 {
        process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// The `waitpid` status of `pid` while it is a zombie; nil when it is not one (or is gone).
    static func zombieExitCode(_ pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        return zombieExitCode(stat: stat)
    }

    /// Parses a `/proc/PID/stat` line: the exit code of a zombie, nil otherwise.
    static func zombieExitCode(stat: String) -> Int32? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command: state is field 3, exit_code field 52.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.first == "Z", fields.count >= 50 else { return nil }
        return Int32(fields[49].trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// A `waitpid` status as a shell reports it: the exit code, or 128 + the signal.
    static func shellStatus(waitStatus raw: Int32) -> Int32 {
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    }
}
