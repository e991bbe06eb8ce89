/// API keys as stored: never a key itself, only its SHA-256 (`APIKeyRecord`).
public protocol APIKeyStore: Sendable {
    func insertAPIKey(_ record: APIKeyRecord) async throws
    /// Inserts a key whose name no active key has (`apiKeyNameTaken` otherwise), checked in the insert's transaction
    /// so that two creations racing with one name make one key.
    func insertAPIKeyNamedUniquely(_ record: APIKeyRecord) async throws
    func apiKey(hash: String) async throws -> APIKeyRecord?
    func apiKeys() async throws -> [APIKeyRecord]
    /// Returns false when there is no such active key.
    func revokeAPIKey(id: String, atMillis: Int64) async throws -> Bool
    func hasActiveAdminKey() async throws -> Bool
}
