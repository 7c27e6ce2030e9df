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

    /// Its exit status as a shell reports it (128 + signal when killed); nil while Foundation has
    /// not noticed the exit yet (asking then would trap), after waiting up to a second for it.
    static func status(of process: Process) -> Int32? {
        let deadline = Date().addingTimeInterval(1)
        while process.isRunning, Date() < deadline { usleep(5_000) }
        guard !process.isRunning else { return nil }
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }
}
