// swift-tools-version:6.0
//
// Meshwork: a gossip-based WireGuard mesh agent for Linux.
// Module layering (one-way): C shims ← MeshAddressing, MeshCrypto ← MeshCore ← MeshAgent ← executables;
// WireGuardControl sits on MeshAddressing and MeshCrypto only (not the protocol core).
// See docs/architecture.md.

import PackageDescription

let package = Package(
    name: "meshwork",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "meshd", targets: ["meshd"]),
        .executable(name: "meshctl", targets: ["meshctl"]),
        .executable(name: "meshsim", targets: ["meshsim"]),
        .executable(name: "meshlab", targets: ["meshlab"]),
        .executable(name: "AgentBenchmark", targets: ["AgentBenchmark"]),
        // For the fuzz package in Fuzz/ only (a package can depend only on products).
        .library(name: "MeshworkFuzzable", targets: ["MeshAddressing", "MeshCrypto", "MeshCore", "WireGuardControl", "MeshControl", "MeshAgentCore", "MeshAgent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
    ],
    targets: [
        // libsodium, found through pkg-config (Debian: libsodium-dev).
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // Thin Swift layer over libsodium: signatures, key agreement, AEAD, hashing, secrets.
        .target(
            name: "MeshCrypto",
            dependencies: ["CSodium"]
        ),
        // Address types (IPv4/IPv6 addresses, prefixes, socket endpoints): no dependencies.
        .target(name: "MeshAddressing"),
        // The sans-I/O core: trust objects, wire codec, protocol state machines (re-exports MeshAddressing).
        .target(
            name: "MeshCore",
            dependencies: [
                "MeshAddressing",
                "MeshCrypto",
                .product(name: "Collections", package: "swift-collections"),
            ]
        ),
        // Deterministic simulator: many MeshCore nodes on virtual time and a virtual network.
        .target(
            name: "MeshSim",
            dependencies: [
                "MeshAgentCore",
                "MeshCore",
                "MeshCrypto",
                .product(name: "Collections", package: "swift-collections"),
            ]
        ),
        .executableTarget(
            name: "meshsim",
            dependencies: [
                "MeshSim",
                "MeshCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // sendmmsg(2) and UDP GSO for Swift (the relay's batched sends).
        .target(name: "CUDP"),
        // malloc_trim(3) for Swift, and meshd's allocator settings applied before any thread starts.
        .target(name: "CHeap"),
        .target(name: "CDaemonAllocator"),
        // Platform layer of the agent: state directory, configuration, and (later) the daemon runtime.
        // The control protocol between meshctl and meshd (JSON lines over a Unix socket), its client, and
        // what the two executables share (version, command failures): all meshctl links besides MeshCrypto.
        .target(name: "MeshControl"),
        // The agent's decisions without I/O (paths, relays, first handshakes, endpoint trials): fed with
        // events and a clock, returning actions; run by meshd and by the simulator.
        .target(name: "MeshAgentCore", dependencies: ["MeshCore", "MeshCrypto"]),
        .target(
            name: "MeshAgent",
            dependencies: [
                "CHeap",
                "CUDP",
                "MeshAgentCore",
                "MeshControl",
                "MeshCore",
                "MeshCrypto",
                "WireGuardControl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .executableTarget(
            name: "meshd",
            dependencies: [
                "CDaemonAllocator",
                "MeshAgent",
                "MeshControl",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "meshctl",
            dependencies: [
                "MeshControl",
                "MeshCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // TEST TOOLING ONLY: a hostile member holding a real member's keys that floods a lab mesh with forged
        // and extreme messages of every type (used by the lab test HostileMemberLabTests; never shipped).
        .executableTarget(
            name: "meshhostile",
            dependencies: [
                "MeshAgent",
                "MeshCore",
                "MeshCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Linux netlink, rtnetlink and WireGuard UAPI headers for Swift, plus macro helpers.
        .target(name: "CNetlink"),
        // WireGuard device control: kernel backend (generic netlink), userspace backend (UAPI),
        // rtnetlink link management, diff-only change sets.
        .target(
            name: "WireGuardControl",
            dependencies: ["CNetlink", "MeshAddressing", "MeshCrypto"]
        ),
        // Network-namespace lab for tests, benchmarks and demos: namespaces, veth, processes, nftables.
        .target(
            name: "MeshLab",
            dependencies: []
        ),
        // `swift package lab up|show|down`: the demo from SwiftPM.
        .plugin(
            name: "MeshLabPlugin",
            capability: .command(
                intent: .custom(verb: "lab", description: "Bring up, show or tear down the five-host demo mesh in network namespaces (root)."),
                permissions: [.allowNetworkConnections(scope: .all(), reason: "The demo creates network namespaces and runs meshd.")]),
            dependencies: ["meshlab"]
        ),
        // The demo: a five-host mesh in network namespaces (README's main command).
        .executableTarget(
            name: "meshlab",
            dependencies: [
                "MeshLab",
                "meshd",
                "meshctl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Benchmarks live apart from Sources; run in release. See docs/benchmarks.md.
        .executableTarget(
            name: "WireGuardBenchmark",
            dependencies: ["WireGuardControl", "MeshLab", "MeshCore", "MeshCrypto"],
            path: "Benchmarks/WireGuardBenchmark"
        ),
        // What the benchmarks share: clocks, progress, statistics, /proc readings, options, lab teardown.
        .target(name: "BenchmarkSupport", dependencies: ["MeshLab"], path: "Benchmarks/Support"),
        // Relay and failover: outage, time back to direct, throughput, raw forwarding (needs meshd and meshctl beside it).
        .executableTarget(
            name: "RelayBenchmark",
            dependencies: [
                "BenchmarkSupport", "MeshAgent", "MeshLab", "MeshCore", "meshd", "meshctl",
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/RelayBenchmark"
        ),
        // The agent: join → first ping, roaming outage, pings lost across a meshd restart, meshd's memory and
        // idle CPU with 5 hosts and with 1,000 live simulated members (needs meshd and meshctl beside it).
        .executableTarget(
            name: "AgentBenchmark",
            dependencies: [
                "BenchmarkSupport", "MeshAgent", "MeshLab", "MeshCore", "MeshCrypto", "meshd", "meshctl",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Benchmarks/AgentBenchmark"
        ),
        .testTarget(name: "WireGuardControlTests", dependencies: ["WireGuardControl", "MeshCore", "MeshCrypto"]),
        // The contract suite against real WireGuard; enabled by MESHWORK_WG_BACKEND (tiers lab and kernel).
        .testTarget(
            name: "WireGuardContractTests",
            dependencies: ["WireGuardControl", "MeshLab", "MeshCore", "MeshCrypto"]
        ),
        // Relay and failover scenarios (lab tier; enabled by MESHWORK_AGENT_LAB).
        .testTarget(name: "RelayLabTests", dependencies: ["MeshLab", "meshd", "meshctl"]),
        .testTarget(name: "MeshCryptoTests", dependencies: ["MeshCrypto"]),
        .testTarget(name: "MeshCoreTests", dependencies: ["MeshCore", "MeshCrypto"]),
        .testTarget(name: "MeshSimTests", dependencies: ["MeshSim", "MeshAgentCore", "MeshCore"]),
        .testTarget(name: "MeshAgentTests", dependencies: ["MeshAgent", "MeshAgentCore", "MeshControl"]),
        // Runs the built executables as a user would (depends on them so they are built first).
        .testTarget(name: "CLITests", dependencies: ["meshctl", "meshd", "MeshCrypto"]),
        // meshd and meshctl end to end in network namespaces; enabled by MESHWORK_AGENT_LAB (tiers lab and kernel).
        .testTarget(
            name: "MeshAgentLabTests",
            dependencies: ["MeshLab", "MeshAgent", "MeshCore", "MeshCrypto", "meshd", "meshctl", "meshhostile"]
        ),
    ]
)
