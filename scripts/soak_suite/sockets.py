"""Python clients: many non-blocking connections and the exact-echo check
(Flow, pump) that every scenario drives them with."""

import errno
import resource
import select
import socket
import struct
import time

HOST = "127.0.0.1"


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def connect_many(n, port, batch=500, timeout=30, rcvbuf=None, batch_timeout=None):
    """Non-blocking connects in batches; returns (connected sockets, failures)."""
    sockets, failures = [], 0
    poller = select.epoll()
    deadline = time.monotonic() + timeout
    started = 0
    try:
        while started < n and time.monotonic() < deadline:
            waiting = {}
            for _ in range(min(batch, n - started)):
                started += 1
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                if rcvbuf:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
                code = s.connect_ex((HOST, port))
                if code not in (0, errno.EINPROGRESS):
                    failures += 1
                    s.close()
                    continue
                waiting[s.fileno()] = s
                poller.register(s.fileno(), select.EPOLLOUT)
            batch_deadline = min(deadline, time.monotonic() + (batch_timeout or timeout))
            while waiting and time.monotonic() < batch_deadline:
                for fd, _ in poller.poll(0.2):
                    s = waiting.pop(fd)
                    poller.unregister(fd)
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        failures += 1
                        s.close()
                    else:
                        sockets.append(s)
            for s in waiting.values():
                poller.unregister(s.fileno())
                s.close()
            failures += len(waiting)
        failures += n - started
    finally:
        poller.close()
    return sockets, failures


class Flow:
    """One connection's exchange: bytes to send, the exact echo expected."""

    __slots__ = ("sock", "out", "sent", "expect", "got", "eof", "error", "mismatch", "closed_at")

    def __init__(self, sock, out, expect=None):
        self.sock = sock
        self.out = memoryview(out)
        self.sent = 0
        self.expect = memoryview(expect if expect is not None else out)
        self.got = 0
        self.eof = False
        self.error = None
        self.mismatch = False
        self.closed_at = None

    def done_sending(self):
        return self.sent >= len(self.out)

    def finished(self, want_eof):
        if self.error or self.mismatch or self.eof:
            return True
        return self.done_sending() and self.got >= len(self.expect) and not want_eof

    def on_data(self, data):
        end = self.got + len(data)
        if end > len(self.expect) or self.expect[self.got : end] != data:
            self.mismatch = True
        self.got = end

    def send_some(self, limit):
        """One non-blocking send of at most `limit` of the bytes left; returns how many went."""
        try:
            sent = self.sock.send(self.out[self.sent : self.sent + limit])
        except BlockingIOError:
            return 0
        except OSError as e:
            self.error = e.errno
            return 0
        self.sent += sent
        return sent

    def receive(self, size):
        """One non-blocking recv, verified against the echo expected; returns
        whether bytes arrived (EOF and errors are recorded with their time)."""
        try:
            data = self.sock.recv(size)
        except BlockingIOError:
            return False
        except OSError as e:
            self.error = e.errno
            self.closed_at = time.monotonic()
            return False
        if not data:
            self.eof = True
            self.closed_at = time.monotonic()
            return False
        self.on_data(data)
        return True


def pump(flows, timeout, read=True, want_eof=False, stall=None):
    """Send every flow's bytes and read its echo (verified as it arrives) until
    each is finished, `timeout` passes, or (send-only with `stall`) nothing
    has moved for `stall` seconds. Returns the flows not finished."""
    poller = select.epoll()
    by_fd = {}
    for flow in flows:
        if flow.finished(want_eof) or (not read and flow.done_sending()):
            continue
        mask = (select.EPOLLIN if read else 0) | (0 if flow.done_sending() else select.EPOLLOUT)
        by_fd[flow.sock.fileno()] = flow
        poller.register(flow.sock.fileno(), mask)
    deadline = time.monotonic() + timeout
    last_progress = time.monotonic()
    try:
        while by_fd and time.monotonic() < deadline:
            if stall and time.monotonic() - last_progress > stall:
                break
            for fd, events in poller.poll(0.2):
                flow = by_fd.get(fd)
                if flow is None:
                    continue
                if events & select.EPOLLOUT and not flow.done_sending():
                    if flow.send_some(262144):
                        last_progress = time.monotonic()
                    if flow.done_sending() and not flow.error:
                        if not read:
                            poller.unregister(fd)
                            del by_fd[fd]
                            continue
                        poller.modify(fd, select.EPOLLIN)
                if read and events & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR) and not flow.error:
                    if flow.receive(262144):
                        last_progress = time.monotonic()
                if flow.finished(want_eof) and fd in by_fd:
                    poller.unregister(fd)
                    del by_fd[fd]
    finally:
        poller.close()
    return list(by_fd.values())


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def close_all(sockets):
    for s in sockets:
        try:
            s.close()
        except OSError:
            pass

