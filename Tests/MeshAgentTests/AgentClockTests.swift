import MeshAgent
import MeshCore
import Testing

@Suite("AgentClock")
struct AgentClockTests {
    @Test("a timestamp of \"never\" maps to a far instant instead of trapping (meshd crashed on leave)")
    func distantFuture() {
        let clock = AgentClock()
        let never = clock.instant(of: .distantFuture)
        #expect(never > ContinuousClock.now + .seconds(86400 * 365 * 100))
    }

    @Test("timestamps map to instants the same distance apart")
    func offsets() {
        let clock = AgentClock()
        let now = clock.now
        let later = now + .seconds(5)
        #expect(clock.instant(of: later) - clock.instant(of: now) == .seconds(5))
    }
}
