/* The ipv6pool allocator alone against SQLite: figures only, asserts nothing.
 *
 * A /32 carved into /64s (2^32 prefixes) in a fresh database file (WAL,
 * synchronous=NORMAL, as the core's SQLite driver opens it):
 *   1. N auto allocations (default 1,000,000),
 *   2. N/2 releases (every other allocation),
 *   3. one promotion of the N/2 matured releases (as a plugin timer would
 *      run it), then N/2 auto allocations: all reuse,
 * each phase in transactions of T operations (default 1000).  Prints the
 * time per operation, per phase and per tenth of phase 1 (to show the cost
 * does not grow with the table), the statements per operation, the file
 * size and the peak RSS (getrusage ru_maxrss).  A phase stops when the time
 * budget (default 300 s for the whole run) runs out, and says how far it got.
 *
 * Usage: alloc [N [T [BUDGET_S [DIR]]]]   (DIR: where the file goes, /tmp)
 *
 * The allocator speaks the host table, so this carries a minimal one over
 * sqlite3, like tests/unit/test_ipv6_alloc.c. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>

#include "allocator.h"

#include "sqlite_host.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kb(void)
{
    struct rusage ru;

    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

enum phase { ALLOC, RELEASE };

/* Run @count operations of @ph in transactions of @txn; stop at @deadline.
 * Answers how many were done; *err gets the first failure. */
static long run_phase(struct wgm_db *db, const struct v6_pool *pool, enum phase ph, long count, long txn,
                      int64_t clock, double deadline, int *err, long *reused, double *slowest, const char *label)
{
    struct v6_allocation a;
    double mark_t = now_s(), t_txn;
    long done = 0, tenth = count / 10 > 0 ? count / 10 : 1, mark = tenth, mark_done = 0;
    int r = 0;

    *err = 0;
    *slowest = 0;
    while (done < count && r == 0) {
        long i, end = done + txn < count ? done + txn : count;

        if (now_s() > deadline)
            break;
        t_txn = now_s();
        if ((r = h->db_begin(db)) < 0)
            break;
        for (i = done; i < end && r == 0; i++) {
            if (ph == ALLOC) {
                r = v6_alloc_auto(h, db, pool, clock, &a);
                if (r == 0 && a.reused)
                    (*reused)++;
            } else {
                /* Every other one of the first allocations. */
                r = v6_alloc_release(h, db, pool, (v6_u128)(2 * i), clock);
            }
        }
        if (r == 0)
            r = h->db_commit(db);
        if (r < 0) {
            h->db_rollback(db);
            break;
        }
        if (now_s() - t_txn > *slowest)
            *slowest = now_s() - t_txn;
        if (label && end >= mark) {
            double t = now_s();
            printf("  %s: %8ld done, %7.2f us/op since the last line\n", label, end,
                   (t - mark_t) * 1e6 / (double)(end - mark_done));
            fflush(stdout);
            mark_t = t;
            mark_done = end;
            mark = end - end % tenth + tenth;
        }
        done = end;
    }
    *err = r;
    return done;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000, txn = argc > 2 ? atol(argv[2]) : 1000;
    double budget = argc > 3 ? atof(argv[3]) : 300, start, t, deadline;
    const char *where = argc > 4 ? argv[4] : "/tmp";
    char dir[256], path[300], side[320];
    struct v6_pool pool = {.id = 1, .prefix_length = 64, .quarantine_s = 3600};
    struct wgm_db db = {0};
    const char *const *s;
    struct stat sb;
    long done, reused = 0, steps0;
    int64_t promoted;
    double slow;
    int err, status = 0;

    if (n < 2 || txn < 1) {
        fprintf(stderr, "usage: %s [N>=2 [T>=1 [BUDGET_S [DIR]]]]\n", argv[0]);
        return 2;
    }
    snprintf(dir, sizeof(dir), "%s/wgm-bench-ipv6.XXXXXX", where);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/alloc.db", dir);
    v6_prefix_parse("2001:db8::/32", 13, 0, &pool.prefix);
    if (sqlite3_open_v2(path, &db.sq, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    sqlite3_busy_timeout(db.sq, 5000);
    sh_exec(&db, "PRAGMA journal_mode=WAL");
    sh_exec(&db, "PRAGMA synchronous=NORMAL");
    for (s = v6_alloc_migrations[0].sqlite; *s; s++)
        if (sh_exec(&db, *s) < 0) {
            fprintf(stderr, "migration: %s\n", sqlite3_errmsg(db.sq));
            return 1;
        }
    sh_exec(&db, "BEGIN IMMEDIATE");
    v6_alloc_pool_init(h, &db, &pool);
    sh_exec(&db, "COMMIT");

    printf("tests/bench/ipv6pool: 2001:db8::/32 into /64 (2^32 prefixes), SQLite %s, WAL, "
           "%ld ops per transaction, budget %.0f s\n", sqlite3_libversion(), txn, budget);
    start = now_s();
    deadline = start + budget;

    steps0 = steps;
    t = now_s();
    done = run_phase(&db, &pool, ALLOC, n, txn, 1000, deadline, &err, &reused, &slow, "allocate (per tenth)");
    t = now_s() - t;
    printf("allocate (counter)  %8ld of %ld in %7.2f s: %7.2f us/op, %.1f statements/op, slowest txn %.1f ms%s\n",
           done, n, t, done ? t * 1e6 / (double)done : 0.0, done ? (double)(steps - steps0) / (double)done : 0.0,
           slow * 1e3,
           done < n ? (err ? "  (stopped: error)" : "  (stopped: time budget)") : "");
    if (err) {
        printf("  error %d (%s)\n", err, strerror(-err));
        status = 1;
    }

    steps0 = steps;
    t = now_s();
    done = run_phase(&db, &pool, RELEASE, done / 2, txn, 2000, deadline, &err, &reused, &slow, NULL);
    t = now_s() - t;
    printf("release             %8ld of %ld in %7.2f s: %7.2f us/op, %.1f statements/op, slowest txn %.1f ms%s\n",
           done, n / 2, t, done ? t * 1e6 / (double)done : 0.0, done ? (double)(steps - steps0) / (double)done : 0.0,
           slow * 1e3,
           done < n / 2 ? (err ? "  (stopped: error)" : "  (stopped: time budget)") : "");
    if (err) {
        printf("  error %d (%s)\n", err, strerror(-err));
        status = 1;
    }

    /* After the quarantine: promote the matured releases in one go, as a
     * plugin timer would (else the first allocation pays for it), then
     * every allocation comes off the released list. */
    t = now_s();
    promoted = 0;
    if (h->db_begin(&db) == 0 && v6_alloc_promote(h, &db, &pool, 2000 + pool.quarantine_s, &promoted) == 0)
        h->db_commit(&db);
    else
        h->db_rollback(&db);
    printf("promote             %8ld matured releases in one transaction: %.2f s\n", (long)promoted, now_s() - t);
    steps0 = steps;
    reused = 0;
    t = now_s();
    done = run_phase(&db, &pool, ALLOC, done, txn, 2000 + pool.quarantine_s, deadline, &err, &reused, &slow, NULL);
    t = now_s() - t;
    printf("allocate (reuse)    %8ld in %7.2f s: %7.2f us/op, %.1f statements/op, slowest txn %.1f ms, "
           "%ld reused%s\n", done, t,
           done ? t * 1e6 / (double)done : 0.0, done ? (double)(steps - steps0) / (double)done : 0.0, slow * 1e3,
           reused,
           err ? "  (stopped: error)" : now_s() > deadline ? "  (stopped: time budget)" : "");
    if (err) {
        printf("  error %d (%s)\n", err, strerror(-err));
        status = 1;
    }

    sqlite3_close(db.sq);
    printf("database file       %.1f MB (plus WAL)\n", stat(path, &sb) == 0 ? (double)sb.st_size / 1048576.0 : -1.0);
    printf("peak RSS            %.1f MB\n", (double)peak_rss_kb() / 1024.0);
    printf("total               %.1f s\n", now_s() - start);
    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    rmdir(dir);
    return status;
}
