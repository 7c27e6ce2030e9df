import MeshAgentCore
import MeshCore

extension Agent {
    /// Renews this node's certificate when a third of its validity is left (``CertificateRenewal``
    /// decides): the authority node signs a new one itself; other nodes ask the authority over the
    /// secure channel (retrying hourly). Nothing for the operator to do.
    func renewCertificateIfDue(now: Timestamp) {
        guard let node, let certificate = enrollment?.certificate else { return }
        switch renewal.step(for: certificate, now: now, isAuthority: node.authority != nil, members: node.members) {
        case .wait:
            return
        case .renewLocally:
            guard var service = node.authority else { return }
            do {
                let renewed = try service.renew(name: certificate.name, now: now)
                node.authority = service
                saveAuthority()
                install(renewed, now: now)
            } catch {
                logger.error("cannot renew this node's certificate", metadata: ["error": "\(error)"])
            }
        case .noAuthorityReachable:
            logger.warning("the certificate expires soon and no authority node is reachable to renew it", metadata: ["expires": "\(certificate.notAfter)"])
        case let .ask(authority):
            logger.info("asking the authority to renew this node's certificate", metadata: ["authority": "\(node.members[authority]?.name ?? authority.hex)"])
            node.sendExtension(type: MessageCode.renewalRequest.rawValue, body: [], to: authority, now: now)
            drain()
        }
    }

    /// Authority side: renews the sender's certificate (same keys, addresses and grants).
    func serveRenewal(for sender: NodeID, now: Timestamp) {
        guard let node, var service = node.authority, let member = node.members[sender], member.status.isLive else { return }
        do {
            let renewed = try service.renew(name: member.name, now: now)
            guard renewed.identityKey == member.certificate.identityKey else { return }
            node.authority = service
            saveAuthority()
            node.sendExtension(type: MessageCode.renewal.rawValue, body: renewed.encoded, to: sender, now: now)
            logger.info("renewed a member's certificate", metadata: ["member": "\(member.name)", "until": "\(renewed.notAfter)"])
        } catch {
            switch error {
            case .renewalTooSoon, .certificateExpired, .revoked: agentDrops.count(.renewalRefused)
            default: break
            }
            logger.error("cannot renew a member's certificate", metadata: ["member": "\(member.name)", "error": "\(error)"])
        }
    }

    /// Member side: a renewed certificate from the authority.
    func acceptRenewal(_ bytes: [UInt8], now: Timestamp) {
        guard let current = enrollment?.certificate, let renewed = try? NodeCertificate(decoding: bytes),
              CertificateRenewal.accepts(renewed, replacing: current)
        else {
            logger.warning("ignored a certificate renewal that does not match this node")
            return
        }
        install(renewed, now: now)
    }

    private func install(_ renewed: NodeCertificate, now: Timestamp) {
        guard let node, let settings = enrollment?.settings else { return }
        do {
            try node.renewCertificate(renewed, now: now)
            try state.saveCertificate(renewed)
            enrollment = Enrollment(settings: settings, certificate: renewed)
            logger.notice("certificate renewed", metadata: ["until": "\(renewed.notAfter)"])
        } catch {
            logger.error("cannot install the renewed certificate", metadata: ["error": "\(error)"])
        }
        drain()
    }
}
