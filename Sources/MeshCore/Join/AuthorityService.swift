import MeshCrypto

/// The network authority's enrollment service: it issues invitations, answers join requests
/// carrying a valid proof with a certificate, and signs revocations. Runs on the node that holds
/// the authority key; its state is persisted by the agent.
public struct AuthorityService: Sendable {
    /// The network.
    public let settings: NetworkSettings
    private let key: Ed25519PrivateKey
    /// Invitations by ``Invitation/idHex``.
    public private(set) var invitations: [String: Invitation]
    /// The newest certificate issued per node name.
    public private(set) var certificates: [String: NodeCertificate]
    /// Names whose last certificate was revoked, with that certificate's expiry: free for a new
    /// invitation (revocations name identity keys, so a new holder of the name is unaffected);
    /// the entry goes when a new certificate is issued for the name.
    public private(set) var revokedNames: [String: UInt64]
    /// Validity of issued certificates.
    public var certificateLifetime: UInt64 = 90 * 86400
    /// Least time between two renewals of one member's certificate: members renew when a third
    /// of the validity is left, so once a day is plenty, and a member asking more often (or a
    /// lost answer retried hourly) costs no signature.
    public static let minimumRenewalInterval: UInt64 = 86400
    /// How long an invitation, used or not, is kept after it expires: a late joiner is told
    /// "expired" rather than "unknown" meanwhile. Afterwards its ID is unknown, which costs the
    /// authority no public-key operation (its certificate, if used, keeps name and address).
    public static let invitationGrace: UInt64 = 86400
    /// The newest join request accepted per invitation: its timestamp and ephemeral key (a
    /// replay draws no reply; the same ephemeral key is refused before any key agreement).
    private var joinReplay: [String: (timestamp: UInt64, ephemeral: [UInt8])] = [:]

    public init(settings: NetworkSettings, key: Ed25519PrivateKey, invitations: [Invitation] = [],
                certificates: [NodeCertificate] = [], revokedNames: [String: UInt64] = [:]) {
        self.settings = settings
        self.key = key
        self.invitations = Dictionary(invitations.map { ($0.idHex, $0) }, uniquingKeysWith: { $1 })
        self.certificates = Dictionary(certificates.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        self.revokedNames = revokedNames
    }

    /// The authority's public key.
    public var authorityKey: Ed25519PublicKey { key.publicKey }

    // MARK: Certificates

    /// Issues a certificate directly (for the authority node itself, and renewals).
    public mutating func issueCertificate(
        name: String, identityKey: Ed25519PublicKey, wireGuardKey: X25519PublicKey, addresses: [IPAddress],
        routes: [IPPrefix], roles: NodeRoles, now: Timestamp
    ) throws(AuthorityError) -> NodeCertificate {
        let serial = UInt64.random(in: 1...UInt64.max, using: &secureGenerator)
        do {
            let certificate = try NodeCertificate(
                networkID: settings.networkID, serial: serial, name: name, identityKey: identityKey, wireGuardKey: wireGuardKey,
                addresses: addresses, routes: routes, roles: roles, notBefore: now.seconds > 60 ? now.seconds - 60 : 0,
                notAfter: now.seconds + certificateLifetime, issuer: key)
            certificates[name] = certificate
            revokedNames[name] = nil
            return certificate
        } catch {
            throw .signing("\(error)")
        }
    }

    /// Renews the certificate of `name` with the same keys, addresses and grants.
    public mutating func renew(name: String, now: Timestamp) throws(AuthorityError) -> NodeCertificate {
        guard let current = certificates[name] else { throw .unknownNode(name) }
        guard revokedNames[name] == nil else { throw .revoked(name) }
        guard !CertificateValidator.hasExpired(current, at: now) else { throw .certificateExpired(name) }
        // Certificates are issued with notBefore 60 s before the issuing time.
        let issuedAt = Self.saturatingSum(current.notBefore, 60)
        guard now.seconds >= Self.saturatingSum(issuedAt, Self.minimumRenewalInterval) else {
            throw .renewalTooSoon(name)
        }
        return try issueCertificate(
            name: name, identityKey: current.identityKey, wireGuardKey: current.wireGuardKey, addresses: current.addresses,
            routes: current.routes, roles: current.roles, now: now)
    }

    // MARK: Invitations

    /// Creates an invitation and its token. Reserves an address (the next free one unless given).
    public mutating func invite(
        name: String, ttl: UInt64, address requested: IPAddress? = nil, roles: NodeRoles = [], routes: [IPPrefix] = [],
        bootstrapKey: Ed25519PublicKey, bootstrapEndpoints: [SocketEndpoint], now: Timestamp
    ) throws(AuthorityError) -> InvitationToken {
        if let problem = NodeName.problem(name) { throw .invalidName(problem) }
        expireInvitations(now: now)
        guard !nameInUse(name) else { throw .nameTaken(name) }
        let addresses = try allocateAddresses(requested: requested)
        guard routes.count <= NodeCertificate.maximumRoutes else { throw .routeInvalid("at most \(NodeCertificate.maximumRoutes) routes") }
        try checkRoutes(routes, newAddresses: addresses)
        let secret = SecureRandom.bytes(count: InvitationToken.secretLength)
        let token: InvitationToken
        do {
            token = try InvitationToken(
                networkID: settings.networkID, networkName: settings.name, authorityKey: key.publicKey, bootstrapKey: bootstrapKey,
                bootstrapEndpoints: bootstrapEndpoints, secret: secret, expiresAt: Self.saturatingSum(now.seconds, ttl), nodeName: name)
        } catch {
            throw .invalidName("\(error)")
        }
        let invitation = Invitation(
            id: token.invitationID, secret: secret, name: name, addresses: addresses, routes: routes, roles: roles,
            expiresAt: token.expiresAt)
        invitations[invitation.idHex] = invitation
        return token
    }

    /// Refuses route grants that would let a member take traffic that is not its own: the
    /// default routes (the exit role grants those), anything overlapping the overlay
    /// prefixes (in either direction), and anything covering a member's or reserved address.
    private func checkRoutes(_ routes: [IPPrefix], newAddresses: [IPAddress]) throws(AuthorityError) {
        let overlays = [settings.ipv4Prefix] + (settings.ipv6Prefix.map { [$0] } ?? [])
        let taken = allocatedAddresses.union(newAddresses)
        for route in routes {
            guard route.length > 0 else {
                throw .routeInvalid("\(route) is a default route: invite the member with the exit role (meshctl invite NAME --exit) instead")
            }
            for overlay in overlays where overlay.contains(route) || route.contains(overlay) {
                throw .routeInvalid("\(route) overlaps the overlay prefix \(overlay); members' overlay addresses cannot be routed to another member")
            }
            if let address = taken.sorted(by: { "\($0)" < "\($1)" }).first(where: { route.contains($0) }) {
                throw .routeInvalid("\(route) covers the overlay address \(address) of a member or pending invitation")
            }
        }
    }

    /// `a + b`, or `UInt64.max` if it overflows (operator input and stored state never trap).
    static func saturatingSum(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    /// Drops invitations, used or not, that expired more than ``invitationGrace`` ago (the
    /// reserved addresses of unused ones become free; used ones live on in their certificate).
    public mutating func expireInvitations(now: Timestamp) {
        invitations = invitations.filter { Self.saturatingSum($0.value.expiresAt, Self.invitationGrace) > now.seconds }
        joinReplay = joinReplay.filter { invitations[$0.key] != nil }
    }

    private func nameInUse(_ name: String) -> Bool {
        if certificates[name] != nil, revokedNames[name] == nil { return true }
        return invitations.values.contains { $0.name == name && !$0.isUsed }
    }

    /// Addresses held by members and pending invitations.
    public var allocatedAddresses: Set<IPAddress> {
        var taken = Set<IPAddress>()
        for certificate in certificates.values { taken.formUnion(certificate.addresses) }
        for invitation in invitations.values { taken.formUnion(invitation.addresses) }
        return taken
    }

    private func allocateAddresses(requested: IPAddress?) throws(AuthorityError) -> [IPAddress] {
        let taken = allocatedAddresses
        let v4Prefix = settings.ipv4Prefix
        let hostIndex: UInt64
        if let requested {
            guard let prefix = settings.overlayPrefix(for: requested), prefix.contains(requested) else {
                throw .addressOutsideNetwork("\(requested)")
            }
            guard !taken.contains(requested) else { throw .addressTaken("\(requested)") }
            hostIndex = Self.hostIndex(of: requested, in: prefix)
            if !requested.isIPv4 {
                return [Self.address(in: v4Prefix, index: hostIndex), requested].compactMap { $0 }.filter { !taken.contains($0) }
            }
        } else {
            let size: UInt64 = v4Prefix.length >= 32 ? 1 : (1 << UInt64(32 - v4Prefix.length))
            guard let free = (1..<max(size - 1, 1)).first(where: { index in
                guard let candidate = Self.address(in: v4Prefix, index: index) else { return false }
                return !taken.contains(candidate)
            }) else { throw .addressPoolExhausted }
            hostIndex = free
        }
        var addresses = [Self.address(in: v4Prefix, index: hostIndex)].compactMap { $0 }
        if let requested, requested.isIPv4 { addresses = [requested] }
        if let v6Prefix = settings.ipv6Prefix, let v6 = Self.address(in: v6Prefix, index: hostIndex), !taken.contains(v6) {
            addresses.append(v6)
        }
        return addresses
    }

    /// The `index`-th address of `prefix` (index 1 is the first host), if it fits.
    public static func address(in prefix: IPPrefix, index: UInt64) -> IPAddress? {
        switch prefix.address {
        case let .v4(base):
            let hostBits = 32 - prefix.length
            guard hostBits >= 64 || index < (UInt64(1) << UInt64(hostBits)) else { return nil }
            return .v4(IPv4Address(base.value | UInt32(truncatingIfNeeded: index)))
        case let .v6(base):
            let hostBits = 128 - prefix.length
            guard hostBits >= 64 || index < (UInt64(1) << UInt64(hostBits)) else { return nil }
            return .v6(IPv6Address(high: base.high, low: base.low | index))
        }
    }

    static func hostIndex(of address: IPAddress, in prefix: IPPrefix) -> UInt64 {
        switch (address, prefix.address) {
        case let (.v4(a), .v4(base)): return UInt64(a.value - base.value)
        case let (.v6(a), .v6(base)): return a.low &- base.low
        default: return 0
        }
    }

    // MARK: Enrollment

    /// What to do with a join request.
    public enum JoinHandling: Sendable {
        /// Send `response` back; `enrolled` is the certificate issued now (nil on refusals and retries).
        case respond([UInt8], enrolled: NodeCertificate?)
        /// Discard, counted under the reason.
        case drop(DropReason)
    }

    /// Handles a join request addressed to this bootstrap node, whose static key is `staticSecret`.
    public mutating func handleJoinRequest(
        _ datagram: [UInt8], staticSecret: SecretBytes, agreement: any KeyAgreement, now: Timestamp
    ) -> JoinHandling {
        var reader = ByteReader(datagram, context: "join request")
        guard let _ = try? reader.readBytes(2), let invitationID = try? reader.readArray(16), let ephemeral = try? reader.readArray(32) else {
            return .drop(.malformed)
        }
        let idHex = invitationID.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        if let invitation = invitations[idHex], Self.saturatingSum(invitation.expiresAt, Self.invitationGrace) <= now.seconds {
            invitations[idHex] = nil
            joinReplay[idHex] = nil
        }
        guard var invitation = invitations[idHex] else {
            // 18 bytes, smaller than any request (50 bytes of header and more): no amplification.
            return .respond(JoinMessages.header(.joinUnknownInvitation, invitationID: invitationID), enrolled: nil)
        }
        if let last = joinReplay[idHex], last.ephemeral == ephemeral { return .drop(.joinReplayed) }
        guard let shared = try? agreement.agree(staticSecret, ephemeral) else { return .drop(.authenticationFailed) }
        let keys = JoinMessages.keys(ephemeralStaticSecret: shared, ephemeralPublic: ephemeral, invitationID: invitationID, networkID: settings.networkID)
        let headerLength = JoinMessages.requestHeaderLength
        guard let body = try? XChaCha20Poly1305.open(
            datagram[headerLength...], key: keys.request, nonce: SecureChannel.nonce(0), authenticating: datagram[..<headerLength])
        else { return .drop(.authenticationFailed) }
        var bodyReader = ByteReader(body, context: "join request body")
        guard let identityBytes = try? bodyReader.readArray(32), let wireGuardBytes = try? bodyReader.readArray(32),
              let timestamp = try? bodyReader.readUInt64(), let proof = try? bodyReader.readArray(32),
              let signature = try? bodyReader.readArray(64), bodyReader.isAtEnd,
              let identityKey = try? Ed25519PublicKey(bytes: identityBytes), let wireGuardKey = try? X25519PublicKey(bytes: wireGuardBytes)
        else { return .drop(.malformed) }
        let expected = JoinMessages.proof(
            secret: invitation.secret, invitationID: invitationID, ephemeralPublic: ephemeral, identityKey: identityBytes,
            wireGuardKey: wireGuardBytes, timestamp: timestamp)
        guard ConstantTime.equals(expected, proof),
              identityKey.isValidSignature(signature, for: JoinMessages.possessionMessage(
                invitationID: invitationID, ephemeralPublic: ephemeral, wireGuardKey: wireGuardBytes, timestamp: timestamp))
        else { return .drop(.joinBadProof) }

        func reply(_ status: JoinMessages.Status, _ payload: [UInt8] = []) -> JoinHandling {
            let header = JoinMessages.header(.joinResponse, invitationID: invitationID)
            guard let sealed = try? XChaCha20Poly1305.seal([status.rawValue] + payload, key: keys.response, nonce: SecureChannel.nonce(0), authenticating: header) else {
                return .drop(.sealFailed)
            }
            return .respond(header + sealed, enrolled: nil)
        }
        // An expired invitation is answered (small) whatever the request's age: the joiner learns why.
        if invitation.expiresAt < now.seconds, invitation.enrolledIdentity == nil { return reply(.expired) }
        // Replays: a request must be fresh and newer than the last one accepted for the invitation.
        guard JoinMessages.isFresh(timestamp, now: now) else { return .drop(.joinReplayed) }
        if let last = joinReplay[idHex], timestamp <= last.timestamp { return .drop(.joinReplayed) }
        joinReplay[idHex] = (timestamp, ephemeral)
        func enrolledPayload(_ certificate: [UInt8]) -> [UInt8] {
            var writer = ByteWriter()
            writer.write(longBytes: settings.encoded)
            writer.write(longBytes: certificate)
            return writer.bytes
        }

        if let used = invitation.enrolledIdentity {
            guard used == identityBytes, let issued = invitation.issuedCertificate else { return reply(.alreadyUsed) }
            return reply(.enrolled, enrolledPayload(issued))  // the joiner retried: same answer
        }
        guard invitation.expiresAt >= now.seconds else { return reply(.expired) }
        let node = NodeID(identityKey: identityKey)
        if certificates.values.contains(where: { $0.nodeID == node && $0.name != invitation.name }) { return reply(.conflict) }
        let certificate: NodeCertificate
        do {
            certificate = try issueCertificate(
                name: invitation.name, identityKey: identityKey, wireGuardKey: wireGuardKey, addresses: invitation.addresses,
                routes: invitation.routes, roles: invitation.roles, now: now)
        } catch {
            return reply(.conflict)
        }
        invitation.enrolledIdentity = identityBytes
        invitation.issuedCertificate = certificate.encoded
        invitations[idHex] = invitation
        guard case let .respond(bytes, _) = reply(.enrolled, enrolledPayload(certificate.encoded)) else { return .drop(.sealFailed) }
        return .respond(bytes, enrolled: certificate)
    }

    // MARK: Revocation

    /// Revokes the node called `name`.
    public mutating func revoke(name: String, now: Timestamp) throws(AuthorityError) -> Revocation {
        guard let certificate = certificates[name] else { throw .unknownNode(name) }
        do {
            let revocation = try Revocation(
                networkID: settings.networkID, identityKey: certificate.identityKey, name: name, revokedAt: now.seconds,
                keepUntil: Self.saturatingSum(certificate.notAfter, 86400), issuer: key)
            revokedNames[name] = certificate.notAfter
            return revocation
        } catch {
            throw .signing("\(error)")
        }
    }
}

/// Serials and secrets come from the system's secure generator.
nonisolated(unsafe) private var secureGenerator = SecureRandomNumberGenerator()
