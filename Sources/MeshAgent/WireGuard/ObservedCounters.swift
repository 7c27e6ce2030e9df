/// A peer's WireGuard byte counters at one reading of the device (what the next reading is
/// compared with, to tell data arriving from a peer and data sent to it).
struct ObservedCounters: Equatable {
    var received: UInt64
    var transmitted: UInt64
}
