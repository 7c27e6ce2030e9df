import Logging
import Synchronization

/// The log level, changeable at run time (SIGHUP).
final class LogLevelBox: Sendable {
    private let level: Mutex<Logger.Level>
    init(_ initial: Logger.Level) { level = Mutex(initial) }
    func set(_ value: Logger.Level) { level.withLock { $0 = value } }
    var current: Logger.Level { level.withLock { $0 } }
}

/// A log handler whose level follows a ``LogLevelBox``.
struct ReloadableLogHandler: LogHandler {
    var base: StreamLogHandler
    let level: LogLevelBox

    init(base: StreamLogHandler, level: LogLevelBox) {
        self.base = base
        self.level = level
    }

    var logLevel: Logger.Level {
        get { level.current }
        set { level.set(newValue) }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        guard event.level >= level.current else { return }
        base.log(event: event)
    }
}
