import MeshCore

/// Which gateway carries each routed prefix (sans-I/O). WireGuard gives an allowed IP to one peer
/// only, so a prefix served by two members (an HA pair in front of a site) goes to exactly one:
/// the gateway of highest priority (ties: lowest node ID, so every member chooses the same one)
/// that is alive, reachable (direct or relayed) and serving it. When that gateway dies, loses its
/// path or withdraws the prefix, the prefix moves at once to the next; when a better one comes
/// back, it moves back once that one has been usable for ``Settings/holdDown`` (unless
/// ``Settings/preempt`` is off: then it stays until the current one fails).
package struct RouteChoice {
    package struct Settings: Equatable {
        package init() {}
        /// Which prefixes this node takes routes for.
        package var acceptance = Acceptance.none
        /// Moving back to a better gateway that returned.
        package var preempt = true
        /// How long a returning better gateway must stay usable before the prefix moves back
        /// (a gateway that flaps does not drag the prefix along).
        package var holdDown = Interval.seconds(10)
        /// Which exit node carries this node's default routes (`exit.use`, `meshctl exit use`).
        package var exit = ExitChoice.none
    }

    /// Which exit node (a member serving 0.0.0.0/0 and ::/0 with the exit role) this node sends
    /// its Internet traffic through.
    package enum ExitChoice: Equatable, Sendable, CustomStringConvertible {
        /// None: the default routes stay the host's own.
        case none
        /// The best exit alive and reachable (highest priority; ties: lowest node ID).
        case auto
        /// This member while it is alive, reachable and serving; the best other exit meanwhile.
        case member(String)

        /// Reads `none`, `auto` or a member name (nil: not a valid member name).
        package init?(_ text: String) {
            switch text {
            case "none": self = .none
            case "auto": self = .auto
            default:
                guard NodeName.problem(text) == nil else { return nil }
                self = .member(text)
            }
        }

        package var description: String {
            switch self {
            case .none: "none"
            case .auto: "auto"
            case let .member(name): name
            }
        }
    }

    /// Which served prefixes a member takes routes for (`routes.accept`).
    package enum Acceptance: Equatable {
        case none
        case all
        /// Only prefixes inside one of these.
        case within([IPPrefix])

        package func accepts(_ prefix: IPPrefix) -> Bool {
            switch self {
            case .none: false
            case .all: true
            case let .within(list): list.contains { $0.contains(prefix) }
            }
        }
    }

    /// A member serving a prefix, and why it cannot carry it now (nil: it can).
    package struct Candidate: Equatable {
        package var member: NodeID
        package var priority: UInt8
        /// Why it cannot carry the prefix (dead, left): never chosen.
        package var unusable: String?
        /// Why it may not carry it (silent since its path failed): chosen only when no other can.
        package var doubt: String?
        /// Chosen by name (`exit use NAME`): ranked before every other gateway of the prefix.
        package var preferred: Bool

        package init(member: NodeID, priority: UInt8, unusable: String? = nil, doubt: String? = nil, preferred: Bool = false) {
            self.member = member
            self.priority = priority
            self.unusable = unusable
            self.doubt = doubt
            self.preferred = preferred
        }

        /// Why it is not a sound choice now (nil: it is).
        package var problem: String? { unusable ?? doubt }

        /// Whether this gateway ranks before `other` (preferred, then priority, then lowest ID).
        func ranks(before other: Candidate) -> Bool {
            (preferred ? 1 : 0, priority, other.member) > (other.preferred ? 1 : 0, other.priority, member)
        }
    }

    /// One prefix: its gateways (best first), the active one, since when and why.
    package struct Prefix: Equatable {
        package var prefix: IPPrefix
        package var gateways: [Candidate]
        package var active: NodeID?
        package var since: Timestamp
        package var reason: String
    }

    package var settings: Settings
    /// The prefixes this node knows a gateway for, by prefix.
    package private(set) var prefixes: [IPPrefix: Prefix] = [:]
    /// When each gateway of each prefix last became usable (for the hold-down).
    private var usableSince: [IPPrefix: [NodeID: Timestamp]] = [:]

    package init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// The gateway carrying `prefix` now, if any.
    package func active(for prefix: IPPrefix) -> NodeID? { prefixes[prefix]?.active }

    /// The prefixes `member` carries for this node (its allowed IPs besides its own addresses).
    package func carried(by member: NodeID) -> [IPPrefix] { carriedByGateway[member] ?? [] }

    /// The prefixes each active gateway carries (one pass, for a whole device plan).
    package var carriedByGateway: [NodeID: [IPPrefix]] {
        var carried: [NodeID: [IPPrefix]] = [:]
        for entry in prefixes.values { if let gateway = entry.active { carried[gateway, default: []].append(entry.prefix) } }
        return carried.mapValues { $0.sorted { "\($0)" < "\($1)" } }
    }

    /// Every prefix with an active gateway (the kernel routes to install).
    package var routed: [IPPrefix] { prefixes.values.filter { $0.active != nil }.map(\.prefix) }

    /// Chooses again from `offers` (every accepted prefix a member serves, with its gateways) at
    /// `now`; `name` words reasons. Returns whether any prefix changed gateway (or appeared, or
    /// lost its last one): the device plan and the kernel routes change then.
    @discardableResult
    package mutating func update(offers: [IPPrefix: [Candidate]], name: (NodeID) -> String, now: Timestamp) -> Bool {
        var changed = false
        for prefix in prefixes.keys where offers[prefix] == nil {
            if prefixes[prefix]?.active != nil { changed = true }
            prefixes[prefix] = nil
            usableSince[prefix] = nil
        }
        for (prefix, offered) in offers {
            let gateways = offered.sorted { $0.ranks(before: $1) }
            var since = usableSince[prefix] ?? [:]
            for gateway in gateways {
                if gateway.problem == nil { since[gateway.member] = since[gateway.member] ?? now } else { since[gateway.member] = nil }
            }
            since = since.filter { member, _ in gateways.contains { $0.member == member } }
            usableSince[prefix] = since
            // Gateways in doubt only when no sound one is left (better a gateway that may answer
            // than none).
            let sound = gateways.filter { $0.problem == nil }
            let usable = sound.isEmpty ? gateways.filter { $0.unusable == nil } : sound
            let previous = prefixes[prefix]
            var entry = previous ?? Prefix(prefix: prefix, gateways: gateways, active: nil, since: now, reason: "")
            entry.gateways = gateways
            if let current = previous?.active, let kept = usable.first(where: { $0.member == current }) {
                // The current one still works: move only to a better one that held for the hold-down.
                if settings.preempt, let best = usable.first, best.member != current, best.ranks(before: kept),
                   let returned = since[best.member], now - returned >= settings.holdDown {
                    entry.active = best.member
                    entry.since = now
                    let why = best.preferred ? "is the chosen exit" : "has a higher priority (\(best.priority) over \(kept.priority))"
                    entry.reason = "\(name(best.member)) \(why), usable for \(Int(settings.holdDown.seconds)) s"
                }
            } else if let best = usable.first {
                entry.active = best.member
                entry.since = now
                if let current = previous?.active {
                    let why = gateways.first { $0.member == current }?.problem ?? "withdrew the prefix"
                    entry.reason = "\(name(current)) \(why)"
                } else {
                    entry.reason = best.preferred ? "the chosen exit"
                        : usable.count > 1 ? "highest priority of \(usable.count) gateways" : "the only gateway"
                }
            } else {
                entry.active = nil
                if previous?.active != nil || previous == nil { entry.since = now }
                entry.reason = gateways.isEmpty ? "no gateway" : "no gateway alive and reachable (" + gateways.map { "\(name($0.member)) \($0.problem ?? "")" }.joined(separator: "; ") + ")"
            }
            if entry.active != previous?.active { changed = true }
            prefixes[prefix] = entry
        }
        return changed
    }

    /// When a better gateway's hold-down ends (the prefix may move back then), if any.
    package func nextDeadline(after now: Timestamp) -> Timestamp {
        guard settings.preempt else { return .distantFuture }
        var next = Timestamp.distantFuture
        for (prefix, entry) in prefixes {
            guard let current = entry.active, let kept = entry.gateways.first(where: { $0.member == current }) else { continue }
            for gateway in entry.gateways where gateway.problem == nil && gateway.ranks(before: kept) {
                if let since = usableSince[prefix]?[gateway.member] {
                    let due = since + settings.holdDown
                    if due > now, due < next { next = due }
                }
            }
        }
        return next
    }
}
