public import BazaarDomain
public import Hummingbird

/// Per-request state: the authenticated caller, once the auth middleware has run.
public struct BazaarRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        principal = nil
    }

    /// Bodies over 1 MiB are refused with 413 before they are read in full.
    public var maxUploadSize: Int { 1 << 20 }

    /// The caller; routes behind the auth middleware always have one.
    func caller() throws -> Principal {
        guard let principal else { throw DomainError.unauthorized("send `Authorization: Bearer <api key>`") }
        return principal
    }
}
