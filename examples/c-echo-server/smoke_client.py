#!/usr/bin/env python3
"""smoke_client.py - a raw RFC 862 smoke test for any TCP echo server.

    smoke_client.py HOST PORT [--clients 12]

Runs the clients at once. Each sends binary data (every byte value 0..255,
in a pattern of its own), some of it far larger than its socket buffers,
half-closes (shutdown SHUT_WR), reads until end of stream, and checks that
the echo equals what it sent. Sending and receiving overlap (a thread each),
as they must against a server that applies backpressure. Every socket call
has a timeout, so the test cannot hang. Exit 0 when every echo verified;
1 with one line per failed client otherwise. Standard library only.
"""
import argparse
import socket
import sys
import threading

BUFFER = 64 * 1024                      # SO_SNDBUF / SO_RCVBUF of each client
SIZES = [1, 256, 65536 + 17, 3 * 1024 * 1024 + 5]   # the last: ~48x the buffers


def payload(client, size):
    """Every byte value, rotated per client, repeated up to size bytes."""
    period = bytes((value + 37 * client) % 256 for value in range(256))
    return (period * (size // 256 + 1))[:size]


def run_client(host, port, client, failures):
    size = SIZES[client % len(SIZES)]
    data = payload(client, size)
    try:
        with socket.create_connection((host, port), timeout=30) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
            send_error = []

            def send_all():
                try:
                    sock.sendall(data)
                    sock.shutdown(socket.SHUT_WR)       # half-close: "that was all"
                except OSError as error:
                    send_error.append(error)

            sender = threading.Thread(target=send_all)
            sender.start()
            echoed = bytearray()
            while True:
                chunk = sock.recv(262144)
                if not chunk:
                    break
                echoed += chunk
            sender.join(timeout=30)
            if send_error:
                raise send_error[0]
    except OSError as error:
        failures.append(f"client {client} ({size} bytes): {error}")
        return
    if bytes(echoed) != data:
        at = next((i for i, (a, b) in enumerate(zip(echoed, data)) if a != b), min(len(echoed), len(data)))
        failures.append(f"client {client}: echo of {len(echoed)} bytes differs from the {size} sent at byte {at}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--clients", type=int, default=12)
    args = parser.parse_args()
    failures = []
    threads = [threading.Thread(target=run_client, args=(args.host, args.port, n, failures))
               for n in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if any(thread.is_alive() for thread in threads):
        failures.append("a client did not finish within 120 s")
    total = sum(SIZES[n % len(SIZES)] for n in range(args.clients))
    for line in failures:
        print(f"smoke_client: FAILED: {line}", file=sys.stderr)
    if failures:
        return 1
    print(f"smoke_client: ok ({args.clients} clients at once, {total} bytes echoed and verified, half-closed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
