import Foundation

extension MeshLabNode {
    /// Moves the node to new underlay addresses (roaming): on `device`, deletes the old addresses,
    /// then adds the replacements (`ADDRESS/LENGTH`, IPv4 or IPv6). meshd is not told; it must notice.
    public func moveUnderlay(_ moves: [(from: String, to: String)], device: String = "lan0") throws {
        for move in moves { try lab.run(["ip", "-n", namespace, "address", "del", move.from, "dev", device]) }
        for move in moves {
            try lab.addAddress(move.to, to: device, in: namespace)
            let old = String(move.from.prefix { $0 != "/" }), new = String(move.to.prefix { $0 != "/" })
            underlay = underlay.map { $0 == old ? new : $0 }
        }
    }

    /// meshd's process id, while it runs.
    public var daemonProcessIdentifier: Int32? { daemon?.isRunning == true ? daemon?.processIdentifier : nil }
}

extension Lab {
    /// Sends one UDP datagram holding `bytes` to `address`:`port` from inside `namespace`: the
    /// bytes go to a temporary file that `cat` copies to bash's `/dev/udp` in one write.
    public func sendDatagram(_ bytes: [UInt8], to address: String, port: UInt16, from namespace: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("meshlab-datagram-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        try Data(bytes).write(to: file)
        defer { unlink(file.path) }
        try run(["bash", "-c", "cat \"$0\" > /dev/udp/\(address)/\(port)", file.path], in: namespace)
    }
}
