#ifndef BAZAAR_CZLIB_SHIM_H
#define BAZAAR_CZLIB_SHIM_H
// zlib (Debian zlib1g-dev): gzip streams for the ledger archive (`bazaar archive`). Foundation on Linux has no
// gzip. `deflateInit2`/`inflateInit2` are macros: Swift calls `deflateInit2_`/`inflateInit2_` with the version.
#include <zlib.h>
#endif
