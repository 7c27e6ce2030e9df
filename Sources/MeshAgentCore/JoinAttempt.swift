import MeshCore

/// One `meshctl join` in progress, without sockets: the request goes to every bootstrap endpoint
/// of the token, again every ``AgentTiming/joinRetryInterval`` (fresh bytes each time: the
/// bootstrap node refuses the same bytes again as a replay), until an answer settles it or
/// ``AgentTiming/joinGiveUp`` passes without one — then it is refused with what was tried.
package struct JoinAttempt {
    package private(set) var client: JoinClient
    package let startedAt: Timestamp
    package private(set) var lastSentAt: Timestamp
    /// Requests sent so far (the first included).
    package private(set) var attempts = 1
    /// How it ended, once it has.
    package private(set) var outcome: JoinClient.Outcome?

    /// An attempt whose first request (``firstDatagrams``) goes out `now`.
    package init(client: JoinClient, now: Timestamp) {
        self.client = client
        startedAt = now
        lastSentAt = now
    }

    /// The first request, to every bootstrap endpoint.
    package var firstDatagrams: [OutboundDatagram] { client.requestDatagrams }

    /// A datagram from a bootstrap endpoint; whether it settled the attempt (answers after that,
    /// and anything that is no answer to this request, change nothing).
    package mutating func receive(_ bytes: [UInt8], from source: SocketEndpoint) -> Bool {
        guard outcome == nil else { return false }
        outcome = client.receive(bytes, from: source)
        return outcome != nil
    }

    /// The timer: the requests to send again now (none when not due, or settled). After
    /// ``AgentTiming/joinGiveUp`` without an answer the attempt settles as refused, saying what
    /// was tried and what to check.
    package mutating func tick(now: Timestamp, random: inout RandomSource) -> [OutboundDatagram] {
        guard outcome == nil else { return [] }
        if now - startedAt >= AgentTiming.joinGiveUp {
            let endpoints = client.token.bootstrapEndpoints
            outcome = .refused(
                "no answer from the bootstrap node at \(endpoints.map(\.description).joined(separator: ", ")) after \(attempts) attempts in "
                    + "\(Int(AgentTiming.joinGiveUp.seconds)) s: check that meshd runs there, that this host can reach it over UDP "
                    + "(port \(endpoints.first?.port ?? 0)), or give other addresses with `meshctl invite --endpoint`")
            return []
        }
        guard now - lastSentAt >= AgentTiming.joinRetryInterval else { return [] }
        lastSentAt = now
        attempts += 1
        return client.retryDatagrams(now: now, random: &random)
    }

    /// When ``tick(now:random:)`` next has something to do (nil once settled).
    package var nextDeadline: Timestamp? {
        guard outcome == nil else { return nil }
        return min(lastSentAt + AgentTiming.joinRetryInterval, startedAt + AgentTiming.joinGiveUp)
    }
}
