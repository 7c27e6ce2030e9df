#if canImport(Glibc)
import Glibc
#endif
@testable import MeshAgent
import MeshCore
import NIOPosix
import Testing
import MeshControl

/// The relay's allocation table with real sockets on loopback: both ends of a pair asking at the
/// same moment get one allocation (issue 11: the table was checked, the ports bound, then the
/// entry inserted, so two requests 2 ms apart allocated the pair twice and orphaned two ports).
@Suite(.serialized) struct RelayAllocationTests {
    static let loopback = IPAddress("127.0.0.1")!

    private func withRelay(_ body: (RelayService) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var limits = RelayService.Limits()
        limits.ports = 41000...48999
        let relay = RelayService(group: group, limits: limits)
        do {
            try await body(relay)
        } catch {
            relay.shutdown()
            try await group.shutdownGracefully()
            throw error
        }
        relay.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func bothEndsAskingAtOnceGetOneAllocation() async throws {
        try await withRelay { relay in
            let now = Timestamp(seconds: 1_800_000_000)
            for round in 0..<20 {
                let alpha = NodeID(UInt64(0x100 + round)), charlie = NodeID(UInt64(0x200 + round))
                async let fromAlpha = relay.allocate(requester: alpha, requesterAddress: Self.loopback, peer: charlie, peerAddress: Self.loopback, now: now)
                async let fromCharlie = relay.allocate(requester: charlie, requesterAddress: Self.loopback, peer: alpha, peerAddress: Self.loopback, now: now)
                let (a, c) = try await (fromAlpha, fromCharlie)
                #expect(a.allocation.ports == c.allocation.ports, "round \(round): two allocations for one pair")
                #expect([a.created, c.created].filter { $0 }.count == 1, "round \(round): exactly one request creates the pair")
                #expect(relay.allocationCount == round + 1)
            }
        }
    }

    @Test func aRepeatedRequestRenewsTheSameAllocation() async throws {
        try await withRelay { relay in
            let now = Timestamp(seconds: 1_800_000_000)
            let first = try await relay.allocate(requester: NodeID(1), requesterAddress: Self.loopback, peer: NodeID(2), peerAddress: Self.loopback, now: now)
            let again = try await relay.allocate(
                requester: NodeID(1), requesterAddress: Self.loopback, peer: NodeID(2), peerAddress: Self.loopback, now: now + .seconds(10))
            #expect(first.created && !again.created)
            #expect(first.allocation.ports == again.allocation.ports)
            #expect(again.allocation.expiresAt == now + .seconds(10) + relay.limits.lease)
        }
    }

    @Test func aReleasedPairIsGoneAndItsPortsClosed() async throws {
        try await withRelay { relay in
            let now = Timestamp(seconds: 1_800_000_000)
            let granted = try await relay.allocate(requester: NodeID(1), requesterAddress: Self.loopback, peer: NodeID(2), peerAddress: Self.loopback, now: now)
            relay.release(granted.allocation.pair)
            #expect(relay.allocationCount == 0)
            // The ports are free again (closing is asynchronous: allow it a moment).
            var free = false
            for _ in 0..<100 where !free {
                free = granted.allocation.ports.values.allSatisfy(Self.canBind)
                if !free { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(free)
        }
    }

    @Test func datagramsCrossThePairOnceBothSidesLatched() async throws {
        try await withRelay { relay in
            let now = Timestamp(seconds: 1_800_000_000)
            let granted = try await relay.allocate(requester: NodeID(1), requesterAddress: Self.loopback, peer: NodeID(2), peerAddress: Self.loopback, now: now)
            let alpha = try LoopbackSocket(), charlie = try LoopbackSocket()
            let alphaPort = granted.allocation.ports[NodeID(1)]!, charliePort = granted.allocation.ports[NodeID(2)]!
            // Alpha speaks first: held until charlie latches, then delivered.
            alpha.send([1, 2, 3], to: alphaPort)
            try await Task.sleep(for: .milliseconds(50))
            #expect(relay.counters.unauthorized.load(ordering: .relaxed) == 0, "alpha refused")
            charlie.send([9], to: charliePort)
            try await Task.sleep(for: .milliseconds(50))
            #expect(relay.counters.unauthorized.load(ordering: .relaxed) == 0)
            #expect(charlie.receive() == [1, 2, 3])
            #expect(alpha.receive() == [9])
            alpha.send([4], to: alphaPort)
            #expect(charlie.receive() == [4])
            #expect(!(await relay.hasLatched(NodeID(3), in: granted.allocation.pair)))
            #expect(await relay.hasLatched(NodeID(1), in: granted.allocation.pair))
        }
    }

    /// The end that does not initiate sends nothing before it receives: the initiator's first
    /// datagram goes to where the other end's WireGuard listens (at its authenticated address).
    @Test func beforeTheOtherSideLatchesItsExpectedEndpointReceives() async throws {
        try await withRelay { relay in
            let now = Timestamp(seconds: 1_800_000_000)
            let alpha = try LoopbackSocket(), charlie = try LoopbackSocket()
            let charlieWireGuard = SocketEndpoint(address: Self.loopback, port: charlie.port)
            let granted = try await relay.allocate(
                requester: NodeID(1), requesterAddress: Self.loopback, peer: NodeID(2), peerAddress: Self.loopback,
                expected: [NodeID(2): charlieWireGuard, NodeID(1): SocketEndpoint("192.0.2.1:51820")!], now: now)
            let alphaPort = granted.allocation.ports[NodeID(1)]!, charliePort = granted.allocation.ports[NodeID(2)]!
            alpha.send([7, 7], to: alphaPort)
            #expect(charlie.receive() == [7, 7])
            // Charlie answers to where it came from: its relay port. That latches it, and alpha
            // (latched by its first datagram) gets the answer.
            charlie.send([8], to: charliePort)
            #expect(alpha.receive() == [8])
        }
    }

    /// A member that changed its own address (authenticated from there now) gets its pair's
    /// traffic there, at the port it latched from, before it sends anything itself: one that only
    /// answers would otherwise never be reached again (simulator, `renumber-relayed`: 10.5 s).
    @Test func aMemberAllowedFromANewAddressIsReachedThere() async throws {
        try await withRelay { relay in
            let now = Timestamp(seconds: 1_800_000_000)
            let alpha = try LoopbackSocket(), charlie = try LoopbackSocket()
            let granted = try await relay.allocate(requester: NodeID(1), requesterAddress: Self.loopback, peer: NodeID(2), peerAddress: Self.loopback, now: now)
            let alphaPort = granted.allocation.ports[NodeID(1)]!, charliePort = granted.allocation.ports[NodeID(2)]!
            charlie.send([1], to: charliePort)
            alpha.send([2], to: alphaPort)
            #expect(charlie.receive() == [2])
            // Charlie moves to 127.0.0.2, same port, and is authenticated there.
            let moved = try LoopbackSocket(port: charlie.port, host: 2)
            relay.allow(NodeID(2), from: IPAddress("127.0.0.2")!)
            try await Task.sleep(for: .milliseconds(50))
            alpha.send([3], to: alphaPort)
            #expect(moved.receive() == [3])
        }
    }

    static func canBind(_ port: UInt16) -> Bool {
        guard let socket = try? LoopbackSocket(port: port) else { return false }
        _ = socket
        return true
    }
}

/// A blocking UDP socket on 127.0.0.1 (receives time out after 2 s).
private final class LoopbackSocket {
    let descriptor: Int32

    /// Bound to 127.0.0.`host` (any address of 127/8 is on the loopback interface).
    init(port: UInt16 = 0, host: UInt8 = 1) throws {
        descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var address = Self.address(port, host: host)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard descriptor >= 0, bound == 0 else {
            close(descriptor)
            throw CommandFailure("cannot bind 127.0.0.\(host):\(port)")
        }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    /// The port the socket is bound to.
    var port: UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    static func address(_ port: UInt16, host: UInt8 = 1) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = (UInt32(0x7F00_0000) | UInt32(host)).bigEndian
        return address
    }

    func send(_ bytes: [UInt8], to port: UInt16) {
        var address = Self.address(port)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                bytes.withUnsafeBytes { sendto(descriptor, $0.baseAddress, $0.count, 0, target, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 2048)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        return count < 0 ? nil : Array(buffer.prefix(count))
    }
}
