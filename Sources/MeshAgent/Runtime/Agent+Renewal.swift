import MeshAgentCore
import MeshCore

extension Agent {
    /// Renews this node's certificate when a third of its validity is left: the authority node
    /// signs a new one itself; other nodes ask the authority over the secure channel (retrying
    /// hourly). Nothing for the operator to do.
    func renewCertificateIfDue(now: Timestamp) {
        guard let node, let certificate = enrollment?.certificate else { return }
        let lifetime = certificate.notAfter > certificate.notBefore ? certificate.notAfter - certificate.notBefore : 0
        let remaining = certificate.notAfter > now.seconds ? certificate.notAfter - now.seconds : 0
        guard remaining < lifetime / 3, now - lastRenewalAttempt >= AgentTiming.renewalRetry else { return }
        lastRenewalAttempt = now
        if var service = node.authority {
            do {
                let renewed = try service.renew(name: certificate.name, now: now)
                node.authority = service
                saveAuthority()
                install(renewed, now: now)
            } catch {
                logger.error("cannot renew this node's certificate", metadata: ["error": "\(error)"])
            }
            return
        }
        guard let authority = node.members.all.first(where: { $0.status.isLive && $0.certificate.roles.contains(.authority) }) else {
            logger.warning("the certificate expires soon and no authority node is reachable to renew it", metadata: ["expires": "\(certificate.notAfter)"])
            return
        }
        logger.info("asking the authority to renew this node's certificate", metadata: ["authority": "\(authority.name)"])
        node.sendExtension(type: MessageCode.renewalRequest.rawValue, body: [], to: authority.id, now: now)
        drain()
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
              renewed.identityKey == current.identityKey, renewed.wireGuardKey == current.wireGuardKey,
              renewed.name == current.name, renewed.notAfter > current.notAfter
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
