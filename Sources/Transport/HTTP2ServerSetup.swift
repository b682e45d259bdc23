import NIOCore

/// The server half of the transport for listeners that `TransportServer` does not make (the peer transport's
/// `unix://` and `http://` peer listeners): serve an accepted channel exactly as `TransportServer` does.
public enum HTTP2ServerSetup {
    /// Adds the protocol sniffer (h2c prior knowledge, else HTTP/1.1) to an accepted channel, on its event loop.
    public static func install(on channel: Channel, configuration: TransportConfiguration) throws {
        try channel.pipeline.syncOperations.addHandler(ProtocolSniffer(configuration: configuration))
    }
}
