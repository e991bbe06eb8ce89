public import BazaarDomain
import Crypto
import Synchronization

/// Issues, authenticates and revokes API keys. Keys are random 256-bit secrets, so a plain SHA-256 is a
/// sound way to store them (no password-style stretching needed); only the hash is ever stored.
public final class APIKeyService: Sendable {
    public static let maxNameLength = 100
    public static let maxStores = 1000

    private struct CachedPrincipal: Sendable {
        var principal: Principal?
        var expiresAtMillis: Int64
    }

    let store: any StockStore
    let clock: WallClock
    /// How long a looked-up key is trusted before asking the database again; bounds how long a key revoked
    /// on another node keeps working here. On this node a revocation takes effect at once.
    let cacheTTLMillis: Int64
    private let cache = Mutex<[String: CachedPrincipal]>([:])

    public init(store: any StockStore, clock: WallClock = .system, cacheTTLMillis: Int64 = 5000) {
        self.store = store
        self.clock = clock
        self.cacheTTLMillis = cacheTTLMillis
    }

    public struct Issued: Sendable {
        public var record: APIKeyRecord
        /// The key itself, shown once.
        public var key: String
    }

    public func create(name: String, role: Role, stores: [String]) async throws -> Issued {
        try CatalogRules.validateName(name)
        guard name.count <= Self.maxNameLength else {
            throw DomainError.invalid(field: "name", message: "must be at most \(Self.maxNameLength) characters")
        }
        for (index, id) in stores.enumerated() { try Identifier.validate(id, field: "stores[\(index)]") }
        guard stores.count <= Self.maxStores else {
            throw DomainError.invalid(field: "stores", message: "must list at most \(Self.maxStores) stores")
        }
        if role == .store, stores.isEmpty {
            throw DomainError.invalid(field: "stores", message: "a key with role `store` must list at least one store")
        }
        if role != .store, !stores.isEmpty {
            throw DomainError.invalid(field: "stores", message: "only keys with role `store` are limited to stores; leave it empty for role `\(role.rawValue)`")
        }
        return try await issue(name: name, role: role, stores: Array(Set(stores)).sorted(), key: "bzk_" + Hex.random(bytes: 32))
    }

    /// Makes sure an admin key exists at start: the configured one, else a new one (returned to be printed once).
    public func bootstrapAdmin(configuredKey: String?) async throws -> String? {
        if let configuredKey {
            guard configuredKey.utf8.count >= 16 else {
                throw DomainError.invalid(field: "BAZAAR_ADMIN_KEY", message: "must be at least 16 characters")
            }
            if try await store.apiKey(hash: Self.hash(configuredKey)) == nil {
                _ = try await issue(name: "admin", role: .admin, stores: [], key: configuredKey)
            }
            return nil
        }
        if try await store.hasActiveAdminKey() { return nil }
        return try await issue(name: "admin", role: .admin, stores: [], key: "bzk_" + Hex.random(bytes: 32)).key
    }

    private func issue(name: String, role: Role, stores: [String], key: String) async throws -> Issued {
        let record = APIKeyRecord(
            id: "key_" + Hex.random(bytes: 8), name: name, role: role, stores: stores, keyHash: Self.hash(key),
            createdAtMillis: clock.nowMillis())
        try await store.insertAPIKey(record)
        return Issued(record: record, key: key)
    }

    /// The caller behind a bearer key, or nil for an unknown or revoked key.
    public func authenticate(key: String) async throws -> Principal? {
        let hash = Self.hash(key)
        let now = clock.nowMillis()
        if let cached = cache.withLock({ $0[hash] }), cached.expiresAtMillis > now { return cached.principal }
        let record = try await store.apiKey(hash: hash)
        let principal = record.flatMap { $0.revokedAtMillis == nil ? $0.principal : nil }
        cache.withLock { cache in
            if cache.count > 100_000 { cache.removeAll() }
            cache[hash] = CachedPrincipal(principal: principal, expiresAtMillis: now + cacheTTLMillis)
        }
        return principal
    }

    public func revoke(id: String) async throws {
        guard try await store.revokeAPIKey(id: id, atMillis: clock.nowMillis()) else {
            throw DomainError.notFound(what: "API key", id: id)
        }
        cache.withLock { $0 = $0.filter { $0.value.principal?.keyID != id } }
    }

    public func list() async throws -> [APIKeyRecord] { try await store.apiKeys() }

    static func hash(_ key: String) -> String { Hex.encode(SHA256.hash(data: Array(key.utf8))) }
}
