/* Replays one stream of write transactions written by `bench/replay-commits.py --bulk`, against a MariaDB server,
 * as Bazaar sends them: round trips of SQL text (several statements in one), and bulk executions (MariaDB's array
 * binding, COM_STMT_BULK_EXECUTE) where Bazaar writes ledger rows, idempotency records and stock rows in bulk. The
 * `mariadb` client cannot send bulk executions, and the general log does not record their values: the capture is taken with
 * bulk executions off (`?bulk=off`, the same rows as multi-row text) and turned back into bulk executions here.
 *
 *     cc -O2 -o replay-bulk bench/replay-bulk.c $(mariadb_config --cflags --libs)
 *     replay-bulk HOST PORT USER DATABASE STREAM_FILE
 *
 * The stream file is a sequence of operations:
 *     T <bytes>\n<SQL text>\n                  one round trip of SQL text
 *     B <bytes> <rows> <types>\n<SQL>\n<values> a bulk execution; <types> has a letter per column, I (integer) or S
 *                                              (text); each value is "N\n" (NULL), "I <n>\n" or "S <bytes>\n<bytes>\n"
 * Exits 1 at the first error (the benchmark counts failed clients). */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "replay-bulk: %s: %s\n", what, detail);
    exit(1);
}

static char *read_bytes(FILE *in, size_t length) {
    char *bytes = malloc(length + 1);
    if (!bytes || fread(bytes, 1, length, in) != length) fail("stream", "cut short");
    bytes[length] = 0;
    if (fgetc(in) != '\n') fail("stream", "a value not followed by a line feed");
    return bytes;
}

/* Runs a round trip of text and reads every result. */
static void run_text(MYSQL *mysql, const char *sql, size_t length) {
    if (mysql_real_query(mysql, sql, length)) fail("query", mysql_error(mysql));
    for (;;) {
        MYSQL_RES *result = mysql_store_result(mysql);
        if (result) mysql_free_result(result);
        else if (mysql_field_count(mysql)) fail("result", mysql_error(mysql));
        int next = mysql_next_result(mysql);
        if (next == -1) return;
        if (next > 0) fail("statement", mysql_error(mysql));
    }
}

/* A few prepared statements, by text (a stream uses up to four: ledger rows, records, stock rows inserted and upserted). */
static struct { char *sql; MYSQL_STMT *statement; } cache[8];

static MYSQL_STMT *prepared(MYSQL *mysql, const char *sql) {
    int slot;
    for (slot = 0; slot < 8 && cache[slot].sql; slot++)
        if (!strcmp(cache[slot].sql, sql)) return cache[slot].statement;
    if (slot == 8) fail("prepare", "more than 8 statement texts");
    MYSQL_STMT *statement = mysql_stmt_init(mysql);
    if (!statement || mysql_stmt_prepare(statement, sql, strlen(sql))) fail("prepare", mysql_error(mysql));
    cache[slot].sql = strdup(sql);
    cache[slot].statement = statement;
    return statement;
}

static void run_bulk(MYSQL *mysql, FILE *in, const char *sql, unsigned rows, const char *types) {
    unsigned columns = strlen(types);
    MYSQL_STMT *statement = prepared(mysql, sql);
    if (mysql_stmt_param_count(statement) != columns) fail("bulk", "parameter count differs from the stream's columns");
    MYSQL_BIND *binds = calloc(columns, sizeof(MYSQL_BIND));
    long long **integers = calloc(columns, sizeof(long long *));
    char ***texts = calloc(columns, sizeof(char **));
    unsigned long **lengths = calloc(columns, sizeof(unsigned long *));
    char **indicators = calloc(columns, sizeof(char *));
    for (unsigned c = 0; c < columns; c++) {
        indicators[c] = calloc(rows, 1);
        binds[c].u.indicator = indicators[c];
        if (types[c] == 'I') {
            integers[c] = calloc(rows, sizeof(long long));
            binds[c].buffer_type = MYSQL_TYPE_LONGLONG;
            binds[c].buffer = integers[c];
        } else {
            texts[c] = calloc(rows, sizeof(char *));
            lengths[c] = calloc(rows, sizeof(unsigned long));
            binds[c].buffer_type = MYSQL_TYPE_STRING;
            binds[c].buffer = texts[c];
            binds[c].length = lengths[c];
        }
    }
    for (unsigned r = 0; r < rows; r++) {
        for (unsigned c = 0; c < columns; c++) {
            char kind;
            if (fscanf(in, "%c", &kind) != 1) fail("stream", "a row cut short");
            if (kind != 'N' && kind != types[c]) fail("stream", "a value of another kind than its column's");
            if (kind == 'N') {
                indicators[c][r] = STMT_INDICATOR_NULL;
                if (fgetc(in) != '\n') fail("stream", "bad NULL");
            } else if (kind == 'I') {
                if (fscanf(in, " %lld", &integers[c][r]) != 1 || fgetc(in) != '\n') fail("stream", "bad integer");
            } else if (kind == 'S') {
                size_t length;
                if (fscanf(in, " %zu", &length) != 1 || fgetc(in) != '\n') fail("stream", "bad text length");
                texts[c][r] = read_bytes(in, length);
                lengths[c][r] = length;
            } else {
                fail("stream", "a value of no known kind");
            }
        }
    }
    unsigned int size = rows;
    mysql_stmt_attr_set(statement, STMT_ATTR_ARRAY_SIZE, &size);
    if (mysql_stmt_bind_param(statement, binds) || mysql_stmt_execute(statement)) fail("bulk", mysql_stmt_error(statement));
    for (unsigned c = 0; c < columns; c++) {
        if (texts[c]) {
            for (unsigned r = 0; r < rows; r++) free(texts[c][r]);
            free(texts[c]);
            free(lengths[c]);
        }
        free(integers[c]);
        free(indicators[c]);
    }
    free(binds); free(integers); free(texts); free(lengths); free(indicators);
}

int main(int argc, char **argv) {
    if (argc != 6) fail("usage", "replay-bulk HOST PORT USER DATABASE STREAM_FILE");
    FILE *in = fopen(argv[5], "rb");
    if (!in) fail("open", argv[5]);
    MYSQL *mysql = mysql_init(NULL);
    mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");  /* as Bazaar's connections */
    if (!mysql_real_connect(mysql, argv[1], argv[3], NULL, argv[4], (unsigned)atoi(argv[2]), NULL,
                            CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS))
        fail("connect", mysql_error(mysql));
    char kind;
    while (fscanf(in, "%c", &kind) == 1) {
        size_t length;
        if (kind == 'T') {
            if (fscanf(in, " %zu", &length) != 1 || fgetc(in) != '\n') fail("stream", "bad text header");
            char *sql = read_bytes(in, length);
            run_text(mysql, sql, length);
            free(sql);
        } else if (kind == 'B') {
            unsigned rows;
            char types[64];
            if (fscanf(in, " %zu %u %63s", &length, &rows, types) != 3 || fgetc(in) != '\n') fail("stream", "bad bulk header");
            char *sql = read_bytes(in, length);
            run_bulk(mysql, in, sql, rows, types);
            free(sql);
        } else {
            fail("stream", "an operation of no known kind");
        }
    }
    mysql_close(mysql);
    return 0;
}
