import MeshCore
import Testing

@Suite struct ReplayWindowTests {
    /// Records `counters` in order and returns which were accepted.
    func record(_ counters: [UInt64], into window: inout ReplayWindow) -> [Bool] {
        counters.map { window.record($0) }
    }

    @Test func acceptsEachCounterOnce() {
        var window = ReplayWindow()
        let first = record([0, 1, 2, 5, 3, 4], into: &window)
        let again = record([0, 1, 2, 3, 4, 5], into: &window)
        #expect(first.allSatisfy { $0 })
        #expect(again.allSatisfy { !$0 })
    }

    @Test func toleratesReorderingInsideTheWindowOnly() {
        var window = ReplayWindow()
        let results = record([1000, 1000 - ReplayWindow.size + 1, 1000 - ReplayWindow.size, 1300], into: &window)
        #expect(results == [true, true, false, true])
        #expect(!window.isAcceptable(1000))
        #expect(window.isAcceptable(1299))
        #expect(record([1299, 1299], into: &window) == [true, false])
    }

    @Test func largeJumpsClearTheWindow() {
        var window = ReplayWindow()
        let warmup = record(Array(0..<300), into: &window)
        #expect(warmup.allSatisfy { $0 })
        #expect(record([10_000, 299, 9_999], into: &window) == [true, false, true])
    }
}
