/**
 * @file db.h
 * @brief Database types shared by the core and plugins.
 *
 * Statements always carry `?` placeholders; SQL is never built from input.
 * Status codes follow FreeRADIUS rlm_sql's split (row, done, reconnect,
 * constraint, invalid, error) mapped onto negative errno values so they fit
 * the "0 or a negative errno" convention.
 */
#ifndef WGM_DB_H
#define WGM_DB_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

struct wgm_db;   /**< a pooled connection (opaque) */
struct wgm_stmt; /**< a prepared statement (opaque) */

/** Results of stepping a statement. */
#define WGM_DB_DONE 0           /**< statement finished, no (more) rows */
#define WGM_DB_ROW 1            /**< a row is available */
/** Errors, all negative. */
#define WGM_DB_ERECONNECT (-ECONNRESET) /**< connection lost; the pool reconnects it */
#define WGM_DB_ECONSTRAINT (-EEXIST)    /**< unique / foreign key / not-null violated */
#define WGM_DB_EINVALID (-EINVAL)       /**< bad SQL, bad bind index or type */
#define WGM_DB_EBUSY (-EBUSY)           /**< lock wait timed out; retry the transaction */
#define WGM_DB_EERROR (-EIO)            /**< anything else the server reported */

/** Column types of a result row. */
enum wgm_db_type {
    WGM_DB_NULL = 0,
    WGM_DB_INT,
    WGM_DB_DOUBLE,
    WGM_DB_TEXT,
    WGM_DB_BLOB,
};

#ifdef __cplusplus
}
#endif
#endif
