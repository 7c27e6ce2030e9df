import Foundation

/// What a finished command left behind.
public struct LabCommandResult: Sendable, CustomStringConvertible {
    /// The command line, for messages.
    public var command: [String]
    /// The exit status (or 128 + signal when killed).
    public var status: Int32
    /// Standard output.
    public var output: String
    /// Standard error.
    public var errorOutput: String

    /// Whether the command exited with status 0.
    public var succeeded: Bool { status == 0 }

    public var description: String {
        "`\(command.joined(separator: " "))` exited \(status)"
            + (errorOutput.isEmpty ? "" : ": \(errorOutput.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
}

/// A command failed, or a tool the lab needs is missing.
public enum LabError: Error, CustomStringConvertible, Sendable {
    /// The command exited with a non-zero status.
    case commandFailed(LabCommandResult)
    /// The command did not finish in time and was killed.
    case timedOut(command: [String], seconds: Double)
    /// A tool is not installed.
    case missingTool(String, package: String)
    /// The lab needs root (network namespaces, veth, nftables).
    case notRoot
    /// Something else the lab could not do.
    case failed(String)

    public var description: String {
        switch self {
        case let .commandFailed(result): return result.description
        case let .timedOut(command, seconds): return "`\(command.joined(separator: " "))` did not finish in \(seconds) s and was killed"
        case let .missingTool(tool, package): return "\(tool) is not installed: apt-get install \(package) (or run scripts/install-dependencies)"
        case .notRoot: return "the namespace lab needs root (network namespaces, veth pairs, nftables): run as root"
        case let .failed(detail): return detail
        }
    }
}

/// Runs commands to completion, capturing their output, with a timeout.
public enum LabCommand {
    /// Runs `arguments` (the first is looked up on `PATH`), optionally inside network namespace
    /// `namespace` (`ip netns exec`), feeding `input` on standard input.
    /// - Throws: ``LabError/commandFailed(_:)`` when `check` and the status is not 0;
    ///   ``LabError/timedOut(command:seconds:)`` after `timeout` seconds (the process is killed).
    @discardableResult
    public static func run(
        _ arguments: [String], in namespace: String? = nil, input: String? = nil, check: Bool = true, timeout: Double = 120
    ) throws -> LabCommandResult {
        let full = wrapped(arguments, in: namespace)
        let directory = FileManager.default.temporaryDirectory
        let token = "meshlab-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let outPath = directory.appendingPathComponent("\(token).out").path
        let errPath = directory.appendingPathComponent("\(token).err").path
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer {
            unlink(outPath)
            unlink(errPath)
        }
        guard let outHandle = FileHandle(forWritingAtPath: outPath), let errHandle = FileHandle(forWritingAtPath: errPath) else {
            throw LabError.failed("cannot create temporary files in \(directory.path)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try resolve(full[0]))
        process.arguments = Array(full.dropFirst())
        process.standardOutput = outHandle
        process.standardError = errHandle
        let pipe = input.map { _ in Pipe() }
        process.standardInput = pipe ?? FileHandle.nullDevice
        try process.run()
        try? outHandle.close()
        try? errHandle.close()
        if let pipe, let input {
            pipe.fileHandleForWriting.write(Data(input.utf8))
            try? pipe.fileHandleForWriting.close()
        }
        guard ChildExit.wait(for: process, timeout: timeout) else {
            kill(process.processIdentifier, SIGKILL)
            ChildExit.wait(for: process, timeout: 10)
            throw LabError.timedOut(command: full, seconds: timeout)
        }
        // Its exit seen only in /proc (Foundation has not noticed): as if killed.
        let status = ChildExit.status(of: process) ?? 128 + SIGKILL
        let result = LabCommandResult(
            command: full, status: status,
            output: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            errorOutput: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
        if check && !result.succeeded { throw LabError.commandFailed(result) }
        return result
    }

    /// The command line with `ip netns exec NS` in front when a namespace is given.
    static func wrapped(_ arguments: [String], in namespace: String?) -> [String] {
        guard let namespace else { return arguments }
        return ["ip", "netns", "exec", namespace] + arguments
    }

    /// The full path of `tool`, searched on `PATH` and the sbin directories.
    public static func resolve(_ tool: String) throws -> String {
        if tool.contains("/") { return tool }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
            let candidate = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw LabError.missingTool(tool, package: packages[tool] ?? tool)
    }

    /// The Debian package of each tool the lab uses.
    static let packages = [
        "ip": "iproute2", "nft": "nftables", "ping": "iputils-ping", "wireguard-go": "wireguard-go", "wg": "wireguard-tools",
        "sysctl": "procps",
    ]
}
