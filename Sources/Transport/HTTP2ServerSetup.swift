import NIOCore

/// The server half of the transport for listeners that `TransportServer` does not make (the peer transport's
/// `unix://` and `http://` peer listeners): serve an accepted channel exactly as `TransportServer` does.
public enum HTTP2ServerSetup {
    /// Adds the protocol sniffer (h2c prior knowledge, else HTTP/1.1) to an accepted channel, on its event loop;
    /// with `tls`, behind the TLS handler and its admission check.
    public static func install(on channel: Channel, configuration: TransportConfiguration,
                               tls: TLSServerSecurity? = nil) throws {
        if let tls { try tls.install(on: channel) }
        try channel.pipeline.syncOperations.addHandler(ProtocolSniffer(configuration: configuration))
    }
}
