import Foundation
import MeshLab
import Testing

extension AgentLabTests {
    @Test("bad tokens: malformed, mistyped, truncated, expired, used twice, foreign, unreachable bootstrap each fail with their own message")
    func badTokens() throws {
        try withMesh(["alpha", "bravo", "charlie", "delta"], backend: backend, enroll: false) { mesh in
            let alpha = mesh["alpha"], bravo = mesh["bravo"], charlie = mesh["charlie"], delta = mesh["delta"]
            try alpha.meshctlChecked(["init", "--network", "demo", "--prefix", AgentLab.prefix, "--prefix6", AgentLab.prefix6, "--name", "alpha"])
            func invite(_ arguments: [String], on host: MeshLabNode? = nil) throws -> String {
                try (host ?? alpha).meshctlChecked(["invite"] + arguments).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            func expectRefused(_ host: MeshLabNode, _ token: String, _ message: String, _ what: String) throws {
                let result = try host.meshctl(["join", token], timeout: 90)
                #expect(result.status == 1, "\(what): exit status \(result.status)")
                #expect(result.errorOutput.contains(message), "\(what): want “\(message)”, got: \(result.errorOutput)")
                let status = try host.status()
                #expect(status["enrollment"] as? String == "waiting", "\(what): \(host.name) must still wait for an enrollment")
                #expect(status["name"] is NSNull && status["network"] is NSNull, "\(what): an un-enrolled node reports name and network as null")
            }

            let good = try invite(["bravo"])
            try expectRefused(bravo, "hello", "this is not a Meshwork invitation token", "plain text")
            try expectRefused(bravo, "mw1-***not*base64***", "characters that cannot be part of a token", "not base64")
            try expectRefused(bravo, "mw9-" + good.dropFirst(4), "from a newer or older Meshwork", "another format version")
            for dropped in [3, 4, 5] { try expectRefused(bravo, String(good.dropLast(dropped)), "cut off", "truncated by \(dropped)") }
            var mistyped = Array(good)
            let index = mistyped.count / 2
            mistyped[index] = mistyped[index] == "A" ? "B" : "A"
            try expectRefused(bravo, String(mistyped), "checksum does not match", "one character mistyped")

            let shortLived = try invite(["echo", "--ttl", "1s"])
            usleep(2_500_000)
            try expectRefused(bravo, shortLived, "the token expired", "expired")

            let unreachable = try invite(["foxtrot", "--endpoint", "198.51.100.99:51821"])
            try expectRefused(bravo, unreachable, "no answer from the bootstrap node at 198.51.100.99:51821 after", "unreachable bootstrap")

            // Another network's token pointing at this network's node: alpha does not know it.
            try delta.meshctlChecked(["init", "--network", "other", "--prefix", "100.81.0.0/16", "--name", "delta"])
            let foreign = try invite(["stranger", "--endpoint", "[2001:db8:100::1]:51821"], on: delta)
            try expectRefused(charlie, foreign, "the bootstrap node does not know this token", "token of another network")

            // The good token works once; a second host gets "already used".
            let joined = try bravo.meshctl(["join", good], timeout: 90)
            #expect(joined.status == 0, "the good token: \(joined)")
            try expectRefused(charlie, good, "already used", "used twice")

            // A member cannot join again; a fresh token still works for the host that failed so often.
            let result = try bravo.meshctl(["join", try invite(["golf"])])
            #expect(result.status == 1 && result.errorOutput.contains("already a member of network demo"), "join on a member: \(result)")
            let fresh = try charlie.meshctl(["join", try invite(["charlie"])], timeout: 90)
            #expect(fresh.status == 0, "charlie joins with a fresh token after the failures: \(fresh)")
        }
    }
}
