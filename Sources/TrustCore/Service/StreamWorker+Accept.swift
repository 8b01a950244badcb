import CNetShim
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Accepting: batches of accept4, `--max-clients`, descriptors beyond the
/// table, and the spare-descriptor path when descriptors run out.
extension StreamWorker {
    func acceptConnections(from listenFD: Int32) {
        for _ in 0..<StreamWorker.acceptBatch {
            var peer = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = cnet_accept(listenFD, &peer, &length)
            if fd < 0 {
                let errno = Errno(rawValue: fd)
                switch ErrorTable.acceptAction(for: errno) {
                case .wait: return
                case .skip: continue
                case .pause:
                    shedWhileOutOfDescriptors(errno, listenFD: listenFD)
                    return
                }
            }
            admit(fd, peer: PeerAddress(&peer))
        }
    }

    func admit(_ fd: Int32, peer: PeerAddress) {
        // Every accepted connection gets an id, a refused one too: SPEC §10
        // gives every connection event a request_id.
        let serial = state.nextSerial.add(1, ordering: .relaxed).newValue
        let active = state.activeClients.add(1, ordering: .relaxed).newValue
        // The table holds the descriptor limit read at start; a descriptor
        // beyond it (the limit was raised from outside) cannot be tracked.
        let slot: Int32 = io.uring == nil ? fd : (freeSlots.last ?? -1)
        let overLimit = slot < 0 || Int(slot) >= table.capacity
        if active > options.maxClients || overLimit {
            state.activeClients.subtract(1, ordering: .relaxed)
            _ = cnet_close(fd)
            io.counters.add(overLimit ? .refusedFdLimit : .refusedMaxClients)
            logger.info(
                "connection_refused",
                metadata: [
                    "request_id": "\(state.requestID(serial))", "peer": "\(peer.formatted)",
                    "reason": overLimit ? "fd_limit" : "max_clients",
                    "max_clients": .stringConvertible(options.maxClients),
                ])
            return
        }
        _ = cnet_set_nodelay(fd, 1)
        let c = table.slot(slot)
        c.pointee = ConnectionSlot(
            generation: c.pointee.generation, isOpen: true, fd: fd, readPaused: false,
            awaitingProxyHeader: false, closeAfterFlush: 0,
            failure: 0, failureErrno: 0, pending: nil, pendingOffset: 0, pendingCount: 0, pendingCapacity: 0,
            bytesIn: 0, bytesOut: 0, frames: 0, serial: serial, acceptedAt: io.now, peer: peer,
            uring: UringState(
                inflight: 0, receiving: false, sendQueued: false, sendInFlight: false, pollArmed: false,
                multishot: false,
                pressured: false, drainedReceives: 0,
                heldBuffer: 0, heldCount: 0, heldBase: nil), tls: nil)
        if io.uring != nil {
            freeSlots.removeLast()
            io.armReceive(slot, c)
        } else if let errno = loop.add(
            fd, .read, token: EventLoop.Token.make(slot: slot, generation: c.pointee.generation))
        {
            c.pointee.isOpen = false
            state.activeClients.subtract(1, ordering: .relaxed)
            _ = cnet_close(fd)
            io.counters.add(.refusedError)
            logger.warning(
                "connection_refused",
                metadata: [
                    "request_id": "\(state.requestID(serial))", "peer": "\(peer.formatted)", "reason": "error",
                    "errno": "\(errno.name)",
                ])
            return
        }
        table.open(slot, session: handler.makeSession())
        io.idle.append(slot, at: io.now)
        io.counters.add(.accepted)
        if io.tls != nil && !startTLS(slot, c) { return }
        if options.proxyProtocol != .off {
            awaitProxyHeader(slot, c)
            return
        }
        logAccepted(slot, c)
    }

    /// `connection_accepted`; with the PROXY protocol, once the header named the client.
    func logAccepted(_ slot: Int32, _ c: UnsafeMutablePointer<ConnectionSlot>) {
        guard logger.logLevel <= .info else { return }
        var metadata: Logger.Metadata = [
            "request_id": "\(state.requestID(c.pointee.serial))", "peer": "\(c.pointee.peer.formatted)",
            "worker": .stringConvertible(index),
        ]
        if let balancer = proxiedBy[slot] { metadata["proxied_by"] = "\(balancer.formatted)" }
        logger.info("connection_accepted", metadata: metadata)
    }

    /// Out of descriptors (or kernel memory): give the spare descriptor up
    /// to accept one pending connection and close it at once, so that client
    /// is not left hanging, then stop accepting for a moment. The listener
    /// stays readable while connections are pending, so retrying at once
    /// would spin; the pause bounds the CPU spent while descriptors are short.
    func shedWhileOutOfDescriptors(_ errno: Errno, listenFD: Int32) {
        var shed = 0
        if spareFD >= 0 {
            _ = cnet_close(spareFD)
            let fd = cnet_accept(listenFD, nil, nil)
            if fd >= 0 {
                _ = cnet_close(fd)
                shed = 1
            }
            spareFD = StreamWorker.openSpare()
        }
        io.counters.add(.shed, UInt64(shed))
        io.counters.add(.acceptPauses)
        pauseAccepting()
        let (allowed, suppressed) = acceptPausedLog.allow(now: io.now)
        if allowed {
            logger.warning(
                "accept_paused",
                metadata: [
                    "errno": "\(errno.name)", "shed": .stringConvertible(shed),
                    "pause_ms": .stringConvertible(StreamWorker.acceptPauseMs),
                    "suppressed": .stringConvertible(suppressed), "worker": .stringConvertible(index),
                ])
        }
    }

    func stopWatchingListeners() {
        if io.uring != nil {
            cancelAccepts()
        } else {
            for fd in listeners { loop.remove(fd) }
        }
    }

    func pauseAccepting() {
        if accepting {
            stopWatchingListeners()
            accepting = false
        }
        acceptResumeAt = io.now + StreamWorker.acceptPauseMs
    }

    func resumeAccepting() {
        if io.uring != nil {
            accepting = true
            armAccepts()
            if spareFD < 0 { spareFD = StreamWorker.openSpare() }
            return
        }
        for (position, fd) in listeners.enumerated() {
            if loop.add(fd, [.read, .exclusive], token: StreamWorker.listenerToken(position)) != nil {
                stopWatchingListeners()
                acceptResumeAt = io.now + StreamWorker.acceptPauseMs
                return
            }
        }
        accepting = true
        if spareFD < 0 { spareFD = StreamWorker.openSpare() }
    }
}
