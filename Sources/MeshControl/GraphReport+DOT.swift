extension GraphReport {
    /// The graph in Graphviz's DOT language: members as ellipses (this node doubled, relays as
    /// boxes, down members grey and dashed), this node's direct paths as solid edges and relayed
    /// ones as dashed edges through the relay (labelled with the round trip), relays other
    /// members reach as dotted edges, routed prefixes as notes with an edge from each gateway
    /// (bold for the active one).
    public var dot: String {
        var lines = ["graph mesh {", "  graph [label=\(Self.quoted("Meshwork mesh seen from \(node)")), labelloc=t, fontname=\"Helvetica\"];",
                     "  node [fontname=\"Helvetica\"]; edge [fontname=\"Helvetica\", fontsize=10];"]
        for member in members.sorted(by: { $0.name < $1.name }) {
            var attributes = ["label=\(Self.quoted(member.name + (member.state == "alive" ? "" : "\\n" + member.state)))"]
            attributes.append(member.roles.contains("relay") ? "shape=box" : "shape=ellipse")
            if member.isSelf { attributes.append("peripheries=2") }
            if member.state != "alive" && member.state != "suspect" { attributes += ["style=dashed", "color=gray", "fontcolor=gray"] }
            lines.append("  \(Self.quoted("m:" + member.name)) [\(attributes.joined(separator: ", "))];")
        }
        for path in paths.sorted(by: { $0.to < $1.to }) {
            let rtt = path.rttMilliseconds.map { Self.milliseconds($0) } ?? ""
            switch path.kind {
            case "direct":
                lines.append("  \(Self.quoted("m:" + node)) -- \(Self.quoted("m:" + path.to)) [label=\(Self.quoted(rtt)), penwidth=2];")
            case "relay":
                let relay = path.relay ?? "?"
                lines.append("  \(Self.quoted("m:" + node)) -- \(Self.quoted("m:" + path.to)) [label=\(Self.quoted("via \(relay)\(rtt.isEmpty ? "" : " " + rtt)")), style=dashed, color=orange];")
            default:
                lines.append("  \(Self.quoted("m:" + node)) -- \(Self.quoted("m:" + path.to)) [label=\"no path\", style=dotted, color=red];")
            }
        }
        for link in relayLinks.sorted(by: { ($0.member, $0.relay) < ($1.member, $1.relay) }) where link.member != node {
            lines.append("  \(Self.quoted("m:" + link.member)) -- \(Self.quoted("m:" + link.relay)) [label=\(Self.quoted(Self.milliseconds(link.rttMilliseconds))), style=dotted, color=gray];")
        }
        for route in routes.sorted(by: { $0.prefix < $1.prefix }) {
            let id = Self.quoted("p:" + route.prefix)
            let source = route.source == "daemon" ? "\\n(routing daemon)" : ""
            lines.append("  \(id) [label=\(Self.quoted(route.prefix + source)), shape=note, style=filled, fillcolor=lightyellow];")
            for gateway in route.gateways {
                let style = gateway.state == "active" ? "penwidth=2, color=darkgreen" : gateway.state == "down" ? "style=dashed, color=gray" : "color=black"
                let label = route.source == "daemon" ? gateway.state : "\(gateway.priority) \(gateway.state)"
                lines.append("  \(Self.quoted("m:" + gateway.name)) -- \(id) [label=\(Self.quoted(label)), \(style)];")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A DOT string literal (backslashes kept: `\n` is DOT's line break).
    static func quoted(_ text: String) -> String {
        "\"" + text.map { $0 == "\"" ? "\\\"" : String($0) }.joined() + "\""
    }

    static func milliseconds(_ value: Double) -> String {
        value < 10 ? "\(Double(Int(value * 10)) / 10) ms" : "\(Int(value.rounded())) ms"
    }
}
