/* SPDX-License-Identifier: MIT */
/* fuzz_chunked.c - libFuzzer target: a chunked body decodes to the same data,
 * end and error whole, in random pieces and byte by byte. */
/* fuzz-sources: src/http_parse.c src/url.c src/util.c */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "larder/http_parse.h"

static const struct larder_http_limits limits[] = {
    { .max_line = 8192, .max_head = 65536, .max_fields = 128, .max_chunk_ext = 4096 },
    { .max_line = 40, .max_head = 64, .max_fields = 2, .max_chunk_ext = 6 },
};

struct outcome {
    int error;
    int done;
    size_t consumed;            /* bytes taken, framing and data */
    size_t data_len;
    unsigned char *data;
};

static void die(const char *what, size_t len, size_t at)
{
    fprintf(stderr, "fuzz_chunked: %s (input %zu bytes, at %zu)\n", what, len, at);
    abort();
}

/* Feeds text[0..len) in pieces ending at cuts[0..n); the caller takes at most
 * <take> data bytes per step (0: all it can). */
static void run(const char *text, size_t len, const struct larder_http_limits *lim,
                const size_t *cuts, size_t n, size_t take, struct outcome *o)
{
    struct larder_chunked c;
    size_t i, start = 0;

    o->error = o->done = 0;
    o->consumed = o->data_len = 0;
    larder_chunked_init(&c, lim);
    for (i = 0; i < n && !o->error && !o->done; i++) {
        size_t plen = cuts[i] - start, pos = 0;
        char *piece = malloc(plen ? plen : 1);    /* exactly sized for ASan */

        if (piece == NULL)
            abort();
        memcpy(piece, text + start, plen);
        while (!larder_chunked_done(&c)) {
            uint64_t left = larder_chunked_data_left(&c);
            long r;

            if (left > 0) {
                size_t k = plen - pos;

                if ((uint64_t)k > left)
                    k = (size_t)left;
                if (take > 0 && k > take)
                    k = take;
                if (k == 0)
                    break;
                memcpy(o->data + o->data_len, piece + pos, k);
                o->data_len += k;
                larder_chunked_data_consumed(&c, k);
                if (larder_chunked_data_left(&c) != left - k)
                    die("data_left did not drop by the bytes taken", len, start + pos);
                if (left > k && pos + k < plen && larder_chunked_parse(&c, piece + pos + k,
                                                                       plen - pos - k) != 0)
                    die("parse consumed bytes while data was pending", len, start + pos);
                pos += k;
                continue;
            }
            if (pos == plen)
                break;
            r = larder_chunked_parse(&c, piece + pos, plen - pos);
            if (r == LARDER_PARSE_ERROR) {
                if (c.error_reason == NULL || c.error_reason[0] == '\0')
                    die("error without a reason", len, start + pos);
                o->error = 1;
                break;
            }
            if (r < 0 || (size_t)r > plen - pos)
                die("parse returned more than it was given", len, start + pos);
            if (r == 0 && larder_chunked_data_left(&c) == 0 && !larder_chunked_done(&c))
                die("parse made no progress", len, start + pos);
            pos += (size_t)r;
        }
        o->done = larder_chunked_done(&c);
        if (o->done && larder_chunked_data_left(&c) != 0)
            die("data left after the end", len, start + pos);
        o->consumed += pos;
        if (!o->error && !o->done && pos != plen)
            die("a piece was left unconsumed", len, start + pos);
        start = cuts[i];
        free(piece);
    }
}

static void compare(const struct outcome *a, const struct outcome *b, size_t len,
                    const char *how)
{
    if (a->error != b->error || a->done != b->done || a->data_len != b->data_len ||
        memcmp(a->data, b->data, a->data_len) != 0 ||
        (!a->error && a->consumed != b->consumed)) {
        fprintf(stderr, "fuzz_chunked: %s: error %d/%d done %d/%d consumed %zu/%zu data %zu/%zu\n",
                how, a->error, b->error, a->done, b->done, a->consumed, b->consumed,
                a->data_len, b->data_len);
        die("feeding modes disagree", len, 0);
    }
}

static uint64_t hash(const uint8_t *p, size_t n)
{
    uint64_t h = UINT64_C(1469598103934665603);

    while (n-- > 0)
        h = (h ^ *p++) * UINT64_C(1099511628211);
    return h;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct outcome whole, part;
    size_t *cuts, i, n, li;
    uint64_t hv = hash(data, size);

    if (size > 100000)
        return 0;
    cuts = malloc(sizeof(*cuts) * (size + 10));  /* byte cuts, or up to 9 random ones */
    whole.data = malloc(size + 1);
    part.data = malloc(size + 1);
    if (cuts == NULL || whole.data == NULL || part.data == NULL)
        abort();
    for (li = 0; li < sizeof(limits) / sizeof(limits[0]); li++) {
        const struct larder_http_limits *lim = &limits[li];

        cuts[0] = size;
        run(text, size, lim, cuts, 1, 0, &whole);
        if (whole.done && whole.consumed > size)
            die("consumed more than the input", size, whole.consumed);
        if (!whole.error && !whole.done && whole.consumed != size)
            die("stopped early without an end or error", size, whole.consumed);
        if (whole.data_len > size)
            die("more data than input", size, whole.data_len);

        /* byte by byte, the caller taking one byte at a time */
        for (i = 0; i < size; i++)
            cuts[i] = i + 1;
        if (size > 0) {
            run(text, size, lim, cuts, size, 1, &part);
            compare(&whole, &part, size, "byte by byte");
        }

        /* up to 8 pieces cut where the hash says */
        n = (size_t)(hv % 9);
        for (i = 0; i < n; i++) {
            hv = hv * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
            cuts[i] = (size_t)((hv >> 33) % (size + 1));
        }
        cuts[n++] = size;
        qsort(cuts, n, sizeof(*cuts), cmp_size);
        run(text, size, lim, cuts, n, (size_t)(hv >> 60), &part);
        compare(&whole, &part, size, "random pieces");
    }
    free(part.data);
    free(whole.data);
    free(cuts);
    return 0;
}
