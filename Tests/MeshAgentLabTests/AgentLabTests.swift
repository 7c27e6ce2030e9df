import Foundation
import MeshLab
import Testing

/// meshd and meshctl end to end, as an operator runs them: hosts in network namespaces (the demo's
/// topology: a LAN, an IPv6-only host, two hosts behind NAT routers), real WireGuard, real tokens.
/// `MESHWORK_AGENT_LAB=userspace` (tier `lab`, wireguard-go) or `kernel` (tier `kernel`, inside the
/// VM, netlink backend). Each test builds its own mesh and tears it down, even when it fails.
/// Tests are serialized: each runs several meshd, and the machine has two cores.
@Suite(
    "Agent lab",
    .serialized,
    .enabled(if: AgentLab.isEnabled, "set MESHWORK_AGENT_LAB=userspace or kernel (root): run by `scripts/test lab` and `scripts/test kernel`")
)
struct AgentLabTests {
    let backend: AgentLab.Backend

    init() throws {
        backend = try AgentLab.requirements()
    }
}
