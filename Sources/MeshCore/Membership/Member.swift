/// Everything a node knows about one member: the authority's certificate, the member's newest
/// valid record, and this node's verdict.
public struct Member: Sendable {
    /// The certificate (shared, immutable).
    public let certificate: NodeCertificate
    /// The newest valid record (shared, immutable).
    public internal(set) var record: NodeRecord
    /// The verdict.
    public internal(set) var status: MemberStatus
    /// The record version the verdict was made at (suspect and dead refer to a version).
    public internal(set) var statusVersion: UInt64
    /// When the verdict last changed.
    public internal(set) var statusChangedAt: Timestamp

    public init(certificate: NodeCertificate, record: NodeRecord, status: MemberStatus, statusChangedAt: Timestamp) {
        self.certificate = certificate
        self.record = record
        self.status = status
        self.statusVersion = record.version
        self.statusChangedAt = statusChangedAt
    }

    /// The member's ID.
    public var id: NodeID { record.nodeID }
    /// The member's name.
    public var name: String { certificate.name }
}
