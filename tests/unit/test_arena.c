/* test_arena.c — the bump allocator behind parsed stanzas and built
 * replies: aligned, non-overlapping blocks however the sizes mix, blocks
 * larger than a chunk, and the byte count that limits read. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "lib/arena.h"
#include "tests/unit/suites.h"

START_TEST(blocks_are_aligned_and_never_overlap)
{
    pl_arena_t *a = pl_arena_new(64);
    unsigned char *p[400];
    size_t n[400];
    for (int i = 0; i < 400; i++) {
        n[i] = (size_t)(i * 37 % 301); /* 0..300 bytes, mixed, some 0 */
        p[i] = pl_arena_alloc(a, n[i]);
        ck_assert_ptr_nonnull(p[i]);
        ck_assert_uint_eq((uintptr_t)p[i] % 16, 0);
        memset(p[i], i & 0xff, n[i]);
    }
    /* Each block still holds what was written to it: nothing overlapped. */
    for (int i = 0; i < 400; i++)
        for (size_t k = 0; k < n[i]; k++)
            ck_assert_uint_eq(p[i][k], (unsigned)(i & 0xff));
    pl_arena_free(&a);
}
END_TEST

START_TEST(used_counts_each_block_rounded_to_sixteen)
{
    pl_arena_t *a = pl_arena_new(0);
    ck_assert_uint_eq(pl_arena_used(a), 0);
    pl_arena_alloc(a, 1);
    ck_assert_uint_eq(pl_arena_used(a), 16);
    pl_arena_alloc(a, 17);
    ck_assert_uint_eq(pl_arena_used(a), 48);
    pl_arena_alloc(a, 0); /* still a distinct block */
    ck_assert_uint_eq(pl_arena_used(a), 64);
    pl_arena_alloc(a, 5000); /* beyond the first chunk */
    ck_assert_uint_eq(pl_arena_used(a), 64 + 5008);
    pl_arena_free(&a);
}
END_TEST

START_TEST(a_block_larger_than_any_chunk_is_whole)
{
    pl_arena_t *a = pl_arena_new(32);
    char *small = pl_arena_strdup(a, "before");
    size_t big_n = 3u << 20; /* more than the 1 MiB chunk cap */
    unsigned char *big = pl_arena_alloc(a, big_n);
    memset(big, 0xab, big_n);
    ck_assert_uint_eq(big[0], 0xab);
    ck_assert_uint_eq(big[big_n - 1], 0xab);
    char *after = pl_arena_strdup(a, "after");
    ck_assert_str_eq(small, "before");
    ck_assert_str_eq(after, "after");
    pl_arena_free(&a);
}
END_TEST

START_TEST(zalloc_zeroes_and_strdup_copies)
{
    /* Memory the allocator hands back dirty (the same size, so malloc
     * reuses it for the arena's chunk): zeroes are zalloc's doing. */
    for (int round = 0; round < 2; round++) {
        pl_arena_t *a = pl_arena_new(512);
        memset(pl_arena_alloc(a, 500), 0xff, 500);
        pl_arena_free(&a);
    }
    pl_arena_t *a = pl_arena_new(512);
    unsigned char *z = pl_arena_zalloc(a, 100);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(z[i], 0);
    char src[] = "stanza";
    char *d = pl_arena_strdup(a, src);
    src[0] = 'S';
    ck_assert_str_eq(d, "stanza");
    ck_assert_str_eq(pl_arena_strndup(a, "abcdef", 3), "abc");
    ck_assert_str_eq(pl_arena_strndup(a, "abc", 0), "");
    pl_arena_free(&a);
    ck_assert_ptr_null(a); /* the caller's pointer is cleared */
    pl_arena_free(&a);     /* so a second free does nothing */
    pl_arena_free(NULL);
}
END_TEST

Suite *arena_suite(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("arena");
    tcase_add_test(tc, blocks_are_aligned_and_never_overlap);
    tcase_add_test(tc, used_counts_each_block_rounded_to_sixteen);
    tcase_add_test(tc, a_block_larger_than_any_chunk_is_whole);
    tcase_add_test(tc, zalloc_zeroes_and_strdup_copies);
    suite_add_tcase(s, tc);
    return s;
}
