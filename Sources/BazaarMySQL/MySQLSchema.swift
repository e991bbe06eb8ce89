/// Versioned schema of the MySQL / MariaDB store. Append new versions; never edit an applied one.
///
/// MySQL commits DDL implicitly, so a migration cannot be rolled back: every statement is written to be safe to run
/// again (`IF NOT EXISTS`), and `MySQLStockStore.migrate` serializes nodes with a named lock.
/// Identifiers compare byte for byte (`utf8mb4_bin`), as they do in SQLite.
enum MySQLSchema {
    static let table = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

    static let migrations: [(version: Int, statements: [String])] = [
        (1, [
            """
            CREATE TABLE IF NOT EXISTS stores (
                id VARCHAR(64) NOT NULL PRIMARY KEY, name VARCHAR(1000) NOT NULL, attributes MEDIUMTEXT NOT NULL,
                created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL) \(table)
            """,
            """
            CREATE TABLE IF NOT EXISTS products (
                id VARCHAR(64) NOT NULL PRIMARY KEY, name VARCHAR(1000) NOT NULL, attributes MEDIUMTEXT NOT NULL,
                lead_time_days INT NOT NULL, review_period_days INT NOT NULL, pack_size INT NOT NULL,
                service_level DOUBLE NOT NULL, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL) \(table)
            """,
            """
            CREATE TABLE IF NOT EXISTS stock_levels (
                store_id VARCHAR(64) NOT NULL, product_id VARCHAR(64) NOT NULL, quantity BIGINT NOT NULL, version BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL, PRIMARY KEY (store_id, product_id), KEY stock_levels_by_product (product_id, store_id)) \(table)
            """,
            """
            CREATE TABLE IF NOT EXISTS stock_movements (
                seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, movement_id CHAR(36) NOT NULL,
                store_id VARCHAR(64) NOT NULL, product_id VARCHAR(64) NOT NULL, delta BIGINT NOT NULL,
                quantity_before BIGINT NOT NULL, quantity_after BIGINT NOT NULL, version BIGINT NOT NULL,
                reason VARCHAR(32) NOT NULL, reference VARCHAR(128) NULL, actor VARCHAR(1000) NOT NULL,
                at_ms BIGINT NOT NULL, recorded_at_ms BIGINT NOT NULL,
                UNIQUE KEY stock_movements_id (movement_id), KEY stock_movements_by_level (store_id, product_id, seq),
                KEY stock_movements_by_product (product_id, seq)) \(table)
            """,
            """
            CREATE TABLE IF NOT EXISTS idempotency_keys (
                scope VARCHAR(64) NOT NULL, `key` VARCHAR(255) NOT NULL, fingerprint CHAR(64) NOT NULL, movement_ids TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL, PRIMARY KEY (scope, `key`), KEY idempotency_keys_by_age (created_at_ms)) \(table)
            """,
            """
            CREATE TABLE IF NOT EXISTS api_keys (
                id VARCHAR(64) NOT NULL PRIMARY KEY, name VARCHAR(1000) NOT NULL, role VARCHAR(32) NOT NULL, stores TEXT NOT NULL,
                key_hash CHAR(64) NOT NULL, created_at_ms BIGINT NOT NULL, revoked_at_ms BIGINT NULL,
                UNIQUE KEY api_keys_hash (key_hash)) \(table)
            """,
            // Events waiting to be published, in commit order: a movement's event is rendered from its ledger row.
            "CREATE TABLE IF NOT EXISTS outbox (seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, movement_seq BIGINT NOT NULL) \(table)",
            """
            CREATE TABLE IF NOT EXISTS stock_thresholds (
                store_id VARCHAR(64) NOT NULL, product_id VARCHAR(64) NOT NULL, daily_rate DOUBLE NOT NULL, reorder_point DOUBLE NOT NULL,
                order_up_to DOUBLE NOT NULL, lead_time_days INT NOT NULL, anomaly_above DOUBLE NOT NULL, history_days INT NOT NULL DEFAULT 0,
                computed_at_ms BIGINT NOT NULL, PRIMARY KEY (store_id, product_id)) \(table)
            """,
            // At most one open or acknowledged alert per condition, across nodes: `active_kind` is NULL once resolved,
            // and NULLs never collide in a unique key (MySQL has no partial indexes).
            """
            CREATE TABLE IF NOT EXISTS alerts (
                seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, id VARCHAR(64) NOT NULL, kind VARCHAR(32) NOT NULL,
                status VARCHAR(16) NOT NULL, store_id VARCHAR(64) NOT NULL, product_id VARCHAR(64) NOT NULL, quantity BIGINT NOT NULL,
                threshold DOUBLE NULL, message TEXT NOT NULL, opened_at_ms BIGINT NOT NULL, acknowledged_at_ms BIGINT NULL,
                acknowledged_by VARCHAR(1000) NULL, resolved_at_ms BIGINT NULL,
                active_kind VARCHAR(32) AS (IF(status <> 'resolved', kind, NULL)) STORED,
                UNIQUE KEY alerts_id (id), UNIQUE KEY alerts_one_active (store_id, product_id, active_kind),
                KEY alerts_by_store (store_id, seq)) \(table)
            """,
            """
            CREATE TABLE IF NOT EXISTS event_outbox (
                seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, topic VARCHAR(200) NOT NULL, `key` VARCHAR(200) NOT NULL,
                event_id VARCHAR(200) NOT NULL, payload MEDIUMTEXT NOT NULL) \(table)
            """,
            """
            CREATE TABLE IF NOT EXISTS webhooks (
                id VARCHAR(64) NOT NULL PRIMARY KEY, url TEXT NOT NULL, secret VARCHAR(200) NOT NULL, stores TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL, deleted_at_ms BIGINT NULL) \(table)
            """,
            """
            CREATE TABLE IF NOT EXISTS webhook_deliveries (
                seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, webhook_id VARCHAR(64) NOT NULL, event_id VARCHAR(200) NOT NULL,
                payload MEDIUMTEXT NOT NULL, attempts INT NOT NULL DEFAULT 0, next_attempt_at_ms BIGINT NOT NULL,
                state VARCHAR(16) NOT NULL DEFAULT 'pending', UNIQUE KEY webhook_deliveries_once (webhook_id, event_id),
                KEY webhook_deliveries_due (state, next_attempt_at_ms)) \(table)
            """,
            """
            CREATE TABLE IF NOT EXISTS webhook_attempts (
                seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, delivery_seq BIGINT NOT NULL, webhook_id VARCHAR(64) NOT NULL,
                event_id VARCHAR(200) NOT NULL, attempt INT NOT NULL, at_ms BIGINT NOT NULL, status_code INT NULL, error TEXT NULL,
                KEY webhook_attempts_by_hook (webhook_id, seq)) \(table)
            """,
            """
            CREATE TABLE IF NOT EXISTS replenishment_overrides (
                store_id VARCHAR(64) NOT NULL, product_id VARCHAR(64) NOT NULL, lead_time_days INT NULL, review_period_days INT NULL,
                pack_size INT NULL, service_level DOUBLE NULL, PRIMARY KEY (store_id, product_id)) \(table)
            """,
        ]),
        (2, [
            // The ledger's sequence in commit order (see `MySQLLedgerTransaction.flush`): one row, taken last in a
            // group commit and held to its commit, so a transaction that commits later always gets higher
            // sequences. Auto-increment values are handed out at insert time, not commit time, and a reader paging
            // by them (the outbox relay, `/v1/changes`, the audit cursor) would skip a row that commits late.
            "CREATE TABLE IF NOT EXISTS ledger_clock (id TINYINT NOT NULL PRIMARY KEY, seq BIGINT NOT NULL) \(table)",
            "INSERT IGNORE INTO ledger_clock (id, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM stock_movements",
            // Every `/audit-logs` filter served by an index that also gives the newest-first order.
            "CREATE INDEX IF NOT EXISTS stock_movements_by_store ON stock_movements (store_id, seq)",
            "CREATE INDEX IF NOT EXISTS stock_movements_by_actor ON stock_movements (actor(191), seq)",
            "CREATE INDEX IF NOT EXISTS stock_movements_by_reason ON stock_movements (reason, seq)",
            "CREATE INDEX IF NOT EXISTS stock_movements_by_time ON stock_movements (at_ms)",
        ]),
        // The forecast behind the thresholds, so that reads answer it rather than fit again (issue 11).
        // `ADD COLUMN IF NOT EXISTS` is MariaDB's (DDL commits implicitly: a rerun must be harmless).
        (3, [
            """
            ALTER TABLE stock_thresholds ADD COLUMN IF NOT EXISTS model VARCHAR(32) NULL,
                ADD COLUMN IF NOT EXISTS demand_class VARCHAR(16) NULL, ADD COLUMN IF NOT EXISTS censored_days INT NOT NULL DEFAULT 0,
                ADD COLUMN IF NOT EXISTS dispersion DOUBLE NULL, ADD COLUMN IF NOT EXISTS daily_lo DOUBLE NULL,
                ADD COLUMN IF NOT EXISTS daily_hi DOUBLE NULL
            """,
        ]),
        // Inventory states (issue 17): reserved and incoming stock beside the ledger's quantity (instant ADD COLUMN on
        // MariaDB), and reservations. `state_changes` counts changes of the states: caches order by version + state_changes.
        (4, [
            """
            ALTER TABLE stock_levels ADD COLUMN IF NOT EXISTS reserved BIGINT NOT NULL DEFAULT 0,
                ADD COLUMN IF NOT EXISTS incoming BIGINT NOT NULL DEFAULT 0, ADD COLUMN IF NOT EXISTS state_changes BIGINT NOT NULL DEFAULT 0
            """,
            """
            CREATE TABLE IF NOT EXISTS reservations (
                seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, id VARCHAR(64) NOT NULL, store_id VARCHAR(64) NOT NULL,
                product_id VARCHAR(64) NOT NULL, quantity BIGINT NOT NULL, status VARCHAR(16) NOT NULL, reference VARCHAR(128) NULL,
                expires_at_ms BIGINT NOT NULL, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, movement_id CHAR(36) NULL,
                UNIQUE KEY reservations_id (id), KEY reservations_due (status, expires_at_ms),
                KEY reservations_by_level (store_id, product_id, seq), KEY reservations_by_store_status (store_id, status, seq),
                KEY reservations_by_product (product_id, seq), KEY reservations_by_status (status, seq)) \(table)
            """,
        ]),
        // Purchase orders (issue 17): what is not yet received counts in stock_levels.incoming.
        (5, [
            """
            CREATE TABLE IF NOT EXISTS purchase_orders (
                seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, id VARCHAR(64) NOT NULL, store_id VARCHAR(64) NOT NULL,
                supplier VARCHAR(1000) NOT NULL, reference VARCHAR(128) NULL, expected_at_ms BIGINT NULL, status VARCHAR(32) NOT NULL,
                created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, UNIQUE KEY purchase_orders_id (id),
                KEY purchase_orders_by_store (store_id, seq), KEY purchase_orders_by_status (status, seq)) \(table)
            """,
            """
            CREATE TABLE IF NOT EXISTS purchase_order_lines (
                order_id VARCHAR(64) NOT NULL, product_id VARCHAR(64) NOT NULL, quantity BIGINT NOT NULL, received BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (order_id, product_id), KEY purchase_order_lines_by_product (product_id, order_id)) \(table)
            """,
        ]),
        // Transfers in transit (issue 17): shipped and not yet received counts in the destination's incoming.
        (6, [
            """
            CREATE TABLE IF NOT EXISTS transfers_in_transit (
                seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, id VARCHAR(64) NOT NULL, from_store_id VARCHAR(64) NOT NULL,
                to_store_id VARCHAR(64) NOT NULL, product_id VARCHAR(64) NOT NULL, quantity BIGINT NOT NULL, status VARCHAR(16) NOT NULL,
                received BIGINT NULL, reference VARCHAR(128) NULL, shipped_movement_id CHAR(36) NULL, received_movement_id CHAR(36) NULL,
                created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, UNIQUE KEY transfers_in_transit_id (id),
                KEY transfers_in_transit_by_destination (to_store_id, product_id, status),
                KEY transfers_in_transit_by_shipment (shipped_movement_id)) \(table)
            """,
        ]),
        // Intelligence at chain scale (issue 14): daily demand per store x product, kept in the transaction of every
        // ledger write (`DemandDay`); the per-store trend reads the covering index. `intelligence_pass` holds the
        // recompute pass's lease per store; `demand_backfill` how far the rebuild from the ledger got (see
        // `MySQLStockStore.backfillDemand`, run by `migrate` until done). Each statement is safe to run again.
        (7, [
            """
            CREATE TABLE IF NOT EXISTS stock_demand_daily (
                store_id VARCHAR(64) NOT NULL, product_id VARCHAR(64) NOT NULL, day INT NOT NULL, sold BIGINT NOT NULL, returned BIGINT NOT NULL,
                in_stock TINYINT NOT NULL, closing BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL,
                PRIMARY KEY (store_id, product_id, day), KEY stock_demand_daily_by_store (store_id, day, sold, returned)) \(table)
            """,
            """
            CREATE TABLE IF NOT EXISTS intelligence_pass (
                store_id VARCHAR(64) NOT NULL PRIMARY KEY, holder VARCHAR(64) NOT NULL, lease_until_ms BIGINT NOT NULL,
                passed_at_ms BIGINT NOT NULL) \(table)
            """,
            "CREATE INDEX IF NOT EXISTS stock_thresholds_by_age ON stock_thresholds (computed_at_ms)",
            """
            CREATE TABLE IF NOT EXISTS demand_backfill (
                id TINYINT NOT NULL PRIMARY KEY, after_store_id VARCHAR(64) NOT NULL, done TINYINT NOT NULL) \(table)
            """,
            "INSERT IGNORE INTO demand_backfill (id, after_store_id, done) VALUES (1, '', 0)",
        ]),
        // Ledger retention (`bazaar archive`, issue 14): each pair's balance at the last cut-off that reached it
        // (invariant 1 reads checkpoint + the ledger after it), the runs and their files. The ledger itself is not
        // partitioned (ARCHITECTURE.md says why and what it would take): runs delete in bounded batches.
        (8, [
            """
            CREATE TABLE IF NOT EXISTS ledger_checkpoints (
                store_id VARCHAR(64) NOT NULL, product_id VARCHAR(64) NOT NULL, quantity BIGINT NOT NULL, row_count BIGINT NOT NULL,
                through_seq BIGINT NOT NULL, PRIMARY KEY (store_id, product_id)) \(table)
            """,
            """
            CREATE TABLE IF NOT EXISTS ledger_archives (
                first_seq BIGINT NOT NULL PRIMARY KEY, last_seq BIGINT NOT NULL, cutoff_ms BIGINT NOT NULL, directory TEXT NOT NULL,
                row_count BIGINT NOT NULL, deleted_through_seq BIGINT NOT NULL, created_at_ms BIGINT NOT NULL, completed_at_ms BIGINT NULL) \(table)
            """,
            """
            CREATE TABLE IF NOT EXISTS ledger_archive_files (
                archive_first_seq BIGINT NOT NULL, period CHAR(7) NOT NULL, file TEXT NOT NULL, row_count BIGINT NOT NULL,
                first_seq BIGINT NOT NULL, last_seq BIGINT NOT NULL, earliest_at_ms BIGINT NOT NULL, latest_at_ms BIGINT NOT NULL,
                sha256 CHAR(64) NOT NULL, PRIMARY KEY (archive_first_seq, period)) \(table)
            """,
        ]),
        // Audit queries at chain scale (issue 14): a time window becomes a sequence range through `ledger_days` (per UTC
        // day of `at`, the lowest and highest sequence, kept by every ledger write), walked on the index of the other
        // filters (`AuditQuery.indexName`), so `stock_movements_by_time` is dropped; an actor with a reason gets its
        // own index. Each statement is safe to run again. Nodes of an older version must not write after it has run
        // (they would not keep `ledger_days`): upgrade every node, as for any migration that adds a write.
        (9, [
            """
            CREATE TABLE IF NOT EXISTS ledger_days (day BIGINT NOT NULL PRIMARY KEY, min_seq BIGINT NOT NULL, max_seq BIGINT NOT NULL) \(table)
            """,
            """
            INSERT INTO ledger_days (day, min_seq, max_seq)
            SELECT at_ms DIV 86400000, MIN(seq), MAX(seq) FROM stock_movements GROUP BY at_ms DIV 86400000
            ON DUPLICATE KEY UPDATE min_seq = LEAST(min_seq, VALUES(min_seq)), max_seq = GREATEST(max_seq, VALUES(max_seq))
            """,
            "CREATE INDEX IF NOT EXISTS stock_movements_by_actor_reason ON stock_movements (actor(191), reason, seq)",
            "DROP INDEX IF EXISTS stock_movements_by_time ON stock_movements",
        ]),
        // Fill-rate targets (issue 16): a product's and a store override's target share of demand (NULL: the cycle
        // service level is in force), and the target each stored row of thresholds was sized for.
        (10, [
            "ALTER TABLE products ADD COLUMN IF NOT EXISTS fill_rate DOUBLE NULL",
            "ALTER TABLE replenishment_overrides ADD COLUMN IF NOT EXISTS fill_rate DOUBLE NULL",
            "ALTER TABLE stock_thresholds ADD COLUMN IF NOT EXISTS service_level DOUBLE NULL, ADD COLUMN IF NOT EXISTS fill_rate DOUBLE NULL",
        ]),
        // The low-stock level (issue 16): what `low_stock` and `at_risk` compare with, apart from the reorder point
        // (NULL in rows written before: the reorder point serves).
        (11, ["ALTER TABLE stock_thresholds ADD COLUMN IF NOT EXISTS low_stock_level DOUBLE NULL"]),
        // The outbox by ranges (issue 15): one row per group commit, naming its movements' contiguous sequences,
        // instead of a row per movement (which cost an insert and a delete per movement on the primary and on every
        // replica). A new table, not a new column of `outbox`: a node of an older release still writes and drains
        // `outbox` a row per movement during a rolling deploy, and this release's relay drains both.
        (12, ["CREATE TABLE IF NOT EXISTS outbox_ranges (seq BIGINT NOT NULL PRIMARY KEY, last_seq BIGINT NOT NULL) \(table)"]),
        // The review period each stored row of thresholds was sized for (NULL in rows written before, and by an older
        // release during a rolling deploy: such a row is not compared, and is recomputed on its schedule).
        (13, ["ALTER TABLE stock_thresholds ADD COLUMN IF NOT EXISTS review_period_days INT NULL"]),
        // Each pair's latest day of demand on its stock row (issue 15, `MySQLLedgerTransaction.carriedDemand`): the
        // group commit writes it with the row it upserts anyway, and a day leaves for `stock_demand_daily` when a later
        // one arrives. NULL `demand_day`: nothing counted there (rows of before, a rebuild). Readers merge both places,
        // so the rows an older release writes to `stock_demand_daily` during a rolling deploy still count (an older
        // node's own reads miss what the stock rows hold until it is upgraded).
        (14, [
            """
            ALTER TABLE stock_levels ADD COLUMN IF NOT EXISTS demand_day INT NULL, ADD COLUMN IF NOT EXISTS demand_sold BIGINT NOT NULL DEFAULT 0,
                ADD COLUMN IF NOT EXISTS demand_returned BIGINT NOT NULL DEFAULT 0, ADD COLUMN IF NOT EXISTS demand_in_stock TINYINT NOT NULL DEFAULT 0,
                ADD COLUMN IF NOT EXISTS demand_closing BIGINT NOT NULL DEFAULT 0
            """,
        ]),
        // The name of a key made through the API while it is active, unique (two active keys with one name would make
        // the audit trail's `actor` ambiguous): at READ COMMITTED no locking read keeps two creations of one name
        // apart, the unique index does. NULL for revoked keys and the bootstrap admin keys (installed beside the one
        // they replace).
        // Its SHA-256, not the name: a unique index on a long utf8mb4 column passes the 767 bytes of older row formats.
        (15, ["ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS active_name_hash BINARY(32) NULL, ADD UNIQUE INDEX IF NOT EXISTS api_keys_active_name (active_name_hash)"]),
        // Keys in the order `GET /v1/api-keys` pages them: a page is read by this index, not by sorting the table.
        (16, ["ALTER TABLE api_keys ADD INDEX IF NOT EXISTS api_keys_by_creation (created_at_ms, id)"]),
    ]
}
