public import BazaarDomain
import Crypto
import Synchronization

/// Issues, authenticates and revokes API keys. Keys are random 256-bit secrets, so a plain SHA-256 is a
/// sound way to store them (no password-style stretching needed); only the hash is ever stored.
public final class APIKeyService: Sendable {
    public static let maxNameLength = 100
    public static let maxStores = 1000

    private struct CachedPrincipal: Sendable {
        var principal: Principal
        var expiresAtMillis: Int64
    }

    /// The name of the admin key installed from `admin.key` (or made up at the first start without one).
    public static let bootstrapName = "admin"

    let store: any APIKeyStore
    let clock: WallClock
    /// How long a looked-up key is trusted before asking the database again; bounds how long a key revoked on
    /// another node keeps working here when its notice does not arrive. On this node a revocation takes effect at once.
    let cacheTTLMillis: Int64
    /// Tells the other nodes of a revocation (Redis: `RedisKeyRevocations`), so that they forget the key at once;
    /// a notice that fails leaves them `cacheTTLMillis`.
    let announceRevocation: @Sendable (_ keyID: String) async -> Void
    /// Moves on each time keys are forgotten: a lookup that read the database before a revocation arrived must not
    /// put the key back into memory afterwards.
    private let forgetting = Atomic<UInt64>(0)
    /// Valid keys by digest, least recently used forgotten first. Kept apart from the unknown keys so that a flood
    /// of random keys cannot push the keys of real clients out (each would then cost a database query again).
    /// Keyed by the raw digest, not its hex: the hex text cost every authenticated request a string (measured: 2% of
    /// a cached read's CPU); only storage sees the hex.
    private let known: Mutex<LRUCache<SHA256Digest, CachedPrincipal>>
    /// Unknown and revoked keys by digest: a client retrying a bad key costs no query while it is remembered.
    private let unknown: Mutex<LRUCache<SHA256Digest, Int64>>

    public init(store: any APIKeyStore, clock: WallClock = .system, cacheTTLMillis: Int64 = 5000, cacheCapacity: Int = 100_000,
                announceRevocation: @escaping @Sendable (_ keyID: String) async -> Void = { _ in }) {
        self.store = store
        self.clock = clock
        self.cacheTTLMillis = cacheTTLMillis
        self.announceRevocation = announceRevocation
        known = Mutex(LRUCache(capacity: max(1, cacheCapacity)))
        unknown = Mutex(LRUCache(capacity: max(1, cacheCapacity / 10)))
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
        if role == .admin, name == Self.bootstrapName {
            throw DomainError.invalid(field: "name", message: "`\(Self.bootstrapName)` is reserved for the key of BAZAAR_ADMIN_KEY; choose another name")
        }
        return try await issue(name: name, role: role, stores: Array(Set(stores)).sorted(), key: "bzk_" + Hex.random(bytes: 32), uniqueName: true)
    }

    /// Makes sure an admin key exists at start: the configured one, else a new one (returned to be printed once).
    ///
    /// With a configured key, every other active admin key named `admin` (what earlier starts installed: a
    /// previous `BAZAAR_ADMIN_KEY`, or the key printed at a first start without one) is revoked, so changing
    /// the setting retires the old key instead of leaving it valid for ever. Keys created through the API
    /// cannot take that name.
    public func bootstrapAdmin(configuredKey: String?) async throws -> String? {
        if let configuredKey {
            guard configuredKey.utf8.count >= 16 else {
                throw DomainError.invalid(field: "BAZAAR_ADMIN_KEY", message: "must be at least 16 characters")
            }
            let hash = Self.hash(configuredKey)
            if try await store.apiKey(hash: hash) == nil {
                _ = try await issue(name: Self.bootstrapName, role: .admin, stores: [], key: configuredKey)
            }
            // Compared here again, exactly: MariaDB's collations pad with spaces, so its `name = 'admin'` also finds
            // a key named "admin " (made through the API, and no bootstrap key).
            for old in try await store.activeAPIKeys(named: Self.bootstrapName, role: .admin)
            where old.name == Self.bootstrapName && old.keyHash != hash {
                try await revoke(id: old.id)
            }
            return nil
        }
        if try await store.hasActiveAdminKey() { return nil }
        return try await issue(name: Self.bootstrapName, role: .admin, stores: [], key: "bzk_" + Hex.random(bytes: 32)).key
    }

    /// `uniqueName`: refused while an active key has the name (keys made through the API). The bootstrap admin key
    /// is installed beside the `admin` key it replaces, then revokes it.
    private func issue(name: String, role: Role, stores: [String], key: String, uniqueName: Bool = false) async throws -> Issued {
        let record = APIKeyRecord(
            id: "key_" + Hex.random(bytes: 8), name: name, role: role, stores: stores, keyHash: Self.hash(key),
            createdAtMillis: clock.nowMillis())
        if uniqueName { try await store.insertAPIKeyNamedUniquely(record) } else { try await store.insertAPIKey(record) }
        return Issued(record: record, key: key)
    }

    /// The caller behind a bearer key, or nil for an unknown or revoked key.
    public func authenticate(key: String) async throws -> Principal? { try await lookup(key: key).principal }

    /// The caller behind a bearer key (nil for an unknown or revoked key), and whether the database was asked:
    /// only failures that cost a query count against the client's failed-authentication limit (a client
    /// repeating one bad key is answered from memory).
    public func lookup(key: String) async throws -> (principal: Principal?, queried: Bool) {
        let digest = Self.digest(key)
        let now = clock.nowMillis()
        if let cached = known.withLock({ $0.get(digest) }), cached.expiresAtMillis > now { return (cached.principal, false) }
        if let until = unknown.withLock({ $0.get(digest) }), until > now { return (nil, false) }
        let generation = known.withLock { _ in forgetting.load(ordering: .relaxed) }
        let record = try await store.apiKey(hash: Hex.encode(digest))
        let principal = record.flatMap { $0.revokedAtMillis == nil ? $0.principal : nil }
        if let principal {
            // Read before a revocation this node has heard of since: answered, not remembered (the next request asks
            // again). Compared under the lock that `forget` moves the generation under, so none slips in between.
            known.withLock { known in
                guard forgetting.load(ordering: .relaxed) == generation else { return }
                known.set(digest, CachedPrincipal(principal: principal, expiresAtMillis: now + cacheTTLMillis))
            }
        } else {
            known.withLock { $0.remove(digest) }  // revoked since (on another node)
            unknown.withLock { $0.set(digest, now + cacheTTLMillis) }
        }
        return (principal, true)
    }

    /// The caller behind `key` when this node holds it in memory, fresh (`cacheTTLMillis`): no query, nothing waited
    /// for. Nil says nothing of the key (unknown, revoked, never seen here, due for a re-check): `lookup` decides.
    public func principalInMemory(key: String) -> Principal? {
        let digest = Self.digest(key)
        guard let cached = known.withLock({ $0.get(digest) }), cached.expiresAtMillis > clock.nowMillis() else { return nil }
        return cached.principal
    }

    /// Whether this node has seen `key` authenticate (its entry may be due for a re-check). Clients whose
    /// address is over its failed-authentication limit only get their keys checked when this holds, so a flood of
    /// guesses costs neither hashing into the database nor a query, while keys in real use keep working.
    public func isKnown(key: String) -> Bool {
        let digest = Self.digest(key)
        return known.withLock { $0.peek(digest) != nil }
    }

    public func revoke(id: String) async throws {
        guard try await store.revokeAPIKey(id: id, atMillis: clock.nowMillis()) else {
            throw DomainError.notFound(what: "API key", id: id)
        }
        forget(keyID: id)
        await announceRevocation(id)
    }

    /// Forgets what this node holds of a key (`keyID`), or of every key (nil): its next request asks the database.
    /// Called for a revocation here or on another node, and when notices of revocations may have been missed.
    public func forget(keyID: String?) {
        known.withLock { known in
            forgetting.add(1, ordering: .relaxed)
            if let keyID { known.removeAll { $0.principal.keyID == keyID } } else { known.removeAll { _ in true } }
        }
    }

    /// A page of keys, oldest first, after the first `skipping`; `more` when a key follows it.
    public func list(skipping: Int, limit: Int) async throws -> (keys: [APIKeyRecord], more: Bool) {
        let keys = try await store.apiKeys(skipping: skipping, limit: limit + 1)
        return (Array(keys.prefix(limit)), keys.count > limit)
    }

    /// What storage keeps of a key: its SHA-256 in lowercase hex.
    static func hash(_ key: String) -> String { Hex.encode(digest(key)) }

    static func digest(_ key: String) -> SHA256Digest {
        var key = key
        var hasher = SHA256()
        key.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        return hasher.finalize()
    }
}
