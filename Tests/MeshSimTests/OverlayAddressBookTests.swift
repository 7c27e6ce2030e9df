import MeshAgentCore
import MeshCore
import Testing

/// Announced prefixes that cover another member's overlay address are never installed as the
/// announcer's allowed IPs (issue 10).
@Suite struct OverlayAddressBookTests {
    let me = NodeID(1), mallory = NodeID(2), victim = NodeID(3)

    @Test func prefixesCoveringAnotherMembersAddressAreDroppedAndTheRestKept() {
        let book = OverlayAddressBook([
            (id: me, addresses: [IPAddress("100.80.0.1")!, IPAddress("fd5a:1::1")!]),
            (id: mallory, addresses: [IPAddress("100.80.0.2")!, IPAddress("fd5a:1::2")!]),
            (id: victim, addresses: [IPAddress("100.80.0.3")!, IPAddress("fd5a:1::3")!]),
        ])
        let own = [IPPrefix("100.80.0.2/32")!, IPPrefix("fd5a:1::2/128")!]
        let lan = IPPrefix("192.168.7.0/24")!
        let stealing = [
            IPPrefix("100.80.0.3/32")!, IPPrefix("100.80.0.0/16")!, IPPrefix("0.0.0.0/0")!, IPPrefix("fd5a:1::3/128")!,
            IPPrefix("fd5a:1::/48")!, IPPrefix("::/0")!, IPPrefix("100.80.0.0/30")!,
        ]
        let (allowed, refused) = book.filter(own + [lan] + stealing, of: mallory)
        #expect(allowed == own + [lan])
        #expect(refused == stealing)
        // A prefix covering only the announcer's own address stays.
        #expect(book.filter([IPPrefix("100.80.0.2/31")!], of: mallory).allowed.isEmpty, "100.80.0.2/31 also covers 100.80.0.3")
        #expect(book.filter([IPPrefix("fd5a:1::2/128")!], of: mallory).refused.isEmpty)
    }
}
