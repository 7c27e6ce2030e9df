@testable import MeshAgent
@testable import MeshAgentCore
import MeshCore
import MeshCrypto
import Testing

/// One end of a pair starts the first handshake; the other waits, so initiations do not cross
/// (issue 11: crossing initiations through a relay cost WireGuard's 5 s retransmission).
@Suite struct FirstHandshakesTests {
    static let low = try! X25519PublicKey(bytes: [UInt8](repeating: 0x11, count: 32))
    static let high = try! X25519PublicKey(bytes: [UInt8](repeating: 0xEE, count: 32))
    let start = Timestamp(seconds: 1_800_000_000)

    /// When `end` re-creates its silent peer in the 10 s after `start` (seconds, sampled every 50 ms).
    func recreationTimes(_ end: inout FirstHandshakes) -> [Double] {
        var times: [Double] = []
        var now = start
        while now < start + .seconds(10) {
            if !end.due(now: now, contact: { _ in FirstHandshakes.Contact.nothing }).isEmpty { times.append((now - start).seconds) }
            now = now + .milliseconds(50)
        }
        return times
    }

    @Test func exactlyOneEndInitiates() {
        let lowEnd = FirstHandshakes(ownKey: Self.low), highEnd = FirstHandshakes(ownKey: Self.high)
        #expect(lowEnd.isInitiator(towards: Self.high))
        #expect(!highEnd.isInitiator(towards: Self.low))
    }

    @Test func theInitiatorMayActAtOnceTheOtherEndAfterItsSilence() {
        var lowEnd = FirstHandshakes(ownKey: Self.low), highEnd = FirstHandshakes(ownKey: Self.high)
        lowEnd.start(Self.high, now: start)
        highEnd.start(Self.low, now: start)
        #expect(lowEnd.mayInitiate(Self.high, now: start))
        #expect(!highEnd.mayInitiate(Self.low, now: start))
        #expect(!highEnd.mayInitiate(Self.low, now: start + .milliseconds(299)))
        #expect(highEnd.mayInitiate(Self.low, now: start + highEnd.timing.responderSilence))
        // A peer not waiting (it has a session) may always be nudged.
        #expect(highEnd.mayInitiate(try! X25519PublicKey(bytes: [UInt8](repeating: 0x01, count: 32)), now: start))
    }

    @Test func silentPeersAreRecreatedOnTheirSchedulesWhichNeverCoincide() {
        var lowEnd = FirstHandshakes(ownKey: Self.low), highEnd = FirstHandshakes(ownKey: Self.high)
        lowEnd.start(Self.high, now: start)
        highEnd.start(Self.low, now: start)
        let lowTimes = recreationTimes(&lowEnd), highTimes = recreationTimes(&highEnd)
        #expect(lowTimes.map { ($0 * 100).rounded() / 100 } == [0.5, 1.5, 3.0])
        #expect(highTimes.map { ($0 * 100).rounded() / 100 } == [0.3, 1.0, 2.25])
        for low in lowTimes { for high in highTimes { #expect(abs(low - high) >= 0.2) } }
        #expect(lowEnd.count == 0 && highEnd.count == 0)
    }

    /// A path whose round trip is long (a far relay: 0.6 s through it) pushes every try back, so
    /// the initiator does not throw its handshake away before the response can arrive, and the
    /// other end keeps quiet past the initiator's first packet; the two schedules stay apart.
    @Test func aSlowPathStretchesBothSchedulesAlike() {
        var lowEnd = FirstHandshakes(ownKey: Self.low), highEnd = FirstHandshakes(ownKey: Self.high)
        lowEnd.start(Self.high, now: start, roundTrip: .milliseconds(600))
        highEnd.start(Self.low, now: start, roundTrip: .milliseconds(600))
        #expect(!highEnd.mayInitiate(Self.low, now: start + .milliseconds(900)))
        #expect(highEnd.mayInitiate(Self.low, now: start + .milliseconds(1000)))
        let lowTimes = recreationTimes(&lowEnd), highTimes = recreationTimes(&highEnd)
        #expect(lowTimes.map { ($0 * 100).rounded() / 100 } == [1.2, 2.2, 3.7])
        #expect(highTimes.map { ($0 * 100).rounded() / 100 } == [1.0, 1.7, 2.95])
        for low in lowTimes { for high in highTimes { #expect(abs(low - high) >= 0.2 - 1e-9) } }
    }

    /// A short round trip changes nothing, and an absurd one (a hostile or broken measurement) is
    /// capped at WireGuard's own 5 s retry.
    @Test func aShortPathKeepsTheScheduleAndALongOneIsCapped() {
        var end = FirstHandshakes(ownKey: Self.low)
        end.start(Self.high, now: start, roundTrip: .milliseconds(20))
        #expect(recreationTimes(&end).map { ($0 * 100).rounded() / 100 } == [0.5, 1.5, 3.0])
        #expect(end.slowPathAllowance(.seconds(3600)) == .seconds(4.5))
        #expect(end.slowPathAllowance(nil) == .zero)
    }

    @Test func aPeerHeardFromOrGoneStopsWaiting() {
        var end = FirstHandshakes(ownKey: Self.low)
        end.start(Self.high, now: start)
        #expect(end.due(now: start + .seconds(1), contact: { _ in .handshake }).isEmpty)
        #expect(!end.isWaiting(Self.high))
        end.start(Self.high, now: start)
        #expect(end.due(now: start + .seconds(1), contact: { _ in nil }).isEmpty)
        #expect(!end.isWaiting(Self.high))
    }

    /// Crossed initiations leave both ends with bytes received and no handshake: the initiator
    /// re-creates (a fresh initiation breaks the tie); the other end never re-creates a peer that
    /// sent it something (it may hold a session the initiator uses).
    @Test func afterCrossedInitiationsOnlyTheInitiatorStartsAgain() {
        var lowEnd = FirstHandshakes(ownKey: Self.low), highEnd = FirstHandshakes(ownKey: Self.high)
        lowEnd.start(Self.high, now: start)
        highEnd.start(Self.low, now: start)
        #expect(lowEnd.due(now: start + .milliseconds(500), contact: { _ in .received }) == [Self.high])
        #expect(highEnd.due(now: start + .milliseconds(300), contact: { _ in .received }).isEmpty)
        #expect(!highEnd.isWaiting(Self.low))
    }

    /// A peer just added: both ends initiate, and re-create a peer that sent nothing. When both
    /// ends added each other at once, their initiations cross: then the end whose key sorts first
    /// re-creates the peer (found by the simulator: both ends started together waited for
    /// WireGuard's 5 s retry, 10 s when the retries crossed again); the other end does not.
    @Test func aPeerJustAddedIsInitiatedFromBothEnds() {
        var highEnd = FirstHandshakes(ownKey: Self.high)
        highEnd.start(Self.low, now: start, moved: false)
        #expect(highEnd.mayInitiate(Self.low, now: start))
        #expect(highEnd.due(now: start + .milliseconds(500), contact: { _ in FirstHandshakes.Contact.nothing }).isEmpty)  // staggered
        #expect(highEnd.due(now: start + .milliseconds(800), contact: { _ in FirstHandshakes.Contact.nothing }) == [Self.low])
        highEnd.start(Self.low, now: start, moved: false)
        #expect(highEnd.due(now: start + .milliseconds(500), contact: { _ in .received }).isEmpty)
        var lowEnd = FirstHandshakes(ownKey: Self.low)
        lowEnd.start(Self.high, now: start, moved: false)
        #expect(lowEnd.due(now: start + .milliseconds(500), contact: { _ in .received }) == [Self.high])
        #expect(lowEnd.due(now: start + .milliseconds(2000), contact: { _ in .handshake }).isEmpty)
        #expect(!lowEnd.isWaiting(Self.high))
    }

    /// Two ends that added each other at once and are both still silent (behind NATs that dropped
    /// the first tries) re-create at staggered times, never together: found by the simulator's
    /// `nat` scenario, where re-creating together crossed the initiations (first reply 1.62 s;
    /// 0.91 s staggered).
    @Test func bothEndsOfANewPeerReCreateAtStaggeredTimes() {
        var lowEnd = FirstHandshakes(ownKey: Self.low), highEnd = FirstHandshakes(ownKey: Self.high)
        lowEnd.start(Self.high, now: start, moved: false)
        highEnd.start(Self.low, now: start, moved: false)
        let lowTimes = recreationTimes(&lowEnd), highTimes = recreationTimes(&highEnd)
        #expect(lowTimes.map { ($0 * 100).rounded() / 100 } == [0.5, 1.5, 3.0])
        #expect(highTimes.map { ($0 * 100).rounded() / 100 } == [0.8, 1.8, 3.3])
    }

    @Test func movingAPeerRestartsItsSchedule() {
        var end = FirstHandshakes(ownKey: Self.high)
        end.start(Self.low, now: start)
        #expect(end.due(now: start + .milliseconds(300), contact: { _ in FirstHandshakes.Contact.nothing }) == [Self.low])
        #expect(end.mayInitiate(Self.low, now: start + .milliseconds(300)))
        // Moved to a relay (past the spacing of moves): silent again for its silence.
        let moved = start + .seconds(31.2)
        end.start(Self.low, now: moved)
        #expect(!end.mayInitiate(Self.low, now: moved + .milliseconds(200)))
        #expect(end.anyDue(now: moved + .milliseconds(300)))
        #expect(!end.anyDue(now: moved + .milliseconds(250)))
    }

    /// A peer that flaps between paths without ever answering WireGuard is re-created at most once
    /// per ``FirstHandshakes/Timing/moveSpacing`` (each re-creation is traffic that starts probes).
    @Test func aPeerMovedAgainSoonIsLeftToWireGuard() {
        var lowEnd = FirstHandshakes(ownKey: Self.low)
        let first = lowEnd.start(Self.high, now: start)
        #expect(first)
        lowEnd.finish(Self.high)
        let soon = lowEnd.start(Self.high, now: start + .seconds(5))
        #expect(!soon, "moved again 5 s later")
        #expect(!lowEnd.isWaiting(Self.high))
        let later = lowEnd.start(Self.high, now: start + .seconds(31))
        #expect(later)
        // A peer just added is never held back.
        let added = lowEnd.start(Self.high, now: start + .seconds(32), moved: false)
        #expect(added)
    }
}

