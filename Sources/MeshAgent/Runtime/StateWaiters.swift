/// Control requests that wait for the agent's state to move (a join's answer, the first member list)
/// without polling: each suspends on a continuation that the agent resumes whenever its state may
/// have changed (after each drain of the protocol core, a join answer or retry, and at shutdown),
/// then checks its condition again (``Agent/waitForState(until:_:)``).
struct StateWaiters {
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// Parks a waiter until the next ``wakeAll()``.
    mutating func add(_ waiter: CheckedContinuation<Void, Never>) {
        waiting.append(waiter)
    }

    /// Resumes every parked waiter (each re-checks its own condition).
    mutating func wakeAll() {
        guard !waiting.isEmpty else { return }
        let woken = waiting
        waiting = []
        for waiter in woken { waiter.resume() }
    }
}
