#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MeshAgent
import MeshCore
import MeshCrypto
import SystemPackage
import MeshControl

/// What the agent reads from its control socket and its files.
enum AgentTargets {
    /// One control-socket line, decoded as meshd's control server does, then the fields parsed
    /// as the command handlers parse them.
    static let controlRequest = FuzzTarget(
        name: "control-request",
        summary: "control-socket request lines (JSON ControlRequest) and the parsing of their fields",
        run: { bytes in
            guard let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(bytes)) else { return }
            switch request {
            case .status, .peers, .routes, .graph, .leave, .revoke: break
            case .exit(let use): _ = use.map { NodeName.problem($0) }
            case .ping(let fields): _ = NodeName.problem(fields.name)
            case .initialize(let fields):
                for text in [fields.prefix, fields.prefix6].compactMap({ $0 }) { _ = try? IPPrefix(parsing: text) }
            case .invite(let fields):
                for text in fields.routes ?? [] { _ = try? IPPrefix(parsing: text) }
                for text in fields.endpoints ?? [] { _ = SocketEndpoint(text) }
                if let address = fields.address { _ = IPAddress(address) }
            case .join(let token): _ = try? InvitationToken(text: token)
            }
            // What was decoded encodes to a line that decodes to the same request.
            if let line = try? JSONEncoder().encode(request), (try? JSONDecoder().decode(ControlRequest.self, from: line)) != request {
                fatalError("control-request: \(request) does not survive encoding")
            }
        },
        seeds: {
            [
                #"{"command":"status"}"#,
                #"{"command":"init","network":"home","prefix":"100.80.0.0/16","prefix6":"fd5a:1::/48","name":"alpha"}"#,
                #"{"command":"invite","name":"beta","ttlSeconds":3600,"address":"100.80.0.7","relay":true,"routes":["10.1.0.0/16"],"endpoints":["192.0.2.1:51821","[2001:db8::1]:51821"]}"#,
                #"{"command":"join","token":"\#(Fixture.shared.token.text)"}"#,
                #"{"command":"revoke","name":"beta"}"#,
            ].map { Array($0.utf8) }
        })

    /// What a served route's health check reads from its raw ICMP sockets (bytes from the LAN);
    /// the first byte chooses the family.
    static let echoReply = FuzzTarget(
        name: "echo-reply",
        summary: "ICMP and ICMPv6 echo replies as the health checks' raw sockets deliver them",
        run: { bytes in
            guard let first = bytes.first else { return }
            _ = AgentDecoding.echoReply(Array(bytes.dropFirst()), v6: first & 1 == 1)
        },
        seeds: {
            let ipv4: [UInt8] = [0x45, 0, 0, 36, 0, 0, 0, 0, 64, 1, 0, 0, 192, 168, 10, 10, 192, 168, 10, 2]
            let reply: [UInt8] = [0, 0, 0, 0, 0x12, 0x34, 0, 7] + Array("meshwork".utf8)
            return [[0] + ipv4 + reply, [1, 129] + reply.dropFirst()]
        })

    static let yaml = FuzzTarget(
        name: "yaml",
        summary: "the configuration files' YAML parser",
        run: { bytes in _ = try? AgentDecoding.parseYAML(String(decoding: bytes, as: UTF8.self)) },
        seeds: { configurationSeeds() })

    static let configuration = FuzzTarget(
        name: "configuration",
        summary: "MeshdConfiguration from YAML (parser, keys, types, values)",
        run: { bytes in _ = try? MeshdConfiguration.parse(yaml: String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml") },
        seeds: { configurationSeeds() })

    /// `members.db` as meshd loads it at start, then the node meshd would build from it.
    static let membersDB = FuzzTarget(
        name: "members-db",
        summary: "members.db (MemberSnapshot) decoding, then starting a node from the snapshot",
        run: { bytes in
            let fixture = Fixture.shared
            guard let snapshot = try? MemberSnapshot(decoding: bytes, settings: fixture.settings, now: fixture.now) else { return }
            var table = MemberTable()
            for member in snapshot.members { table.put(member) }
            _ = try? MeshNode(
                identity: fixture.victim.identity, certificate: fixture.victim.certificate, settings: fixture.settings,
                announcement: LocalAnnouncement(gossipEndpoints: [AnnouncedEndpoint(.local, fixture.victim.endpoint)]),
                members: table, revocations: snapshot.revocations, previousVersion: snapshot.lastVersion,
                newcomer: snapshot.members.isEmpty, random: .seeded(1), now: fixture.now)
        },
        seeds: {
            let fixture = Fixture.shared
            let revocation = try! Revocation(
                networkID: fixture.settings.networkID, identityKey: Fixture.signingKey(8).publicKey, name: "gone",
                revokedAt: fixture.now.seconds, keepUntil: fixture.now.seconds + 86400, issuer: fixture.authority)
            return [
                MemberSnapshot().encoded,
                MemberSnapshot(lastVersion: 1_800_000_000_000, members: [fixture.member(fixture.peer, version: 5), fixture.member(fixture.third)],
                               revocations: [revocation]).encoded,
            ]
        })

    /// `authority.json` as the bootstrap node loads it at start (written to a scratch state
    /// directory, since meshd reads it from its state directory).
    static let authorityJSON = FuzzTarget(
        name: "authority-json",
        summary: "authority.json (invitations, certificates, revoked names) loading",
        run: { bytes in
            let fixture = Fixture.shared
            let state = StateDirectory(path: FilePath(scratchDirectory))
            guard writeFile(bytes, to: state.authorityStatePath.string) else { fail("meshwork-fuzz: cannot write \(state.authorityStatePath)") }
            _ = try? state.loadAuthority(settings: fixture.settings, key: fixture.authority)
        },
        seeds: {
            let fixture = Fixture.shared
            let directory = scratchDirectory
            let state = StateDirectory(path: FilePath(directory))
            var service = AuthorityService(
                settings: fixture.settings, key: fixture.authority, invitations: [fixture.invitation],
                certificates: [fixture.victim.certificate, fixture.peer.certificate], revokedNames: ["gone": fixture.now.seconds])
            _ = try? service.revoke(name: "peer", now: fixture.now)
            try! state.saveAuthority(service)
            let bytes = readFile(state.authorityStatePath.string)
            return [bytes, Array(#"{"invitations":[],"certificates":[],"revokedNames":{}}"#.utf8)]
        })

    static func configurationSeeds() -> [[UInt8]] {
        [
            """
            state_dir: /var/lib/meshwork
            log_level: info
            interface:
              name: mesh0
              backend: auto
              listen_port: 51820
              mtu: 1420
              fwmark: 0
            gossip:
              port: 51821
              bind: []
            endpoints:
              advertise: ["203.0.113.7:51820", "[2001:db8::7]:51820"]
              exclude_networks: [172.17.0.0/16]
            relay:
              enabled: true
              max_allocations: 256
              bandwidth_mbit: 2000
            """,
            "---\n# comment\ngossip: {}\nendpoints:\n  advertise:\n    - 192.0.2.1:51820\n    - '[2001:db8::1]:51820'\n",
            "interface: {name: \"mesh1\", mtu: 1280}\n",
            // Issue 12: served routes with checks, acceptance, and an exit served and used.
            """
            routes:
              serve:
                - prefix: 192.168.10.0/24
                  priority: 150
                  check: {interface: lan1, target: 192.168.10.1, timeout_ms: 300}
              accept: [192.168.0.0/16]
              table: 100
              hold_down: 5
            exit:
              serve: true
              priority: 200
              check: {interface: wan0}
              use: exit-1
              table: 51820
            """,
        ].map { Array($0.utf8) }
    }

    /// A state directory private to this process, removed at exit.
    static let scratchDirectory: String = {
        let parent = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(parent)/meshwork-fuzz.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fail("meshwork-fuzz: cannot create a scratch directory") }
        let path = String(cString: made)
        scratchToRemove = path
        atexit { if let path = AgentTargets.scratchToRemove { _ = unlink(path + "/authority.json"); _ = rmdir(path) } }
        return path
    }()

    nonisolated(unsafe) static var scratchToRemove: String?

    static func writeFile(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) -> Bool {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } == bytes.count
    }

    static func readFile(_ path: String) -> [UInt8] {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return [] }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { return bytes }
            bytes += buffer[..<count]
        }
    }
}
