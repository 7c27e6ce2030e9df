import MeshCore

/// A YAML mapping being read as one section of a configuration file. It remembers which keys
/// were read, so that ``finish()`` can refuse unknown keys (a typo must not be silently ignored).
struct YAMLSection {
    let file: String
    /// Dotted path of this section, empty for the top level.
    let path: String
    let entries: [YAMLEntry]
    let knownKeys: [String]

    init(file: String, path: String, node: YAMLNode, knownKeys: [String]) throws(ConfigurationError) {
        self.file = file
        self.path = path
        self.knownKeys = knownKeys
        guard case let .mapping(entries) = node.kind else {
            throw ConfigurationError(
                file: file, line: node.line, column: node.column, key: path.isEmpty ? nil : path,
                problem: "expected a mapping of keys to values, found \(node.kindDescription)")
        }
        self.entries = entries
    }

    /// Refuses any key that is not one of ``knownKeys``, suggesting the closest known key.
    func finish() throws(ConfigurationError) {
        for entry in entries {
            let keyNode = entry.key
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

    func error(at node: YAMLNode?, key: String, _ problem: String) -> ConfigurationError {
        ConfigurationError(file: file, line: node?.line, column: node?.column, key: fullKey(key), problem: problem)
    }

    /// The value under `key`, if present and not null.
    func value(_ key: String) -> YAMLNode? {
        guard let node = entries.first(where: { $0.key.string == key })?.value, !node.isNull else { return nil }
        return node
    }

    func section(_ key: String, knownKeys: [String]) throws(ConfigurationError) -> YAMLSection? {
        guard let node = value(key) else { return nil }
        return try YAMLSection(file: file, path: fullKey(key), node: node, knownKeys: knownKeys)
    }

    func string(_ key: String) throws(ConfigurationError) -> String? {
        guard let node = value(key) else { return nil }
        guard let text = node.string else {
            throw error(at: node, key: key, "expected a string, found \(node.kindDescription)")
        }
        return text
    }

    func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let node = value(key) else { return nil }
        guard let flag = node.bool else { throw error(at: node, key: key, "expected true or false, found \(node.kindDescription)") }
        return flag
    }

    func integer<Value: FixedWidthInteger>(_ key: String, in range: ClosedRange<Value>) throws(ConfigurationError) -> Value? {
        guard let node = value(key) else { return nil }
        guard let number = node.int else {
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
        guard case let .sequence(sequence) = node.kind else {
            throw error(at: node, key: key, "expected a list, found \(node.kindDescription)")
        }
        var result: [Element] = []
        for (index, item) in sequence.enumerated() {
            guard let text = item.string else {
                throw error(at: item, key: "\(key)[\(index)]", "expected a string, found \(item.kindDescription)")
            }
            switch parse(text) {
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
