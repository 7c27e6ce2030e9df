import Foundation
import MeshAgent
import MeshCore
import MeshCrypto
import MeshLab
import Testing

extension AgentLabTests {
    @Test("datagrams from a non-member are dropped and counted by reason in status --json")
    func nonMemberDrops() throws {
        try withMesh(["alpha", "bravo"], backend: backend) { mesh in
            let alpha = mesh["alpha"]
            // A stranger on the LAN, with an identity the network never enrolled.
            let stranger = try mesh.lab.addNamespace("stranger")
            let (inside, outside) = try mesh.lab.connect(stranger, mesh.switchNamespace, nameA: "lan0", nameB: "p-stranger")
            try mesh.lab.run(["ip", "link", "set", outside, "master", "br0"], in: mesh.switchNamespace)
            try mesh.lab.addAddress("198.51.100.66/24", to: inside, in: stranger)

            let status = try alpha.status()
            let networkID = try #require(NetworkID(bytes: hexBytes(status["networkID"] as? String ?? "")), "alpha's network id")
            let alphaIdentity = try StateDirectory(path: .init(alpha.stateDirectory)).loadOrCreateIdentityKey().publicKey
            let alphaPeer = ChannelPeer(nodeID: NodeID(identityKey: alphaIdentity), staticPublicKey: try X25519KeyAgreement().staticPublicKey(for: alphaIdentity))
            let target = try #require(SocketEndpoint("198.51.100.1:51821"))
            let now = Timestamp(nanoseconds: UInt64(Date().timeIntervalSince1970 * 1e9))
            var random = RandomSource.secure()

            // A well-formed handshake initiation and a one-shot datagram from the non-member.
            let outsider = SecureChannel(identity: Ed25519PrivateKey(), networkID: networkID)
            let initiation = outsider.send(Array(repeating: 0, count: 32), to: alphaPeer, at: target, now: now, random: &random)
            let oneShot = SecureChannel(identity: Ed25519PrivateKey(), networkID: networkID)
                .sendOneShot(Array(repeating: 0, count: 32), to: alphaPeer, at: target, now: now, random: &random)
            // An initiation carrying a certificate signed by some other authority (refused before its signature is checked).
            let forger = Ed25519PrivateKey(), impostor = Ed25519PrivateKey()
            let forged = try NodeCertificate(
                networkID: networkID, serial: 7, name: "mallory", identityKey: impostor.publicKey, wireGuardKey: X25519PrivateKey().publicKey,
                addresses: [try #require(IPAddress("100.80.9.9"))], routes: [], roles: [], notBefore: now.seconds - 60, notAfter: now.seconds + 3600,
                issuer: forger)
            let withCertificate = SecureChannel(identity: impostor, networkID: networkID)
            withCertificate.certificate = forged
            let certified = withCertificate.send(Array(repeating: 0, count: 32), to: alphaPeer, at: target, now: now, random: &random, includeCertificate: true)

            let datagrams: [(bytes: [UInt8], reason: String)] = [
                (Array("GET / HTTP/1.0\r\n\r\n".utf8), "unsupported-version"),
                ([0x01], "malformed"),
                ([0x01, 0x01, 0x00, 0x00, 0x00, 0x01, 0x02], "malformed"),
                ([0x01, 0x7E] + Array(repeating: 0, count: 40), "unknown-type"),
                ([0x01, 0x03, 0xDE, 0xAD, 0xBE, 0xEF] + Array(repeating: 0, count: 40), "unknown-session"),
                (try #require(initiation.first).bytes, "unknown-sender"),
                (try #require(oneShot.first).bytes, "unknown-sender"),
                // Its issuer is checked before any signature work: refused as foreign.
                (try #require(certified.first).bytes, "foreign-certificate"),
            ]
            #expect(certified.first?.bytes[1] == PacketType.handshakeInitiationWithCertificate.rawValue)
            let before = status["drops"] as? [String: Any] ?? [:]
            var expected: [String: Int] = [:]
            for datagram in datagrams {
                try mesh.lab.sendDatagram(datagram.bytes, to: "198.51.100.1", port: 51821, from: stranger)
                expected[datagram.reason, default: 0] += 1
            }
            func count(_ drops: [String: Any], _ reason: String) -> Int { (drops[reason] as? NSNumber)?.intValue ?? 0 }
            var after: [String: Any] = [:]
            let counted = try eventually(timeout: 30) {
                after = try alpha.status()["drops"] as? [String: Any] ?? [:]
                return expected.allSatisfy { reason, number in count(after, reason) - count(before, reason) >= number }
            }
            #expect(counted, "drops before \(before), after \(after), expected increments \(expected)")
            // Nothing the stranger sent made it a member.
            #expect(try alpha.peers().compactMap { $0["name"] as? String } == ["bravo"])
            #expect(try alpha.status()["peerCount"] as? Int == 1)
        }
    }
}

func hexBytes(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex, let next = text.index(index, offsetBy: 2, limitedBy: text.endIndex), let byte = UInt8(text[index..<next], radix: 16) {
        bytes.append(byte)
        index = next
    }
    return bytes
}
