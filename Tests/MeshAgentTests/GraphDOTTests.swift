import MeshControl
import Testing

/// Issue 14, point 2: the DOT `meshctl graph` prints (the lab parses it with Graphviz).
@Suite struct GraphDOTTests {
    @Test func membersPathsRelaysAndGatewaysBecomeNodesAndEdges() {
        let graph = GraphReport(
            node: "alpha",
            members: [
                .init(name: "alpha", state: "alive", roles: ["authority", "relay"], isSelf: true),
                .init(name: "bravo", state: "alive", roles: [], isSelf: false),
                .init(name: "charlie", state: "alive", roles: [], isSelf: false),
                .init(name: "delta", state: "dead", roles: [], isSelf: false),
            ],
            paths: [
                .init(to: "bravo", kind: "direct", relay: nil, rttMilliseconds: 0.42),
                .init(to: "charlie", kind: "relay", relay: "alpha", rttMilliseconds: 21.7),
            ],
            relayLinks: [.init(member: "charlie", relay: "alpha", rttMilliseconds: 12)],
            routes: [RouteReport(
                prefix: "192.168.10.0/24", active: "bravo", reason: "highest priority", sinceSeconds: 3,
                gateways: [.init(name: "bravo", priority: 150, state: "active", reason: nil), .init(name: "charlie", priority: 100, state: "standby", reason: nil)],
                servedHere: false, accepted: true)])
        let dot = graph.dot
        #expect(dot.hasPrefix("graph mesh {") && dot.hasSuffix("}\n"))
        #expect(dot.contains(#""m:alpha" [label="alpha", shape=box, peripheries=2];"#))
        #expect(dot.contains(#""m:delta" [label="delta\ndead", shape=ellipse, style=dashed, color=gray, fontcolor=gray];"#))
        #expect(dot.contains(#""m:alpha" -- "m:bravo" [label="0.4 ms", penwidth=2];"#))
        #expect(dot.contains(#""m:alpha" -- "m:charlie" [label="via alpha 22 ms", style=dashed, color=orange];"#))
        #expect(dot.contains(#""m:charlie" -- "m:alpha" [label="12 ms", style=dotted, color=gray];"#))
        #expect(dot.contains(#""m:bravo" -- "p:192.168.10.0/24" [label="150 active", penwidth=2, color=darkgreen];"#))
        #expect(!dot.contains("m:delta\" --"), "no path is drawn to a dead member")
    }
}
