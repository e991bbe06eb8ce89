public import BazaarDomain
public import Hummingbird
import NIOCore

/// Per-request state: the authenticated caller, once the auth middleware has run.
public struct BazaarRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?
    /// The peer's IP address, the unit of the address rate limit and of the failed-authentication limit. This is the
    /// TCP peer: behind a load balancer it is the balancer's address unless the balancer passes connections through
    /// (PROXY protocol is not read here), and forwarded headers are not trusted, since any client can write them.
    /// Read once per request: an authenticated request needs it twice, and each read formats the address anew.
    let clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        principal = nil
        clientAddress = Self.clientAddress(of: source.channel)
    }

    /// The unit of the per-address limits, as every path that applies them formats it (the router's context, and
    /// `WarmReadHandler` on the connection): one bucket per peer whichever path answers.
    static func clientAddress(of channel: any Channel) -> String {
        channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// Bodies over 1 MiB are refused with 413 before they are read in full.
    public var maxUploadSize: Int { 1 << 20 }

    /// The caller; routes behind the auth middleware always have one.
    func caller() throws -> Principal {
        guard let principal else { throw DomainError.unauthorized("send `Authorization: Bearer <api key>`") }
        return principal
    }
}
