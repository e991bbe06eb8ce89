#ifndef BAZAAR_CKAFKASHIM_H
#define BAZAAR_CKAFKASHIM_H
#include <librdkafka/rdkafka.h>

/// `rd_kafka_producev` is variadic, which Swift cannot call: this fixed-arity wrapper produces one message
/// (copied) with a key and a per-message opaque that the delivery report callback receives as `_private`.
rd_kafka_resp_err_t bazaar_kafka_produce(rd_kafka_t *rk, const char *topic, int32_t partition,
                                         const void *key, size_t key_len, const void *value, size_t value_len,
                                         void *opaque);
#endif
