import Logging
import Metrics
import MySQLClient
public import ServiceLifecycle
import Synchronization

/// The read replicas and what is known of their health.
final class ReplicaSet: Sendable {
    final class Replica: Sendable {
        let name: String
        let pool: MySQLConnectionPool
        private let healthy = Atomic(true)
        private let lagSeconds = Atomic(0)

        init(configuration: MySQLConfiguration, connections: Int) {
            name = "\(configuration.host):\(configuration.port)"
            pool = MySQLConnectionPool(configuration: configuration, size: connections)
        }

        var isHealthy: Bool { healthy.load(ordering: .relaxed) }
        var lag: Int { lagSeconds.load(ordering: .relaxed) }

        func markDown() {
            if healthy.exchange(false, ordering: .relaxed) { StorageMetrics.replicaDown() }
        }

        func update(healthy isHealthy: Bool, lag: Int) {
            healthy.store(isHealthy, ordering: .relaxed)
            lagSeconds.store(lag, ordering: .relaxed)
        }
    }

    let replicas: [Replica]
    let maxLagSeconds: Int
    private let next = Atomic(0)

    init(configurations: [MySQLConfiguration], connections: Int, maxLagSeconds: Int) {
        replicas = configurations.map { Replica(configuration: $0, connections: connections) }
        self.maxLagSeconds = maxLagSeconds
    }

    /// Healthy replicas, starting at the next one in round-robin order.
    func candidates() -> [Replica] {
        guard !replicas.isEmpty else { return [] }
        let start = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return (0..<replicas.count).map { replicas[(start + $0) % replicas.count] }.filter(\.isHealthy)
    }

    func close() async {
        for replica in replicas { await replica.pool.close() }
    }

    /// Replication status of one replica: healthy when both threads run and it is at most `maxLagSeconds` behind.
    func check(_ replica: Replica) async -> (healthy: Bool, lag: Int, problem: String?) {
        do {
            let status = try await replica.pool.withConnection { connection in
                try connection.queryNamed(connection.isMariaDB ? "SHOW SLAVE STATUS" : "SHOW REPLICA STATUS")
            }
            guard let row = status.first else { return (true, 0, nil) }  // not a replica: as current as it gets
            func text(_ names: String...) -> String? {
                for name in names { if case .text(let value)? = row[name] { return value } }
                return nil
            }
            let io = text("Slave_IO_Running", "Replica_IO_Running"), sql = text("Slave_SQL_Running", "Replica_SQL_Running")
            guard io == "Yes", sql == "Yes" else { return (false, -1, "replication stopped (io \(io ?? "?"), sql \(sql ?? "?"))") }
            guard let lag = text("Seconds_Behind_Master", "Seconds_Behind_Source").flatMap(Int.init) else { return (false, -1, "lag unknown") }
            return lag <= maxLagSeconds ? (true, lag, nil) : (false, lag, "\(lag) s behind")
        } catch {
            return (false, -1, "\(error)")
        }
    }
}

/// Watches the replicas once a second: a replica that stops replicating, falls too far behind or cannot be
/// reached serves no reads until it is back (reads go to the other replicas, finally the primary).
public struct ReplicaMonitor: Service {
    let replicas: ReplicaSet
    let interval: Duration

    init(replicas: ReplicaSet, interval: Duration = .seconds(1)) {
        self.replicas = replicas
        self.interval = interval
    }

    public func run() async throws {
        let logger = Logger(label: "bazaar.replicas")
        guard !replicas.replicas.isEmpty else { return }
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            for replica in replicas.replicas {
                let (healthy, lag, problem) = await replicas.check(replica)
                if healthy != replica.isHealthy {
                    if healthy {
                        logger.info("replica serves reads again", metadata: ["replica": "\(replica.name)", "lag_seconds": "\(lag)"])
                    } else {
                        logger.warning("replica taken out of reads", metadata: ["replica": "\(replica.name)", "why": "\(problem ?? "")"])
                    }
                }
                replica.update(healthy: healthy, lag: lag)
                Gauge(label: "bazaar_db_replica_lag_seconds", dimensions: [("replica", replica.name)]).record(lag)
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

/// Where reads went: `bazaar_db_reads_total{target=primary|replica}`, replicas behind a token, replicas lost.
public enum StorageMetrics {
    static let replicaReads = Counter(label: "bazaar_db_reads_total", dimensions: [("target", "replica")])
    static let primaryReads = Counter(label: "bazaar_db_reads_total", dimensions: [("target", "primary")])
    static let behind = Counter(label: "bazaar_db_replica_behind_token_total")
    static let down = Counter(label: "bazaar_db_replica_down_total")
    private static let counts = Mutex((replica: 0, primary: 0))
    /// Rows written by bulk executions (`MySQLConnection.executeBulk`): `bazaar_db_bulk_rows_total`.
    static let bulkRows = Counter(label: "bazaar_db_bulk_rows_total")
    private static let bulkRowCount = Atomic<Int>(0)

    static func read(replica: Bool) {
        (replica ? replicaReads : primaryReads).increment()
        counts.withLock { replica ? ($0.replica += 1) : ($0.primary += 1) }
    }

    /// Parts of large group commits' inserts sent to the primary ahead of their `COMMIT` (`PipelinedStatements`).
    static let partsSentAhead = Counter(label: "bazaar_db_insert_parts_sent_ahead_total")

    static func wroteInBulk(rows: Int) {
        bulkRows.increment(by: rows)
        bulkRowCount.add(rows, ordering: .relaxed)
    }

    /// Rows written by bulk executions so far (process-wide; for tests).
    public static var rowsWrittenInBulk: Int { bulkRowCount.load(ordering: .relaxed) }

    static func replicaBehind() { behind.increment() }
    static func replicaDown() { down.increment() }

    /// Reads served so far by replicas and by the primary (process-wide; for tests and the health report).
    public static var readCounts: (replica: Int, primary: Int) { counts.withLock { $0 } }
}
