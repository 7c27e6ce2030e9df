import MeshCore
import MeshCrypto

/// The text protocol of userspace WireGuard daemons (wireguard-go, boringtun) on their UAPI socket:
/// `get=1` / `set=1` requests of `key=value` lines ended by a blank line, answered by `errno=N`
/// (wireguard-go writes negative values). Keys are lowercase hexadecimal here, not base64.
enum UAPICodec {
    /// The request that reads the device.
    static let getRequest: [UInt8] = Array("get=1\n\n".utf8)

    /// Appends the `set=1` request for `changes` to `output`, with the same semantics as the
    /// kernel backend: never `replace_peers`; `update_only=true` on updates; `remove=true` for
    /// removals; `replace_allowed_ips=true` only for peers whose allowed IPs are sent (updates that
    /// change them, and additions).
    static func encodeSet(_ changes: WireGuardChangeSet, into output: inout [UInt8]) {
        append("set=1\n", to: &output)
        if let key = changes.privateKey {
            append("private_key=", to: &output)
            key.secretBytes.withUnsafeBytes { WireGuardKeyText.appendHex($0, to: &output) }
            output.append(newline)
        }
        if let port = changes.listenPort { line("listen_port", "\(port)", to: &output) }
        if let mark = changes.fwmark { line("fwmark", "\(mark)", to: &output) }
        for key in changes.peersToRemove {
            appendPublicKey(key, to: &output)
            append("remove=true\n", to: &output)
        }
        for update in changes.peersToUpdate {
            appendPublicKey(update.publicKey, to: &output)
            append("update_only=true\n", to: &output)
            if let endpoint = update.endpoint { line("endpoint", endpoint.description, to: &output) }
            if let keepalive = update.persistentKeepalive { line("persistent_keepalive_interval", "\(keepalive)", to: &output) }
            if let allowed = update.allowedIPs {
                append("replace_allowed_ips=true\n", to: &output)
                for prefix in allowed { line("allowed_ip", prefix.description, to: &output) }
            }
        }
        for add in changes.peersToAdd {
            appendPublicKey(add.publicKey, to: &output)
            if let endpoint = add.endpoint { line("endpoint", endpoint.description, to: &output) }
            line("persistent_keepalive_interval", "\(add.persistentKeepalive)", to: &output)
            append("replace_allowed_ips=true\n", to: &output)
            for prefix in add.allowedIPs { line("allowed_ip", prefix.description, to: &output) }
        }
        output.append(newline)
    }

    /// Parses the reply to `get=1` (everything up to and including the blank line).
    /// - Throws: ``WireGuardControlError/userspace(interface:operation:errno:)`` for a non-zero
    ///   errno, ``WireGuardControlError/malformedReply(_:)`` for lines that do not parse.
    static func parseGet(_ reply: UnsafeRawBufferPointer, interfaceName: String) throws -> WireGuardDeviceState {
        var state = WireGuardDeviceState(interfaceName: interfaceName)
        var peer: WireGuardPeerState? = nil
        var handshakeSeconds: Int64 = 0
        var handshakeNanoseconds: Int64 = 0
        var status: Int32? = nil

        func finishPeer() {
            guard var done = peer else { return }
            if handshakeSeconds != 0 || handshakeNanoseconds != 0 {
                done.lastHandshakeTime = .seconds(handshakeSeconds) + .nanoseconds(handshakeNanoseconds)
            }
            if done.allowedIPs.count > 1 { done.allowedIPs.sort() }
            state.peers[done.publicKey] = done
            peer = nil
            handshakeSeconds = 0
            handshakeNanoseconds = 0
        }

        try forEachLine(reply) { key, value in
            switch key {
            case "private_key":
                let secret = try WireGuardKeyText.bytes(hex: value, what: "private key from the daemon")
                let privateKey = try X25519PrivateKey(secret: SecretBytes(copying: secret))
                state.publicKey = privateKey.publicKey
            case "listen_port":
                state.listenPort = try number(value, key)
            case "fwmark":
                state.fwmark = try number(value, key)
            case "public_key":
                finishPeer()
                let bytes = try WireGuardKeyText.bytes(hex: value, what: "peer public key from the daemon")
                peer = WireGuardPeerState(publicKey: try WireGuardKeyText.publicKey(bytes: bytes, what: "peer public key"))
            case "endpoint":
                guard peer != nil else { throw orphan(key) }
                peer?.endpoint = try endpoint(value)
            case "persistent_keepalive_interval":
                guard peer != nil else { throw orphan(key) }
                peer?.persistentKeepalive = try number(value, key)
            case "last_handshake_time_sec":
                handshakeSeconds = try number(value, key)
            case "last_handshake_time_nsec":
                handshakeNanoseconds = try number(value, key)
            case "rx_bytes":
                guard peer != nil else { throw orphan(key) }
                peer?.receivedBytes = try number(value, key)
            case "tx_bytes":
                guard peer != nil else { throw orphan(key) }
                peer?.transmittedBytes = try number(value, key)
            case "allowed_ip":
                guard peer != nil else { throw orphan(key) }
                let text = String(decoding: value, as: UTF8.self)
                guard let prefix = IPPrefix(text) ?? masked(text) else {
                    throw WireGuardControlError.malformedReply("allowed_ip=\(text) is not a prefix")
                }
                peer?.allowedIPs.append(prefix)
            case "errno":
                status = try number(value, key)
            default:
                break  // preshared_key, protocol_version, future keys
            }
        }
        finishPeer()
        guard let status else { throw WireGuardControlError.malformedReply("the daemon's reply has no errno line") }
        guard status == 0 else {
            throw WireGuardControlError.userspace(interface: interfaceName, operation: "reading the device", errno: abs(status))
        }
        return state
    }

    /// The errno of a reply to `set=1` (0 on success; sign dropped).
    static func parseStatus(_ reply: UnsafeRawBufferPointer) throws -> Int32 {
        var status: Int32? = nil
        try forEachLine(reply) { key, value in
            if key == "errno" { status = try number(value, key) }
        }
        guard let status else { throw WireGuardControlError.malformedReply("the daemon's reply has no errno line") }
        return abs(status)
    }

    // MARK: Helpers

    private static let newline = UInt8(ascii: "\n")

    private static func append(_ text: String, to output: inout [UInt8]) {
        output.append(contentsOf: text.utf8)
    }

    private static func line(_ key: String, _ value: String, to output: inout [UInt8]) {
        output.append(contentsOf: key.utf8)
        output.append(UInt8(ascii: "="))
        output.append(contentsOf: value.utf8)
        output.append(newline)
    }

    private static func appendPublicKey(_ key: X25519PublicKey, to output: inout [UInt8]) {
        append("public_key=", to: &output)
        key.bytes.withUnsafeBytes { WireGuardKeyText.appendHex($0, to: &output) }
        output.append(newline)
    }

    /// Calls `body(key, value)` for each `key=value` line up to the first blank line.
    private static func forEachLine(
        _ reply: UnsafeRawBufferPointer, _ body: (String, UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var start = 0
        while start < reply.count {
            let end = reply[start...].firstIndex(of: newline) ?? reply.count
            if end == start { return }  // blank line: end of reply
            let line = UnsafeRawBufferPointer(rebasing: reply[start..<end])
            guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else {
                throw WireGuardControlError.malformedReply("line without '=' in the daemon's reply: \(String(decoding: line.prefix(80), as: UTF8.self))")
            }
            let key = String(decoding: UnsafeRawBufferPointer(rebasing: line[..<equals]), as: UTF8.self)
            try body(key, UnsafeRawBufferPointer(rebasing: line[(equals + 1)...]))
            start = end + 1
        }
    }

    private static func number<T: FixedWidthInteger>(_ value: UnsafeRawBufferPointer, _ key: String) throws -> T {
        guard let parsed = T(String(decoding: value, as: UTF8.self)) else {
            throw WireGuardControlError.malformedReply("\(key)=\(String(decoding: value.prefix(40), as: UTF8.self)) is not a number in range")
        }
        return parsed
    }

    private static func orphan(_ key: String) -> WireGuardControlError {
        .malformedReply("\(key) before any public_key in the daemon's reply")
    }

    private static func endpoint(_ value: UnsafeRawBufferPointer) throws -> SocketEndpoint? {
        var text = String(decoding: value, as: UTF8.self)
        if text.isEmpty || text == "(none)" { return nil }
        // Drop an IPv6 zone ("[fe80::1%eth0]:51820"): endpoints carry no zone here.
        if let percent = text.firstIndex(of: "%"), let close = text.firstIndex(of: "]"), percent < close {
            text.removeSubrange(percent..<close)
        }
        guard let endpoint = SocketEndpoint(text) else {
            throw WireGuardControlError.malformedReply("endpoint=\(text) is not ADDRESS:PORT")
        }
        return endpoint
    }

    /// Daemons may print an allowed IP with host bits set; keep the prefix they route.
    private static func masked(_ text: String) -> IPPrefix? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let address = IPAddress(String(parts[0])), let length = Int(parts[1]) else { return nil }
        return IPPrefix(containing: address, length: length)
    }
}
