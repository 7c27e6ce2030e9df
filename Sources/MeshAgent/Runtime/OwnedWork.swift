/// Work a message starts and that finishes later (serving a relay request, repeating a grant):
/// each piece runs as a child task of the agent's own task group, so shutdown cancels it and waits
/// for it instead of leaving it running unowned.
struct OwnedWork: Sendable {
    typealias Work = @Sendable () async -> Void

    private let stream: AsyncStream<Work>
    private let continuation: AsyncStream<Work>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Work.self)
    }

    /// Starts `work` as a child of ``run()``.
    func start(_ work: @escaping Work) {
        continuation.yield(work)
    }

    /// Runs each piece of work as it comes, until the calling task is cancelled; then cancels the
    /// pieces still running and returns once they have all finished.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await work in stream {
                group.addTask { await work() }
            }
            group.cancelAll()
        }
    }
}
