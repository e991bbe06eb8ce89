public import BazaarCore
public import BazaarDomain
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

    /// `active_name_hash` (the name's SHA-256) is unique: a creation racing with the same name waits for the first's
    /// insert, fails on the index once it commits, and its retry finds the first key.
    public func insertAPIKeyNamedUniquely(_ r: APIKeyRecord) async throws {
        try await stateTransaction { connection in
            // A key revoked by a node of an older release keeps its `active_name_hash`: let go of it here.
            try connection.execute("UPDATE api_keys SET active_name_hash = NULL WHERE active_name_hash = UNHEX(SHA2(?, 256)) AND revoked_at_ms IS NOT NULL",
                                   [r.name])
            guard try connection.select("SELECT 1 FROM api_keys WHERE name = ? AND revoked_at_ms IS NULL LIMIT 1", [r.name]).isEmpty else {
                throw DomainError.apiKeyNameTaken(name: r.name)
            }
            try connection.execute("""
                INSERT INTO api_keys (id, name, role, stores, key_hash, created_at_ms, revoked_at_ms, active_name_hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, UNHEX(SHA2(?, 256)))
                """, [r.id, r.name, r.role.rawValue, r.stores.joined(separator: ","), r.keyHash, r.createdAtMillis, r.revokedAtMillis, r.name])
        }
    }

    public func apiKey(hash: String) async throws -> APIKeyRecord? {
        try await onPrimary { try $0.select("SELECT \(MySQLRows.apiKeyColumns) FROM api_keys WHERE key_hash = ?", [hash]).first.map(MySQLRows.apiKey) }
    }

    public func apiKeys(skipping: Int, limit: Int) async throws -> [APIKeyRecord] {
        try await onPrimary {
            try $0.select("SELECT \(MySQLRows.apiKeyColumns) FROM api_keys ORDER BY created_at_ms, id LIMIT ? OFFSET ?",
                          [Int64(limit), Int64(skipping)]).map(MySQLRows.apiKey)
        }
    }

    public func activeAPIKeys(named name: String, role: Role) async throws -> [APIKeyRecord] {
        try await onPrimary {
            try $0.select("SELECT \(MySQLRows.apiKeyColumns) FROM api_keys WHERE name = ? AND role = ? AND revoked_at_ms IS NULL ORDER BY created_at_ms, id",
                          [name, role.rawValue]).map(MySQLRows.apiKey)
        }
    }

    public func revokeAPIKey(id: String, atMillis: Int64) async throws -> Bool {
        try await writeOnPrimary { connection in
            try connection.execute("UPDATE api_keys SET revoked_at_ms = ?, active_name_hash = NULL WHERE id = ? AND revoked_at_ms IS NULL",
                                   [atMillis, id]).affectedRows > 0
        }
    }

    public func hasActiveAdminKey() async throws -> Bool {
        try await onPrimary { try !$0.select("SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at_ms IS NULL LIMIT 1").isEmpty }
    }
}
