import CNetlink
import MeshAddressing
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A WireGuard device in the Linux kernel, driven over generic netlink (`linux/wireguard.h`).
///
/// Reading dumps the device (`WG_CMD_GET_DEVICE`, several parts merged). Applying sends
/// `WG_CMD_SET_DEVICE` messages split under ``maximumMessageSize``, each acknowledged; it never
/// sets `WGDEVICE_F_REPLACE_PEERS`. The socket belongs to the network namespace given at creation.
public final class KernelWireGuardDevice: WireGuardDevice {
    public let interfaceName: String
    /// The network namespace the device lives in (`nil`: the caller's).
    public let namespace: String?
    /// Upper bound of one SET_DEVICE message, in bytes.
    public let maximumMessageSize: Int
    /// How many SET_DEVICE messages go out in one `send` before their acknowledgements are read.
    public let messagesPerSend: Int

    private let connection: Mutex<Connection>

    private final class Connection {
        let socket: NetlinkSocket
        let familyID: UInt16
        var writer = NetlinkMessageWriter()

        init(socket: NetlinkSocket, familyID: UInt16) {
            self.socket = socket
            self.familyID = familyID
        }
    }

    /// Opens a generic-netlink socket (in `namespace`, when given) and resolves the WireGuard family.
    /// The interface itself is looked up at each call, so it may be created later.
    /// - Throws: ``WireGuardControlError/moduleNotLoaded`` when the kernel has no WireGuard.
    public init(
        interfaceName: String, namespace: String? = nil, maximumMessageSize: Int = 4096, messagesPerSend: Int = 16
    ) throws {
        self.interfaceName = interfaceName
        self.namespace = namespace
        self.maximumMessageSize = maximumMessageSize
        self.messagesPerSend = max(1, messagesPerSend)
        let socket = try NetlinkSocket(protocol: NETLINK_GENERIC, namespace: namespace)
        let familyID: UInt16
        do {
            familyID = try GenericNetlinkFamily.resolve(WG_GENL_NAME, on: socket)
        } catch let error as WireGuardControlError where error.kernelErrno == ENOENT {
            throw WireGuardControlError.moduleNotLoaded
        }
        connection = Mutex(Connection(socket: socket, familyID: familyID))
    }

    public func read() throws -> WireGuardDeviceState {
        do {
            return try connection.withLock { (connection) throws -> WireGuardDeviceState in
                try Self.read(interfaceName, over: connection)
            }
        } catch let error as WireGuardControlError {
            throw explain(error)
        }
    }

    public func apply(_ changes: WireGuardChangeSet) throws {
        guard !changes.isEmpty else { return }
        do {
            try connection.withLock { (connection) throws in
                try apply(changes, over: connection)
            }
        } catch let error as WireGuardControlError {
            throw explain(error)
        }
    }

    private static func read(_ name: String, over connection: Connection) throws -> WireGuardDeviceState {
        let operation = "reading WireGuard device \(name)"
        for _ in 0..<5 {
            let sequence = connection.socket.nextSequence()
            connection.writer.reset()
            let start = connection.writer.beginMessage(
                type: connection.familyID, flags: UInt16(NLM_F_REQUEST | NLM_F_DUMP), sequence: sequence)
            connection.writer.appendGenericHeader(command: UInt8(WG_CMD_GET_DEVICE.rawValue), version: UInt8(WG_GENL_VERSION))
            connection.writer.appendAttribute(UInt16(WGDEVICE_A_IFNAME.rawValue), string: name)
            connection.writer.endMessage(start)
            var decoder = WireGuardNetlinkDecoder(interfaceName: name)
            let socket = connection.socket
            let interrupted = try connection.writer.bytes.withUnsafeBytes { (request) throws -> Bool in
                try socket.dump(request, sequence: sequence, operation: operation) { (part) throws in
                    try decoder.consume(part: part.payload)
                }
            }
            if !interrupted { return decoder.finish() }
        }
        throw WireGuardControlError.kernel(operation: operation, errno: EAGAIN, message: "the device kept changing while it was read")
    }

    private func apply(_ changes: WireGuardChangeSet, over connection: Connection) throws {
        let encoder = WireGuardNetlinkEncoder(
            familyID: connection.familyID, interfaceName: interfaceName, maximumMessageSize: maximumMessageSize)
        connection.writer.reset()
        defer { if changes.privateKey != nil { connection.writer.wipe() } }
        let first = connection.socket.nextSequence()
        let messages = try encoder.encode(changes, into: &connection.writer, firstSequence: first)
        guard let last = messages.last else { return }
        connection.socket.consumeSequences(through: last.sequence)
        let operation = "configuring WireGuard device \(interfaceName)"
        let socket = connection.socket
        let batchSize = messagesPerSend
        try connection.writer.bytes.withUnsafeBytes { (buffer) throws in
            var index = 0
            while index < messages.count {
                let end = min(index + batchSize, messages.count)
                let first = messages[index], last = messages[end - 1]
                let bytes = UnsafeRawBufferPointer(rebasing: buffer[first.range.lowerBound..<last.range.upperBound])
                try socket.requestBatch(bytes, firstSequence: first.sequence, count: end - index, operation: operation)
                index = end
            }
        }
    }

    /// Turns kernel errnos into errors that name the problem.
    private func explain(_ error: WireGuardControlError) -> WireGuardControlError {
        guard case let .kernel(_, code, _) = error else { return error }
        switch code {
        case ENODEV:
            return .noSuchInterface(interfaceName)
        case EOPNOTSUPP:
            let kind = (try? LinkManager(namespace: namespace).link(named: interfaceName))?.kind
            return .notWireGuard(interface: interfaceName, kind: kind)
        default:
            return error
        }
    }
}
