import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `echo-server --transport udp|both` (SPEC §12) against the real binary,
/// with Python's socket module and `nc -u` (netcat-openbsd) as clients.
final class UDPEchoTests: XCTestCase {
    func testBinaryDatagramsOfEverySizeAreEchoedWhole() throws {
        let server = try startEchoServer(["--transport", "udp"])
        let out = try UDPPythonClient.run("sizes", host: "127.0.0.1", port: server.port, ["0", "1", "1472", "65507"])
        let results = try XCTUnwrap(out["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, 4)
        for result in results {
            XCTAssertEqual(result["ok"] as? Bool, true, "\(result)")
            XCTAssertEqual(result["from"] as? String, "127.0.0.1")
            XCTAssertEqual(result["port"] as? Int, Int(server.port))
        }
        XCTAssertEqual(try server.stop(), 0)
        let stopped = try XCTUnwrap(server.log.waitForEntry(event: "server_stopped"))
        let sends = try XCTUnwrap(out["sends"] as? Int)
        let received = try XCTUnwrap(stopped.integer("datagrams_in"))
        XCTAssertTrue((4...sends).contains(received), "\(received) received of \(sends) sent")
        XCTAssertEqual(stopped.integer("datagrams_out"), received)
        if sends == 4 { XCTAssertEqual(stopped.integer("udp_bytes_out"), 0 + 1 + 1472 + 65507) }
    }

    func testNetcatUDPClientGetsItsLineBack() throws {
        let server = try startEchoServer(["--transport", "udp"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // stdin stays open until the echo is read (nc -u quits at stdin's
        // end); -w3 ends nc after 3 s without traffic, so nothing can hang.
        process.arguments = ["nc", "-u", "-w3", "127.0.0.1", String(server.port)]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data("hello over udp\n".utf8))
        var received = Data()
        while !received.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }  // nc ended
            received.append(chunk)
        }
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        XCTAssertEqual(String(decoding: received, as: UTF8.self), "hello over udp\n")
        XCTAssertEqual(try server.stop(), 0)
    }

    func testHundredConcurrentSourcesEachGetTheirOwnEchoes() throws {
        let server = try startEchoServer(["--transport", "udp"])
        let out = try UDPPythonClient.run("sources", host: "127.0.0.1", port: server.port, ["100", "5"])
        XCTAssertEqual(try server.stop(), 0)
        let stopped = server.log.entries(event: "server_stopped").first
        XCTAssertEqual(out["good"] as? Int, 500, "server: \(stopped.map { "\($0)" } ?? "no server_stopped")")
        XCTAssertEqual(out["wrong"] as? Int, 0)
    }

    /// Source port 19 (chargen) is never answered; a flood from one source
    /// is cut to its bucket while another source is answered; the drops are
    /// in /metrics by reason and summarised in few log lines.
    func testReflectionGuardsDropAndCountWhileOthersAreServed() throws {
        let server = try startEchoServer(["--transport", "udp", "--udp-rate", "50", "--metrics-port", "0"])
        let started = try XCTUnwrap(server.log.waitForEntry(event: "server_started"))
        XCTAssertEqual(started.string("transport"), "udp")
        let metricsPort = try XCTUnwrap(started.integer("metrics_port"))

        let looped = try UDPPythonClient.run("from-port", host: "127.0.0.1", port: server.port, ["19", "0.5"])
        XCTAssertEqual(looped["answers"] as? Int, 0)

        let flood = try UDPPythonClient.run("flood", host: "127.0.0.1", port: server.port, ["600"])
        let answers = try XCTUnwrap(flood["answers"] as? Int)
        // Burst 50, plus at most 50/s for the few seconds the flood lasts.
        XCTAssertGreaterThan(answers, 0)
        XCTAssertLessThan(answers, 300)
        // The other source here is the same address (127.0.0.1): its
        // bucket is the flooder's, refilled during the 1 s wait.
        XCTAssertEqual(flood["other"] as? String, "other")

        // Loopback may drop a datagram when other tests flood it at the
        // same time: the server's own books must balance all the same.
        let metrics = try UDPPythonClient.scrape(UInt16(metricsPort))
        let dropped = { (reason: String) in metrics["trustctl_udp_datagrams_dropped_total{reason=\"\(reason)\"}"] ?? -1
        }
        let received = try XCTUnwrap(metrics["trustctl_udp_datagrams_received_total"])
        let sent = try XCTUnwrap(metrics["trustctl_udp_datagrams_sent_total"])
        XCTAssertTrue((1...3).contains(dropped("reflection_port")), "\(dropped("reflection_port"))")
        XCTAssertGreaterThan(dropped("rate_limited"), 300)
        XCTAssertEqual(dropped("truncated"), 0)
        XCTAssertEqual(dropped("send_failed"), 0)
        XCTAssertEqual(received, sent + dropped("reflection_port") + dropped("rate_limited"))
        XCTAssertLessThanOrEqual(Double(answers + 1), sent)

        XCTAssertEqual(try server.stop(), 0)
        let summaries = server.log.entries(event: "udp_datagrams_dropped")
        XCTAssertFalse(summaries.isEmpty)
        XCTAssertLessThanOrEqual(summaries.count, 10, "one summary line per interval, not one per datagram")
        let summed = summaries.compactMap { $0.integer("rate_limited") }.reduce(0, +)
        XCTAssertEqual(Double(summed), dropped("rate_limited"))
    }

    /// A flooding source on 127.0.0.1 is limited; a source on 127.0.0.3 has
    /// its own bucket and is answered at once.
    func testFloodFromOneAddressDoesNotStarveAnotherAddress() throws {
        let server = try startEchoServer(["--transport", "udp", "--udp-rate", "20"], host: "0.0.0.0")
        let flood = try UDPPythonClient.run("flood", host: "127.0.0.1", port: server.port, ["300"])
        XCTAssertLessThan(try XCTUnwrap(flood["answers"] as? Int), 150)
        let other = try UDPPythonClient.run("to", host: "127.0.0.3", port: server.port, ["127.0.0.3"])
        XCTAssertEqual(other["data"] as? String, "where")
        XCTAssertEqual(try server.stop(), 0)
    }

    /// Over IPv6 a datagram can be longer than 65507 bytes: it is cut by the
    /// kernel to the slot, counted as truncated and not echoed.
    func testIPv6DatagramOver65507BytesIsCountedTruncatedAndNotEchoed() throws {
        let server = try startEchoServer(["--transport", "udp", "--metrics-port", "0"], host: "::1")
        let started = try XCTUnwrap(server.log.waitForEntry(event: "server_started"))
        let metricsPort = UInt16(try XCTUnwrap(started.integer("metrics_port")))
        let out = try UDPPythonClient.run("oversize", host: "::1", port: server.port, ["65508"])
        XCTAssertEqual(out["answers"] as? Int, 0)
        let metrics = try UDPPythonClient.scrape(metricsPort)
        XCTAssertEqual(metrics["trustctl_udp_datagrams_dropped_total{reason=\"truncated\"}"], 1)
        XCTAssertEqual(metrics["trustctl_udp_datagrams_sent_total"], 0)
        XCTAssertEqual(try server.stop(), 0)
    }

    func testIPv6LoopbackEcho() throws {
        let server = try startEchoServer(["--transport", "udp"], host: "::1")
        let out = try UDPPythonClient.run("sizes", host: "::1", port: server.port, ["5", "1400"])
        let results = try XCTUnwrap(out["results"] as? [[String: Any]])
        XCTAssertEqual(results.map { $0["ok"] as? Bool }, [true, true])
        XCTAssertEqual(results.first?["from"] as? String, "::1")
        XCTAssertEqual(try server.stop(), 0)
    }

    /// A 0.0.0.0 bind answers a datagram sent to 127.0.0.2 from 127.0.0.2
    /// (pktinfo), and the same through a dual-stack "::" bind.
    func testWildcardBindAnswersFromTheAddressItWasSentTo() throws {
        for host in ["0.0.0.0", "::"] {
            let server = try startEchoServer(["--transport", "udp"], host: host)
            let out = try UDPPythonClient.run("to", host: "127.0.0.1", port: server.port, ["127.0.0.2"])
            XCTAssertEqual(out["data"] as? String, "where", host)
            XCTAssertEqual(out["from"] as? String, "127.0.0.2", host)
            XCTAssertEqual(out["port"] as? Int, Int(server.port), host)
            XCTAssertEqual(try server.stop(), 0)
        }
    }

    func testBothServesTCPAndUDPOnOnePort() throws {
        let server = try startEchoServer(["--transport", "both"])
        let started = try XCTUnwrap(server.log.waitForEntry(event: "server_started"))
        XCTAssertEqual(started.string("transport"), "tcp,udp")
        let socket = try server.connect()
        try socket.echoRaw(Array("over tcp".utf8))
        let out = try UDPPythonClient.run("sizes", host: "127.0.0.1", port: server.port, ["64"])
        XCTAssertEqual((out["results"] as? [[String: Any]])?.first?["ok"] as? Bool, true)
        socket.close()
        XCTAssertEqual(try server.stop(), 0)
        let stopped = try XCTUnwrap(server.log.waitForEntry(event: "server_stopped"))
        XCTAssertEqual(stopped.integer("connections"), 1)
        XCTAssertEqual(stopped.integer("datagrams_out"), 1)
    }

    /// SIGTERM during a stream of datagrams: exit 0, and every datagram the
    /// server took in was answered or counted as dropped (the drain answers
    /// what was queued, it does not lose it).
    func testSigtermDuringTrafficAnswersWhatWasReceived() throws {
        let server = try startEchoServer(["--transport", "udp", "--udp-rate", "0", "--metrics-port", "0"])
        let started = try XCTUnwrap(server.log.waitForEntry(event: "server_started"))
        let metricsPort = UInt16(try XCTUnwrap(started.integer("metrics_port")))
        let sender = Process()
        sender.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sender.arguments = [
            "python3", "-c",
            """
            import socket, sys, time
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            end = time.time() + 3
            while time.time() < end:
                # Paced (about 2000/s): a flood would make loopback drop
                # the datagrams of tests running beside this one.
                try:
                    s.sendto(b'd' * 200, ('127.0.0.1', int(sys.argv[1])))
                except (BlockingIOError, ConnectionRefusedError):
                    pass
                time.sleep(0.0005)
            """,
            String(server.port),
        ]
        try sender.run()
        defer {
            sender.terminate()
            sender.waitUntilExit()
        }
        // Traffic is flowing before the signal, so the drain has something to answer.
        XCTAssertTrue(
            waitUntil(timeout: 10) {
                ((try? UDPPythonClient.scrape(metricsPort))?["trustctl_udp_datagrams_received_total"] ?? 0) > 100
            })
        XCTAssertEqual(try server.stop(timeout: 15), 0)
        let stopped = try XCTUnwrap(server.log.waitForEntry(event: "server_stopped"))
        let received = try XCTUnwrap(stopped.integer("datagrams_in"))
        XCTAssertGreaterThan(received, 0)
        XCTAssertEqual(
            received, (stopped.integer("datagrams_out") ?? -1) + (stopped.integer("datagrams_dropped") ?? -1))
    }

    func testUDPOnlyBindsNoTCPListener() throws {
        let server = try startEchoServer(["--transport", "udp"])
        XCTAssertThrowsError(try server.connect(), "a TCP connect must be refused")
        XCTAssertEqual(try server.stop(), 0)
    }

    func testBadTransportAndRateValuesFailWithOneLine() throws {
        let env = try makeTrustctlEnvironment()
        let flag = try TrustctlProcess.run(
            ["echo-server", "--port", "0", "--transport", "sctp"], environment: env.variables)
        assertOneLineFailure(flag, exitCode: 64, containing: ["--transport", "sctp"])
        let rate = try TrustctlProcess.run(
            ["echo-server", "--port", "0", "--udp-rate", "-5"], environment: env.variables)
        assertOneLineFailure(rate, exitCode: 64, containing: ["udp-rate"])
        let fromEnv = try TrustctlProcess.run(
            ["echo-server", "--port", "0"], environment: env.with(["TRUST_ECHO_TRANSPORT": "quic"]))
        assertOneLineFailure(fromEnv, exitCode: 78, containing: ["TRUST_ECHO_TRANSPORT"])
        try env.writeConfig(#"{"udp-rate": "fast"}"#)
        let fromFile = try TrustctlProcess.run(["echo-server", "--port", "0"], environment: env.variables)
        assertOneLineFailure(fromFile, exitCode: 78, containing: ["udp-rate"])
    }

    func testConfigShowNamesTransportAndRate() throws {
        let env = try makeTrustctlEnvironment()
        let result = try TrustctlProcess.run(
            ["config", "show", "--transport", "both"], environment: env.with(["TRUST_ECHO_UDP_RATE": "250"]))
        let rows = parseConfigShow(result)
        XCTAssertEqual(rows["transport"]?.value, "both")
        XCTAssertEqual(rows["transport"]?.origin, "flag")
        XCTAssertEqual(rows["udp-rate"]?.value, "250")
        XCTAssertEqual(rows["udp-rate"]?.origin, "env")
    }
}
