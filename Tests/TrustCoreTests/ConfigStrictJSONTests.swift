import Foundation
import XCTest

@testable import TrustCore

/// The strict config.json reader: RFC 8259 details, and a seeded
/// differential fuzz against Foundation's JSONSerialization.
final class ConfigStrictJSONTests: XCTestCase {
    private func members(_ text: String) -> [StrictJSON.Member]? {
        try? StrictJSON.parseObject(Array(text.utf8)).get()
    }

    private func failure(_ bytes: [UInt8]) -> StrictJSON.Failure? {
        if case .failure(let failure) = StrictJSON.parseObject(bytes) { return failure }
        return nil
    }

    func testScalarsKeepTheirText() {
        XCTAssertEqual(
            members(
                #"{"a": -0.5e+3, "b": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "c": true, "d": null, "e": [1, {}], "f": {"g": []}}"#
            ),
            [
                .init(key: "a", value: .number("-0.5e+3")), .init(key: "b", value: .string("x\"\\/\u{8}\u{C}\n\r\té😀")),
                .init(key: "c", value: .bool(true)), .init(key: "d", value: .null), .init(key: "e", value: .array),
                .init(key: "f", value: .object),
            ])
    }

    func testRejectsWhatRFC8259Rejects() {
        for text in [
            "", " ", "{", "}", "{\"a\"}", "{\"a\" 1}", "{\"a\": }", "{a: 1}", "{'a': 1}", "{\"a\": 01}", "{\"a\": 1.}",
            "{\"a\": .5}", "{\"a\": +1}", "{\"a\": 1e}", "{\"a\": -}", "{\"a\": tru}", "{\"a\": nul}",
            "{\"a\": \"\\x\"}",
            "{\"a\": \"\\u12\"}", "{\"a\": \"\\udc00\"}", "{\"a\": \"\\ud800x\"}", "{\"a\": [1,]}", "{\"a\": 1,}",
            "{\"a\": 1} x", "{\"a\": 1}{}", "{\u{A0}}", "{\"a\":\u{C}1}", "[]", "1", "\"a\"",
        ] {
            XCTAssertNotNil(failure(Array(text.utf8)), text.debugDescription)
        }
        XCTAssertNotNil(failure([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D]))  // {"a":"\xFF"}
        XCTAssertNotNil(failure([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC0, 0xAF, 0x22, 0x7D]))  // overlong '/'
        XCTAssertNotNil(failure([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x7D]))  // surrogate
    }

    func testPositionsAreLineAndColumn() {
        XCTAssertEqual(
            failure(Array("{\n  \"a\": 1,\n  \"a\": 2\n}".utf8)),
            .init(line: 3, column: 3, problem: "duplicate key", key: "a"))
        XCTAssertEqual(failure(Array("{\"a\": 1,}".utf8))?.column, 9)
    }

    func testDeepNestingIsRefusedNotRecursedInto() {
        let deep = "{\"a\": " + String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000) + "}"
        XCTAssertTrue(failure(Array(deep.utf8))?.problem.contains("nested more than 64") ?? false)
        let fine = "{\"a\": " + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "}"
        XCTAssertNotNil(members(fine))
    }

    /// Mutations of valid flat objects. Whenever the strict reader accepts,
    /// JSONSerialization must accept too, with the same keys and values;
    /// whenever JSONSerialization rejects, so must the strict reader. The
    /// strict reader may reject more (duplicate keys, byte-order marks).
    func testDifferentialAgainstJSONSerialization() throws {
        let seed = ProcessInfo.processInfo.environment["TRUSTCTL_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x6A73_6F6E
        print("ConfigStrictJSONTests seed: \(seed) (replay with TRUSTCTL_FUZZ_SEED=\(seed))")
        var random = SplitMix64(seed: seed)
        func next() -> Int { Int.random(in: 0..<Int.max, using: &random) }
        let pieces = [
            "{", "}", "[", "]", ",", ":", " ", "\n", "\"", "\\", "\\u", "\\ud83d", "\\ude00", "0", "1", "-", ".", "e",
            "E", "+", "true", "false", "null", "NaN", "\"port\"", "\"a\"", "9900", "1e400", "0.5", "é", "\u{0}",
            "\t", "x",
        ]
        let seeds = [
            #"{"port": 9900, "mode": "raw", "timeout": 0.5}"#, #"{"a": [1, 2, {"b": null}], "c": "\u00e9"}"#,
            #"{}"#, #"{"x": -1.5e-3, "y": true}"#,
        ]
        var agreed = 0
        for iteration in 0..<3000 {
            var bytes = Array(seeds[next() % seeds.count].utf8)
            for _ in 0..<(1 + next() % 4) {
                let position = bytes.isEmpty ? 0 : next() % (bytes.count + 1)
                switch next() % 4 {
                case 0 where !bytes.isEmpty && position < bytes.count: bytes.remove(at: position)
                case 1 where !bytes.isEmpty && position < bytes.count: bytes[position] = UInt8(next() % 256)
                default: bytes.insert(contentsOf: Array(pieces[next() % pieces.count].utf8), at: position)
                }
            }
            let label =
                "seed \(seed) iteration \(iteration): \(String(decoding: bytes, as: UTF8.self).debugDescription)"
            let strict = StrictJSON.parseObject(bytes)
            let foundation = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
            guard case .success(let parsed) = strict else { continue }
            guard let foundation else {
                // Foundation refuses numbers beyond Double; the strict reader keeps their text.
                if parsed.contains(where: {
                    if case .number(let text) = $0.value { return Double(text)?.isFinite != true }
                    return false
                }) {
                    continue
                }
                XCTFail("strict accepted, JSONSerialization rejected: \(label)")
                continue
            }
            agreed += 1
            XCTAssertEqual(Set(parsed.map(\.key)), Set(foundation.keys), label)
            for member in parsed {
                switch member.value {
                case .string(let text): XCTAssertEqual(foundation[member.key] as? String, text, label)
                case .number(let text):
                    XCTAssertEqual((foundation[member.key] as? NSNumber)?.doubleValue, Double(text), label)
                case .bool(let flag): XCTAssertEqual(foundation[member.key] as? Bool, flag, label)
                case .null: XCTAssertTrue(foundation[member.key] is NSNull, label)
                case .array: XCTAssertTrue(foundation[member.key] is [Any], label)
                case .object: XCTAssertTrue(foundation[member.key] is [String: Any], label)
                }
            }
        }
        XCTAssertGreaterThan(agreed, 100, "too few accepted mutations to compare")
    }
}
