#if canImport(Glibc)
import Glibc
#endif
import MeshCore

/// A dual-stack UDP socket with blocking-free sends and a receive that waits at most a given time.
final class HostileSocket {
    let descriptor: Int32
    /// Sends the kernel refused (unroutable, filtered): counted, never fatal.
    private(set) var failedSends = 0

    init(port: UInt16) throws {
        descriptor = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw HostileError("socket: errno \(errno)") }
        var off: Int32 = 0
        setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = port.bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        guard bound == 0 else { throw HostileError("bind to port \(port): errno \(errno)") }
    }

    deinit { close(descriptor) }

    func send(_ bytes: [UInt8], to endpoint: SocketEndpoint) {
        var address = Self.socketAddress(endpoint)
        let sent = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
        if sent < 0 { failedSends += 1 }
    }

    /// The next datagram, or nil when none arrives within `milliseconds`.
    func receive(waiting milliseconds: Int32) -> (bytes: [UInt8], from: SocketEndpoint)? {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, milliseconds) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 2048)
        var address = sockaddr_in6()
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let count = buffer.withUnsafeMutableBytes { raw in
            withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(descriptor, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT), $0, &length) }
            }
        }
        guard count > 0, let endpoint = Self.endpoint(address) else { return nil }
        return (Array(buffer.prefix(count)), endpoint)
    }

    private static func socketAddress(_ endpoint: SocketEndpoint) -> sockaddr_in6 {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = endpoint.port.bigEndian
        let bytes: [UInt8]
        switch endpoint.address {
        case let .v4(v4): bytes = Array(repeating: 0, count: 10) + [0xFF, 0xFF] + v4.bytes
        case let .v6(v6): bytes = v6.bytes
        }
        withUnsafeMutableBytes(of: &address.sin6_addr) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        return address
    }

    private static func endpoint(_ address: sockaddr_in6) -> SocketEndpoint? {
        var raw = address.sin6_addr
        let bytes = withUnsafeBytes(of: &raw) { Array($0) }
        let port = UInt16(bigEndian: address.sin6_port)
        if bytes.prefix(10).allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF, let v4 = IPv4Address(bytes: bytes.suffix(4)) {
            return SocketEndpoint(address: .v4(v4), port: port)
        }
        guard let v6 = IPv6Address(bytes: bytes) else { return nil }
        return SocketEndpoint(address: .v6(v6), port: port)
    }
}
