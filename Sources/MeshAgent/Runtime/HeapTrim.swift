import CHeap

/// Gives memory freed on the heap back to the system. glibc keeps freed memory in its arenas for
/// reuse; after a burst (a thousand members taken in, a large device read) that memory stays
/// resident although nothing uses it. meshd is a long-running daemon with a memory budget
/// (docs/benchmarks.md), so it trims now and then.
public enum HeapTrim {
    /// Allocator settings for a daemon that should stay small: two malloc arenas instead of
    /// glibc's 8 per core (meshd's few threads do not contend, and every arena keeps its own freed
    /// memory); blocks of 64 KiB and more (a device read at 1,000 peers, a snapshot) mapped on
    /// their own and unmapped when freed; the heap's top trimmed beyond 128 KiB free. Measured
    /// with 1,000 peers: 4.9 MB of live heap was held in 12.8 MB before. Call before threads start.
    public static func configureAllocator() {
        _ = cheap_configure(2, 64 * 1024, 128 * 1024)
    }

    /// Releases free heap pages of every arena to the system.
    public static func release() {
        _ = cheap_trim()
    }
}
