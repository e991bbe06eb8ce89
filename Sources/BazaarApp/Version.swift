/// The version of Bazaar, in one place: `bazaar --version` prints it and `bazaar doctor` starts with it.
/// Raise it with every release (the API contract has its own version, `info.version` in openapi.yaml).
public enum BazaarVersion {
    public static let current = "1.1.0"
}
