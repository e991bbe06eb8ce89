public import BazaarDomain

/// API keys as stored: never a key itself, only its SHA-256 (`APIKeyRecord`).
public protocol APIKeyStore: Sendable {
    func insertAPIKey(_ record: APIKeyRecord) async throws
    /// Inserts a key whose name no active key has (`apiKeyNameTaken` otherwise), checked in the insert's transaction
    /// so that two creations racing with one name make one key.
    func insertAPIKeyNamedUniquely(_ record: APIKeyRecord) async throws
    func apiKey(hash: String) async throws -> APIKeyRecord?
    /// Keys oldest first (by creation, then id), `skipping` the first ones: a page of `limit` read in the index's order
    /// (no sort, no list of every key in memory; a deep page still steps over the `skipping` entries before it).
    func apiKeys(skipping: Int, limit: Int) async throws -> [APIKeyRecord]
    /// The active keys with this name and role (what the bootstrap admin key retires when the setting changes), as
    /// the engine compares names: MariaDB's also gives names that differ by trailing spaces.
    func activeAPIKeys(named name: String, role: Role) async throws -> [APIKeyRecord]
    /// Returns false when there is no such active key.
    func revokeAPIKey(id: String, atMillis: Int64) async throws -> Bool
    func hasActiveAdminKey() async throws -> Bool
}
