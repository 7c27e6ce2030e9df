#if canImport(Glibc)
import Glibc
#endif

/// Whether network links are up, from getifaddrs(3) (its per-link entries carry the flags).
enum LinkState {
    /// Each link's state: up with a carrier (`IFF_UP` and `IFF_RUNNING`) or not; links that do
    /// not exist are absent.
    static func current() -> [String: Bool] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [:] }
        defer { freeifaddrs(head) }
        var states: [String: Bool] = [:]
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let name = entry.pointee.ifa_name.map({ String(cString: $0) }) else { continue }
            let flags = Int32(entry.pointee.ifa_flags)
            states[name] = flags & Int32(IFF_UP) != 0 && flags & Int32(IFF_RUNNING) != 0
        }
        return states
    }
}
