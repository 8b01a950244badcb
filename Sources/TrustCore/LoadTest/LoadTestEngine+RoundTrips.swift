import CNetShim

#if canImport(Glibc)
    import Glibc
#endif

/// Round trips: a message sent (when its schedule says, with `--rate`),
/// its echo received and checked as it lands, its latency recorded. No
/// allocation here: the bytes are slices of `LoadMessages`' buffers.
extension LoadTestEngine {
    func beginRoundTrip(_ s: Int) {
        if stopping {
            endSession(s)
            return
        }
        if schedule.isOpenLoop {
            let scheduled = schedule.due(slot: s, request: slots[s].requests, start: start)
            slots[s].requests &+= 1
            slots[s].startedAt = scheduled
            if scheduled > now {
                slots[s].phase = .scheduled
                due.push(Int32(s), due: scheduled)
                return
            }
            // Late (the server or this loop fell behind): send now, but
            // measure from the schedule, so the delay shows in the latency.
        } else {
            slots[s].startedAt = now
        }
        sendMessage(s)
    }

    func sendScheduled() {
        // Bounded: each pass takes one slot off the queue, and a slot goes
        // back on only after its echo, which needs another loop turn.
        while !due.isEmpty && due.nextDue <= now {
            sendMessage(Int(due.pop()))
        }
    }

    private func sendMessage(_ s: Int) {
        slots[s].offset = messages.offset(client: slots[s].client, message: slots[s].message)
        slots[s].sent = 0
        slots[s].received = 0
        slots[s].phase = .inFlight
        slots[s].sentAt = now
        timeouts.append(Int32(s), at: now)
        slots[s].timed = true
        send(s)
    }

    /// Send what the kernel takes of the current message; watch for
    /// writability only while some of it is left.
    func send(_ s: Int) {
        if tls != nil {
            tlsSend(s)
            return
        }
        if let uring {
            submitSend(s, uring)
            return
        }
        let fd = slots[s].fd
        while slots[s].sent < messageLength {
            let chunk = messages.chunk(offset: slots[s].offset, sent: slots[s].sent)
            let n = cnet_send(fd, chunk.bytes, chunk.count)
            if n < 0 {
                if n == -Int(EAGAIN) { break }
                let errno = Errno(rawValue: Int32(truncatingIfNeeded: n))
                serverEnded(s, LoadFailureKind.ofTransfer(errno), "send: \(errno.description)", errno: errno)
                return
            }
            slots[s].sent += n
            tally.bytesSent &+= UInt64(n)
            if n < chunk.count { break }
        }
        let wantWrite = slots[s].sent < messageLength
        if wantWrite != slots[s].writeArmed {
            slots[s].writeArmed = wantWrite
            _ = loop.modify(fd, wantWrite ? [.read, .write] : .read, token: token(s))
        }
    }

    /// One recv per readiness event (level-triggered: the loop comes back
    /// if more is waiting), checked against the expected echo as it lands.
    func receive(_ s: Int) {
        if tls != nil {
            tlsReceive(s)
            return
        }
        let n = cnet_recv(slots[s].fd, receiveBuffer, LoadTestEngine.receiveCapacity)
        received(s, receiveBuffer, n)
    }

    /// What a recv returned (n bytes in `buffer`, 0 at end of stream, or
    /// -errno), checked against the expected echo as it lands.
    func received(_ s: Int, _ buffer: UnsafeMutableRawPointer, _ n: Int) {
        if n > 0 {
            tally.bytesReceived &+= UInt64(n)
            let received = slots[s].received
            guard slots[s].phase == .inFlight, received + n <= slots[s].sent else {
                fail(s, .mismatch, "the server sent \(n) bytes more than it was sent")
                return
            }
            let offset = slots[s].offset
            if let at = messages.firstDifference(buffer, count: n, at: received, offset: offset) {
                fail(s, .mismatch, "echo differs from what was sent at byte \(at) of \(messageLength)")
                return
            }
            slots[s].received = received + n
            if slots[s].received == messageLength { complete(s) }
        } else if n == 0 {
            let what =
                slots[s].phase == .inFlight
                ? "server closed the connection after \(slots[s].received) of \(messageLength) echo bytes"
                : "server closed the connection between round trips"
            serverEnded(s, .closedEarly, what)
        } else if n != -Int(EAGAIN) {
            let errno = Errno(rawValue: Int32(truncatingIfNeeded: n))
            serverEnded(s, LoadFailureKind.ofTransfer(errno), "recv: \(errno.description)", errno: errno)
        }
    }

    func complete(_ s: Int) {
        untime(s)
        recordCompletion(s)
        slots[s].reconnects = 0
        slots[s].message += 1
        if slots[s].message >= options.messages {
            endSession(s)
        } else {
            beginRoundTrip(s)
        }
    }
}
