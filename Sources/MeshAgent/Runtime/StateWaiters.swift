import MeshCore

/// Control requests that wait for the agent's state to move (a join's answer, the first member list)
/// without polling: each suspends on a continuation that the agent resumes whenever its state may
/// have changed (after each drain of the protocol core, a join answer or retry, and at shutdown),
/// then checks its condition again (``Agent/waitForState(until:_:)``). A waiter's own deadline is
/// one of the timer's (``nextDeadline``), so it gives up on time even when nothing else happens.
struct StateWaiters {
    private var waiting: [(waiter: CheckedContinuation<Void, Never>, deadline: Timestamp)] = []

    /// Parks a waiter until the next ``wakeAll()``; `deadline`: when it gives up (nil: never).
    mutating func add(_ waiter: CheckedContinuation<Void, Never>, until deadline: Timestamp? = nil) {
        waiting.append((waiter, deadline ?? .distantFuture))
    }

    /// The earliest deadline of the parked waiters.
    var nextDeadline: Timestamp {
        waiting.lazy.map(\.deadline).min() ?? .distantFuture
    }

    /// Resumes every parked waiter (each re-checks its own condition).
    mutating func wakeAll() {
        guard !waiting.isEmpty else { return }
        let woken = waiting
        waiting = []
        for entry in woken { entry.waiter.resume() }
    }
}
