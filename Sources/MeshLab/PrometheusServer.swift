import Foundation

/// Prometheus (Debian's `prometheus`) in a lab namespace, scraping meshd's metrics endpoint there
/// every second with the project's alert rules loaded (configs/prometheus/meshwork-alerts.yml),
/// queried with `promtool` (issue 14).
public final class PrometheusServer: @unchecked Sendable {
    // Mutated only by the thread driving the lab.
    public let namespace: String
    public let configPath: String
    /// Where its web API listens, inside the namespace.
    public let address = "127.0.0.1:9090"
    private let lab: Lab
    private let storage: String
    private var process: LabProcess?

    /// One value of an instant query: the series' labels and its value.
    public struct Sample: Sendable {
        public var labels: [String: String]
        public var value: Double
    }

    /// Writes the configuration: `targets` scraped every `interval` seconds as job `meshd`,
    /// `rules` (alert rule files) loaded.
    public init(lab: Lab, namespace: String, directory: String, targets: [String], rules: [String], interval: Int = 1) throws {
        self.lab = lab
        self.namespace = namespace
        configPath = "\(directory)/prometheus-\(namespace).yml"
        storage = "\(directory)/prometheus-\(namespace)-data"
        let config = """
            global:
              scrape_interval: \(interval)s
              evaluation_interval: \(interval)s
            rule_files:
            \(rules.map { "  - \"\($0)\"" }.joined(separator: "\n"))
            scrape_configs:
              - job_name: meshd
                static_configs:
                  - targets: [\(targets.map { "\"\($0)\"" }.joined(separator: ", "))]
            """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Starts it in its namespace (stopped by PID at the lab's teardown) and waits until it answers.
    public func start() throws {
        process = try lab.start([
            "prometheus", "--config.file=\(configPath)", "--storage.tsdb.path=\(storage)", "--web.listen-address=\(address)",
            "--log.level=warn",
        ], in: namespace)
        let deadline = Date().addingTimeInterval(30)
        while (try? query("vector(1)"))?.first?.value != 1 {
            guard Date() < deadline, process?.isRunning == true else {
                throw LabError.failed("prometheus did not start in \(namespace): \(process?.output ?? "")")
            }
            usleep(200_000)
        }
    }

    /// Stops it (SIGTERM, then SIGKILL).
    public func stop() { process?.stop(grace: 5) }

    /// An instant query through `promtool query instant`.
    public func query(_ expression: String) throws -> [Sample] {
        let result = try lab.run(["promtool", "query", "instant", "http://\(address)", expression], in: namespace, check: false, timeout: 10)
        guard result.succeeded else { throw LabError.failed("promtool query \(expression): \(result.output) \(result.errorOutput)") }
        return result.output.split(separator: "\n").compactMap(Self.sample)
    }

    /// One line of promtool's output: `name{a="b", c="d"} => 1.5 @[1700000000.1]`.
    static func sample(_ line: Substring) -> Sample? {
        guard let arrow = line.range(of: " => ") else { return nil }
        let series = line[..<arrow.lowerBound]
        let valueText = line[arrow.upperBound...].split(separator: " ").first ?? ""
        guard let value = Double(valueText) else { return nil }
        var labels: [String: String] = [:]
        if let open = series.firstIndex(of: "{"), let close = series.lastIndex(of: "}") {
            labels["__name__"] = String(series[..<open])
            for pair in series[series.index(after: open)..<close].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                labels[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
            }
        } else if !series.isEmpty {
            labels["__name__"] = String(series)
        }
        return Sample(labels: labels, value: value)
    }

    /// Its output so far.
    public var output: String { process?.output ?? "" }
}
