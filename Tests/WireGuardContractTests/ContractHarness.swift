import Foundation
import MeshCore
import MeshCrypto
import MeshLab
import Testing
import WireGuardControl

/// Which WireGuard the contract suite runs against, from `MESHWORK_WG_BACKEND`.
enum ContractBackend: String {
    case userspace
    case kernel

    static let configured: ContractBackend? = ProcessInfo.processInfo.environment["MESHWORK_WG_BACKEND"].flatMap(ContractBackend.init)
    static let variableIsSet = ProcessInfo.processInfo.environment["MESHWORK_WG_BACKEND"] != nil

    /// The backend, or a failure saying how to select one (never a silent skip).
    static func require() throws -> ContractBackend {
        guard let backend = configured else {
            throw ContractSetupError("MESHWORK_WG_BACKEND must be 'userspace' or 'kernel', not '\(ProcessInfo.processInfo.environment["MESHWORK_WG_BACKEND"] ?? "")'")
        }
        return backend
    }
}

struct ContractSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One WireGuard interface in a lab namespace, created the way the backend creates it: a kernel
/// link of kind `wireguard`, or a wireguard-go daemon.
final class WireGuardNode: @unchecked Sendable {
    let namespace: String
    let interface: String
    let device: any WireGuardDevice
    let links: LinkManager
    let privateKey = X25519PrivateKey()
    let port: UInt16
    /// The daemon, for the userspace backend.
    let daemon: WireGuardGoProcess?

    var publicKey: X25519PublicKey { privateKey.publicKey }

    init(lab: Lab, namespace: String, backend: ContractBackend, port: UInt16, tunnelAddress: String? = nil) throws {
        self.namespace = namespace
        self.port = port
        links = try LinkManager(namespace: namespace)
        switch backend {
        case .kernel:
            interface = "wg-\(namespace.split(separator: "-").last ?? "x")".prefix(15).description
            try links.createLink(named: interface, kind: "wireguard")
            device = try KernelWireGuardDevice(interfaceName: interface, namespace: namespace)
            daemon = nil
        case .userspace:
            interface = lab.uniqueInterfaceName("wg")
            let process = try WireGuardGoProcess(interfaceName: interface, namespace: namespace)
            lab.addCleanup { process.stop() }
            device = process.device()
            daemon = process
        }
        if let tunnelAddress, let address = InterfaceAddress(tunnelAddress) {
            try links.addAddress(address, to: interface)
        }
        try links.setUp(true, interface)
    }

    /// The desired state with this node's key and port and the given peers.
    func desired(_ peers: [WireGuardDesiredPeer], fwmark: UInt32? = nil) -> WireGuardDesiredState {
        WireGuardDesiredState(privateKey: privateKey, listenPort: port, fwmark: fwmark, peers: peers)
    }
}

/// Checks the tools a contract test needs; a missing one fails the test with the package to install.
func requireTools(_ backend: ContractBackend) throws {
    var tools = ["ip", "ping"]
    if backend == .userspace { tools.append("wireguard-go") }
    for tool in tools { _ = try LabCommand.resolve(tool) }
}

/// Distinct prefixes inside the documentation ranges, for allowed IPs.
enum ContractPrefixes {
    /// `2001:db8:N::/48`, N < 65536.
    static func v6(_ n: Int) -> IPPrefix { IPPrefix(containing: .v6(IPv6Address(high: 0x2001_0db8_0000_0000 | UInt64(n) << 16, low: 0)), length: 48)! }
    /// `2001:db8:ffff:N::/64`.
    static func v6Host(_ n: Int) -> IPPrefix { IPPrefix(containing: .v6(IPv6Address(high: 0x2001_0db8_ffff_0000 | UInt64(n), low: 0)), length: 64)! }
    /// `203.0.113.N/32`, N < 256.
    static func v4(_ n: Int) -> IPPrefix { IPPrefix(host: .v4(IPv4Address(0xCB00_7100 | UInt32(n)))) }
}

extension IPPrefix {
    init(_ text: StaticString) { self = IPPrefix("\(text)")! }
}
