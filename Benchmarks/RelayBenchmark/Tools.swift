import BenchmarkSupport
import Foundation
import MeshAgent
import MeshCore
import MeshLab
import NIOPosix

/// The helper processes of the raw forwarding benchmark, each started inside a namespace by the
/// benchmark itself (`RelayBenchmark blast|latch|relay-node ...`).
enum Tools {
    /// `struct mmsghdr` (Glibc's Swift module does not export it): a `msghdr` and the length.
    struct MultipleMessageHeader {
        var header = msghdr()
        var length: UInt32 = 0
    }

    typealias SendMultiple = @convention(c) (Int32, UnsafeMutableRawPointer?, UInt32, Int32) -> Int32

    /// `sendmmsg(2)`, looked up at run time (not exported to Swift by Glibc's module).
    static func sendMultiple() throws -> SendMultiple {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "sendmmsg") else {
            throw LabError.failed("sendmmsg not found")
        }
        return unsafeBitCast(symbol, to: SendMultiple.self)
    }

    /// An IPv4 UDP socket bound to `port` (0: any) and, when given, connected to `target`.
    static func udpSocket(bindPort: UInt16, connectTo target: SocketEndpoint?) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw LabError.failed("socket: errno \(errno)") }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_port = bindPort.bigEndian
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw LabError.failed("bind to port \(bindPort): errno \(errno)") }
        if let target {
            guard case let .v4(v4) = target.address else { throw LabError.failed("IPv4 targets only") }
            var remote = sockaddr_in()
            remote.sin_family = sa_family_t(AF_INET)
            remote.sin_port = target.port.bigEndian
            remote.sin_addr.s_addr = v4.value.bigEndian
            let connected = withUnsafePointer(to: &remote) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw LabError.failed("connect to \(target): errno \(errno)") }
        }
        return descriptor
    }

    static func endpoint(_ text: String?) throws -> SocketEndpoint {
        guard let text, let endpoint = SocketEndpoint(text) else { throw LabError.failed("not an ADDRESS:PORT: \(text ?? "nothing")") }
        return endpoint
    }

    /// `blast --to ADDR:PORT --size BYTES --seconds S [--batch N]`: sends datagrams of `size`
    /// bytes as fast as one thread can (sendmmsg, `batch` per call) for `seconds`; prints
    /// `sent COUNT SECONDS`.
    static func blast(_ options: [String: String]) throws {
        let target = try endpoint(options["--to"])
        let size = Int(options["--size"] ?? "") ?? 64
        let seconds = Double(options["--seconds"] ?? "") ?? 3
        let batch = Int(options["--batch"] ?? "") ?? 64
        let descriptor = try udpSocket(bindPort: 0, connectTo: target)
        let sendmmsg = try sendMultiple()
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        payload.initializeMemory(as: UInt8.self, repeating: 0x5A)
        var vector = iovec(iov_base: payload.baseAddress, iov_len: size)
        var headers = [MultipleMessageHeader](repeating: MultipleMessageHeader(), count: batch)
        var sent = 0, failures = 0
        let started = monotonic()
        let deadline = started + seconds
        withUnsafeMutablePointer(to: &vector) { vectorPointer in
            for index in headers.indices {
                headers[index].header.msg_iov = vectorPointer
                headers[index].header.msg_iovlen = 1
            }
            headers.withUnsafeMutableBufferPointer { buffer in
                while monotonic() < deadline {
                    for _ in 0..<16 {
                        let count = sendmmsg(descriptor, buffer.baseAddress, UInt32(batch), 0)
                        if count > 0 { sent += Int(count) } else { failures += 1 }
                    }
                }
            }
        }
        print("sent \(sent) \(format(monotonic() - started, 6)) failures \(failures)")
        payload.deallocate()
        close(descriptor)
    }

    /// Writes a line to standard output at once (no stdio buffering).
    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// `latch --port P --to ADDR:PORT`: sends one datagram from local port `P` (so a relay port
    /// latches onto this side) and exits.
    static func latch(_ options: [String: String]) throws {
        let target = try endpoint(options["--to"])
        let port = UInt16(options["--port"] ?? "") ?? 9000
        let descriptor = try udpSocket(bindPort: port, connectTo: target)
        let byte: [UInt8] = [1]
        guard send(descriptor, byte, 1, 0) == 1 else { throw LabError.failed("latch send: errno \(errno)") }
        close(descriptor)
    }

    /// `relay-node --sender IP --receiver IP`: a `RelayService` (one event loop thread, no
    /// bandwidth limit) with one allocation for the pair; prints `ports SENDER_PORT RECEIVER_PORT`,
    /// then `counters FORWARDED_PACKETS FORWARDED_BYTES DROPPED` every second until killed.
    static func relayNode(_ options: [String: String]) async throws {
        guard let sender = options["--sender"].flatMap(IPAddress.init), let receiver = options["--receiver"].flatMap(IPAddress.init) else {
            throw LabError.failed("relay-node needs --sender IP --receiver IP")
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var limits = RelayService.Limits()
        limits.bytesPerSecond = 1 << 50
        let relay = RelayService(group: group, limits: limits)
        let senderID = NodeID(1), receiverID = NodeID(2)
        let now = Timestamp(nanoseconds: UInt64(wallClock() * 1e9))
        let allocation = try await relay.allocate(requester: senderID, requesterAddress: sender, peer: receiverID, peerAddress: receiver, now: now).allocation
        emit("ports \(allocation.ports[senderID] ?? 0) \(allocation.ports[receiverID] ?? 0)")
        while true {
            try await Task.sleep(nanoseconds: 1_000_000_000)
            let counters = relay.counters
            emit("counters \(counters.forwardedPackets.load(ordering: .relaxed)) \(counters.forwardedBytes.load(ordering: .relaxed)) \(counters.dropped.load(ordering: .relaxed))")
        }
    }
}
