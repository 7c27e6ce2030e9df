#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import SystemPackage
import WireGuardControl

/// What a gateway does for the prefixes it serves: IP forwarding on (per address family served),
/// and its own nftables table `inet meshwork_gateway` that accepts traffic from the mesh interface
/// into the served prefixes (and what comes back), and, unless `routes.masquerade` is false,
/// masquerades it (the LAN's hosts then need no route back into the mesh). The table is replaced
/// whole in one `nft -f` transaction, and deleted when nothing is served; nothing else is touched.
enum GatewayForwarding {
    static let table = "meshwork_gateway"

    /// The ruleset that makes the table what `prefixes` need (a leading create-then-delete, so a
    /// missing table is no error and an existing one is replaced atomically).
    static func ruleset(interface: String, prefixes: [IPPrefix], masquerade: Bool) -> String {
        var lines = ["table inet \(table)", "delete table inet \(table)"]
        guard !prefixes.isEmpty else { return lines.joined(separator: "\n") + "\n" }
        let quoted = "\"\(interface)\""
        var forward = ["    type filter hook forward priority filter; policy accept;"]
        var postrouting = ["    type nat hook postrouting priority srcnat; policy accept;"]
        // Only the outermost prefixes: nftables refuses overlapping intervals in one set (an exit
        // serving 0.0.0.0/0 and a LAN inside it).
        let outermost = prefixes.filter { prefix in !prefixes.contains { $0 != prefix && $0.contains(prefix) } }
        for (family, selected) in [("ip", outermost.filter { $0.address.isIPv4 }), ("ip6", outermost.filter { !$0.address.isIPv4 })] where !selected.isEmpty {
            let set = "{ " + selected.map(\.description).joined(separator: ", ") + " }"
            forward.append("    iifname \(quoted) \(family) daddr \(set) accept")
            // Never towards the mesh itself (an exit's default route covers the members' addresses).
            if masquerade { postrouting.append("    iifname \(quoted) oifname != \(quoted) \(family) daddr \(set) masquerade") }
        }
        forward.append("    oifname \(quoted) ct state established,related accept")
        lines.append("table inet \(table) {")
        lines.append("  chain forward {")
        lines += forward
        lines.append("  }")
        if masquerade {
            lines.append("  chain postrouting {")
            lines += postrouting
            lines.append("  }")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Turns forwarding on for the families served and loads the table (`scratch`: a file path for
    /// the ruleset, written 0600). Throws a sentence naming what failed.
    static func apply(interface: String, prefixes: [IPPrefix], masquerade: Bool, scratch: String) throws {
        if prefixes.contains(where: { $0.address.isIPv4 }) { try writeSysctl("/proc/sys/net/ipv4/ip_forward", "1") }
        if prefixes.contains(where: { !$0.address.isIPv4 }) { try writeSysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1") }
        try runNft(ruleset(interface: interface, prefixes: prefixes, masquerade: masquerade), scratch: scratch)
    }

    static func writeSysctl(_ path: String, _ value: String) throws {
        do {
            let descriptor = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.closeOnExec])
            defer { try? descriptor.close() }
            _ = try descriptor.writeAll(Array(value.utf8))
        } catch {
            throw GatewayError("cannot enable forwarding (\(path)): \(error)")
        }
    }

    private static func runNft(_ ruleset: String, scratch: String) throws {
        let candidates = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        guard let nft = candidates.first(where: { path in path.withCString { access($0, X_OK) == 0 } }) else {
            throw GatewayError("nft (nftables) is not installed: it is needed to forward and masquerade for served routes")
        }
        do {
            let descriptor = try FileDescriptor.open(
                FilePath(scratch), .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite])
            defer { try? descriptor.close() }
            _ = try descriptor.writeAll(Array(ruleset.utf8))
        } catch {
            throw GatewayError("cannot write the nftables ruleset to \(scratch): \(error)")
        }
        let output = scratch + ".out"
        let log = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { if log >= 0 { close(log) } }
        let child = try ChildProcess(executable: nft, arguments: ["-f", scratch], environment: [:], output: log)
        let status = child.waitUntilExit()
        guard status == 0 else {
            let text = String(readSmallFile(output).split(separator: "\n").joined(separator: "; "))
            throw GatewayError("nft -f failed (exit \(status)): \(text)")
        }
    }
}

/// The first 4 KiB of a file as text ("" when it cannot be read).
private func readSmallFile(_ path: String) -> String {
    guard let descriptor = try? FileDescriptor.open(FilePath(path), .readOnly) else { return "" }
    defer { try? descriptor.close() }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = (try? buffer.withUnsafeMutableBytes { try descriptor.read(into: $0) }) ?? 0
    return String(decoding: buffer.prefix(count), as: UTF8.self)
}

/// A gateway set-up step that failed, in one sentence.
struct GatewayError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
