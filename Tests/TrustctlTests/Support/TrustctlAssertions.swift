import XCTest

/// SPEC §5: a failing command prints exactly one line on stderr and exits with its code.
func assertOneLineFailure(
    _ result: TrustctlResult,
    exitCode: Int32,
    containing fragments: [String] = [],
    file: StaticString = #filePath,
    line: UInt = #line
) {
    XCTAssertEqual(result.exitCode, exitCode, "stderr: \(result.stderr)", file: file, line: line)
    XCTAssertEqual(
        result.stderrLines.count, 1, "expected one stderr line, got: \(result.stderr)", file: file,
        line: line)
    for fragment in fragments {
        XCTAssertTrue(
            result.stderr.contains(fragment),
            "stderr \(result.stderr.debugDescription) lacks \(fragment.debugDescription)",
            file: file, line: line)
    }
}

/// The rows of `config show` as name -> (value, origin).
func parseConfigShow(
    _ result: TrustctlResult, file: StaticString = #filePath, line: UInt = #line
) -> [String: (value: String, origin: String)] {
    XCTAssertEqual(result.exitCode, 0, "stderr: \(result.stderr)", file: file, line: line)
    var rows: [String: (value: String, origin: String)] = [:]
    for row in result.stdoutLines {
        let columns = row.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        XCTAssertEqual(
            columns.count, 3, "config show row is not 'name value origin': \(row)", file: file, line: line
        )
        if columns.count == 3 { rows[columns[0]] = (columns[1], columns[2]) }
    }
    return rows
}
