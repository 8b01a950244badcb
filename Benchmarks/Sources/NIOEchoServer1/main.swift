// A SwiftNIO echo server with a configurable number of event loops.
//
// swift-nio's own NIOEchoServer always uses System.coreCount loops; to compare
// it with one trustctl worker we need the same server on exactly one loop.
// The channel pipeline and options deliberately match NIOEchoServer 2.101.3:
// BackPressureHandler then an echo handler that writes each read and flushes
// on read-complete, backlog 256, 16 messages per read, adaptive receive
// buffers. Raw echo only (NIO's example has no framing).
//
// Usage: NIOEchoServer1 [--threads N] [--host ADDR] [--port P]
// Prints `listening on HOST:PORT (threads N)` on stdout once bound.

import NIOCore
import NIOPosix

#if canImport(Glibc)
  import Glibc
#endif

/// Sends back every buffer it reads; flushing once per read burst lets NIO
/// gather several pending writes into one writev.
private final class EchoBackHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    context.write(data, promise: nil)
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    context.flush()
  }

  func errorCaught(context: ChannelHandlerContext, error: Error) {
    context.close(promise: nil)
  }
}

struct ServerOptions {
  var threads = 1
  var host = "127.0.0.1"
  var port = 9999

  /// Parses `--threads N --host A --port P`; a bare integer is taken as
  /// the port, as NIOEchoServer does.
  static func parse(_ arguments: [String]) -> Result<ServerOptions, UsageError> {
    var options = ServerOptions()
    var index = 0
    while index < arguments.count {
      let argument = arguments[index]
      func value() -> String? {
        index += 1
        return index < arguments.count ? arguments[index] : nil
      }
      switch argument {
      case "--threads":
        guard let text = value(), let threads = Int(text), threads >= 1, threads <= 256 else {
          return .failure(UsageError(message: "--threads needs an integer from 1 to 256"))
        }
        options.threads = threads
      case "--host":
        guard let text = value() else {
          return .failure(UsageError(message: "--host needs an address"))
        }
        options.host = text
      case "--port":
        guard let text = value(), let port = Int(text), (0...65535).contains(port) else {
          return .failure(UsageError(message: "--port needs an integer from 0 to 65535"))
        }
        options.port = port
      default:
        if let port = Int(argument), (0...65535).contains(port) {
          options.port = port
        } else {
          return .failure(UsageError(message: "unknown argument '\(argument)'"))
        }
      }
      index += 1
    }
    return .success(options)
  }
}

struct UsageError: Error {
  var message: String
}

/// Writes one line straight to a descriptor. The C `stdout`/`stderr` globals
/// are shared mutable state to Swift 6, and the ready line must not sit in a
/// stdio buffer when stdout is a pipe to the harness.
func writeLine(_ text: String, to descriptor: Int32) {
  var line = text + "\n"
  // Safe: the buffer is valid for the whole closure and write() only reads
  // `count` bytes from it.
  line.withUTF8 { bytes in
    var offset = 0
    while offset < bytes.count {
      let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
      if written <= 0 { return }
      offset += written
    }
  }
}

let options: ServerOptions
switch ServerOptions.parse(Array(CommandLine.arguments.dropFirst())) {
case .success(let parsed):
  options = parsed
case .failure(let error):
  writeLine("NIOEchoServer1: \(error.message)", to: 2)
  exit(64)
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
let bootstrap = ServerBootstrap(group: group)
  .serverChannelOption(.backlog, value: 256)
  .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
  .childChannelInitializer { channel in
    channel.eventLoop.makeCompletedFuture {
      try channel.pipeline.syncOperations.addHandler(BackPressureHandler())
      try channel.pipeline.syncOperations.addHandler(EchoBackHandler())
    }
  }
  .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
  .childChannelOption(.maxMessagesPerRead, value: 16)
  .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator())

let serverChannel: Channel
do {
  serverChannel = try bootstrap.bind(host: options.host, port: options.port).wait()
} catch {
  writeLine("NIOEchoServer1: cannot listen on \(options.host):\(options.port): \(error)", to: 2)
  exit(71)
}

let boundPort = serverChannel.localAddress?.port ?? options.port
writeLine("listening on \(options.host):\(boundPort) (threads \(options.threads))", to: 1)

// Serves until killed; the harness ends it with SIGTERM.
try serverChannel.closeFuture.wait()
try group.syncShutdownGracefully()
