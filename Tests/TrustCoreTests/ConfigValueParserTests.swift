import Logging
import XCTest

@testable import TrustCore

/// Each setting's accepted values: the same parser serves every layer.
final class ConfigValueParserTests: XCTestCase {
    func testPort() {
        XCTAssertEqual(SettingValueParser.port("0"), 0)
        XCTAssertEqual(SettingValueParser.port("65535"), 65535)
        for bad in [
            "65536", "70000", "-1", "abc", "", " 80", "80 ", "+80", "8.0", "0x50",
            "99999999999999999999999",
        ] {
            XCTAssertNil(SettingValueParser.port(bad), bad)
        }
    }

    func testHost() {
        XCTAssertEqual(SettingValueParser.host("127.0.0.1"), "127.0.0.1")
        XCTAssertEqual(SettingValueParser.host("::"), "::")
        XCTAssertEqual(SettingValueParser.host("localhost"), "localhost")
        XCTAssertNil(SettingValueParser.host(""))
        XCTAssertNil(SettingValueParser.host("local host"))
        XCTAssertNil(SettingValueParser.host("a\nb"))
        XCTAssertNil(SettingValueParser.host(String(repeating: "a", count: 254)))
    }

    func testMode() {
        XCTAssertEqual(SettingValueParser.mode("auto"), .auto)
        XCTAssertEqual(SettingValueParser.mode("raw"), .raw)
        XCTAssertEqual(SettingValueParser.mode("framed"), .framed)
        XCTAssertNil(SettingValueParser.mode("RAW"))
        XCTAssertNil(SettingValueParser.mode("x"))
    }

    func testSeconds() {
        XCTAssertEqual(SettingValueParser.seconds("0"), 0)
        XCTAssertEqual(SettingValueParser.seconds("0.5"), 0.5)
        XCTAssertEqual(SettingValueParser.seconds("300"), 300)
        XCTAssertEqual(SettingValueParser.seconds("604800"), 604_800)
        for bad in ["-1", "abc", "", "nan", "inf", "1e3", "0x10", "1.2.3", ".", "604801", " 1"] {
            XCTAssertNil(SettingValueParser.seconds(bad), bad)
        }
    }

    func testMaxFrame() {
        XCTAssertEqual(SettingValueParser.maxFrame("0"), 0)
        XCTAssertEqual(SettingValueParser.maxFrame("4294967295"), UInt32.max)
        XCTAssertNil(SettingValueParser.maxFrame("4294967296"))
        XCTAssertNil(SettingValueParser.maxFrame("-5"))
        XCTAssertNil(SettingValueParser.maxFrame("abc"))
    }

    func testMaxClientsAndWorkers() {
        XCTAssertEqual(SettingValueParser.maxClients("1"), 1)
        XCTAssertNil(SettingValueParser.maxClients("0"))
        XCTAssertNil(SettingValueParser.maxClients("1000001"))
        XCTAssertEqual(SettingValueParser.workers("1024"), 1024)
        XCTAssertNil(SettingValueParser.workers("0"))
        XCTAssertNil(SettingValueParser.workers("1025"))
    }

    func testLogLevel() {
        for level in Logger.Level.allCases {
            XCTAssertEqual(SettingValueParser.logLevel(level.rawValue), level)
        }
        XCTAssertNil(SettingValueParser.logLevel("loud"))
        XCTAssertNil(SettingValueParser.logLevel("INFO"))
    }
}
