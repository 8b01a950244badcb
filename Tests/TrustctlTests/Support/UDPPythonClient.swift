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
            # No SO_REUSEADDR: on UDP it lets the kernel give two sockets the
            # same ephemeral port, and one then gets the other's echoes.
            s = socket.socket(fam, socket.SOCK_DGRAM)
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
        # Loopback can drop a datagram when other tests flood it at the same
        # time (the per-CPU backlog queue), so, like any UDP client, these
        # modes send again after a quiet second, up to 5 times.
        if mode == 'sizes':
            s = sock(); s.settimeout(1)
            results = []
            sends = 0
            for n in [int(a) for a in args]:
                payload = os.urandom(n)
                for attempt in range(5):
                    s.sendto(payload, (host, port)); sends += 1
                    try:
                        data, src = s.recvfrom(70000)
                        break
                    except socket.timeout:
                        data, src = None, ('', 0)
                results.append({'size': n, 'ok': data == payload, 'got': -1 if data is None else len(data),
                                'from': src[0], 'port': src[1]})
            out['results'] = results
            out['sends'] = sends
        elif mode == 'sources':
            count, per = int(args[0]), int(args[1])
            socks = [sock() for _ in range(count)]
            index = {s: i for i, s in enumerate(socks)}
            good = wrong = 0
            # In rounds: every source has one datagram in flight at a time.
            for j in range(per):
                expect = {s: b'src%d-msg%d' % (index[s], j) for s in socks}
                pending = set(socks)
                for attempt in range(5):
                    for s in pending:
                        s.sendto(expect[s], (host, port))
                    deadline = time.time() + 1
                    while pending and time.time() < deadline:
                        ready, _, _ = select.select(list(pending), [], [], 0.2)
                        for s in ready:
                            data, _ = s.recvfrom(70000)
                            if data == expect[s]:
                                good += 1
                                pending.discard(s)
                            elif not data.startswith(b'src%d-' % index[s]):
                                wrong += 1  # another source's echo: the bug this test is for
                    if not pending:
                        break
            out['wrong'] = wrong
            out['good'] = good
        elif mode == 'from-port':
            s = sock(None, int(args[0]))
            for _ in range(3):
                s.sendto(b'loop?', (host, port))
            out['answers'] = len(drain(s, float(args[1])))
        elif mode == 'flood':
            count = int(args[0])
            s = sock()
            for i in range(count):
                s.sendto(b'flood%d' % i, (host, port))
            out['answers'] = len(drain(s, 1.0))
            other = sock(); other.settimeout(1)
            out['other'] = ''
            for attempt in range(5):
                other.sendto(b'other', (host, port))
                try:
                    out['other'] = other.recvfrom(70000)[0].decode()
                    break
                except socket.timeout:
                    pass
        elif mode == 'oversize':
            s = sock()
            s.sendto(b'x' * int(args[0]), (host, port))
            out['answers'] = len(drain(s, 0.5))
        elif mode == 'to':
            s = sock(); s.settimeout(1)
            out['data'] = ''
            for attempt in range(5):
                s.sendto(b'where', (args[0], port))
                try:
                    data, src = s.recvfrom(70000)
                    out['data'] = data.decode(); out['from'] = src[0]; out['port'] = src[1]
                    break
                except socket.timeout:
                    pass
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
