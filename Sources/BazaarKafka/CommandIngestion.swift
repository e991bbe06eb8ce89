public import BazaarCore
import BazaarDomain
import BazaarCommands
public import KafkaClient
public import Logging
import Metrics
public import ServiceLifecycle
import Synchronization

/// Takes stock movements from `bazaar.stock-commands` in batches (consumer group `kafka.consumer_group`: nodes share
/// the partitions). A polled batch is applied through `StockService.writeInOrder`: in the order of its partitions,
/// a transaction per partition (of `StockService.maxWritesPerTransaction` commands at most), each command idempotent by its `id` within `IdempotencyScope.commands(topic:)` (not the
/// group's name, which may change). A command that cannot be applied goes to `bazaar.stock-commands.rejected` with
/// (the start of) the original value and a problem object; the batch's offsets are committed only after every
/// command was applied or rejected.
public struct CommandIngestion: Service {
    public static let topic = "bazaar.stock-commands"
    public static let rejectedTopic = "bazaar.stock-commands.rejected"
    /// The most commands a poll takes: what the consumer has fetched already, up to this many, so a batch is this
    /// large only while a backlog waits (a node that keeps up takes what arrived, at once). A larger batch writes
    /// each partition's part in transactions of `StockService.maxWritesPerTransaction` at most, each pair's row and
    /// cache entry once a transaction and its alert evaluation once a batch for all its commands, and pays a poll's,
    /// a commit's and a turn's fixed costs once for more commands: 100 stores +12% against polls of 5,000 at 50,000
    /// commands, +15-17% at 150,000, a million-pair chain +17% (issue 15, BENCHMARKS.md).
    public static let maxBatch = 20_000
    static let idempotencyScope = IdempotencyScope.commands(topic: topic)
    /// How much of a refused command's value is echoed into `.rejected`: enough to find it, never enough to make the
    /// rejection itself too large to publish (which would stall the partition).
    static let maxEchoedBytes = 4096

    let consumer: KafkaConsumer
    let producer: KafkaProducer
    let stock: StockService
    /// Named in each rejection (which deployment refused it); not the idempotency scope.
    let consumerGroup: String
    /// Decoding and checking (the replay window, the catalog) of each batch's commands.
    let checks: CommandChecks
    let logger: Logger

    /// `describeRefusal` words a refusal as the problem object an HTTP client would get (`Problem.json(for:)`): one
    /// wording of every refusal, whatever the channel.
    public init(consumer: KafkaConsumer, producer: KafkaProducer, stock: StockService, consumerGroup: String, replayWindowMillis: Int64,
                describeRefusal: @escaping @Sendable (any Error) -> String, clock: WallClock = .system, logger: Logger) {
        self.consumer = consumer
        self.producer = producer
        self.stock = stock
        self.consumerGroup = consumerGroup
        self.checks = CommandChecks(stock: stock, replayWindowMillis: replayWindowMillis, describeRefusal: describeRefusal, clock: clock)
        self.logger = logger
    }

    public func run() async throws {
        // The next batch is decoded and checked while this one is written (the consumer polls one batch ahead), and
        // its partitions are written as soon as the batch before has written theirs: a partition's commands stay in
        // order, and the database gets one partition's next transaction while the others commit.
        try await KafkaConsumerLoop.runOverlapped(consumer, topic: Self.topic, role: "ingestion", prepare: { batch in await checks.checked(batch.messages) },
                                                  process: { batch, checked, turns in await apply(batch.messages, checked: checked, turns: turns) })
    }

    /// What became of one command.
    enum Outcome: Sendable {
        case applied
        /// Refused: the problem object (as an HTTP client would get it) goes to `.rejected`.
        case rejected(problemJSON: String)
        /// The database could not be reached: not the command's fault, so it is retried, never rejected.
        case unavailable

        var isUnavailable: Bool {
            if case .unavailable = self { true } else { false }
        }
    }

    /// Applies or rejects every command of a batch decoded and checked beforehand (`CommandChecks.checked`); false if
    /// cancelled before all of them were settled (the batch must then not be committed: its commands are delivered
    /// again, to this node or another). Each partition's commands are written once the batch before has written
    /// that partition's (`turns`), checked again then if their checks are older than `CommandChecks.maxAgeMillis`
    /// (the batch before took long: the database was away, say), so that the replay window is judged when they are
    /// written, as near as that (well inside the hour by which command ids outlive it).
    func apply(_ messages: [KafkaMessage], checked: CommandChecks.Checked, turns: PartitionTurns) async -> Bool {
        var outcomes = checked.outcomes
        let writer = CommandWriter(stock: stock, checks: checks)
        let settled = await withTaskGroup(of: [(index: Int, outcome: Outcome)].self) { group in
            for part in checked.partitions {
                group.addTask {
                    guard await turns.turn(part.lane) else {
                        turns.settle(part.lane, false)  // the batch before could not write there: neither may this one
                        return part.indices.map { ($0, .unavailable) }
                    }
                    let outcomes = await writer.write(part, checkedAtMillis: checked.checkedAtMillis, of: messages)
                    turns.settle(part.lane, !outcomes.contains { $0.outcome.isUnavailable })
                    return outcomes
                }
            }
            // A partition with nothing to write here (all its commands refused when checked) passes its turn on.
            for lane in turns.lanes where !checked.partitions.contains(where: { $0.lane == lane }) {
                group.addTask {
                    turns.settle(lane, await turns.turn(lane))
                    return []
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        for (index, outcome) in settled { outcomes[index] = outcome }
        var toReject: [(topic: String, key: [UInt8]?, value: [UInt8])] = []
        for case (let message, .rejected(let problem)) in zip(messages, outcomes) {
            toReject.append((Self.rejectedTopic, message.key, Array(Self.rejection(of: message.value, problem: problem, group: consumerGroup).utf8)))
        }
        // Only what failed is sent again: a rejection already delivered is not duplicated by a retry.
        var attempt = 0
        while !toReject.isEmpty, !Task.isCancelled {
            let results = await producer.sendBatchSettled(toReject)
            let delivered = results.filter { (try? $0.get()) != nil }.count
            for _ in 0..<delivered { BazaarMetrics.rejected(reason: "kafka-command") }
            let failures = zip(toReject, results).compactMap { message, result -> ((topic: String, key: [UInt8]?, value: [UInt8]), KafkaError)? in
                if case .failure(let error) = result { (message, error) } else { nil }
            }
            toReject = failures.map(\.0)
            if let (_, error) = failures.first {
                attempt += 1
                logger.warning("could not publish rejected commands; retrying",
                               metadata: ["error": "\(error)", "failed": "\(failures.count)", "attempt": "\(attempt)"])
                try? await Task.sleep(for: .milliseconds(min(5000, 100 << min(attempt, 6))))
            }
        }
        return toReject.isEmpty && !outcomes.contains(where: \.isUnavailable)
    }

    /// The `.rejected` value: `{"value": <the command as text, cut to maxEchoedBytes>, "value_bytes": n,
    /// "value_truncated": bool, "group": <the consumer group that refused it>, "problem": {...}}`. Bytes that are not
    /// UTF-8 become U+FFFD.
    static func rejection(of value: [UInt8], problem: String, group: String) -> String {
        let truncated = value.count > maxEchoedBytes
        let echoed = String(decoding: truncated ? value[..<maxEchoedBytes] : value[...], as: UTF8.self)
        return "{\"value\":\(JSON.quoted(echoed)),\"value_bytes\":\(value.count),\"value_truncated\":\(truncated),\"group\":\(JSON.quoted(group)),\"problem\":\(problem)}"
    }
}
