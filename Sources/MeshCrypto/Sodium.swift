import CSodium

/// One-time libsodium initialisation.
///
/// Every public entry point of this module calls ``Sodium/ensureInitialized()`` before touching
/// libsodium; the call is cheap after the first time (a Swift global is initialised exactly once).
public enum Sodium {
    private static let initialisation: Int32 = sodium_init()

    /// Initialises libsodium if it has not been yet. Traps only if libsodium cannot run at all
    /// (no entropy source), which no caller could recover from.
    @inline(__always)
    public static func ensureInitialized() {
        precondition(initialisation >= 0, "libsodium failed to initialise (sodium_init returned \(initialisation))")
    }

    /// The version string of the libsodium library linked at run time.
    public static var libraryVersion: String {
        ensureInitialized()
        return String(cString: sodium_version_string())
    }
}
