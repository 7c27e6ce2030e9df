#if canImport(Glibc)
import Glibc
#endif
import MeshCore

/// ICMP echo (ping) over raw sockets, for served routes' health checks (`check.target`): sends one
/// echo request to each target and collects the replies that answer it. Raw sockets need root (or
/// CAP_NET_RAW), which meshd has to configure WireGuard anyway. ``round(targets:waitMilliseconds:)``
/// blocks for up to its wait: call it from a thread of its own.
final class EchoProber: Sendable {
    private let socket4: Int32
    private let socket6: Int32
    /// The ICMP identifier of this prober's requests (replies to other pings are ignored).
    private let identifier: UInt16

    /// Opens the raw ICMP and ICMPv6 sockets; throws a sentence when neither can be opened.
    init() throws {
        socket4 = Glibc.socket(AF_INET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), Int32(IPPROTO_ICMP))
        socket6 = Glibc.socket(AF_INET6, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), Int32(IPPROTO_ICMPV6))
        guard socket4 >= 0 || socket6 >= 0 else {
            throw GatewayError("cannot open a raw ICMP socket for health checks (\(String(cString: strerror(errno)))): meshd needs root or CAP_NET_RAW")
        }
        identifier = UInt16(truncatingIfNeeded: getpid()) ^ UInt16.random(in: 0...UInt16.max)
    }

    deinit {
        if socket4 >= 0 { close(socket4) }
        if socket6 >= 0 { close(socket6) }
    }

    /// Sends echo request `sequence` to every target, then waits up to `waitMilliseconds` for
    /// replies; returns the targets that answered this sequence.
    func round(targets: [IPAddress], sequence: UInt16, waitMilliseconds: Int32) -> Set<IPAddress> {
        for target in targets { send(to: target, sequence: sequence) }
        var answered = Set<IPAddress>()
        var remaining = waitMilliseconds
        var started = timespec()
        clock_gettime(CLOCK_MONOTONIC, &started)
        while remaining > 0, answered.count < targets.count {
            var fds = [pollfd(fd: socket4, events: Int16(POLLIN), revents: 0), pollfd(fd: socket6, events: Int16(POLLIN), revents: 0)]
            guard poll(&fds, nfds_t(fds.count), remaining) > 0 else { break }
            if fds[0].revents & Int16(POLLIN) != 0 { answered.formUnion(receive(socket4, v6: false, sequence: sequence)) }
            if fds[1].revents & Int16(POLLIN) != 0 { answered.formUnion(receive(socket6, v6: true, sequence: sequence)) }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let elapsed = Int32((now.tv_sec - started.tv_sec) * 1000 + (now.tv_nsec - started.tv_nsec) / 1_000_000)
            remaining = waitMilliseconds - elapsed
        }
        return answered.intersection(targets)
    }

    private func send(to target: IPAddress, sequence: UInt16) {
        var packet: [UInt8] = [target.isIPv4 ? 8 : 128, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xFF), UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
        packet += Array("meshwork".utf8)
        if target.isIPv4 {
            guard socket4 >= 0 else { return }
            let sum = Self.checksum(packet)
            packet[2] = UInt8(sum >> 8)
            packet[3] = UInt8(sum & 0xFF)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            let bytes = target.bytes
            address.sin_addr.s_addr = UInt32(bigEndian: UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3]))
            _ = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(socket4, packet, packet.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        } else {
            guard socket6 >= 0 else { return }  // the kernel fills in ICMPv6 checksums
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &address.sin6_addr) { raw in
                for (index, byte) in target.bytes.enumerated() { raw[index] = byte }
            }
            _ = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(socket6, packet, packet.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    /// Reads every datagram waiting on `socket`; returns the sources of echo replies to `sequence`.
    private func receive(_ socket: Int32, v6: Bool, sequence: UInt16) -> Set<IPAddress> {
        var sources = Set<IPAddress>()
        var buffer = [UInt8](repeating: 0, count: 1500)
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &storage) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(socket, raw.baseAddress, raw.count, 0, $0, &length) }
                }
            }
            guard count > 0 else { return sources }
            guard let reply = Self.echoReply(Array(buffer[0..<count]), v6: v6), reply.identifier == identifier, reply.sequence == sequence else { continue }
            if v6 {
                let source = withUnsafeBytes(of: &storage) { raw in
                    raw.bindMemory(to: sockaddr_in6.self).first.map { address in
                        withUnsafeBytes(of: address.sin6_addr) { IPAddress(bytes: Array($0)) }
                    } ?? nil
                }
                if let source { sources.insert(source) }
            } else if let source = reply.source {
                sources.insert(source)
            }
        }
    }

    /// An echo reply in what a raw socket delivered (an IPv4 raw socket gives the IP header
    /// first, an ICMPv6 one does not): its identifier and sequence, and for IPv4 its source; nil
    /// for anything else or anything malformed. Bytes from the LAN: never traps (fuzzed).
    static func echoReply(_ bytes: [UInt8], v6: Bool) -> (identifier: UInt16, sequence: UInt16, source: IPAddress?)? {
        var offset = 0
        var source: IPAddress?
        if !v6 {
            guard bytes.count >= 20, bytes[0] >> 4 == 4 else { return nil }
            offset = Int(bytes[0] & 0x0F) * 4
            guard offset >= 20 else { return nil }
            source = .v4(IPv4Address(UInt32(bytes[12]) << 24 | UInt32(bytes[13]) << 16 | UInt32(bytes[14]) << 8 | UInt32(bytes[15])))
        }
        guard bytes.count >= offset + 8, bytes[offset] == (v6 ? 129 : 0), bytes[offset + 1] == 0 else { return nil }
        let identifier = UInt16(bytes[offset + 4]) << 8 | UInt16(bytes[offset + 5])
        let sequence = UInt16(bytes[offset + 6]) << 8 | UInt16(bytes[offset + 7])
        return (identifier, sequence, source)
    }

    /// The Internet checksum (RFC 1071).
    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum &+= UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum &+= UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
