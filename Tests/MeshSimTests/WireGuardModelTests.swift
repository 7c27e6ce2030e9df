import MeshCore
@testable import MeshSim
import Testing

/// The simulator's WireGuard is faithful where paths depend on it: one initiation and its
/// response make a session; crossing initiations stall both ends until a retransmission; the
/// endpoint follows authenticated packets (roaming).
@Suite struct WireGuardModelTests {
    let start = Timestamp(seconds: 1_800_000_000)
    let endpointA = SocketEndpoint("10.0.0.1:51820")!, endpointB = SocketEndpoint("10.0.0.2:51820")!

    /// Two devices that know each other, and a network delivering everything after 10 ms.
    struct Pair {
        var a: WireGuardModel, b: WireGuardModel
        var random = SeededRandomNumberGenerator(seed: 7)
        var inFlight: [(at: Timestamp, to: Int, from: SocketEndpoint, packet: WireGuardPacket)] = []
        var deliveredAt: [Timestamp] = []

        mutating func collect(now: Timestamp) {
            for (to, packet) in a.drain().outbox { inFlight.append((now + .milliseconds(10), to == b.listen ? 1 : 0, a.listen, packet)) }
            let (outbox, delivered) = b.drain()
            for (to, packet) in outbox { inFlight.append((now + .milliseconds(10), to == a.listen ? 0 : 1, b.listen, packet)) }
            deliveredAt += delivered.filter { $0.payload != .keepalive }.map { _ in now }
        }

        /// Runs in 1 ms steps until `end`.
        mutating func run(from: Timestamp, until end: Timestamp) {
            var now = from
            while now < end {
                now = now + .milliseconds(1)
                a.tick(now: now, random: &random)
                b.tick(now: now, random: &random)
                let due = inFlight.filter { $0.at <= now }
                inFlight.removeAll { $0.at <= now }
                for item in due {
                    if item.to == 0 { a.receive(item.packet, from: item.from, now: now, random: &random) } else { b.receive(item.packet, from: item.from, now: now, random: &random) }
                }
                collect(now: now)
            }
        }
    }

    func pair() -> Pair {
        var random = SeededRandomNumberGenerator(seed: 1)
        var a = WireGuardModel(index: 0, listen: endpointA), b = WireGuardModel(index: 1, listen: endpointB)
        a.configure(1, endpoint: endpointB, keepalive: .zero, now: start, random: &random)
        b.configure(0, endpoint: endpointA, keepalive: .zero, now: start, random: &random)
        return Pair(a: a, b: b)
    }

    @Test func oneInitiationMakesASessionInOneRoundTrip() {
        var world = pair()
        world.a.send(.ping(1), to: 1, now: start, random: &world.random)
        world.collect(now: start)
        world.run(from: start, until: start + .milliseconds(100))
        #expect(world.deliveredAt.first == start + .milliseconds(30))  // initiation, response, then the queued ping
        #expect(world.a.peers[1]?.lastHandshake == start + .milliseconds(20))
        #expect(world.b.peers[0]?.lastHandshake == start + .milliseconds(30))  // the responder's completes at the first data
    }

    @Test func crossingInitiationsStallUntilARetransmission() {
        var world = pair()
        world.a.send(.ping(1), to: 1, now: start, random: &world.random)
        world.b.send(.ping(2), to: 0, now: start, random: &world.random)
        world.collect(now: start)
        world.run(from: start, until: start + .seconds(4))
        #expect(world.deliveredAt.isEmpty)
        #expect(world.a.peers[1]?.lastHandshake == nil && world.b.peers[0]?.lastHandshake == nil)
        world.run(from: start + .seconds(4), until: start + .seconds(6))
        let first = world.deliveredAt.first.map { $0 - start }
        #expect(first.map { $0 >= .seconds(5) && $0 < .milliseconds(5400) } == true)
    }

    @Test func theEndpointFollowsAuthenticatedPackets() {
        var world = pair()
        world.a.send(.ping(1), to: 1, now: start, random: &world.random)
        world.collect(now: start)
        world.run(from: start, until: start + .milliseconds(100))
        let moved = SocketEndpoint("10.0.0.9:40001")!
        guard let session = world.a.peers[1]?.session else {
            Issue.record("no session")
            return
        }
        world.b.receive(.data(sender: 0, session: session, payload: .ping(5)), from: moved, now: start + .milliseconds(200), random: &world.random)
        #expect(world.b.peers[0]?.endpoint == moved)
        // An unauthenticated packet (a session it does not hold) moves nothing.
        world.b.receive(.data(sender: 0, session: 12345, payload: .ping(6)), from: endpointB, now: start + .milliseconds(210), random: &world.random)
        #expect(world.b.peers[0]?.endpoint == moved)
    }
}
