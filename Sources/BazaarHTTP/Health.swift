/// A dependency check for `/health/ready`. A failing required check makes the node unready (503);
/// a failing optional one (an accelerator such as a cache) only marks it degraded.
public struct HealthCheck: Sendable {
    public var name: String
    public var required: Bool
    /// nil when healthy, else what is wrong.
    public var probe: @Sendable () async -> String?

    public init(name: String, required: Bool, probe: @escaping @Sendable () async -> String?) {
        self.name = name
        self.required = required
        self.probe = probe
    }
}
