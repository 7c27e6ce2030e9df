import Foundation
@testable import MeshLab
import Testing

/// The lab's own promises (the later NAT and loss scenarios rely on them). Root is needed, so this
/// suite runs with the contract suite in tiers lab and kernel.
@Suite(
    "Namespace lab",
    .serialized,
    .enabled(if: ContractBackend.variableIsSet, "needs root: runs with the contract suite (`scripts/test lab` / `scripts/test kernel`)")
)
struct LabTests {
    @Test("teardown deletes the namespaces and stops the processes it started, by PID")
    func teardown() throws {
        let lab = try Lab(prefix: "mwlt")
        let a = try lab.addNamespace("a")
        let sleeper = try lab.start(["sleep", "600"], in: a)
        #expect(sleeper.isRunning)
        var cleaned = false
        lab.addCleanup { cleaned = true }
        lab.teardown()
        #expect(!sleeper.isRunning)
        #expect(cleaned)
        let list = try LabCommand.run(["ip", "netns", "list"]).output
        #expect(!list.contains(a))
        lab.teardown()  // idempotent
    }

    @Test("random drop loses packets; removing it restores the path; masquerade loads")
    func nftables() throws {
        let lab = try Lab(prefix: "mwlt")
        defer { lab.teardown() }
        let a = try lab.addNamespace("a"), b = try lab.addNamespace("b")
        try lab.connect(a, b, addressA: "192.0.2.1/24", addressB: "192.0.2.2/24")
        #expect(try lab.ping("192.0.2.2", from: a, count: 3).received == 3)
        try lab.randomDrop(percent: 100, in: b)
        #expect(try lab.ping("192.0.2.2", from: a, count: 3, wait: 1).received == 0)
        try lab.stopRandomDrop(in: b)
        try lab.randomDrop(percent: 50, in: b)
        let lossy = try lab.ping("192.0.2.2", from: a, count: 100, interval: 0.01, wait: 1)
        #expect(lossy.transmitted == 100 && lossy.received > 5 && lossy.received < 95, "50 % drop each way: \(lossy)")
        try lab.stopRandomDrop(in: b)
        #expect(try lab.ping("192.0.2.2", from: a, count: 3).received == 3)
        try lab.enableForwarding(in: b)
        try lab.masquerade(outOf: "v-a", in: b)
        #expect(try lab.run(["nft", "list", "table", "ip", "meshlab_nat"], in: b).output.contains("masquerade"))
    }

    @Test("names are unique per lab; a stale namespace of a dead lab is swept")
    func staleSweep() throws {
        let first = try Lab(prefix: "mwlt"), second = try Lab(prefix: "mwlt")
        defer { first.teardown(); second.teardown() }
        #expect(first.tag != second.tag)
        #expect(first.uniqueInterfaceName() != first.uniqueInterfaceName())
        #expect(first.uniqueInterfaceName("wgverylongstem").utf8.count <= 15)
        // A namespace named as if by a lab whose process (PID 999999999 cannot exist) is gone.
        let stale = "mwlt-999999999-dead-x"
        try LabCommand.run(["ip", "netns", "add", stale])
        _ = try Lab(prefix: "mwlt")
        #expect(!(try LabCommand.run(["ip", "netns", "list"]).output.contains(stale)))
    }
}

/// How the lab learns a child's exit status when Foundation is slow to notice (no root needed).
@Suite("Lab child exit")
struct ChildExitTests {
    @Test("a zombie's exit status is read from /proc: an exit code, or 128 + the signal")
    func zombieStatus() throws {
        // `sleep` never reaps the subshell it inherits, so the subshell stays a zombie.
        let holder = try LabProcess(["sh", "-c", "(exit 3) & echo $!; exec sleep 5"], in: nil)
        defer { holder.stop(grace: 0) }
        var pid: Int32?
        for _ in 0..<200 where pid == nil {
            pid = Int32(holder.output.trimmingCharacters(in: .whitespacesAndNewlines))
            if pid == nil { usleep(10_000) }
        }
        let zombie = try #require(pid)
        var raw: Int32?
        for _ in 0..<200 where raw == nil {
            raw = ChildExit.zombieExitCode(zombie)
            if raw == nil { usleep(10_000) }
        }
        #expect(raw.map(ChildExit.shellStatus(waitStatus:)) == 3)
        #expect(ChildExit.shellStatus(waitStatus: 9) == 137)
        #expect(ChildExit.zombieExitCode(getpid()) == nil, "a running process is no zombie")
    }
}
