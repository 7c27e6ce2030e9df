import MeshCore
import Yams

/// A YAML mapping being read as one section of a configuration file. It remembers which keys
/// were read, so that ``finish()`` can refuse unknown keys (a typo must not be silently ignored).
struct YAMLSection {
    let file: String
    /// Dotted path of this section, empty for the top level.
    let path: String
    let mapping: Node.Mapping
    let knownKeys: [String]

    init(file: String, path: String, node: Node, knownKeys: [String]) throws(ConfigurationError) {
        self.file = file
        self.path = path
        self.knownKeys = knownKeys
        guard case let .mapping(mapping) = node else {
            throw ConfigurationError(
                file: file, line: node.mark?.line, column: node.mark?.column, key: path.isEmpty ? nil : path,
                problem: "expected a mapping of keys to values, found \(node.kindDescription)")
        }
        self.mapping = mapping
    }

    /// Refuses any key that is not one of ``knownKeys``, suggesting the closest known key.
    func finish() throws(ConfigurationError) {
        for (keyNode, _) in mapping {
            let key = keyNode.string ?? ""
            guard !knownKeys.contains(key) else { continue }
            var problem = "unknown key"
            if let suggestion = knownKeys.min(by: { editDistance($0, key) < editDistance($1, key) }),
               editDistance(suggestion, key) <= max(2, key.count / 3) {
                problem += "; did you mean \"\(suggestion)\"?"
            } else {
                problem += "; known keys here: \(knownKeys.joined(separator: ", "))"
            }
            throw error(at: keyNode, key: key, problem)
        }
    }

    func fullKey(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(at node: Node, key: String, _ problem: String) -> ConfigurationError {
        ConfigurationError(file: file, line: node.mark?.line, column: node.mark?.column, key: fullKey(key), problem: problem)
    }

    /// The value under `key`, if present and not null.
    func value(_ key: String) -> Node? {
        guard let node = mapping[key] else { return nil }
        if case let .scalar(scalar) = node, scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
            return nil
        }
        return node
    }

    func section(_ key: String, knownKeys: [String]) throws(ConfigurationError) -> YAMLSection? {
        guard let node = value(key) else { return nil }
        return try YAMLSection(file: file, path: fullKey(key), node: node, knownKeys: knownKeys)
    }

    func string(_ key: String) throws(ConfigurationError) -> String? {
        guard let node = value(key) else { return nil }
        guard case let .scalar(scalar) = node else {
            throw error(at: node, key: key, "expected a string, found \(node.kindDescription)")
        }
        return scalar.string
    }

    func integer<Value: FixedWidthInteger>(_ key: String, in range: ClosedRange<Value>) throws(ConfigurationError) -> Value? {
        guard let node = value(key) else { return nil }
        guard case .scalar = node, let number = node.int else {
            throw error(at: node, key: key, "expected an integer, found \(node.kindDescription)")
        }
        guard let value = Value(exactly: number), range.contains(value) else {
            throw error(at: node, key: key, "\(number) is out of range (\(range.lowerBound)–\(range.upperBound))")
        }
        return value
    }

    func port(_ key: String) throws(ConfigurationError) -> UInt16? {
        try integer(key, in: 1...UInt16.max)
    }

    func choice<Value: RawRepresentable & CaseIterable>(_ key: String, as type: Value.Type) throws(ConfigurationError) -> Value?
    where Value.RawValue == String {
        guard let text = try string(key), let node = value(key) else { return nil }
        guard let choice = Value(rawValue: text) else {
            let allowed = Value.allCases.map(\.rawValue).joined(separator: ", ")
            throw error(at: node, key: key, "\"\(text)\" is not one of: \(allowed)")
        }
        return choice
    }

    /// A list of scalars, each converted by `parse`, which returns a problem text on failure.
    func list<Element>(_ key: String, parse: (String) -> Result<Element, ConfigurationProblem>) throws(ConfigurationError) -> [Element]? {
        guard let node = value(key) else { return nil }
        guard case let .sequence(sequence) = node else {
            throw error(at: node, key: key, "expected a list, found \(node.kindDescription)")
        }
        var result: [Element] = []
        for (index, item) in sequence.enumerated() {
            guard case let .scalar(scalar) = item else {
                throw error(at: item, key: "\(key)[\(index)]", "expected a string, found \(item.kindDescription)")
            }
            switch parse(scalar.string) {
            case let .success(element): result.append(element)
            case let .failure(problem): throw error(at: item, key: "\(key)[\(index)]", problem.text)
            }
        }
        return result
    }
}

/// A problem text produced while converting one value.
struct ConfigurationProblem: Error {
    let text: String
    init(_ text: String) { self.text = text }
}

extension Node {
    /// "a mapping", "the string \"x\"", … for error messages.
    var kindDescription: String {
        switch self {
        case let .scalar(scalar):
            if int != nil, scalar.style == .plain { return "the number \(scalar.string)" }
            if bool != nil, scalar.style == .plain { return "the boolean \(scalar.string)" }
            return "the string \"\(scalar.string)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
