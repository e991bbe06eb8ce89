public import BazaarCore
import BazaarDomain
import MySQLClient

/// `APIKeyStore`, always on the primary: a new key works at once, a revoked one stops at once.
extension MySQLStockStore {
    public func insertAPIKey(_ r: APIKeyRecord) async throws {
        try await writeOnPrimary { connection in
            try connection.execute("""
                INSERT INTO api_keys (id, name, role, stores, key_hash, created_at_ms, revoked_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, [r.id, r.name, r.role.rawValue, r.stores.joined(separator: ","), r.keyHash, r.createdAtMillis, r.revokedAtMillis])
        }
    }

    public func apiKey(hash: String) async throws -> APIKeyRecord? {
        try await onPrimary { try $0.select("SELECT \(MySQLRows.apiKeyColumns) FROM api_keys WHERE key_hash = ?", [hash]).first.map(MySQLRows.apiKey) }
    }

    public func apiKeys() async throws -> [APIKeyRecord] {
        try await onPrimary { try $0.select("SELECT \(MySQLRows.apiKeyColumns) FROM api_keys ORDER BY created_at_ms, id").map(MySQLRows.apiKey) }
    }

    public func revokeAPIKey(id: String, atMillis: Int64) async throws -> Bool {
        try await writeOnPrimary { connection in
            try connection.execute("UPDATE api_keys SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL", [atMillis, id]).affectedRows > 0
        }
    }

    public func hasActiveAdminKey() async throws -> Bool {
        try await onPrimary { try !$0.select("SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at_ms IS NULL LIMIT 1").isEmpty }
    }
}
