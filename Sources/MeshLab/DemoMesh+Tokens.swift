import Foundation

extension DemoMesh {
    /// Enrolls like ``enroll(network:prefix:prefix6:relays:)`` and returns the invitation token each
    /// host joined with, by name (tests replay them: a used token must stay harmless).
    public func enrollKeepingTokens(network: String = "demo", prefix: String = "100.80.0.0/16", prefix6: String = "fd5a:1::/48") throws -> [String: String] {
        guard let authority = nodes.first else { return [:] }
        try authority.meshctlChecked(["init", "--network", network, "--prefix", prefix, "--prefix6", prefix6, "--name", authority.name])
        var tokens: [String: String] = [:]
        for host in nodes.dropFirst() {
            let token = try authority.meshctlChecked(["invite", host.name]).trimmingCharacters(in: .whitespacesAndNewlines)
            let result = try host.meshctl(["join", token], timeout: 60)
            guard result.succeeded else {
                throw LabError.failed("\(host.name) could not join: \(result.errorOutput)\nlog:\n\(host.log(lastLines: 30))")
            }
            tokens[host.name] = token
        }
        for host in nodes {
            let status = try host.status()
            host.overlay = (status["addresses"] as? [String] ?? []).map { String($0.prefix(while: { $0 != "/" })) }
        }
        return tokens
    }
}
