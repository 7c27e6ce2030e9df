@testable import MeshAgent
import Testing

/// The YAML subset meshd's configuration is read with: what it accepts, and the errors (with
/// line and column) for what it does not.
@Suite struct YAMLParserTests {
    func scalar(_ text: String, quoted: Bool = false) -> YAMLNode.Kind { .scalar(text, quoted: quoted) }

    func entries(_ node: YAMLNode?) -> [String: YAMLNode] {
        guard case let .mapping(entries) = node?.kind else { return [:] }
        return Dictionary(uniqueKeysWithValues: entries.map { ($0.key.string ?? "", $0.value) })
    }

    @Test func nestedMappingsListsAndScalars() throws {
        let text = """
            ---
            # a comment
            top: plain value   # trailing comment
            quoted: "a # not a comment: \\"x\\""
            single: 'it''s'
            empty:
            nested:
              port: 0x10
              flag: yes
              deeper:
                list: [a, "b, c", 'd', []]
                map: {k: v, "q": 1}
            items:
            - one
            -   two
            - key: first
              other: second
            -
              - inner
            """
        let root = try YAMLParser.parse(text)
        let top = entries(root)
        #expect(top["top"]?.kind == scalar("plain value"))
        #expect(top["quoted"]?.kind == scalar("a # not a comment: \"x\"", quoted: true))
        #expect(top["single"]?.kind == scalar("it's", quoted: true))
        #expect(top["empty"]?.isNull == true)
        let nested = entries(top["nested"])
        #expect(nested["port"]?.int == 16)
        #expect(nested["flag"]?.bool == true)
        #expect(nested["port"]?.line == 8 && nested["port"]?.column == 9)
        let deeper = entries(nested["deeper"])
        guard case let .sequence(list) = deeper["list"]?.kind else { Issue.record("list"); return }
        #expect(list.map(\.string) == ["a", "b, c", "d", nil])
        #expect(entries(deeper["map"])["k"]?.string == "v")
        #expect(entries(deeper["map"])["q"]?.int == 1)
        guard case let .sequence(items) = top["items"]?.kind else { Issue.record("items"); return }
        #expect(items.count == 4)
        #expect(items[0].string == "one" && items[1].string == "two")
        #expect(entries(items[2])["key"]?.string == "first" && entries(items[2])["other"]?.string == "second")
        guard case let .sequence(inner) = items[3].kind else { Issue.record("inner"); return }
        #expect(inner.map(\.string) == ["inner"])
    }

    @Test func emptyDocumentsHaveNoRoot() throws {
        #expect(try YAMLParser.parse("") == nil)
        #expect(try YAMLParser.parse("# only\n\n   # comments\n") == nil)
        #expect(try YAMLParser.parse("---\n") == nil)
    }

    @Test func quotedNumbersAreStrings() throws {
        let top = entries(try YAMLParser.parse("a: \"42\"\nb: 42\nc: -7\nd: 1_000\ne: 4.5\n"))
        #expect(top["a"]?.int == nil && top["a"]?.string == "42")
        #expect(top["b"]?.int == 42 && top["c"]?.int == -7 && top["d"]?.int == 1000)
        #expect(top["e"]?.int == nil)
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        let text: String, line: Int, column: Int, problem: String
        var testDescription: String { problem }
    }

    static let bad: [Bad] = [
        Bad(text: "a:\n\tb: 1\n", line: 2, column: 1, problem: "a tab in the indentation"),
        Bad(text: "a: 1\na: 2\n", line: 2, column: 1, problem: "duplicate key \"a\""),
        Bad(text: "a: &anchor 1\n", line: 1, column: 4, problem: "anchors, aliases and tags are not supported"),
        Bad(text: "a: |\n  text\n", line: 1, column: 4, problem: "block scalars (| and >) are not supported"),
        Bad(text: "a: 1\n---\nb: 2\n", line: 2, column: 1, problem: "several documents in one file"),
        Bad(text: "a: one\n  two\n", line: 2, column: 3, problem: "a value continued on the next line is not supported"),
        Bad(text: "a:\n  b: 1\n    c: 2\n", line: 3, column: 5, problem: "unexpected indentation"),
        Bad(text: "a: [1, 2\n", line: 1, column: 4, problem: "[ is not closed on this line"),
        Bad(text: "a: \"open\n", line: 1, column: 4, problem: "a double quote that is never closed"),
        Bad(text: "a: b: c\n", line: 1, column: 5, problem: "\": \" inside a value; quote the value"),
        Bad(text: "a: 1\n- item\n", line: 2, column: 1, problem: "a list item where a key was expected"),
        Bad(text: "a: [1] x\n", line: 1, column: 8, problem: "unexpected text after the closing bracket"),
        Bad(text: "just text\nkey: 1\n", line: 2, column: 1, problem: "unexpected indentation"),
    ]

    @Test(arguments: bad) func refusedWithLineColumnAndReason(_ bad: Bad) {
        #expect {
            _ = try YAMLParser.parse(bad.text)
        } throws: { error in
            guard let error = error as? YAMLSyntaxError else { return false }
            #expect(error.line == bad.line && error.column == bad.column, "at \(error.line):\(error.column): \(error.problem)")
            #expect(error.problem.contains(bad.problem), "\(error.problem)")
            return true
        }
    }
}
