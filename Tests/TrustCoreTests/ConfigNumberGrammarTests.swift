import Logging
import XCTest

@testable import TrustCore

/// The one number grammar and the range table (docs/configuration.md, "Numbers").
final class ConfigNumberGrammarTests: XCTestCase {
    private func problem(_ text: String, _ range: NumberRange) -> ValueProblem? {
        if case .failure(let problem) = range.read(text) { return problem }
        return nil
    }

    func testIntegersAreDigitsOnly() {
        let range = NumberRange.integer("integer", 1...1024)
        XCTAssertEqual(try range.read("1").get(), 1)
        XCTAssertEqual(try range.read("1024").get(), 1024)
        XCTAssertEqual(try range.read("0010").get(), 10)
        for text in ["1.5", "1e3", "1.", ".5", "2E1"] {
            XCTAssertEqual(problem(text, range), .notAnInteger, text)
        }
        for text in ["", " 1", "1 ", "+1", "0x10", "1_000", "inf", "nan", "abc", "-", "--1", "1e", "e3", "١"] {
            XCTAssertEqual(problem(text, range), .notANumber, text)
        }
        for text in ["0", "1025", "-1", "-0", "99999999999999999999999999", "18446744073709551616"] {
            XCTAssertEqual(problem(text, range), .outOfRange, text)
        }
    }

    func testDecimalsTakeFractionAndExponent() {
        let range = NumberRange.seconds
        XCTAssertEqual(try range.read("0.5").get(), 0.5)
        XCTAssertEqual(try range.read(".5").get(), 0.5)
        XCTAssertEqual(try range.read("5.").get(), 5)
        XCTAssertEqual(try range.read("1e3").get(), 1000)
        XCTAssertEqual(try range.read("2.5E-3").get(), 0.0025)
        XCTAssertEqual(try range.read("6.048e5").get(), 604_800)
        XCTAssertEqual(try range.read("0.001").get(), 0.001)
        for text in ["inf", "nan", "Infinity", "0x1p3", "+1", "1,5", "1e", "1e+", ".", "1..2", " 1"] {
            XCTAssertEqual(problem(text, range), .notANumber, text)
        }
        for text in ["-1", "-0", "-0.0", "1e400", "604800.0001", "0.0009", "1e-300", "1e-400", "0"] {
            XCTAssertEqual(problem(text, range), .outOfRange, text)
        }
    }

    func testZeroMeaningAndUnderflow() {
        let range = NumberRange.idleTimeout
        XCTAssertEqual(try range.read("0").get(), 0)
        XCTAssertEqual(try range.read("0.000").get(), 0)
        XCTAssertEqual(try range.read("0e9").get(), 0)
        // Digits that are not all zero but read as 0: not silently "none".
        XCTAssertEqual(problem("1e-400", range), .outOfRange)
        XCTAssertEqual(problem("0.0001", range), .outOfRange)
        XCTAssertEqual(range.accepted, "seconds 0 (none) or 0.001-604800")
    }

    func testRatesHaveAMinimumSoIntervalsStayFinite() {
        for range in [NumberRange.loadTestRate, .loadTestConnectRate] {
            XCTAssertEqual(problem("1e-300", range), .outOfRange)
            XCTAssertEqual(problem("0.0000000001", range), .outOfRange)
            XCTAssertEqual(problem("0", range), .outOfRange)
            XCTAssertEqual(try range.read("0.001").get(), 0.001)
            XCTAssertEqual(try range.read("1e8").get(), 100_000_000)
            XCTAssertEqual(problem("1.0000001e8", range), .outOfRange)
            // The slowest rate's interval in nanoseconds fits an Int64 with room to spare.
            XCTAssertLessThan(1e9 / range.minimum, Double(Int64.max) / 1000)
        }
    }

    func testOneMaximumForSecondsInEveryCommand() {
        let seconds = NumberRange.table.filter { $0.range.unit == "seconds" }
        XCTAssertEqual(seconds.count, 8)
        for entry in seconds {
            XCTAssertEqual(entry.range.maximum, 604_800, "\(entry.command) \(entry.setting)")
            XCTAssertEqual(entry.range.minimum, 0.001, "\(entry.command) \(entry.setting)")
        }
    }

    func testMessageQuotesTextAsTypedAndNamesTheRange() {
        XCTAssertEqual(
            ValueProblem.outOfRange.message(source: "--timeout", text: "1e400", accepted: "seconds 0-604800"),
            "--timeout: '1e400' is out of range: expected seconds 0-604800")
        XCTAssertEqual(ValueProblem.visible("a\nb\u{1B}"), "a\\nb\\u{1B}")
        XCTAssertEqual(ValueProblem.visible(String(repeating: "9", count: 300)).count, 203)
    }

    func testFormatShowsIntegersWithoutFraction() {
        XCTAssertEqual(NumberRange.format(300), "300")
        XCTAssertEqual(NumberRange.format(0.5), "0.5")
        XCTAssertEqual(NumberRange.format(4_294_967_295), "4294967295")
    }

    func testSettingFormats() {
        let host = SettingFormat<String>.host
        XCTAssertEqual(try host.read("::1").get(), "::1")
        for bad in ["", "local host", "a\nb", String(repeating: "a", count: 254)] {
            XCTAssertThrowsError(try host.read(bad).get(), bad)
        }
        let mode = SettingFormat<EchoMode>.choice(placeholder: "mode")
        XCTAssertEqual(mode.accepted, "auto, raw or framed")
        XCTAssertEqual(try mode.read("raw").get(), .raw)
        XCTAssertThrowsError(try mode.read("RAW").get())
        let level = SettingFormat<Logger.Level>.choice(placeholder: "level")
        for each in Logger.Level.allCases { XCTAssertEqual(try level.read(each.rawValue).get(), each) }
        let port = SettingFormat<UInt16>.integer(.serverPort, placeholder: "port")
        XCTAssertEqual(try port.read("65535").get(), 65535)
        XCTAssertThrowsError(try port.read("65536").get())
    }

    /// docs/configuration.md's range table is the code's, row for row.
    func testDocumentedRangeTableMatchesTheCode() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/configuration.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        guard let start = text.range(of: "<!-- range-table -->"), let end = text.range(of: "<!-- /range-table -->")
        else { return XCTFail("docs/configuration.md lacks the range-table markers") }
        let rows = text[start.upperBound..<end.lowerBound].split(separator: "\n").filter {
            $0.hasPrefix("| ") && !$0.hasPrefix("| command") && !$0.hasPrefix("|---")
        }
        let documented = rows.map { row in
            row.split(separator: "|").map {
                $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "`", with: "")
            }
        }
        let expected = NumberRange.table.map { [$0.command, $0.setting, $0.range.accepted] }
        XCTAssertEqual(documented.map { Array($0.prefix(3)) }, expected)
    }
}
