/// An error that ends a command with a message for the operator and exit status 1 (no usage text:
/// the command line was fine, the world was not).
public struct CommandFailure: Error, CustomStringConvertible {
    /// What went wrong and what to do.
    public let message: String

    /// Creates a failure with `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
