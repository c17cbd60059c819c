/*
 * The interface between core/db and a driver module (db_sqlite.so,
 * db_mysql.so).  Each module exports one symbol, wgm_db_driver_v1.
 * Connections and statements are opaque to the core.  All functions return
 * the WGM_DB_* codes of <wgm/db.h>.
 */
#ifndef WGM_CORE_DB_DRIVER_H
#define WGM_CORE_DB_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <wgm/db.h>

#define WGM_DB_DRIVER_ABI 1
#define WGM_DB_DRIVER_SYMBOL "wgm_db_driver_v1"

struct wgm_db_driver {
    uint32_t abi;                 /* WGM_DB_DRIVER_ABI */
    const char *dialect;          /* "sqlite" | "mysql" */
    /* Connect to @url (the full URL, scheme included). */
    int (*connect)(const char *url, void **conn, char *err, size_t errlen);
    void (*disconnect)(void *conn);
    int (*ping)(void *conn);
    /* Server version, borrowed from the connection. */
    const char *(*server_version)(void *conn);
    /* Run one parameterless statement (BEGIN, COMMIT, DDL of migrations). */
    int (*exec)(void *conn, const char *sql, char *err, size_t errlen);
    /* Last error text of the connection, for logs (never contains binds). */
    const char *(*errmsg)(void *conn);
    int (*prepare)(void *conn, const char *sql, void **stmt);
    int (*bind_int)(void *stmt, int idx, int64_t v);
    int (*bind_double)(void *stmt, int idx, double v);
    int (*bind_text)(void *stmt, int idx, const char *v);
    int (*bind_blob)(void *stmt, int idx, const void *v, size_t len);
    int (*bind_null)(void *stmt, int idx);
    int (*step)(void *stmt);
    int (*reset)(void *stmt);
    int (*column_count)(void *stmt);
    const char *(*column_name)(void *stmt, int col);
    enum wgm_db_type (*column_type)(void *stmt, int col);
    int64_t (*column_int)(void *stmt, int col);
    double (*column_double)(void *stmt, int col);
    const char *(*column_text)(void *stmt, int col);
    const void *(*column_blob)(void *stmt, int col, size_t *len);
    int64_t (*changes)(void *stmt);
    int64_t (*last_id)(void *stmt);
    void (*finalize)(void *stmt);
};

#endif
