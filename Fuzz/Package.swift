// swift-tools-version:6.0
//
// libFuzzer harnesses for every Meshwork decoder that reads bytes from outside the process.
// One executable holds every target and picks one by name (first argument, or MESHWORK_FUZZ_TARGET).
// Build and run it with scripts/fuzz (it needs `-Xswiftc -sanitize=fuzzer`); see docs/development.md.

import PackageDescription

let package = Package(
    name: "MeshworkFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "meshwork", path: ".."),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
    ],
    targets: [
        // Declares libFuzzer's driver so the harness's main can start it.
        .target(name: "CFuzzDriver"),
        .executableTarget(
            name: "meshwork-fuzz",
            dependencies: [
                "CFuzzDriver",
                .product(name: "MeshworkFuzzable", package: "meshwork"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Sources/MeshworkFuzz",
            // The entry point is `meshwork_fuzz_main` (EntryPoints.swift), which starts libFuzzer's driver.
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
