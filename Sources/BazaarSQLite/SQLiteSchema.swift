/// Versioned schema of the SQLite store. Append new versions; never edit an applied one.
enum SQLiteSchema {
    static let migrations: [(version: Int, statements: [String])] = [
        (1, [
            """
            CREATE TABLE stores (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, attributes TEXT NOT NULL DEFAULT '{}',
                created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL) WITHOUT ROWID
            """,
            """
            CREATE TABLE products (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, attributes TEXT NOT NULL DEFAULT '{}',
                lead_time_days INTEGER NOT NULL, review_period_days INTEGER NOT NULL, pack_size INTEGER NOT NULL,
                service_level REAL NOT NULL, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL) WITHOUT ROWID
            """,
            """
            CREATE TABLE stock_levels (
                store_id TEXT NOT NULL, product_id TEXT NOT NULL, quantity INTEGER NOT NULL, version INTEGER NOT NULL,
                updated_at_ms INTEGER NOT NULL, PRIMARY KEY (store_id, product_id)) WITHOUT ROWID
            """,
            "CREATE INDEX stock_levels_by_product ON stock_levels (product_id, store_id)",
            """
            CREATE TABLE stock_movements (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, movement_id TEXT NOT NULL UNIQUE,
                store_id TEXT NOT NULL, product_id TEXT NOT NULL, delta INTEGER NOT NULL,
                quantity_before INTEGER NOT NULL, quantity_after INTEGER NOT NULL, version INTEGER NOT NULL,
                reason TEXT NOT NULL, reference TEXT, actor TEXT NOT NULL,
                at_ms INTEGER NOT NULL, recorded_at_ms INTEGER NOT NULL)
            """,
            "CREATE INDEX stock_movements_by_level ON stock_movements (store_id, product_id, seq)",
            "CREATE INDEX stock_movements_by_product ON stock_movements (product_id, seq)",
            """
            CREATE TABLE idempotency_keys (
                scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, movement_ids TEXT NOT NULL,
                created_at_ms INTEGER NOT NULL, PRIMARY KEY (scope, key)) WITHOUT ROWID
            """,
            "CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at_ms)",
            """
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, stores TEXT NOT NULL,
                key_hash TEXT NOT NULL UNIQUE, created_at_ms INTEGER NOT NULL, revoked_at_ms INTEGER) WITHOUT ROWID
            """,
            // Events waiting to be published, in commit order: a movement's event is rendered from its ledger row.
            "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, movement_seq INTEGER NOT NULL)",
        ]),
        (2, [
            """
            CREATE TABLE stock_thresholds (
                store_id TEXT NOT NULL, product_id TEXT NOT NULL, daily_rate REAL NOT NULL, reorder_point REAL NOT NULL,
                order_up_to REAL NOT NULL, lead_time_days INTEGER NOT NULL, anomaly_above REAL NOT NULL,
                computed_at_ms INTEGER NOT NULL, PRIMARY KEY (store_id, product_id)) WITHOUT ROWID
            """,
            """
            CREATE TABLE alerts (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, status TEXT NOT NULL,
                store_id TEXT NOT NULL, product_id TEXT NOT NULL, quantity INTEGER NOT NULL, threshold REAL, message TEXT NOT NULL,
                opened_at_ms INTEGER NOT NULL, acknowledged_at_ms INTEGER, acknowledged_by TEXT, resolved_at_ms INTEGER)
            """,
            // At most one open or acknowledged alert per condition: deduplication that holds across nodes too.
            "CREATE UNIQUE INDEX alerts_one_active ON alerts (store_id, product_id, kind) WHERE status != 'resolved'",
            "CREATE INDEX alerts_by_store ON alerts (store_id, seq)",
            // Events other than movements (alert changes), written in the transaction of the change they describe.
            """
            CREATE TABLE event_outbox (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key TEXT NOT NULL, event_id TEXT NOT NULL,
                payload TEXT NOT NULL)
            """,
        ]),
        (3, [
            """
            CREATE TABLE webhooks (
                id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, stores TEXT NOT NULL,
                created_at_ms INTEGER NOT NULL, deleted_at_ms INTEGER) WITHOUT ROWID
            """,
            """
            CREATE TABLE webhook_deliveries (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, webhook_id TEXT NOT NULL, event_id TEXT NOT NULL, payload TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at_ms INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
                UNIQUE (webhook_id, event_id))
            """,
            "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at_ms)",
            """
            CREATE TABLE webhook_attempts (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, delivery_seq INTEGER NOT NULL, webhook_id TEXT NOT NULL, event_id TEXT NOT NULL,
                attempt INTEGER NOT NULL, at_ms INTEGER NOT NULL, status_code INTEGER, error TEXT)
            """,
            "CREATE INDEX webhook_attempts_by_hook ON webhook_attempts (webhook_id, seq)",
        ]),
        (4, ["ALTER TABLE stock_thresholds ADD COLUMN history_days INTEGER NOT NULL DEFAULT 0"]),
        (5, [
            // Per-store replenishment parameters; NULL falls back to the product's.
            """
            CREATE TABLE replenishment_overrides (
                store_id TEXT NOT NULL, product_id TEXT NOT NULL, lead_time_days INTEGER, review_period_days INTEGER,
                pack_size INTEGER, service_level REAL, PRIMARY KEY (store_id, product_id)) WITHOUT ROWID
            """,
        ]),
        // Every `/audit-logs` filter served by an index that also gives the newest-first order (a filter alone
        // otherwise scans the ledger); the time window walks `at_ms`.
        (6, [
            "CREATE INDEX stock_movements_by_store ON stock_movements (store_id, seq)",
            "CREATE INDEX stock_movements_by_actor ON stock_movements (actor, seq)",
            "CREATE INDEX stock_movements_by_reason ON stock_movements (reason, seq)",
            "CREATE INDEX stock_movements_by_time ON stock_movements (at_ms)",
        ]),
        // The forecast behind the thresholds, so that reads answer it rather than fit again (issue 11).
        (7, [
            "ALTER TABLE stock_thresholds ADD COLUMN model TEXT",
            "ALTER TABLE stock_thresholds ADD COLUMN demand_class TEXT",
            "ALTER TABLE stock_thresholds ADD COLUMN censored_days INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE stock_thresholds ADD COLUMN dispersion REAL",
            "ALTER TABLE stock_thresholds ADD COLUMN daily_lo REAL",
            "ALTER TABLE stock_thresholds ADD COLUMN daily_hi REAL",
        ]),
        // Inventory states (issue 17): reserved and incoming stock beside the ledger's quantity, and reservations.
        // `state_changes` counts changes of the states (no ledger row): caches order values by version + state_changes.
        (8, [
            "ALTER TABLE stock_levels ADD COLUMN reserved INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE stock_levels ADD COLUMN incoming INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE stock_levels ADD COLUMN state_changes INTEGER NOT NULL DEFAULT 0",
            """
            CREATE TABLE reservations (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, store_id TEXT NOT NULL, product_id TEXT NOT NULL,
                quantity INTEGER NOT NULL, status TEXT NOT NULL, reference TEXT, expires_at_ms INTEGER NOT NULL,
                created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL, movement_id TEXT)
            """,
            "CREATE INDEX reservations_due ON reservations (status, expires_at_ms)",
            "CREATE INDEX reservations_by_level ON reservations (store_id, product_id, seq)",
            "CREATE INDEX reservations_by_store_status ON reservations (store_id, status, seq)",
            "CREATE INDEX reservations_by_product ON reservations (product_id, seq)",
            "CREATE INDEX reservations_by_status ON reservations (status, seq)",
        ]),
        // Purchase orders (issue 17): what is not yet received counts in stock_levels.incoming.
        (9, [
            """
            CREATE TABLE purchase_orders (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, store_id TEXT NOT NULL, supplier TEXT NOT NULL,
                reference TEXT, expected_at_ms INTEGER, status TEXT NOT NULL, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL)
            """,
            "CREATE INDEX purchase_orders_by_store ON purchase_orders (store_id, seq)",
            "CREATE INDEX purchase_orders_by_status ON purchase_orders (status, seq)",
            """
            CREATE TABLE purchase_order_lines (
                order_id TEXT NOT NULL, product_id TEXT NOT NULL, quantity INTEGER NOT NULL, received INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (order_id, product_id)) WITHOUT ROWID
            """,
            "CREATE INDEX purchase_order_lines_by_product ON purchase_order_lines (product_id, order_id)",
        ]),
        // Transfers in transit (issue 17): shipped and not yet received counts in the destination's incoming.
        (10, [
            """
            CREATE TABLE transfers_in_transit (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, from_store_id TEXT NOT NULL, to_store_id TEXT NOT NULL,
                product_id TEXT NOT NULL, quantity INTEGER NOT NULL, status TEXT NOT NULL, received INTEGER, reference TEXT,
                shipped_movement_id TEXT, received_movement_id TEXT, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL)
            """,
            "CREATE INDEX transfers_in_transit_by_destination ON transfers_in_transit (to_store_id, product_id, status)",
            "CREATE INDEX transfers_in_transit_by_shipment ON transfers_in_transit (shipped_movement_id)",
        ]),
        // Intelligence at chain scale (issue 14): daily demand per store x product, kept in the transaction of every
        // ledger write (`DemandDay`); the per-store trend reads the covering index. `intelligence_pass` holds the
        // recompute pass's lease per store; `demand_backfill` how far the rebuild from the ledger got (see
        // `SQLiteStockStore.backfillDemand`, run by `migrate` until done).
        (11, [
            """
            CREATE TABLE stock_demand_daily (
                store_id TEXT NOT NULL, product_id TEXT NOT NULL, day INTEGER NOT NULL, sold INTEGER NOT NULL, returned INTEGER NOT NULL,
                in_stock INTEGER NOT NULL, closing INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,
                PRIMARY KEY (store_id, product_id, day)) WITHOUT ROWID
            """,
            "CREATE INDEX stock_demand_daily_by_store ON stock_demand_daily (store_id, day, sold, returned)",
            """
            CREATE TABLE intelligence_pass (
                store_id TEXT PRIMARY KEY, holder TEXT NOT NULL, lease_until_ms INTEGER NOT NULL, passed_at_ms INTEGER NOT NULL) WITHOUT ROWID
            """,
            "CREATE INDEX stock_thresholds_by_age ON stock_thresholds (computed_at_ms)",
            "CREATE TABLE demand_backfill (id INTEGER PRIMARY KEY, after_store_id TEXT NOT NULL, done INTEGER NOT NULL)",
            "INSERT INTO demand_backfill (id, after_store_id, done) VALUES (1, '', 0)",
        ]),
        // Ledger retention (`bazaar archive`, issue 14): each pair's balance at the last cut-off that reached it
        // (invariant 1 reads checkpoint + the ledger after it), the runs and their files.
        (12, [
            """
            CREATE TABLE ledger_checkpoints (
                store_id TEXT NOT NULL, product_id TEXT NOT NULL, quantity INTEGER NOT NULL, row_count INTEGER NOT NULL,
                through_seq INTEGER NOT NULL, PRIMARY KEY (store_id, product_id)) WITHOUT ROWID
            """,
            """
            CREATE TABLE ledger_archives (
                first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, cutoff_ms INTEGER NOT NULL, directory TEXT NOT NULL,
                row_count INTEGER NOT NULL, deleted_through_seq INTEGER NOT NULL, created_at_ms INTEGER NOT NULL, completed_at_ms INTEGER)
            """,
            """
            CREATE TABLE ledger_archive_files (
                archive_first_seq INTEGER NOT NULL, period TEXT NOT NULL, file TEXT NOT NULL, row_count INTEGER NOT NULL,
                first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, earliest_at_ms INTEGER NOT NULL, latest_at_ms INTEGER NOT NULL,
                sha256 TEXT NOT NULL, PRIMARY KEY (archive_first_seq, period)) WITHOUT ROWID
            """,
        ]),
        // Audit queries at chain scale (issue 14): a time window becomes a sequence range through `ledger_days` (per UTC
        // day of `at`, the lowest and highest sequence, kept by every ledger write), walked on the index of the other
        // filters (`AuditQuery.indexName`), so `stock_movements_by_time` (a window sorted by seq: 1.5 s at 4.8 M rows)
        // is dropped; an actor with a reason gets its own index.
        (13, [
            "CREATE TABLE ledger_days (day INTEGER PRIMARY KEY, min_seq INTEGER NOT NULL, max_seq INTEGER NOT NULL)",
            "INSERT INTO ledger_days (day, min_seq, max_seq) SELECT at_ms / 86400000, MIN(seq), MAX(seq) FROM stock_movements GROUP BY at_ms / 86400000",
            "CREATE INDEX stock_movements_by_actor_reason ON stock_movements (actor, reason, seq)",
            "DROP INDEX stock_movements_by_time",
        ]),
        // Fill-rate targets (issue 16): a product's and a store override's target share of demand (NULL: the cycle
        // service level is in force), and the target each stored row of thresholds was sized for.
        (14, [
            "ALTER TABLE products ADD COLUMN fill_rate REAL",
            "ALTER TABLE replenishment_overrides ADD COLUMN fill_rate REAL",
            "ALTER TABLE stock_thresholds ADD COLUMN service_level REAL",
            "ALTER TABLE stock_thresholds ADD COLUMN fill_rate REAL",
        ]),
        // The low-stock level (issue 16): what `low_stock` and `at_risk` compare with, apart from the reorder point
        // (NULL in rows written before: the reorder point serves).
        (15, ["ALTER TABLE stock_thresholds ADD COLUMN low_stock_level REAL"]),
        // The review period each stored row of thresholds was sized for (NULL in rows written before: not compared).
        (16, ["ALTER TABLE stock_thresholds ADD COLUMN review_period_days INTEGER"]),
        // Keys by name: a new key's name is checked against the active keys (the audit trail's `actor`).
        (17, ["CREATE INDEX api_keys_by_name ON api_keys (name)"]),
        // Keys in the order `GET /v1/api-keys` pages them: a page is read by this index, not by sorting the table.
        (18, ["CREATE INDEX api_keys_by_creation ON api_keys (created_at_ms, id)"]),
    ]
}
