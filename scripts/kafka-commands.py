#!/usr/bin/env python3
"""Kafka helpers for scripts/chaos.py, run with the test broker's venv (confluent-kafka):

    kafka-commands.py start-at-end BROKERS GROUP      commit GROUP's offsets of bazaar.stock-commands at the end of
                                                      every partition (a new node of GROUP skips earlier tests' commands)
    kafka-commands.py produce BROKERS STORE N RUN     N commands for STORE (one partition: keyed by the store), ids
                                                      RUN-0..RUN-(N-1), deltas 1..3 on P0..P9, each with its id as reference

Only the given (loopback) brokers are contacted.
"""
import sys
from confluent_kafka import Consumer, Producer, TopicPartition

TOPIC = "bazaar.stock-commands"


def start_at_end(brokers, group):
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": group, "enable.auto.commit": False})
    topic = consumer.list_topics(TOPIC, timeout=10).topics.get(TOPIC)
    ends = {}
    for p in (topic.partitions if topic else {}):
        _, high = consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)
        ends[p] = high
    # The test broker (Tansu) answers the first offset of a partition's last batch as its high watermark: the
    # messages after it are read here to find the real end (else the group reads that batch, thousands of earlier
    # tests' commands, and refuses each one again).
    if ends:
        consumer.assign([TopicPartition(TOPIC, p, high) for p, high in ends.items() if high > 0])
        idle = 0
        while idle < 3 and any(high > 0 for high in ends.values()):
            messages = consumer.consume(10000, 0.5)
            if not messages:
                idle += 1
            for message in messages:
                if not message.error():
                    ends[message.partition()] = max(ends[message.partition()], message.offset() + 1)
    offsets = [TopicPartition(TOPIC, p, end) for p, end in ends.items()]
    if offsets:  # no topic yet: nothing to skip
        for committed in consumer.commit(offsets=offsets, asynchronous=False):
            if committed.error:
                sys.exit(f"partition {committed.partition}: {committed.error}")
    consumer.close()


def produce(brokers, store, n, run):
    producer = Producer({"bootstrap.servers": brokers, "acks": "all", "enable.idempotence": True, "linger.ms": 5})
    for i in range(n):
        value = ('{"id": "%s-%d", "store_id": "%s", "product_id": "P%d", "delta": %d, "reason": "receipt", "reference": "%s-%d"}'
                 % (run, i, store, i % 10, i % 3 + 1, run, i))
        while True:
            try:
                producer.produce(TOPIC, key=store.encode(), value=value.encode())
                break
            except BufferError:
                producer.poll(0.01)
    if producer.flush(60) != 0:
        sys.exit("not every command was delivered")


if __name__ == "__main__":
    if sys.argv[1] == "start-at-end":
        start_at_end(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "produce":
        produce(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(__doc__)
