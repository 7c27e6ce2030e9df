import Logging
import ServiceLifecycle
import UnixSignals

/// The agent as a swift-service-lifecycle service: runs until SIGTERM or SIGINT, then shuts down
/// gracefully (state saved, interface left up); SIGHUP re-reads the configuration file.
public struct AgentService: Service {
    let agent: Agent
    let control: ControlServer
    let reload: @Sendable () async -> Void
    let logger: Logger

    public init(agent: Agent, control: ControlServer, logger: Logger, reload: @escaping @Sendable () async -> Void) {
        self.agent = agent
        self.control = control
        self.logger = logger
        self.reload = reload
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await cancelWhenGracefulShutdown { try await agent.run() }
            }
            group.addTask { await control.run() }
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
                    logger.notice("SIGHUP: reloading the configuration")
                    await reload()
                }
            }
            try await group.next()
            group.cancelAll()
        }
        await control.close()
    }
}
