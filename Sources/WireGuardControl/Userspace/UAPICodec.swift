import MeshAddressing
#if canImport(Glibc)
import Glibc
#endif
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
            if UAPIScalars.equals(key, "public_key") {
                finishPeer()
                let bytes = try WireGuardKeyText.bytes(hex: value, what: "peer public key from the daemon")
                peer = WireGuardPeerState(publicKey: try WireGuardKeyText.publicKey(bytes: bytes, what: "peer public key"))
            } else if UAPIScalars.equals(key, "allowed_ip") {
                guard peer != nil else { throw orphan(key) }
                guard let prefix = UAPIScalars.prefix(value) else {
                    throw WireGuardControlError.malformedReply("allowed_ip=\(text(value)) is not a prefix")
                }
                peer?.allowedIPs.append(prefix)
            } else if UAPIScalars.equals(key, "endpoint") {
                guard peer != nil else { throw orphan(key) }
                guard let endpoint = UAPIScalars.endpoint(value) else {
                    throw WireGuardControlError.malformedReply("endpoint=\(text(value)) is not ADDRESS:PORT")
                }
                peer?.endpoint = endpoint
            } else if UAPIScalars.equals(key, "persistent_keepalive_interval") {
                guard peer != nil else { throw orphan(key) }
                peer?.persistentKeepalive = try number(value, key)
            } else if UAPIScalars.equals(key, "last_handshake_time_sec") {
                handshakeSeconds = try number(value, key)
            } else if UAPIScalars.equals(key, "last_handshake_time_nsec") {
                handshakeNanoseconds = try number(value, key)
            } else if UAPIScalars.equals(key, "rx_bytes") {
                guard peer != nil else { throw orphan(key) }
                peer?.receivedBytes = try number(value, key)
            } else if UAPIScalars.equals(key, "tx_bytes") {
                guard peer != nil else { throw orphan(key) }
                peer?.transmittedBytes = try number(value, key)
            } else if UAPIScalars.equals(key, "private_key") {
                let secret = try WireGuardKeyText.bytes(hex: value, what: "private key from the daemon")
                let privateKey = try X25519PrivateKey(secret: SecretBytes(copying: secret))
                state.publicKey = privateKey.publicKey
            } else if UAPIScalars.equals(key, "listen_port") {
                state.listenPort = try number(value, key)
            } else if UAPIScalars.equals(key, "fwmark") {
                state.fwmark = try number(value, key)
            } else if UAPIScalars.equals(key, "errno") {
                status = try number(value, key)
            }
            // Other keys (preshared_key, protocol_version, future ones) are ignored.
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
            if UAPIScalars.equals(key, "errno") { status = try number(value, key) }
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
        _ reply: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard let base = reply.baseAddress else { return }
        var start = 0
        while start < reply.count {
            let end = memchr(base + start, Int32(newline), reply.count - start).map { UnsafeRawPointer($0) - base } ?? reply.count
            if end == start { return }  // blank line: end of reply
            let line = UnsafeRawBufferPointer(rebasing: reply[start..<end])
            guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else {
                throw WireGuardControlError.malformedReply("line without '=' in the daemon's reply: \(String(decoding: line.prefix(80), as: UTF8.self))")
            }
            try body(UnsafeRawBufferPointer(rebasing: line[..<equals]), UnsafeRawBufferPointer(rebasing: line[(equals + 1)...]))
            start = end + 1
        }
    }

    private static func number<T: FixedWidthInteger>(_ value: UnsafeRawBufferPointer, _ key: UnsafeRawBufferPointer) throws -> T {
        guard let parsed = UAPIScalars.integer(value, as: T.self) else {
            throw WireGuardControlError.malformedReply("\(text(key))=\(text(value)) is not a number in range")
        }
        return parsed
    }

    private static func orphan(_ key: UnsafeRawBufferPointer) -> WireGuardControlError {
        .malformedReply("\(text(key)) before any public_key in the daemon's reply")
    }

    private static func text(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes.prefix(80), as: UTF8.self)
    }
}
