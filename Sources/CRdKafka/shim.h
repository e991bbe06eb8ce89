#ifndef BAZAAR_CRDKAFKA_SHIM_H
#define BAZAAR_CRDKAFKA_SHIM_H
// librdkafka (Debian librdkafka-dev).
#include <librdkafka/rdkafka.h>
#endif
