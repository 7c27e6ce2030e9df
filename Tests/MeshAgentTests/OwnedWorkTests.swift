@testable import MeshAgent
import Synchronization
import Testing

/// Work started by messages belongs to the agent's task group: shutdown cancels it and waits for it.
@Suite struct OwnedWorkTests {
    @Test func workIsCancelledAndAwaitedWhenTheOwnerStops() async {
        let work = OwnedWork()
        let events = Mutex<[String]>([])
        let runner = Task { await work.run() }
        let started = AsyncStream.makeStream(of: Void.self)
        work.start {
            events.withLock { $0.append("started") }
            started.continuation.yield()
            // Sleeps "forever" unless cancelled.
            let cancelled = (try? await Task.sleep(for: .seconds(3600))) == nil
            events.withLock { $0.append(cancelled ? "cancelled" : "slept") }
        }
        var iterator = started.stream.makeAsyncIterator()
        await iterator.next()
        runner.cancel()
        await runner.value
        // run() returned only after the work saw its cancellation and finished.
        #expect(events.withLock { $0 } == ["started", "cancelled"])
    }

    @Test func severalPiecesRunAtOnce() async {
        let work = OwnedWork()
        let runner = Task { await work.run() }
        let done = AsyncStream.makeStream(of: Int.self)
        for index in 0..<3 {
            work.start { done.continuation.yield(index) }
        }
        var seen = Set<Int>()
        for await index in done.stream {
            seen.insert(index)
            if seen.count == 3 { break }
        }
        #expect(seen == [0, 1, 2])
        runner.cancel()
        await runner.value
    }
}
