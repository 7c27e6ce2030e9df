import MeshCore
import Testing

@Suite struct AddressingTests {
    @Test func parsesAndPrintsAddresses() {
        #expect(IPAddress("192.0.2.1")?.description == "192.0.2.1")
        #expect(IPAddress("2001:0db8:0000:0000:0000:0000:0000:0001")?.description == "2001:db8::1")
        #expect(IPAddress("::ffff:192.0.2.1")?.isIPv4 == false)
        #expect(IPAddress("192.0.2.256") == nil)
        #expect(IPAddress("fe80::1%eth0") == nil)
        #expect(IPAddress(bytes: [192, 0, 2, 1]) == IPAddress("192.0.2.1"))
        #expect(IPAddress("2001:db8::1").map { IPAddress(bytes: $0.bytes) } == IPAddress("2001:db8::1"))
    }

    @Test func prefixes() throws {
        let prefix = try IPPrefix(parsing: "100.80.0.0/16")
        #expect(prefix.contains(IPAddress("100.80.7.9")!))
        #expect(!prefix.contains(IPAddress("100.81.0.1")!))
        #expect(prefix.contains(try IPPrefix(parsing: "100.80.4.0/24")))
        #expect(!prefix.contains(try IPPrefix(parsing: "100.0.0.0/8")))
        let v6 = try IPPrefix(parsing: "fd5a:1::/48")
        #expect(v6.contains(IPAddress("fd5a:1:0:ffff::1")!))
        #expect(!v6.contains(IPAddress("fd5a:2::1")!))
        #expect(!v6.contains(IPAddress("100.80.0.1")!))
        #expect(try IPPrefix(parsing: "0.0.0.0/0").contains(IPAddress("203.0.113.1")!))
        #expect(try IPPrefix(parsing: "::/0").contains(IPAddress("2001:db8::")!))
        #expect(IPPrefix(containing: IPAddress("2001:db8::1")!, length: 127)?.description == "2001:db8::/127")
        #expect(throws: IPPrefixError.hostBitsSet("100.80.0.1/16", suggestion: "100.80.0.0/16")) {
            try IPPrefix(parsing: "100.80.0.1/16")
        }
        #expect(throws: IPPrefixError.invalidLength("10.0.0.0/-1", maximum: 32)) { try IPPrefix(parsing: "10.0.0.0/-1") }
        #expect(throws: IPPrefixError.missingLength("10.0.0.0")) { try IPPrefix(parsing: "10.0.0.0") }
    }

    @Test func endpoints() {
        #expect(SocketEndpoint("192.0.2.1:51820")?.description == "192.0.2.1:51820")
        #expect(SocketEndpoint("[2001:db8::1]:51820")?.description == "[2001:db8::1]:51820")
        #expect(SocketEndpoint("2001:db8::1:51820") == nil)
        #expect(SocketEndpoint("192.0.2.1:0") == nil)
        #expect(SocketEndpoint("192.0.2.1:65536") == nil)
        #expect(SocketEndpoint("192.0.2.1") == nil)
        #expect(SocketEndpoint("[2001:db8::1]51820") == nil)
    }
}
