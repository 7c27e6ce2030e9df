import Foundation

extension DemoMesh {
    /// The S0 set-up of issue 12: alpha (authority, takes routes), and bravo and charlie, both
    /// granted and serving `site` (192.168.10.0/24), each with a LAN port (`lan1`, .2 and .3) on
    /// the site's bridge, where the server (`server`, .10) lives; the server has no route into the
    /// mesh (the gateways masquerade). `configs`: each host's meshd.yaml text. Returns the mesh,
    /// enrolled and converged, and the site's namespace.
    public static func siteBehindTwoGateways(
        lab: Lab, binaries: String, directory: String, backend: String, configs: [String: String],
        site: String = "192.168.10.0/24", server: String = "192.168.10.10", prefix: String = "100.80.0.0/16", prefix6: String = "fd5a:1::/48"
    ) throws -> (mesh: DemoMesh, site: String) {
        var files: [String: String] = [:]
        for (name, text) in configs {
            files[name] = "\(directory)/\(name).yaml"
            try text.write(toFile: files[name]!, atomically: true, encoding: .utf8)
        }
        let specs = [("alpha", 1), ("bravo", 2), ("charlie", 3)].map { name, host in
            HostSpec(name: name, ipv4: "198.51.100.\(host)", ipv6: "2001:db8:100::\(host)", daemonArguments: files[name].map { ["--config", $0] } ?? [])
        }
        let mesh = try DemoMesh(lab: lab, binaries: binaries, directory: directory, backend: backend, specs: specs)
        do {
            let namespace = try lab.addNamespace("site")
            try lab.run(["ip", "link", "add", "br0", "type", "bridge"], in: namespace)
            try lab.run(["ip", "link", "set", "br0", "up"], in: namespace)
            try lab.addAddress("\(server)/24", to: "br0", in: namespace)
            let base = server.split(separator: ".").dropLast().joined(separator: ".")
            for (name, host) in [("bravo", 2), ("charlie", 3)] {
                let (_, port) = try lab.connect(mesh[name].namespace, namespace, addressA: "\(base).\(host)/24", nameA: "lan1", nameB: "p-\(name)")
                try lab.run(["ip", "link", "set", port, "master", "br0"], in: namespace)
            }
            try mesh.enroll(prefix: prefix, prefix6: prefix6, routes: ["bravo": [site], "charlie": [site]])
            try mesh.waitForFullMesh(timeout: 90)
            return (mesh, namespace)
        } catch {
            throw LabError.failed("\(error)\n\(mesh.diagnostics())")
        }
    }
}
