import XCTest

@testable import TrustCore

final class FramingEncoderTests: XCTestCase {
    func testHeaderIsBigEndianLength() {
        XCTAssertTrue(FrameEncoder.header(length: 0) == (0, 0, 0, 0))
        XCTAssertTrue(FrameEncoder.header(length: 1) == (0, 0, 0, 1))
        XCTAssertTrue(FrameEncoder.header(length: 0x0102_0304) == (1, 2, 3, 4))
        XCTAssertTrue(FrameEncoder.header(length: .max) == (0xFF, 0xFF, 0xFF, 0xFF))
    }

    func testWriteHeaderMatchesHeaderAtAnUnalignedAddress() {
        var buffer = [UInt8](repeating: 0xEE, count: 7)
        buffer.withUnsafeMutableBytes {
            FrameEncoder.writeHeader(length: 0xA0B0_C0D0, to: $0.baseAddress! + 1)
        }
        XCTAssertEqual(buffer, [0xEE, 0xA0, 0xB0, 0xC0, 0xD0, 0xEE, 0xEE])
    }

    func testEncodeIsHeaderThenPayload() {
        XCTAssertEqual(FrameEncoder.encode(Array("hello".utf8)), [0, 0, 0, 5] + Array("hello".utf8))
        XCTAssertEqual(FrameEncoder.encode([UInt8]()), [0, 0, 0, 0])
        XCTAssertEqual(FrameEncoder.encode([UInt8](repeating: 7, count: 300))[..<4], [0, 0, 1, 44])
    }

    func testEncodePayloadsConcatenatesFramesInOrder() {
        var rng = SplitMix64(seed: framingBaseSeed &+ 80_000)
        let payloads = FramingFixtures.payloads(count: 20, using: &rng)
        XCTAssertEqual(
            FrameEncoder.encode(payloads: payloads), payloads.flatMap { FrameEncoder.encode($0) })
        XCTAssertEqual(FrameEncoder.encode(payloads: [[UInt8]]()), [])
    }

    func testFramingErrorDescriptionNamesBothSizes() {
        let error = FramingError.frameTooLarge(declared: 70_000, max: 65_536)
        XCTAssertEqual(error.description, "frame declares 70000 bytes, more than the maximum of 65536")
    }
}
