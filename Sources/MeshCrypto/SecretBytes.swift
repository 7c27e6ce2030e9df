import CSodium

/// A fixed-size buffer of secret bytes.
///
/// The memory is zeroed (`sodium_memzero`) when the last reference goes away, the description
/// never shows the content, and the type is deliberately not `Codable`: writing a secret somewhere
/// always goes through an explicit call such as ``withUnsafeBytes(_:)``.
public final class SecretBytes: @unchecked Sendable {
    // Immutable after initialisation, so sharing across threads is safe.
    private let storage: UnsafeMutableRawBufferPointer

    /// The number of bytes held.
    public var count: Int { storage.count }

    /// Creates a buffer of `count` bytes filled by `initializer`. If it throws, the partly
    /// written buffer is zeroed before the error propagates.
    public init(count: Int, initializer: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        Sodium.ensureInitialized()
        storage = .allocate(byteCount: count, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        do {
            try initializer(storage)
        } catch {
            Self.wipe(storage)
            storage.deallocate()
            throw error
        }
    }

    /// Copies `bytes` into a new secret buffer.
    public convenience init<Bytes: Collection<UInt8>>(copying bytes: Bytes) {
        self.init(count: bytes.count) { target in
            withContiguousBytes(bytes) { source in
                if let base = source.baseAddress { target.copyMemory(from: UnsafeRawBufferPointer(start: base, count: source.count)) }
            }
        }
    }

    /// A buffer of `count` bytes from the system's secure random generator.
    public static func random(count: Int) -> SecretBytes {
        SecretBytes(count: count) { buffer in
            if let base = buffer.baseAddress { randombytes_buf(base, buffer.count) }
        }
    }

    deinit {
        Self.wipe(storage)
        storage.deallocate()
    }

    /// Gives `body` read access to the secret bytes. Do not let the pointer escape.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(storage))
    }

    /// Compares with another secret in constant time.
    public func constantTimeEquals(_ other: SecretBytes) -> Bool {
        guard count == other.count else { return false }
        return withUnsafeBytes { mine in
            other.withUnsafeBytes { theirs in ConstantTime.equals(mine, theirs) }
        }
    }

    private static func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
        if let base = buffer.baseAddress { sodium_memzero(base, buffer.count) }
    }
}

extension SecretBytes: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "SecretBytes(\(count) bytes, redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
