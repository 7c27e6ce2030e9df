import MeshAgentCore
import MeshCore
import NIOPosix

extension Agent {
    /// Pings the served routes' check targets (`check.target`), one round every third of the
    /// shortest timeout, from a thread of its own (``echoThread``); notes each answer and re-checks
    /// the served routes after every round, so a target silent for its timeout withdraws its
    /// prefix within a third of that timeout. Idle while no route has a target or the node has
    /// not started (woken by a reload or the node's start). Cancelled with the agent.
    func echoLoop() async {
        var prober: EchoProber?
        var sequence: UInt16 = 0
        var reloads = routeReloads.makeAsyncIterator()
        echoThread.start()
        while !Task.isCancelled {
            let checks = configuration.servedRoutes.compactMap { served in served.checkTarget.map { ($0, served.checkTimeoutMilliseconds) } }
            if checks.isEmpty || node == nil {
                routeHealth.probingSince = nil
                guard await reloads.next() != nil else { return }
                continue
            }
            if prober == nil {
                do {
                    prober = try EchoProber()
                } catch {
                    logger.error("health checks cannot ping their targets", metadata: ["error": "\(error)"])
                    guard await reloads.next() != nil else { return }
                    continue
                }
            }
            guard let prober else { continue }
            if routeHealth.probingSince == nil { routeHealth.probingSince = clock.now }
            let interval = max(50, (checks.map(\.1).min() ?? 300) / 3)
            sequence &+= 1
            let targets = Array(Set(checks.map(\.0)))
            let round = sequence
            let started = ContinuousClock.now
            guard let answered = try? await echoThread.runIfActive({ prober.round(targets: targets, sequence: round, waitMilliseconds: Int32(interval)) })
            else { return }
            let now = clock.now
            for target in answered { routeHealth.answeredAt[target] = now }
            checkServedRoutes(readLinks: false)
            let rest = Duration.milliseconds(interval) - (ContinuousClock.now - started)
            if rest > .zero { try? await Task.sleep(for: rest) }
        }
    }
}
