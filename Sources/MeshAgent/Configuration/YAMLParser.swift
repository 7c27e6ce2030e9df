/// A YAML syntax error: where (1-based) and what.
struct YAMLSyntaxError: Error, Equatable {
    var line: Int
    var column: Int
    var problem: String
}

/// Parses the block-style YAML that configuration files are written in: mappings and lists by
/// indentation, `- ` items (also `- key: value`), one-line flow lists and mappings (`[a, "b"]`,
/// `{}`), plain, single- and double-quoted scalars, comments and a leading `---`. Anchors,
/// aliases, tags, block scalars (`|`, `>`), values continued over several lines and several
/// documents are refused with an error that names them. Duplicate keys are errors.
struct YAMLParser {
    /// A line with content: its indentation and its text after it (comment and trailing space removed).
    private struct Line {
        var number: Int
        var indent: Int
        var text: [Character]
    }

    private var lines: [Line] = []
    private var position = 0

    /// The document's root node, or nil for a document without content.
    static func parse(_ text: String) throws(YAMLSyntaxError) -> YAMLNode? {
        var parser = try YAMLParser(text)
        return try parser.document()
    }

    private init(_ text: String) throws(YAMLSyntaxError) {
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var characters = Array(raw)
            if characters.last == "\r" { characters.removeLast() }
            var indent = 0
            while indent < characters.count, characters[indent] == " " { indent += 1 }
            if indent < characters.count, characters[indent] == "\t" {
                throw YAMLSyntaxError(line: number, column: indent + 1, problem: "a tab in the indentation; indent with spaces")
            }
            let content = Self.withoutComment(Array(characters[indent...]))
            if !content.isEmpty { lines.append(Line(number: number, indent: indent, text: content)) }
        }
    }

    /// `text` without a comment (`#` at the start or after a space, outside quotes) and trailing space.
    private static func withoutComment(_ text: [Character]) -> [Character] {
        var quote: Character?
        var end = text.count
        for (index, character) in text.enumerated() {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                if index == 0 || " [{,:-".contains(text[index - 1]) { quote = character }
            } else if character == "#", index == 0 || text[index - 1] == " " || text[index - 1] == "\t" {
                end = index
                break
            }
        }
        var result = Array(text[..<end])
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }

    private mutating func document() throws(YAMLSyntaxError) -> YAMLNode? {
        if let first = lines.first, first.indent == 0, String(first.text) == "---" { lines.removeFirst() }
        if let end = lines.firstIndex(where: { $0.indent == 0 && ["---", "..."].contains(String($0.text)) }) {
            if String(lines[end].text) == "---" || end + 1 < lines.count {
                throw error(lines[end], "several documents in one file; meshd reads one")
            }
            lines.removeLast()
        }
        guard let first = lines.first else { return nil }
        let root = try block(indent: first.indent)
        if position < lines.count { throw error(lines[position], "unexpected indentation") }
        return root
    }

    /// The block starting at the current line, whose lines are indented by `indent`.
    private mutating func block(indent: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let line = lines[position]
        if Self.isListItem(line.text) { return try list(indent: indent) }
        if Self.mappingColon(in: line.text) != nil { return try mapping(indent: indent) }
        position += 1
        let node = try Self.inlineValue(line.text, line: line.number, column: indent + 1)
        if position < lines.count, lines[position].indent > indent { throw continuedValue(lines[position]) }
        return node
    }

    private mutating func mapping(indent: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let start = lines[position]
        var entries: [YAMLEntry] = []
        while position < lines.count, lines[position].indent >= indent {
            let line = lines[position]
            if line.indent > indent { throw error(line, "unexpected indentation") }
            if Self.isListItem(line.text) { throw error(line, "a list item where a key was expected") }
            guard let colon = Self.mappingColon(in: line.text) else { throw error(line, "expected KEY: VALUE") }
            var keyText = Array(line.text[..<colon])
            while keyText.last == " " { keyText.removeLast() }
            let key = try Self.inlineScalar(keyText, line: line.number, column: indent + 1)
            if entries.contains(where: { $0.key.string == key.string }) {
                throw YAMLSyntaxError(line: line.number, column: indent + 1, problem: "duplicate key \"\(key.string ?? "")\"")
            }
            var restStart = colon + 1
            while restStart < line.text.count, line.text[restStart] == " " { restStart += 1 }
            let rest = Array(line.text[restStart...])
            position += 1
            let value: YAMLNode
            if !rest.isEmpty {
                value = try Self.inlineValue(rest, line: line.number, column: indent + restStart + 1)
                if position < lines.count, lines[position].indent > indent { throw continuedValue(lines[position]) }
            } else if position < lines.count, lines[position].indent > indent {
                value = try block(indent: lines[position].indent)
            } else if position < lines.count, lines[position].indent == indent, Self.isListItem(lines[position].text) {
                value = try list(indent: indent)  // a list may sit at its key's indentation
            } else {
                value = YAMLNode(kind: .scalar("", quoted: false), line: line.number, column: indent + colon + 2)
            }
            entries.append(YAMLEntry(key: key, value: value))
        }
        return YAMLNode(kind: .mapping(entries), line: start.number, column: indent + 1)
    }

    private mutating func list(indent: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let start = lines[position]
        var items: [YAMLNode] = []
        while position < lines.count, lines[position].indent >= indent {
            let line = lines[position]
            if line.indent > indent { throw error(line, "unexpected indentation") }
            guard Self.isListItem(line.text) else { break }  // the enclosing mapping goes on
            var contentStart = 1
            while contentStart < line.text.count, line.text[contentStart] == " " { contentStart += 1 }
            if contentStart >= line.text.count {
                position += 1
                if position < lines.count, lines[position].indent > indent {
                    items.append(try block(indent: lines[position].indent))
                } else {
                    items.append(YAMLNode(kind: .scalar("", quoted: false), line: line.number, column: indent + 2))
                }
            } else {
                // The item's content is a block at its own column ("- key: a" then "  other: b").
                lines[position] = Line(number: line.number, indent: indent + contentStart, text: Array(line.text[contentStart...]))
                items.append(try block(indent: indent + contentStart))
            }
        }
        return YAMLNode(kind: .sequence(items), line: start.number, column: indent + 1)
    }

    private static func isListItem(_ text: [Character]) -> Bool {
        text.first == "-" && (text.count == 1 || text[1] == " ")
    }

    /// Index of the `:` that ends a mapping key on this line (followed by a space or the end).
    private static func mappingColon(in text: [Character]) -> Int? {
        guard let first = text.first, first != "[", first != "{" else { return nil }
        var index = 0
        if first == "\"" || first == "'" {
            index = 1
            while index < text.count, text[index] != first || (first == "\"" && text[index - 1] == "\\") { index += 1 }
            index += 1
        }
        while index < text.count {
            if text[index] == ":", index + 1 == text.count || text[index + 1] == " " { return index }
            index += 1
        }
        return nil
    }

    // MARK: Values on one line

    private static func inlineValue(_ text: [Character], line: Int, column: Int) throws(YAMLSyntaxError) -> YAMLNode {
        guard let first = text.first else { return YAMLNode(kind: .scalar("", quoted: false), line: line, column: column) }
        if first == "[" || first == "{" {
            var index = 0
            let node = try flow(text, &index, line: line, column: column)
            skipSpaces(text, &index)
            guard index == text.count else {
                throw YAMLSyntaxError(line: line, column: column + index, problem: "unexpected text after the closing bracket")
            }
            return node
        }
        return try inlineScalar(text, line: line, column: column)
    }

    private static func inlineScalar(_ text: [Character], line: Int, column: Int) throws(YAMLSyntaxError) -> YAMLNode {
        var index = 0
        let node = try scalar(text, &index, line: line, column: column, inFlow: false)
        skipSpaces(text, &index)
        guard index == text.count else {
            throw YAMLSyntaxError(line: line, column: column + index, problem: "unexpected text after the closing quote")
        }
        return node
    }

    /// A scalar starting at `index`; in a flow collection a plain scalar ends at `,`, `]` or `}`.
    private static func scalar(_ text: [Character], _ index: inout Int, line: Int, column: Int, inFlow: Bool) throws(YAMLSyntaxError) -> YAMLNode {
        let start = index
        let at = column + start
        guard index < text.count else { return YAMLNode(kind: .scalar("", quoted: false), line: line, column: at) }
        switch text[index] {
        case "\"":
            index += 1
            var value = ""
            while index < text.count, text[index] != "\"" {
                if text[index] == "\\", index + 1 < text.count {
                    index += 1
                    switch text[index] {
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    case "\\", "\"", "/": value.append(text[index])
                    default:
                        throw YAMLSyntaxError(line: line, column: column + index, problem: "unsupported escape \\\(text[index])")
                    }
                } else {
                    value.append(text[index])
                }
                index += 1
            }
            guard index < text.count else { throw YAMLSyntaxError(line: line, column: at, problem: "a double quote that is never closed on this line") }
            index += 1
            return YAMLNode(kind: .scalar(value, quoted: true), line: line, column: at)
        case "'":
            index += 1
            var value = ""
            while index < text.count {
                if text[index] == "'" {
                    guard index + 1 < text.count, text[index + 1] == "'" else { break }
                    index += 1  // '' is a quote
                }
                value.append(text[index])
                index += 1
            }
            guard index < text.count else { throw YAMLSyntaxError(line: line, column: at, problem: "a single quote that is never closed on this line") }
            index += 1
            return YAMLNode(kind: .scalar(value, quoted: true), line: line, column: at)
        case "&", "*", "!":
            throw YAMLSyntaxError(line: line, column: at, problem: "anchors, aliases and tags are not supported in meshd's configuration")
        case "|", ">":
            throw YAMLSyntaxError(line: line, column: at, problem: "block scalars (| and >) are not supported; write the value on one line, quoted")
        default:
            while index < text.count, !(inFlow && ",]}".contains(text[index])) {
                if text[index] == ":", index + 1 < text.count, text[index + 1] == " " {
                    throw YAMLSyntaxError(line: line, column: column + index, problem: "\": \" inside a value; quote the value")
                }
                index += 1
            }
            var value = Array(text[start..<index])
            while value.last == " " { value.removeLast() }
            return YAMLNode(kind: .scalar(String(value), quoted: false), line: line, column: at)
        }
    }

    /// A flow list `[a, b]` or mapping `{k: v}` starting at `index` (on this one line).
    private static func flow(_ text: [Character], _ index: inout Int, line: Int, column: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let at = column + index
        let isList = text[index] == "["
        let close: Character = isList ? "]" : "}"
        index += 1
        var items: [YAMLNode] = [], entries: [YAMLEntry] = []
        while true {
            skipSpaces(text, &index)
            guard index < text.count else {
                throw YAMLSyntaxError(line: line, column: at, problem: "\(isList ? "[" : "{") is not closed on this line (flow collections must fit on one line)")
            }
            if text[index] == close {
                index += 1
                break
            }
            let element = try flowElement(text, &index, line: line, column: column)
            if isList {
                items.append(element)
            } else {
                skipSpaces(text, &index)
                guard index < text.count, text[index] == ":" else {
                    throw YAMLSyntaxError(line: line, column: column + index, problem: "expected \": \" after a key in {…}")
                }
                index += 1
                skipSpaces(text, &index)
                let value = try flowElement(text, &index, line: line, column: column)
                if entries.contains(where: { $0.key.string == element.string }) {
                    throw YAMLSyntaxError(line: line, column: element.column, problem: "duplicate key \"\(element.string ?? "")\"")
                }
                entries.append(YAMLEntry(key: element, value: value))
            }
            skipSpaces(text, &index)
            if index < text.count, text[index] == "," { index += 1 }
            else if index < text.count, text[index] != close {
                throw YAMLSyntaxError(line: line, column: column + index, problem: "expected \",\" or \"\(close)\"")
            }
        }
        return YAMLNode(kind: isList ? .sequence(items) : .mapping(entries), line: line, column: at)
    }

    private static func flowElement(_ text: [Character], _ index: inout Int, line: Int, column: Int) throws(YAMLSyntaxError) -> YAMLNode {
        if index < text.count, text[index] == "[" || text[index] == "{" { return try flow(text, &index, line: line, column: column) }
        // In a flow mapping a plain key ends at ":".
        let start = index
        if index < text.count, text[index] != "\"", text[index] != "'" {
            var end = index
            while end < text.count, !",]}".contains(text[end]), !(text[end] == ":" && (end + 1 == text.count || text[end + 1] == " ")) { end += 1 }
            var value = Array(text[start..<end])
            while value.last == " " { value.removeLast() }
            if let first = value.first, "&*!|>".contains(first) {
                return try scalar(text, &index, line: line, column: column, inFlow: true)
            }
            index = end
            return YAMLNode(kind: .scalar(String(value), quoted: false), line: line, column: column + start)
        }
        return try scalar(text, &index, line: line, column: column, inFlow: true)
    }

    private static func skipSpaces(_ text: [Character], _ index: inout Int) {
        while index < text.count, text[index] == " " { index += 1 }
    }

    private func error(_ line: Line, _ problem: String) -> YAMLSyntaxError {
        YAMLSyntaxError(line: line.number, column: line.indent + 1, problem: problem)
    }

    private func continuedValue(_ line: Line) -> YAMLSyntaxError {
        error(line, "unexpected indentation (a value continued on the next line is not supported; write it on one line)")
    }
}
