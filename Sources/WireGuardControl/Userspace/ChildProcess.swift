#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn(3) — standard input from /dev/null, standard output
/// and error to a given descriptor — and reaped with waitpid(2). No run loop or Foundation needed.
public final class ChildProcess: @unchecked Sendable {
    // `exitStatus` is only touched by the owner's calls, which it serialises.
    /// The process id.
    public let processIdentifier: pid_t
    private var exitStatus: Int32?

    /// Starts `executable` (a path) with `arguments` and `environment`; `output` (if not negative)
    /// receives its standard output and error.
    public init(executable: String, arguments: [String], environment: [String: String], output: Int32) throws(SpawnError) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if output >= 0 {
            posix_spawn_file_actions_adddup2(&actions, output, 1)
            posix_spawn_file_actions_adddup2(&actions, output, 2)
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else { throw SpawnError(executable: executable, reason: String(cString: strerror(spawned))) }
        processIdentifier = pid
    }

    /// Whether the process still runs (an exited one is reaped).
    public var isRunning: Bool { reap(blocking: false) == nil }

    /// The exit status once it exited (128 + the signal number when a signal ended it).
    public var terminationStatus: Int32? { reap(blocking: false) }

    /// Waits for the process to exit and returns its status.
    @discardableResult
    public func waitUntilExit() -> Int32 { reap(blocking: true) ?? -1 }

    private func reap(blocking: Bool) -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(processIdentifier, &status, blocking ? 0 : WNOHANG) } while result < 0 && errno == EINTR
        guard result == processIdentifier else { return nil }
        // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
        exitStatus = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return exitStatus
    }

    /// This process's environment.
    public static var environment: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") { result[String(text[..<equals])] = String(text[text.index(after: equals)...]) }
            pointer += 1
        }
        return result
    }

    /// The path of `executable`: itself when it contains a `/`, else the first match on `PATH`
    /// (and the usual system directories); nil when none is executable.
    public static func resolve(_ executable: String) -> String? {
        if executable.contains("/") { return access(executable, X_OK) == 0 ? executable : nil }
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        return directories.map { "\($0)/\(executable)" }.first { access($0, X_OK) == 0 }
    }
}

/// A process could not be started.
public struct SpawnError: Error, CustomStringConvertible, Sendable {
    public let executable: String
    public let reason: String
    public var description: String { "cannot start \(executable): \(reason)" }
}
