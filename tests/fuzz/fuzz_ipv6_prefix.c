/* libFuzzer harness for plugins/ipv6pool/prefix: the prefix parser (strict
 * and normalising), the decimal parser and the storage hex parser, all fed
 * the raw input (length-bounded, no NUL needed).
 *
 * Invariants: only the documented error codes; whatever parses is
 * canonical (host bits zero, length <= 128); formatting then parsing gives
 * the same value and formatting again the same text; strict success implies
 * normalised success with the same value and -EDOM implies normalised
 * success; a parsed decimal or hex formats back to exactly the input; a
 * sub-prefix taken at an index maps back to that index and lies inside. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/ipv6pool/prefix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_prefix(const struct v6_prefix *p, const uint8_t *data, size_t size)
{
    char text[V6_PREFIX_STRLEN], again[V6_PREFIX_STRLEN];
    struct v6_prefix q, sub;
    unsigned plen;
    v6_u128 idx = 0, back;
    size_t i;

    if (p->len > 128 || (p->addr & ~v6_mask(p->len)))
        abort();
    if (v6_prefix_format(p, text, sizeof(text)) != 0 || strlen(text) > V6_PREFIX_STRLEN - 1)
        abort();
    if (v6_prefix_parse(text, strlen(text), 0, &q) != 0 || q.addr != p->addr || q.len != p->len)
        abort();
    if (v6_prefix_format(&q, again, sizeof(again)) != 0 || strcmp(text, again) != 0)
        abort();
    if (!v6_prefix_contains(p, p) || !v6_prefix_overlaps(p, p))
        abort();

    /* Treat it as a pool: an index from the input bytes, into a length
     * chosen by them too. */
    for (i = 0; i < size; i++)
        idx = idx * 131 + data[i];
    plen = p->len + (size ? data[0] : 0) % (129u - p->len);
    idx &= v6_sub_last(p->len, plen);
    if (v6_sub_at(p, plen, idx, &sub) != 0)
        abort();
    if (v6_sub_check(p, plen, &sub) != 0 || !v6_prefix_contains(p, &sub) || !v6_prefix_overlaps(&sub, p))
        abort();
    if (v6_sub_index(p, &sub, &back) != 0 || back != idx)
        abort();
    /* One past the last, unless that wraps (::/0 into /128s). */
    if (plen - p->len < 128 && v6_sub_at(p, plen, v6_sub_last(p->len, plen) + 1, &sub) != -ERANGE)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct v6_prefix strict = {0}, norm = {0};
    char text[V6_DEC_STRLEN + V6_HEX_LEN];
    int r, rn;
    v6_u128 v;

    r = v6_prefix_parse(s, size, 0, &strict);
    rn = v6_prefix_parse(s, size, V6_PARSE_NORMALISE, &norm);
    if (r != 0 && r != -EINVAL && r != -ERANGE && r != -EDOM)
        abort();
    if (rn != 0 && rn != -EINVAL && rn != -ERANGE)
        abort();
    if ((r == 0 || r == -EDOM) != (rn == 0))
        abort();
    if (r == 0 && (strict.addr != norm.addr || strict.len != norm.len))
        abort();
    if (r == 0)
        check_prefix(&strict, data, size);
    if (rn == 0)
        check_prefix(&norm, data, size);

    r = v6_u128_parse(s, size, &v);
    if (r != 0 && r != -EINVAL && r != -ERANGE)
        abort();
    if (r == 0 && (v6_u128_format(v, text, sizeof(text)) != 0 || strlen(text) != size ||
                   memcmp(text, s, size) != 0))
        abort();

    r = v6_u128_from_hex(s, size, &v);
    if (r != 0 && r != -EINVAL)
        abort();
    if (r == 0) {
        v6_u128_to_hex(v, text);
        if (size != V6_HEX_LEN || memcmp(text, s, size) != 0)
            abort();
    }
    return 0;
}
