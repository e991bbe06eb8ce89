#ifndef BAZAAR_CMARIADB_SHIM_H
#define BAZAAR_CMARIADB_SHIM_H
// MariaDB Connector/C (Debian libmariadb-dev). `mysql_library_init` is a macro: Swift calls
// `mysql_server_init`. `mysql_optionsv` is variadic: Swift calls the fixed-arity `mysql_options`.
#include <mysql.h>
#include <errmsg.h>
#endif
