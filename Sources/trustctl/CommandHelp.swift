/// Help text laid out as ArgumentParser lays out its own (2-space indent,
/// a 26-column label, 80 columns), for the options `CommandSyntax` declares.
enum CommandHelp {
    /// 79, not 80: ArgumentParser re-wraps the discussion at 80 and breaks a full line.
    static let width = 79
    static let labelColumn = 26

    /// `Close ... Accepts seconds 0-604800. Default: 300. Env: TRUST_ECHO_TIMEOUT.`
    static func describe(_ help: String, accepted: String, default defaultText: String?, environment: String?)
        -> String
    {
        var text = accepted.isEmpty ? help : help + " Accepts " + accepted + "."
        if let defaultText { text += " Default: \(defaultText)." }
        if let environment { text += " Env: \(environment)." }
        return text
    }

    /// One entry: the label, then its help wrapped in the help column.
    static func entry(_ label: String, _ help: String) -> String {
        let indented = "  " + label
        let wrapped = wrap(help, indent: labelColumn, firstLineUsed: labelColumn)
        if indented.count <= labelColumn - 2 {
            return indented + String(repeating: " ", count: labelColumn - indented.count) + wrapped + "\n"
        }
        return indented + "\n" + String(repeating: " ", count: labelColumn) + wrapped + "\n"
    }

    /// Words of `text` in lines of at most `width` columns; lines after the
    /// first are indented by `indent`, the first starts at `firstLineUsed`.
    static func wrap(_ text: String, indent: Int, firstLineUsed: Int) -> String {
        wrap(words: text.split(separator: " ").map(String.init), indent: indent, firstLineUsed: firstLineUsed)
    }

    /// Like `wrap(_:indent:firstLineUsed:)`, never breaking inside one of `words`.
    static func wrap(words: [String], indent: Int, firstLineUsed: Int) -> String {
        var lines: [String] = []
        var line = ""
        var used = firstLineUsed
        for word in words {
            if !line.isEmpty && used + 1 + word.count > width {
                lines.append(line)
                line = ""
                used = indent
            }
            if !line.isEmpty {
                line += " "
                used += 1
            }
            line += word
            used += word.count
        }
        lines.append(line)
        return lines.joined(separator: "\n" + String(repeating: " ", count: indent))
    }
}
