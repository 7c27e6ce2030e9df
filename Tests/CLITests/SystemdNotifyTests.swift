import Foundation
import Glibc
import Testing

/// Issue 14, point 4: meshd speaks systemd's notification protocol to a socket the test opens
/// itself, as systemd would for `Type=notify` with `WatchdogSec=`.
@Suite("meshd and sd_notify")
struct SystemdNotifyTests {
    /// A Unix datagram socket bound at `path`, as systemd's notification socket.
    final class NotifySocket {
        let descriptor: Int32
        init(path: String) throws {
            descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { bytes in
                for (index, byte) in path.utf8.enumerated() { bytes[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard descriptor >= 0, bound == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EINVAL) }
        }
        deinit { close(descriptor) }

        /// The next datagram within `timeout` seconds, or nil.
        func receive(timeout: Double) -> String? {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            return count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : nil
        }

        /// Datagrams until one contains `text` (returned), for at most `timeout` seconds.
        func wait(for text: String, timeout: Double) -> String? {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if let datagram = receive(timeout: deadline.timeIntervalSinceNow), datagram.contains(text) { return datagram }
            }
            return nil
        }
    }

    @Test("READY=1 with a STATUS line once the control socket listens, WATCHDOG=1 at half WATCHDOG_USEC, STOPPING=1 on SIGTERM")
    func readyWatchdogStopping() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshd-notify-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let notify = try NotifySocket(path: directory + "/notify.sock")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProcessRunner.product("meshd"))
        let port = Int.random(in: 42000...42999)
        process.arguments = ["--state-dir", directory + "/state", "--port", "\(port)", "--interface", "mwsd\(port)"]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = directory + "/notify.sock"
        environment["WATCHDOG_USEC"] = "400000"
        process.environment = environment
        let log = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = log
        process.standardError = log
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        let ready = notify.wait(for: "READY=1", timeout: 20)
        #expect(ready?.contains("STATUS=waiting for meshctl init or meshctl join") == true, "first notification: \(ready ?? "none")")
        #expect(FileManager.default.fileExists(atPath: directory + "/state/meshd.sock"), "the control socket listens when READY=1 arrives")
        #expect(notify.wait(for: "WATCHDOG=1", timeout: 2) != nil, "WATCHDOG=1 within twice the half interval")
        kill(process.processIdentifier, SIGTERM)
        #expect(notify.wait(for: "STOPPING=1", timeout: 10) != nil)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}
