import Foundation
import XCTest

/// A third-party UDP client for the black-box tests: Python's socket module,
/// driven by one small script with a few modes. Every mode is bounded by
/// socket timeouts and prints one JSON object.
enum UDPPythonClient {
    static let script = #"""
        import json, os, select, socket, sys, time
        mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
        args = sys.argv[4:]
        fam = socket.AF_INET6 if ':' in host else socket.AF_INET

        def sock(bind_host=None, bind_port=0):
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if bind_host is not None or bind_port:
                s.bind((bind_host or ('::' if fam == socket.AF_INET6 else '0.0.0.0'), bind_port))
            return s

        def drain(s, wait):
            got = []
            s.settimeout(wait)
            while True:
                try:
                    data, src = s.recvfrom(70000)
                except socket.timeout:
                    return got
                got.append((data, src))

        out = {}
        if mode == 'sizes':
            s = sock(); s.settimeout(5)
            results = []
            for n in [int(a) for a in args]:
                payload = os.urandom(n)
                s.sendto(payload, (host, port))
                data, src = s.recvfrom(70000)
                results.append({'size': n, 'ok': data == payload, 'got': len(data), 'from': src[0], 'port': src[1]})
            out['results'] = results
        elif mode == 'sources':
            count, per = int(args[0]), int(args[1])
            socks = [sock() for _ in range(count)]
            index = {s: i for i, s in enumerate(socks)}
            good = 0
            # In rounds: every source has one datagram in flight at a time,
            # so no socket buffer on the way can overflow.
            for j in range(per):
                for i, s in enumerate(socks):
                    s.sendto(b'src%d-msg%d' % (i, j), (host, port))
                pending = set(socks)
                deadline = time.time() + 10
                while pending and time.time() < deadline:
                    ready, _, _ = select.select(list(pending), [], [], 1)
                    for s in ready:
                        data, _ = s.recvfrom(70000)
                        if data == b'src%d-msg%d' % (index[s], j):
                            good += 1
                        pending.discard(s)
            out['good'] = good
        elif mode == 'from-port':
            s = sock(None, int(args[0]))
            s.sendto(b'loop?', (host, port))
            out['answers'] = len(drain(s, float(args[1])))
        elif mode == 'flood':
            count = int(args[0])
            s = sock()
            for i in range(count):
                s.sendto(b'flood%d' % i, (host, port))
            out['answers'] = len(drain(s, 1.0))
            other = sock(); other.settimeout(5)
            other.sendto(b'other', (host, port))
            data, _ = other.recvfrom(70000)
            out['other'] = data.decode()
        elif mode == 'oversize':
            s = sock()
            s.sendto(b'x' * int(args[0]), (host, port))
            out['answers'] = len(drain(s, 0.5))
        elif mode == 'to':
            s = sock(); s.settimeout(5)
            s.sendto(b'where', (args[0], port))
            data, src = s.recvfrom(70000)
            out['data'] = data.decode(); out['from'] = src[0]; out['port'] = src[1]
        print(json.dumps(out))
        """#

    /// Runs a mode and returns its JSON object; fails the test on a Python error.
    static func run(
        _ mode: String, host: String, port: UInt16, _ arguments: [String] = [], file: StaticString = #filePath,
        line: UInt = #line
    ) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, mode, host, String(port)] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "python: \(errorText)", file: file, line: line)
        let object = try JSONSerialization.jsonObject(with: data.isEmpty ? Data("{}".utf8) : data)
        return try XCTUnwrap(object as? [String: Any], file: file, line: line)
    }

    /// GET /metrics parsed by prometheus_client: `name{labels}` → value.
    static func scrape(_ port: UInt16) throws -> [String: Double] {
        let script = """
            import json, sys, urllib.request
            from prometheus_client.parser import text_string_to_metric_families
            with urllib.request.urlopen('http://127.0.0.1:%s/metrics' % sys.argv[1], timeout=10) as reply:
                text = reply.read().decode('utf-8')
            out = {}
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    labels = ','.join('%s="%s"' % kv for kv in sorted(s.labels.items()))
                    out[s.name + ('{' + labels + '}' if labels else '')] = s.value
            print(json.dumps(out))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, String(port)]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (try JSONSerialization.jsonObject(with: data) as? [String: Double]) ?? [:]
    }
}
