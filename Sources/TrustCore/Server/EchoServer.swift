// Placeholder so the CLI builds on the `config` branch; the lead's real
// EchoServer replaces this file on merge.
public final class EchoServer {
  public init(settings: EchoServerSettings) {}

  public func run() throws(TrustError) {
    throw TrustError(kind: .internal, message: "echo-server is not built in this branch")
  }
}
