/// Problems with the state directory and the files in it. Every message names the file and says
/// what to do about it.
public enum StateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A secret file can be read by users other than its owner.
    case insecurePermissions(path: String, mode: UInt16)
    /// A key file exists but does not hold a whole key.
    case truncatedKey(path: String, kind: String, bytes: Int, expected: Int)
    /// A file does not hold a key at all.
    case notAKey(path: String, kind: String, problem: String)
    /// The path exists but is not what it should be (a file where a directory belongs, …).
    case wrongFileType(path: String, expected: String)
    /// A system call failed.
    case io(path: String, operation: String, reason: String)
    /// A state file does not parse or contradicts another.
    case damaged(path: String, problem: String, advice: String)
    /// A state file another one requires is missing.
    case missing(path: String, what: String, advice: String)
    /// Another meshd uses the state directory.
    case inUse(path: String, processID: Int32?)

    public var description: String {
        switch self {
        case let .insecurePermissions(path, mode):
            return "\(path) is readable by group or others (mode \(String(mode, radix: 8, uppercase: false).leftPadded(to: 4))); "
                + "a private key must be readable by its owner only. Run `chmod 600 \(path)`, consider the key exposed if "
                + "others could read it, and start again."
        case let .truncatedKey(path, kind, bytes, expected):
            let held = bytes == 0 ? "it is empty" : "it holds \(bytes) of the \(expected) bytes of \(kind)"
            return "\(path) is truncated: \(held). Restore it from a backup, or remove it so that a new key is generated "
                + "(the node must then be enrolled again)."
        case let .notAKey(path, kind, problem):
            return "\(path) is not \(kind): \(problem). It must hold one line of base64, as written by `wg genkey`. "
                + "Restore it from a backup, or remove it so that a new key is generated (the node must then be enrolled again)."
        case let .wrongFileType(path, expected):
            return "\(path) is not \(expected); move it away or choose another --state-dir."
        case let .io(path, operation, reason):
            return "cannot \(operation) \(path): \(reason)"
        case let .damaged(path, problem, advice):
            return "\(path) is damaged (\(problem)); \(advice)"
        case let .missing(path, what, advice):
            return "\(path) (\(what)) is missing; \(advice)"
        case let .inUse(path, processID):
            let holder = processID.map { " (pid \($0))" } ?? ""
            return "another meshd\(holder) is using the state directory \(path); stop it first, "
                + "or give this one its own --state-dir (and --port, --wg-port, --interface)"
        }
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
