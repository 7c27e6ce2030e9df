import CNetlink
#if canImport(Glibc)
import Glibc
#endif

extension LinkManager {
    /// Moves the link named `name` into network namespace `namespace` (a name under
    /// `/var/run/netns`, or a path). A WireGuard interface keeps its UDP socket in the namespace it
    /// was created in: the encrypted traffic stays here, the clear traffic moves there.
    public func moveLink(named name: String, toNamespace namespace: String) throws {
        let path = NetworkNamespace.path(for: namespace)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw WireGuardControlError.namespaceUnavailable(name: namespace, errno: errno)
        }
        defer { close(descriptor) }
        try request("moving \(name) into namespace \(namespace)") { writer, sequence in
            let start = writer.beginMessage(type: UInt16(RTM_NEWLINK), flags: UInt16(NLM_F_REQUEST | NLM_F_ACK), sequence: sequence)
            writer.appendStruct(ifinfomsg())
            writer.appendAttribute(UInt16(IFLA_IFNAME), string: name)
            writer.appendAttribute(UInt16(IFLA_NET_NS_FD), integer: UInt32(bitPattern: descriptor))
            writer.endMessage(start)
        }
    }
}
