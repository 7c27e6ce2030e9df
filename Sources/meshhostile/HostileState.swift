import Foundation
import MeshAgent
import MeshCore
import MeshCrypto

/// What the hostile member holds: a real enrolled member's keys, certificate and network settings,
/// and the members it learned (read from the state directory of an enrolled meshd, never written).
struct HostileState {
    let identity: Ed25519PrivateKey
    let wireGuardKey: X25519PrivateKey
    let enrollment: Enrollment
    /// Every other member known to the enrolled node (certificate and record).
    var members: [Member]

    var settings: NetworkSettings { enrollment.settings }
    var certificate: NodeCertificate { enrollment.certificate }
    var localID: NodeID { certificate.nodeID }

    /// Loads the keys and enrollment from `path`, then waits up to `timeout` seconds for `members.db`
    /// to list at least `expectedMembers` other members (meshd writes it every 10 s at most).
    static func load(stateDirectory path: String, expectedMembers: Int, timeout: Double) throws -> HostileState {
        let directory = StateDirectory(path: .init(path))
        for file in [directory.identityKeyPath, directory.wireGuardKeyPath, directory.certificatePath] {
            guard FileManager.default.fileExists(atPath: file.string) else {
                throw HostileError("\(file) is missing: meshhostile needs the state directory of an enrolled member")
            }
        }
        let identity = try directory.loadOrCreateIdentityKey()
        let wireGuardKey = try directory.loadOrCreateWireGuardKey()
        guard let enrollment = try directory.loadEnrollment() else { throw HostileError("\(path) holds no enrollment") }
        var state = HostileState(identity: identity, wireGuardKey: wireGuardKey, enrollment: enrollment, members: [])
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            let localID = state.localID
            state.members = ((try? readMembers(directory.membersPath.string, settings: enrollment.settings)) ?? []).filter { $0.id != localID }
            if state.members.count >= expectedMembers { return state }
            usleep(500_000)
        } while Date() < deadline
        throw HostileError("\(directory.membersPath) lists \(state.members.count) other members, expected \(expectedMembers)")
    }

    /// Decodes `members.db` without the damaged-file handling of `StateDirectory` (which would move
    /// the file aside: meshhostile never changes the member's state).
    private static func readMembers(_ path: String, settings: NetworkSettings) throws -> [Member] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        return try MemberSnapshot(decoding: bytes, settings: settings, now: .wallClock).members
    }
}

/// A failure of meshhostile, printed as is.
struct HostileError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Timestamp {
    /// The wall clock (meshhostile is an I/O edge: it reads the real time).
    static var wallClock: Timestamp { Timestamp(nanoseconds: UInt64(max(0, Date().timeIntervalSince1970) * 1e9)) }
}
