/// Runs `body` over the contiguous bytes of `bytes`, copying only when the collection has no
/// contiguous storage (arrays and array slices never copy).
@inline(__always)
func withContiguousBytes<Bytes: Collection<UInt8>, R>(
    _ bytes: Bytes, _ body: (UnsafeRawBufferPointer) throws -> R
) rethrows -> R {
    if let result = try bytes.withContiguousStorageIfAvailable({ try body(UnsafeRawBufferPointer($0)) }) {
        return result
    }
    return try Array(bytes).withUnsafeBytes { try body($0) }
}

/// Checks a length and throws ``CryptoError/invalidLength(what:expected:actual:)`` when it differs.
@inline(__always)
func requireLength(_ actual: Int, _ expected: Int, _ what: String) throws {
    guard actual == expected else {
        throw CryptoError.invalidLength(what: what, expected: expected, actual: actual)
    }
}

/// A byte to point at when a buffer is empty: several libsodium parameters are declared
/// `nonnull` even when their length is zero. Nothing is ever read from or written to it.
nonisolated(unsafe) private let placeholderByte: UnsafeMutablePointer<UInt8> = {
    let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    pointer.initialize(to: 0)
    return pointer
}()

extension UnsafeRawBufferPointer {
    /// The base address typed as bytes, for libsodium's `unsigned char *` parameters; never nil.
    @inline(__always)
    var bytePointer: UnsafePointer<UInt8> {
        baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(placeholderByte)
    }
}

extension UnsafeMutableRawBufferPointer {
    /// The base address typed as bytes, for libsodium's `unsigned char *` parameters; never nil.
    @inline(__always)
    var bytePointer: UnsafeMutablePointer<UInt8> {
        baseAddress?.assumingMemoryBound(to: UInt8.self) ?? placeholderByte
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// The base address; never nil (see ``placeholderByte``).
    @inline(__always)
    var nonNullBase: UnsafePointer<UInt8> { baseAddress ?? UnsafePointer(placeholderByte) }
}

extension UnsafeMutableBufferPointer<UInt8> {
    /// The base address; never nil (see ``placeholderByte``).
    @inline(__always)
    var nonNullBase: UnsafeMutablePointer<UInt8> { baseAddress ?? placeholderByte }
}
