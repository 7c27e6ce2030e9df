import Foundation
import MeshControl
import Testing

@Suite("Control requests on the wire")
struct ControlRequestTests {
    private func decode(_ line: String) throws -> ControlRequest {
        try JSONDecoder().decode(ControlRequest.self, from: Data(line.utf8))
    }

    private func object(_ request: ControlRequest) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(request)) as? NSDictionary)
    }

    @Test("hand-written lines, as in docs/operations.md, decode to the typed requests")
    func handWrittenLinesDecode() throws {
        #expect(try decode(#"{"command":"status"}"#) == .status)
        #expect(try decode(#"{"command":"peers"}"#) == .peers)
        #expect(try decode(#"{"command":"routes"}"#) == .routes)
        #expect(try decode(#"{"command":"leave"}"#) == .leave)
        #expect(try decode(#"{"command":"exit"}"#) == .exit(use: nil))
        #expect(try decode(#"{"command":"exit","use":"auto"}"#) == .exit(use: "auto"))
        #expect(try decode(#"{"command":"revoke","name":"beta"}"#) == .revoke(name: "beta"))
        #expect(try decode(#"{"command":"join","token":"mw1-abc"}"#) == .join(token: "mw1-abc"))
        #expect(try decode(#"{"command":"init","network":"home","prefix":"100.80.0.0/16"}"#)
            == .initialize(InitializeRequest(network: "home", prefix: "100.80.0.0/16")))
        #expect(try decode(#"{"command":"invite","name":"beta","ttlSeconds":60,"relay":true,"routes":["10.1.0.0/16"]}"#)
            == .invite(InviteRequest(name: "beta", ttlSeconds: 60, relay: true, routes: ["10.1.0.0/16"])))
    }

    @Test("every request encodes to one flat object that decodes to itself")
    func everyRequestRoundTrips() throws {
        let requests: [ControlRequest] = [
            .status, .peers, .routes, .graph, .leave, .revoke(name: "beta"), .join(token: "mw1-abc"), .exit(use: nil), .exit(use: "exit-1"),
            .initialize(InitializeRequest(network: "home", prefix: "100.80.0.0/16", prefix6: "fd5a:1::/48", name: "alpha")),
            .invite(InviteRequest(name: "beta", ttlSeconds: 3600, address: "100.80.0.7", relay: false, routes: [], endpoints: ["192.0.2.1:51821"], exit: true)),
            .ping(PingRequest(name: "beta")), .ping(PingRequest(name: "beta", count: 5, path: .inUse)),
        ]
        for request in requests {
            #expect(try decode(String(decoding: JSONEncoder().encode(request), as: UTF8.self)) == request)
            #expect(try object(request)["command"] as? String == request.command)
        }
        #expect(try object(.revoke(name: "beta")) == ["command": "revoke", "name": "beta"] as NSDictionary)
        #expect(try object(.initialize(InitializeRequest(network: "n", prefix: "100.80.0.0/16")))
            == ["command": "init", "network": "n", "prefix": "100.80.0.0/16"] as NSDictionary)
        #expect(Set(ControlRequest.commands).count == 11)
    }

    @Test("a line that is no request is refused with a sentence that says why", arguments: [
        (#"{"command":"reboot"}"#, "unknown command \"reboot\"; this meshd understands status, peers, routes, graph, exit, init, invite, join, revoke, leave, ping"),
        (#"{"command":"ping"}"#, "ping needs \"name\": meshctl ping NAME"),
        (#"{"command":"ping","name":"beta","path":"sideways"}"#, "ping: \"path\" has a value this meshd does not know"),
        (#"{"command":"join"}"#, "join needs \"token\": meshctl join TOKEN"),
        (#"{"command":"revoke"}"#, "revoke needs \"name\": meshctl revoke NAME"),
        (#"{"command":"init","network":"home"}"#, "init needs \"prefix\""),
        (#"{"command":"invite","name":7}"#, "invite: \"name\" has the wrong type"),
    ])
    func invalidRequestsSaySo(line: String, problem: String) throws {
        #expect(throws: InvalidControlRequest(description: problem)) { try decode(line) }
    }

    @Test("a line without a command is not valid JSON for the protocol")
    func missingCommandIsADecodingError() {
        #expect(throws: DecodingError.self) { try decode(#"{"name":"beta"}"#) }
    }
}
