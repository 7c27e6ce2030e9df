/// A node of a YAML document, with where it starts (1-based line and column).
///
/// meshd reads its configuration with ``YAMLParser``, a parser for the block-style subset of YAML
/// that configuration files use, rather than a general YAML library: the one we used (Yams)
/// brings all of Foundation and ICU into the daemon, about 6 MiB of resident memory of a 30 MB
/// budget (docs/benchmarks.md, "Agent").
struct YAMLNode: Equatable {
    enum Kind: Equatable {
        /// A scalar's text, and whether it was quoted (a quoted scalar is always a string).
        case scalar(String, quoted: Bool)
        case mapping([YAMLEntry])
        case sequence([YAMLNode])
    }

    var kind: Kind
    var line: Int
    var column: Int

    /// The text of a scalar, nil for collections.
    var string: String? {
        if case let .scalar(text, _) = kind { return text }
        return nil
    }

    /// Whether this is an unquoted null (`~`, `null`, or nothing).
    var isNull: Bool {
        if case let .scalar(text, quoted) = kind { return !quoted && ["", "~", "null", "Null", "NULL"].contains(text) }
        return false
    }

    /// An unquoted integer scalar (decimal, `0x` hexadecimal, `0o` octal; `_` separators allowed).
    var int: Int? {
        guard case let .scalar(text, false) = kind else { return nil }
        var digits = Substring(text.replacingUnderscores)
        var negative = false
        if let sign = digits.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        var radix = 10
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
            radix = 16
            digits = digits.dropFirst(2)
        } else if digits.hasPrefix("0o") || digits.hasPrefix("0O") {
            radix = 8
            digits = digits.dropFirst(2)
        }
        guard !digits.isEmpty, let magnitude = Int(digits, radix: radix) else { return nil }
        return negative ? -magnitude : magnitude
    }

    /// An unquoted boolean scalar (`true`/`false`, and YAML 1.1's `yes`/`no`/`on`/`off`).
    var bool: Bool? {
        guard case let .scalar(text, false) = kind else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: return nil
        }
    }

    /// "a mapping", "the string \"x\"", … for error messages.
    var kindDescription: String {
        switch kind {
        case let .scalar(text, quoted):
            if !quoted, int != nil { return "the number \(text)" }
            if !quoted, bool != nil { return "the boolean \(text)" }
            return "the string \"\(text)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }
}

/// One `key: value` of a mapping.
struct YAMLEntry: Equatable {
    var key: YAMLNode
    var value: YAMLNode
}

private extension String {
    var replacingUnderscores: String { String(filter { $0 != "_" }) }
}
