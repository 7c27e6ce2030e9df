#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The client side of the control socket, for `meshctl`: one request, progress lines, one answer.
public struct ControlClient: Sendable {
    /// The socket path.
    public let socketPath: String

    public init(socketPath: String) { self.socketPath = socketPath }

    /// Why talking to meshd failed.
    public enum Failure: Error, CustomStringConvertible {
        case cannotConnect(path: String, reason: String)
        case protocolError(String)
        case refused(String)

        public var description: String {
            switch self {
            case let .cannotConnect(path, reason):
                return "cannot reach meshd at \(path) (\(reason)); is meshd running with this state directory? Start it with `meshd --state-dir DIR`, or point meshctl at it with --state-dir or --socket"
            case let .protocolError(detail): return "meshd sent an answer meshctl does not understand: \(detail)"
            case let .refused(message): return message
            }
        }
    }

    /// Sends `request`, calls `progress` for each progress line, and returns the final result.
    public func send<Result: Codable & Sendable>(
        _ request: ControlRequest, expecting: Result.Type, timeout: Double = 60, progress: (String) -> Void = { _ in }
    ) throws -> Result {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure.cannotConnect(path: socketPath, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw Failure.cannotConnect(path: socketPath, reason: "the path is too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in pathBytes.enumerated() { buffer[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw Failure.cannotConnect(path: socketPath, reason: String(cString: strerror(errno))) }
        var timeval = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeval, socklen_t(MemoryLayout<timeval>.size))

        var line = try JSONEncoder().encode(request)
        line.append(UInt8(ascii: "\n"))
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count else { throw Failure.cannotConnect(path: socketPath, reason: "write failed") }

        var buffer = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let lineData = buffer[buffer.startIndex..<newline]
                buffer.removeSubrange(buffer.startIndex...newline)
                let reply: ControlReply<Result>
                do { reply = try JSONDecoder().decode(ControlReply<Result>.self, from: lineData) } catch {
                    throw Failure.protocolError("\(error)")
                }
                if let message = reply.progress, reply.ok == nil {
                    progress(message)
                    continue
                }
                guard reply.ok == true else { throw Failure.refused(reply.error ?? "meshd refused the request") }
                guard let result = reply.result else { throw Failure.protocolError("no result") }
                return result
            }
            let count = read(descriptor, &chunk, chunk.count)
            if count < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                throw Failure.refused("meshd did not answer within \(Int(timeout)) s")
            }
            guard count > 0 else { throw Failure.protocolError("meshd closed the connection without an answer") }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }
}
