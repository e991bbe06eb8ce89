public import BazaarCore
public import BazaarDomain
import GRDB

/// `APIKeyStore`: keys by their SHA-256.
extension SQLiteStockStore {
    public func insertAPIKey(_ r: APIKeyRecord) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO api_keys (id, name, role, stores, key_hash, created_at_ms, revoked_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [r.id, r.name, r.role.rawValue, r.stores.joined(separator: ","), r.keyHash, r.createdAtMillis, r.revokedAtMillis])
        }
    }

    public func insertAPIKeyNamedUniquely(_ r: APIKeyRecord) async throws {
        try await pool.write { db in  // the one writer: nothing comes between the look and the insert
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM api_keys WHERE name = ? AND revoked_at_ms IS NULL", arguments: [r.name]) == nil else {
                throw DomainError.apiKeyNameTaken(name: r.name)
            }
            try db.execute(sql: """
                INSERT INTO api_keys (id, name, role, stores, key_hash, created_at_ms, revoked_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [r.id, r.name, r.role.rawValue, r.stores.joined(separator: ","), r.keyHash, r.createdAtMillis, r.revokedAtMillis])
        }
    }

    public func apiKey(hash: String) async throws -> APIKeyRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.apiKeyColumns) FROM api_keys WHERE key_hash = ?", arguments: [hash]).map(Self.apiKey(from:))
        }
    }

    public func apiKeys(skipping: Int, limit: Int) async throws -> [APIKeyRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.apiKeyColumns) FROM api_keys ORDER BY created_at_ms, id LIMIT ? OFFSET ?",
                             arguments: [limit, skipping]).map(Self.apiKey(from:))
        }
    }

    public func activeAPIKeys(named name: String, role: Role) async throws -> [APIKeyRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.apiKeyColumns) FROM api_keys WHERE name = ? AND role = ? AND revoked_at_ms IS NULL ORDER BY created_at_ms, id
                """, arguments: [name, role.rawValue]).map(Self.apiKey(from:))
        }
    }

    public func revokeAPIKey(id: String, atMillis: Int64) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE api_keys SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL", arguments: [atMillis, id])
            return db.changesCount > 0
        }
    }

    public func hasActiveAdminKey() async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_at_ms IS NULL LIMIT 1") ?? false
        }
    }
}
