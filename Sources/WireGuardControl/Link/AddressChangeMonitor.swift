import CNetlink
#if canImport(Glibc)
import Glibc
#endif

/// Tells when the host's links or addresses change, from rtnetlink notifications (the link and
/// IPv4/IPv6 address groups) in the network namespace it was opened in, so that an agent re-reads
/// its addresses when they move instead of polling for them; or, opened with ``Watched/routes``,
/// when routes change (a routing daemon's, for `routing.mode: daemon`). A lost notification (the socket's
/// buffer overflowed) counts as a change. ``wait(timeoutMilliseconds:)`` blocks: call it from a
/// thread of its own; ``interrupt()`` wakes it from any thread.
public final class AddressChangeMonitor: Sendable {
    private let socketDescriptor: Int32
    /// A pipe: ``interrupt()`` writes a byte to its second end, the wait polls its first.
    private let wakeReader: Int32, wakeWriter: Int32

    /// What a monitor is told about.
    public enum Watched: Sendable {
        /// Links and IPv4/IPv6 addresses.
        case linksAndAddresses
        /// IPv4 and IPv6 routes, in every table.
        case routes
    }

    /// Opens the notification socket in `namespace` (`nil`: the caller's); throws when rtnetlink is
    /// not available there.
    public init(namespace: String? = nil, watching watched: Watched = .linksAndAddresses) throws {
        let type = Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let fd = try NetworkNamespace.socket(in: namespace, domain: AF_NETLINK, type: type, protocol: NETLINK_ROUTE)
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        switch watched {
        case .linksAndAddresses: address.nl_groups = UInt32(RTMGRP_LINK) | UInt32(RTMGRP_IPV4_IFADDR) | UInt32(RTMGRP_IPV6_IFADDR)
        case .routes: address.nl_groups = UInt32(RTMGRP_IPV4_ROUTE) | UInt32(RTMGRP_IPV6_ROUTE)
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size)) }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw WireGuardControlError.system(operation: "bind(rtnetlink groups)", errno: code)
        }
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else {
            let code = errno
            close(fd)
            throw WireGuardControlError.system(operation: "pipe()", errno: code)
        }
        for end in pipeEnds {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        socketDescriptor = fd
        wakeReader = pipeEnds[0]
        wakeWriter = pipeEnds[1]
    }

    deinit {
        close(socketDescriptor)
        close(wakeReader)
        close(wakeWriter)
    }

    /// What ended a wait.
    public enum Outcome: Sendable, Equatable {
        /// Links or addresses changed (or notifications were lost).
        case changed
        /// Nothing happened within the timeout.
        case timedOut
        /// ``interrupt()`` was called.
        case interrupted
    }

    /// Blocks until a notification arrives, `timeoutMilliseconds` pass, or ``interrupt()``. Reads every
    /// notification waiting, so a burst (a move removes and adds several addresses) is one change.
    public func wait(timeoutMilliseconds: Int32) -> Outcome {
        var descriptors = [pollfd(fd: socketDescriptor, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeReader, events: Int16(POLLIN), revents: 0)]
        let ready = poll(&descriptors, nfds_t(descriptors.count), timeoutMilliseconds)
        if ready < 0 { return errno == EINTR ? .timedOut : .changed }
        if descriptors[1].revents != 0 {
            var bytes = [UInt8](repeating: 0, count: 16)
            while bytes.withUnsafeMutableBytes({ read(wakeReader, $0.baseAddress, $0.count) }) > 0 {}
            return .interrupted
        }
        guard descriptors[0].revents != 0 else { return .timedOut }
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let received = buffer.withUnsafeMutableBytes { recv(socketDescriptor, $0.baseAddress, $0.count, 0) }
            if received < 0, errno == EINTR || errno == ENOBUFS { continue }  // ENOBUFS: some were lost; a change anyway
            if received <= 0 { break }  // EAGAIN: all read
        }
        return .changed
    }

    /// Wakes a ``wait(timeoutMilliseconds:)`` in progress (or the next one), from any thread.
    public func interrupt() {
        var byte: UInt8 = 1
        _ = write(wakeWriter, &byte, 1)
    }
}
