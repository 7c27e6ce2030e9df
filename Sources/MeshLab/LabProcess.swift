import Foundation

/// A background process the lab started (ping, a daemon...). Stopped by its PID, never by name.
public final class LabProcess: @unchecked Sendable {
    // Mutable state lives in Process, whose accessors are thread-safe; stop is idempotent.
    /// The process id.
    public let processIdentifier: Int32
    /// The command line.
    public let command: [String]
    private let process: Process
    private let outputPath: String

    init(_ arguments: [String], in namespace: String?) throws {
        let full = LabCommand.wrapped(arguments, in: namespace)
        outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("meshlab-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).log").path
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: outputPath) else {
            throw LabError.failed("cannot create \(outputPath)")
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: try LabCommand.resolve(full[0]))
        process.arguments = Array(full.dropFirst())
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try? handle.close()
        processIdentifier = process.processIdentifier
        command = full
    }

    deinit { unlink(outputPath) }

    /// Whether it is still running.
    public var isRunning: Bool { !ChildExit.hasExited(process) }

    /// Everything it printed so far (standard output and error together).
    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Waits for it to exit by itself (killing it after `timeout` seconds) and returns its status
    /// (137 when its exit was seen only in `/proc`, as for a process killed).
    @discardableResult
    public func wait(timeout: Double = 60) -> Int32 {
        if !ChildExit.wait(for: process, timeout: timeout) { stop() }
        return ChildExit.status(of: process) ?? 128 + SIGKILL
    }

    /// SIGTERM, then SIGKILL after `grace` seconds. Only this PID is signalled; never waits more
    /// than `grace` + 10 seconds.
    public func stop(grace: Double = 3) {
        guard isRunning else { return }
        kill(processIdentifier, SIGTERM)
        if ChildExit.wait(for: process, timeout: grace) { return }
        kill(processIdentifier, SIGKILL)
        ChildExit.wait(for: process, timeout: 10)
    }
}
