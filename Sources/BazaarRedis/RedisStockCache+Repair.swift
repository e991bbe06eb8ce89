public import BazaarCore
import BazaarDomain
import Logging
import RedisClient
import Synchronization

/// After a failed update: Redis may hold an older level than the database (a key marked dirty, or every key when
/// updates were missed while the breaker was open). Such keys are not read from Redis here, and are repaired as
/// soon as Redis answers again.
extension RedisStockCache {
    func markDirty(_ key: StockKey) {
        let overflow = dirtyKeys.withLock { keys in
            keys.insert(key)
            guard keys.count > Self.maxDirtyKeys else { return false }
            keys.removeAll()
            return true
        }
        if overflow { missedUpdates.store(true, ordering: .relaxed) }
        RedisCacheMetrics.dirtyKeys.increment()
        startRepair()
    }

    /// Repairs the dirty keys as soon as Redis answers (`repair`: the newest level this node knows is offered again by
    /// the compare-and-set of every offer, a key it no longer holds is deleted so every node refills it from the
    /// database); retried with backoff (100 ms to 1 s) while Redis does not answer. This bounds how long another node can
    /// read an older version from Redis after a failed write: the time until Redis answers this node again, then
    /// at most the near caches' age bound (`nearMaxAgeMillis`) for copies the other nodes already held.
    func startRepair() {
        guard !repairing.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Task { [weak self] in
            var delay = 100
            while let self {
                let done = await self.repair()
                if done {
                    self.repairing.store(false, ordering: .releasing)
                    // A key marked after the last look but before the flag dropped: go again.
                    if self.dirtyKeys.withLock({ $0.isEmpty }) || self.repairing.exchange(true, ordering: .acquiringAndReleasing) { return }
                    continue
                }
                try? await Task.sleep(for: .milliseconds(delay))
                delay = min(1000, delay * 2)
            }
        }
    }

    /// One repair pass; true when nothing is left to repair. It may take the breaker's half-open probe, and then
    /// records the probe's outcome like any other call (a probe taken and never answered would leave the breaker
    /// half-open, and Redis unused, for good).
    func repair() async -> Bool {
        let missed = missedUpdates.load(ordering: .relaxed)
        let keys = dirtyKeys.withLock { Array($0.prefix(1000)) }
        guard missed || !keys.isEmpty else { return true }
        guard breaker.allow() else { return false }
        if missed {
            await recovered()  // a failure there is recorded (and sets the flag again)
            if missedUpdates.load(ordering: .relaxed) { return false }
        }
        if !keys.isEmpty {
            // The newest level this node knows of a key goes to Redis by the same compare-and-set as any offer: Redis
            // then holds at least that version, and an older offer still in flight (from any node) is refused. A
            // deleted key had no such floor: a late older offer filled it again, and stayed (seen under load: 199
            // after 200). Only a key this node no longer holds is deleted (readers then go to the database).
            var known: [(key: StockKey, level: StockLevel)] = [], unknown: [StockKey] = []
            for key in keys {
                if let level = near.floor(key) { known.append((key, level)) } else { unknown.append(key) }
            }
            do {
                if !known.isEmpty { _ = try await compareAndSet(known) }
                if !unknown.isEmpty { _ = try await redis.send(["DEL"] + unknown.map(redisKey)) }
            } catch {
                failed(error)
                return false
            }
            dirtyKeys.withLock { $0.subtract(keys) }
            logger.info("repaired cached levels whose update had failed", metadata: ["stored_again": "\(known.count)", "deleted": "\(unknown.count)"])
        }
        await breaker.recordSuccess()
        return dirtyKeys.withLock { $0.isEmpty }
    }

    /// Back after an outage: if updates were missed, Redis may hold levels older than the database, so every cached
    /// level is dropped (they refill from the database on the next reads).
    func recovered() async {
        logger.info("redis is back")
        guard missedUpdates.exchange(false, ordering: .relaxed) else { return }
        do {
            let removed = try await unlinkAllLevels()
            logger.notice("dropped cached levels that missed updates while redis was down", metadata: ["keys": "\(removed)"])
        } catch {
            missedUpdates.store(true, ordering: .relaxed)
            failed(error)
        }
    }

    /// Every level of this deployment (its key prefix) removed from Redis; returns how many.
    func unlinkAllLevels() async throws -> Int {
        var cursor = "0"
        var removed = 0
        repeat {
            let reply = try await redis.send(["SCAN", cursor, "MATCH", keyPrefix + "stock:*", "COUNT", "1000"])
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string else {
                throw RedisError.protocolError("unexpected answer to SCAN: \(reply)")
            }
            cursor = next
            let keys = (parts[1].array ?? []).compactMap(\.string)
            if !keys.isEmpty {
                _ = try await redis.send(["UNLINK"] + keys)
                removed += keys.count
            }
        } while cursor != "0"
        return removed
    }

    /// The database went back in time (`LedgerClockWatch`): `sharedToo`, every level in Redis is removed, then this
    /// node's near cache is emptied, floors included (the other nodes empty their own at their next check). In that
    /// order, and with the Redis reads in flight refused (`levelDrops`): emptied first, the near cache took back
    /// from Redis the very levels being removed, and they stayed as its floors.
    public func dropAllLevels(sharedToo: Bool) async throws {
        if sharedToo {
            do {
                let removed = try await unlinkAllLevels()
                logger.notice("dropped every cached level: the database went back", metadata: ["keys": "\(removed)"])
            } catch {
                failed(error)
                throw error
            }
        }
        levelDrops.add(1, ordering: .releasing)
        near.clear()
    }

    /// A level of `key` older than this version or revision stops answering, on every node: a replayed write's levels
    /// (committed, its answer lost, its writer retrying) never reached the cache. This node's near entry is marked
    /// stale; Redis, if it holds an older level, gets a floor instead (`<revision - 1>:0:stale`), which no read
    /// decodes (a miss: the database answers and offers the current level, which the floor lets in) and which keeps
    /// out any older offer still in flight. Other nodes' near copies age out within `nearMaxAgeMillis`.
    public func invalidate(_ key: StockKey, minimumVersion: Int64, minimumRevision: Int64) async {
        near.invalidate(key, minimumVersion: minimumVersion, minimumRevision: minimumRevision)
        guard breaker.allow() else {
            // As for an offer Redis could not take: every level is dropped when it answers again.
            missedUpdates.store(true, ordering: .relaxed)
            startRepair()
            return
        }
        do {
            _ = try await redis.run(Self.staleFloorScript, keys: [redisKey(key)],
                                    arguments: [String(minimumVersion), String(max(0, minimumRevision - 1)), String(ttlMillis)])
            await breaker.recordSuccess()
        } catch {
            // Redis may hold the older level, and this node knows no newer one to offer: every level is dropped once
            // Redis answers again (a replay whose cache update fails is rare; the flush is what an outage costs).
            missedUpdates.store(true, ordering: .relaxed)
            startRepair()
            failed(error)
        }
    }

    static let staleFloorScript = RedisScript("""
        local current = redis.call('GET', KEYS[1])
        if not current then return 0 end
        local revision, version = string.match(current, '^(%d+):(%d+):')
        if revision and tonumber(version) >= tonumber(ARGV[1]) and tonumber(revision) > tonumber(ARGV[2]) then return 0 end
        redis.call('SET', KEYS[1], ARGV[2] .. ':0:stale', 'PX', ARGV[3])
        return 1
        """)
}

