/* libFuzzer harness for plugins/bgp/birdctl: the reply parser fed the input
 * whole and then split at an input-chosen point, and every reply it yields
 * given to the show protocols / show route parsers.
 *
 * Invariants: only the documented error codes; a reply has at least one
 * line, every line is NUL-terminated at its length, continuation codes are
 * codes; the split feed yields exactly the replies of the whole feed; the
 * output parsers return only their documented codes and NUL-terminated
 * fields. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/bgp/birdctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REPLIES 64

static void check_reply(const struct birdctl_reply *r)
{
    struct birdctl_protocol *pv = NULL;
    struct birdctl_route *rv = NULL;
    size_t i, n = 0;
    int rc;

    if (r->n_lines == 0 || r->code > 9999 || r->code != r->lines[r->n_lines - 1].code)
        abort();
    for (i = 0; i < r->n_lines; i++)
        if (r->lines[i].code > 9999 || strlen(r->lines[i].text) != r->lines[i].len)
            abort();
    rc = birdctl_parse_protocols(r, &pv, &n);
    if (rc != 0 && rc != -EREMOTEIO && rc != -EPROTO && rc != -EMSGSIZE && rc != -ENOMEM)
        abort();
    for (i = 0; rc == 0 && i < n; i++) {
        long long age;

        if (strlen(pv[i].name) >= sizeof(pv[i].name) || strlen(pv[i].info) >= sizeof(pv[i].info) ||
            pv[i].n_channels > BIRDCTL_CHANNELS_MAX)
            abort();
        if (birdctl_since_age(pv[i].since, 1800000000, &age) == 0 && age < 0)
            abort();
    }
    free(pv);
    rc = birdctl_parse_routes(r, &rv, &n);
    if (rc != 0 && rc != -EREMOTEIO && rc != -EPROTO && rc != -EMSGSIZE && rc != -ENOMEM)
        abort();
    for (i = 0; rc == 0 && i < n; i++)
        if (strlen(rv[i].prefix) >= sizeof(rv[i].prefix) || rv[i].n_communities > BIRDCTL_COMMUNITIES_MAX)
            abort();
    free(rv);
}

/* Feed @data in two pieces split at @cut; record reply codes and line
 * counts.  Returns the final status. */
static int run(const uint8_t *data, size_t size, size_t cut, unsigned *codes, size_t *lines, size_t *nrep,
               int check)
{
    struct birdctl_parser *p = birdctl_parser_new();
    size_t pos = 0, end = cut;
    int rc = 0;

    *nrep = 0;
    if (!p)
        return -ENOMEM;
    while (pos < size) {
        struct birdctl_reply *r = NULL;
        size_t used = 0;

        if (pos >= end)
            end = size;
        rc = birdctl_parser_feed(p, (const char *)data + pos, end - pos, &used, &r);
        if (used > end - pos)
            abort();
        pos += used;
        if (rc < 0) {
            if (rc != -EPROTO && rc != -EMSGSIZE && rc != -ENOMEM)
                abort();
            break;
        }
        if (rc == 1) {
            if (!r)
                abort();
            if (check)
                check_reply(r);
            if (*nrep < MAX_REPLIES) {
                codes[*nrep] = r->code;
                lines[*nrep] = r->n_lines;
            }
            (*nrep)++;
            birdctl_reply_free(r);
        } else if (r || pos != end) {
            abort();
        }
    }
    birdctl_parser_free(p);
    return rc < 0 ? rc : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned c1[MAX_REPLIES], c2[MAX_REPLIES];
    size_t l1[MAX_REPLIES], l2[MAX_REPLIES], n1, n2, cut, i;
    int r1, r2;

    r1 = run(data, size, size, c1, l1, &n1, 1);
    cut = size ? (size_t)data[0] * 131 % (size + 1) : 0;
    r2 = run(data, size, cut, c2, l2, &n2, 0);
    if (r1 != r2 || n1 != n2)
        abort();
    for (i = 0; i < n1 && i < MAX_REPLIES; i++)
        if (c1[i] != c2[i] || l1[i] != l2[i])
            abort();
    return 0;
}
