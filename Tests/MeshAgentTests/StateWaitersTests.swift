@testable import MeshAgent
import MeshCore
import Testing

/// Control requests waiting for the state to move give up on time: a waiter's deadline is one of
/// the agent's timer deadlines, so it is woken then even when nothing else happens.
@Suite struct StateWaitersTests {
    @Test func aWaitersDeadlineIsTheTimersUntilItIsWoken() async {
        var waiters = StateWaiters()
        #expect(waiters.nextDeadline == .distantFuture)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            waiters.add(continuation, until: Timestamp(seconds: 1_800_000_005))
            #expect(waiters.nextDeadline == Timestamp(seconds: 1_800_000_005))
            waiters.wakeAll()
        }
        #expect(waiters.nextDeadline == .distantFuture, "woken waiters leave no deadline behind")
    }

    @Test func aWaiterWithoutADeadlineAddsNone() async {
        var waiters = StateWaiters()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            waiters.add(continuation)
            #expect(waiters.nextDeadline == .distantFuture)
            waiters.wakeAll()
        }
    }
}
