import CHeap

/// Gives memory freed on the heap back to the system. glibc keeps freed memory in its arenas for
/// reuse; after a burst (a thousand members taken in, a large device read) that memory stays
/// resident although nothing uses it. meshd is a long-running daemon with a memory budget
/// (docs/benchmarks.md), so it trims now and then (its allocator settings are in CDaemonAllocator).
public enum HeapTrim {
    /// Releases free heap pages of every arena to the system.
    public static func release() {
        _ = cheap_trim()
    }
}
