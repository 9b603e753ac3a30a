// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for gmem_cma.
 *
 * gmem_cma_cmdline feeds gmem_cma= values through gmem_cma_parse() and
 * gmem_cma_plan() on made-up node layouts and checks exactly which problems
 * were reported and how much every node would get.
 *
 * gmem_cma_pool works on the real areas of the running kernel (it skips if
 * there are none): it grows, reserves, allocates, frees and shrinks a pool
 * and checks every counter, CMA's included, after each step.
 *
 * gmem_cma_vmemmap restores and trims again 2 MiB chunks of a trimmed
 * folio's vmemmap and checks the savings and the chunk state after each
 * step, and that restored struct pages can be written.
 *
 * gmem_cma_split puts a trimmed folio in the page cache of an inode of its
 * own, splits it to 2 MiB folios and one chunk to 4 KiB folios, merges them
 * back, twice, and checks the block's state and the vmemmap savings after
 * each step, and that merges refuse a referenced folio.
 *
 * gmem_cma_memory_failure poisons pages of the pools' folios for good, so
 * it runs only with gmem_cma_kunit.poison=1 on the command line (a boot of
 * its own; it skips otherwise): a memory failure inside the window where a
 * shrink holds a folio off every list keeps that folio out of CMA; a
 * poisoned free folio that a reservation counted on is replaced from CMA,
 * or, with no block left, the shortage is counted and allocations fail.
 */

#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/cma.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/huge_mm.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/mount.h>
#include <linux/nodemask.h>
#include <linux/numa.h>
#include <linux/pagemap.h>
#include <linux/pseudo_fs.h>
#include <linux/sizes.h>
#include <linux/string.h>

#include "../cma.h"
#include "../gmem_cma_internal.h"
#include "../hugetlb_vmemmap.h"

MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");

#define NR_TEST_NODES	4

/* Node layouts, in GiB of memory per node. */
static const unsigned int two_nodes[NR_TEST_NODES] = { 6, 4 };
static const unsigned int node1_only[NR_TEST_NODES] = { 0, 4 };
static const unsigned int four_nodes[NR_TEST_NODES] = { 4, 4, 4, 4 };

struct gmem_cma_case {
	const char *val;
	const unsigned int *layout;
	unsigned int problems;
	unsigned int plan_gb[NR_TEST_NODES];
};

#define P(x)	GMEM_CMA_##x

static const struct gmem_cma_case gmem_cma_cases[] = {
	/* valid input */
	{ "0:2G,1:2G",		two_nodes, 0, { 2, 2 } },
	{ "1:1G",		two_nodes, 0, { 0, 1 } },
	{ "0:1073741824",	two_nodes, 0, { 1 } },
	{ "0:0x80000000",	two_nodes, 0, { 2 } },
	{ "1:1g",		two_nodes, 0, { 0, 1 } },
	{ "4G",			two_nodes, 0, { 2, 2 } },
	{ "3G",			two_nodes, 0, { 2, 1 } },
	{ "1G",			two_nodes, 0, { 1 } },
	{ "2048M",		two_nodes, 0, { 1, 1 } },
	{ "3G",			four_nodes, 0, { 1, 1, 1 } },
	{ "2G",			node1_only, 0, { 0, 2 } },
	{ "1:2G,0:1G",		two_nodes, 0, { 1, 2 } },
	/* empty value or entries */
	{ NULL,			two_nodes, P(EMPTY) },
	{ "",			two_nodes, P(EMPTY) },
	{ "0:2G,,1:1G",		two_nodes, P(EMPTY), { 2, 1 } },
	{ "0:2G,",		two_nodes, P(EMPTY), { 2 } },
	{ ",",			two_nodes, P(EMPTY) },
	/* garbage */
	{ "abc",		two_nodes, P(GARBAGE) },
	{ "0:abc",		two_nodes, P(GARBAGE) },
	{ "x:1G,1:1G",		two_nodes, P(GARBAGE), { 0, 1 } },
	{ "0:1Q",		two_nodes, P(GARBAGE) },
	{ "0:1GG",		two_nodes, P(GARBAGE) },
	{ ":1G",		two_nodes, P(GARBAGE) },
	{ "0:",			two_nodes, P(GARBAGE) },
	{ "-1G",		two_nodes, P(GARBAGE) },
	{ "0: 1G",		two_nodes, P(GARBAGE) },
	{ "0:1:1G",		two_nodes, P(GARBAGE) },
	{ "0x:1G",		two_nodes, P(GARBAGE) },
	{ "4G,1:1G",		two_nodes, P(GARBAGE), { 0, 1 } },
	/* not a multiple of 1 GiB: rounded down */
	{ "1500M",		two_nodes, P(UNALIGNED), { 1 } },
	{ "0:512M",		two_nodes, P(UNALIGNED) },
	{ "0:3000M,1:1G",	two_nodes, P(UNALIGNED), { 2, 1 } },
	{ "0:0",		two_nodes, P(UNALIGNED) },
	/* numeric overflow */
	{ "99999999999999999999G", two_nodes, P(OVERFLOW) },
	{ "0:16777216T",	two_nodes, P(OVERFLOW) },
	{ "0:16E",		two_nodes, P(OVERFLOW) },
	{ "99999999999999999999999:1G,1:1G", two_nodes, P(OVERFLOW), { 0, 1 } },
	{ "0:0x10000000000000000", two_nodes, P(OVERFLOW) },
	/* nodes that do not exist or have no memory */
	{ "1048576:1G",		two_nodes, P(BAD_NODE) },
	{ "2:1G,0:1G",		two_nodes, P(BAD_NODE), { 1 } },
	{ "0:1G",		node1_only, P(BAD_NODE) },
	/* repeated node or total */
	{ "0:1G,0:2G",		two_nodes, P(REPEATED), { 1 } },
	{ "4G,8G",		two_nodes, P(REPEATED), { 2, 2 } },
	/* larger than the node */
	{ "1:4G",		two_nodes, P(TOO_BIG) },
	{ "0:8G,1:1G",		two_nodes, P(TOO_BIG), { 0, 1 } },
	{ "12G",		two_nodes, P(TOO_BIG) },
	{ "8G",			two_nodes, P(TOO_BIG), { 4 } },
	/* several problems at once */
	{ "0:1G,0:1G,x,1:1500M,9:1G", two_nodes,
	  P(REPEATED) | P(GARBAGE) | P(UNALIGNED) | P(BAD_NODE), { 1, 1 } },
};

static void gmem_cma_case_desc(const struct gmem_cma_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "gmem_cma=%s", c->val ?: "(none)");
}

KUNIT_ARRAY_PARAM(gmem_cma, gmem_cma_cases, gmem_cma_case_desc);

static void gmem_cma_parse_and_plan(struct kunit *test)
{
	const struct gmem_cma_case *c = test->param_value;
	struct gmem_cma_request *req;
	u64 *node_bytes, *plan;
	int nid;

	req = kunit_kzalloc(test, sizeof(*req), GFP_KERNEL);
	node_bytes = kunit_kcalloc(test, MAX_NUMNODES, sizeof(u64), GFP_KERNEL);
	plan = kunit_kcalloc(test, MAX_NUMNODES, sizeof(u64), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, req);
	KUNIT_ASSERT_NOT_NULL(test, node_bytes);
	KUNIT_ASSERT_NOT_NULL(test, plan);

	for (nid = 0; nid < NR_TEST_NODES && nid < MAX_NUMNODES; nid++)
		node_bytes[nid] = (u64)c->layout[nid] * SZ_1G;
	req->quiet = true;

	gmem_cma_parse(c->val, req);
	gmem_cma_plan(req, node_bytes, plan);

	KUNIT_EXPECT_EQ_MSG(test, req->problems, c->problems,
			    "problems for '%s'", c->val);
	for (nid = 0; nid < MAX_NUMNODES; nid++) {
		u64 want = nid < NR_TEST_NODES ? (u64)c->plan_gb[nid] * SZ_1G : 0;

		KUNIT_EXPECT_EQ_MSG(test, plan[nid], want,
				    "node %d for '%s'", nid, c->val);
	}
}

/* A long value is parsed entry by entry, without a length limit. */
static void gmem_cma_many_entries(struct kunit *test)
{
	struct gmem_cma_request *req;
	char *val;
	int i;

	req = kunit_kzalloc(test, sizeof(*req), GFP_KERNEL);
	val = kunit_kzalloc(test, 4096, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, req);
	KUNIT_ASSERT_NOT_NULL(test, val);
	for (i = 0; i < MAX_NUMNODES && strlen(val) < 4000; i++)
		scnprintf(val + strlen(val), 4096 - strlen(val), "%s%d:%dG",
			  i ? "," : "", i, i + 1);
	req->quiet = true;
	gmem_cma_parse(val, req);
	KUNIT_EXPECT_EQ(test, req->problems, 0);
	KUNIT_EXPECT_TRUE(test, req->per_node);
	KUNIT_EXPECT_EQ(test, req->size[0], (u64)SZ_1G);
	KUNIT_EXPECT_EQ(test, req->size[i - 1], (u64)i * SZ_1G);
}

static struct kunit_case gmem_cma_test_cases[] = {
	KUNIT_CASE_PARAM(gmem_cma_parse_and_plan, gmem_cma_gen_params),
	KUNIT_CASE(gmem_cma_many_entries),
	{}
};

static struct kunit_suite gmem_cma_test_suite = {
	.name = "gmem_cma_cmdline",
	.test_cases = gmem_cma_test_cases,
};

/* A node whose area has room for one more page in its pool, or skip. */
static int gmem_cma_test_node(struct kunit *test, struct gmem_cma_pool_stats *base)
{
	int nid;

	for_each_node_state(nid, N_MEMORY) {
		gmem_cma_pool_stats(nid, base);
		if (base->nr_pages < base->capacity)
			return nid;
	}
	kunit_skip(test, "no gmem_cma area with a block left in CMA");
	return NUMA_NO_NODE;
}

/* Allocate a reserved folio, waiting for the zeroer if it holds the last. */
static struct folio *test_pool_alloc(struct kunit *test, int nid, bool *zeroed)
{
	struct folio *folio;
	bool z;

	while ((folio = gmem_cma_pool_alloc(nid, zeroed ?: &z)) == ERR_PTR(-EAGAIN))
		KUNIT_ASSERT_EQ(test, gmem_cma_pool_wait_zeroing(nid), 0);
	return folio;
}

/* The pool of @nid holds exactly these pages, and CMA agrees. */
static void expect_pool(struct kunit *test, int nid, unsigned long nr,
			unsigned long free, unsigned long resv, unsigned long used)
{
	struct gmem_cma_pool_stats st;
	struct cma *cma = gmem_cma_area(nid);

	gmem_cma_pool_stats(nid, &st);
	KUNIT_EXPECT_EQ(test, st.nr_pages, nr);
	KUNIT_EXPECT_EQ(test, st.free, free);
	KUNIT_EXPECT_EQ(test, st.resv, resv);
	KUNIT_EXPECT_EQ(test, st.used, used);
	KUNIT_EXPECT_EQ(test, cma->available_count,
			cma->count - (nr << GMEM_CMA_PAGE_ORDER));
}

/* Growing takes a block out of CMA, shrinking gives it back. */
static void gmem_cma_pool_grow_shrink(struct kunit *test)
{
	struct gmem_cma_pool_stats b;
	int nid = gmem_cma_test_node(test, &b);

	KUNIT_ASSERT_EQ(test, gmem_cma_set_pool_pages(nid, b.nr_pages + 1), 0);
	expect_pool(test, nid, b.nr_pages + 1, b.free + 1, b.resv, b.used);
	KUNIT_EXPECT_EQ(test, gmem_cma_set_pool_pages(nid, b.nr_pages), 0);
	expect_pool(test, nid, b.nr_pages, b.free, b.resv, b.used);
}

/* Reserved and used pages cannot be given back; every state is counted. */
static void gmem_cma_pool_reserve_alloc_free(struct kunit *test)
{
	struct gmem_cma_pool_stats b;
	int nid = gmem_cma_test_node(test, &b);
	struct folio *folio;

	KUNIT_ASSERT_EQ(test, gmem_cma_set_pool_pages(nid, b.nr_pages + 1), 0);
	KUNIT_ASSERT_EQ(test, gmem_cma_pool_reserve(nid, b.free + 1), 0);
	expect_pool(test, nid, b.nr_pages + 1, 0, b.resv + b.free + 1, b.used);
	KUNIT_EXPECT_EQ(test, gmem_cma_pool_reserve(nid, 1), -ENOMEM);
	KUNIT_EXPECT_EQ(test, gmem_cma_set_pool_pages(nid, b.nr_pages), -EBUSY);
	expect_pool(test, nid, b.nr_pages + 1, 0, b.resv + b.free + 1, b.used);

	folio = test_pool_alloc(test, nid, NULL);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	KUNIT_EXPECT_EQ(test, folio_order(folio), GMEM_CMA_PAGE_ORDER);
	KUNIT_EXPECT_EQ(test, folio_nid(folio), nid);
	KUNIT_EXPECT_EQ(test, folio_ref_count(folio), 1);
	KUNIT_EXPECT_TRUE(test, IS_ALIGNED(folio_pfn(folio), 1UL << GMEM_CMA_PAGE_ORDER));
	expect_pool(test, nid, b.nr_pages + 1, 0, b.resv + b.free, b.used + 1);
	KUNIT_EXPECT_EQ(test, gmem_cma_set_pool_pages(nid, b.nr_pages), -EBUSY);

	KUNIT_ASSERT_TRUE(test, folio_ref_freeze(folio, 1));
	gmem_cma_pool_free(nid, folio, false);
	expect_pool(test, nid, b.nr_pages + 1, 1, b.resv + b.free, b.used);
	gmem_cma_pool_unreserve(nid, b.free);
	expect_pool(test, nid, b.nr_pages + 1, b.free + 1, b.resv, b.used);
	KUNIT_EXPECT_EQ(test, gmem_cma_set_pool_pages(nid, b.nr_pages), 0);
	expect_pool(test, nid, b.nr_pages, b.free, b.resv, b.used);
}

/* Targets out of range change nothing. */
static void gmem_cma_pool_bad_targets(struct kunit *test)
{
	struct gmem_cma_pool_stats b;
	int nid = gmem_cma_test_node(test, &b);

	KUNIT_EXPECT_EQ(test, gmem_cma_set_pool_pages(nid, b.capacity + 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, gmem_cma_set_pool_pages(nid, ULONG_MAX), -EINVAL);
	expect_pool(test, nid, b.nr_pages, b.free, b.resv, b.used);
	KUNIT_EXPECT_EQ(test, gmem_cma_set_pool_pages(MAX_NUMNODES, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, gmem_cma_set_pool_pages(NUMA_NO_NODE, ULONG_MAX), -EINVAL);
	expect_pool(test, nid, b.nr_pages, b.free, b.resv, b.used);
}

static struct kunit_case gmem_cma_pool_test_cases[] = {
	KUNIT_CASE(gmem_cma_pool_grow_shrink),
	KUNIT_CASE(gmem_cma_pool_reserve_alloc_free),
	KUNIT_CASE(gmem_cma_pool_bad_targets),
	{}
};

static struct kunit_suite gmem_cma_pool_test_suite = {
	.name = "gmem_cma_pool",
	.test_cases = gmem_cma_pool_test_cases,
};

/* Vmemmap pages a fully trimmed 1 GiB folio saves: all but the head's. */
#define SAVED_PER_FOLIO	((GMEM_CMA_PAGE_SIZE / PAGE_SIZE) * sizeof(struct page) / \
			 PAGE_SIZE - 1)
/* Vmemmap pages of one 2 MiB chunk: 8, chunk 0 has 7 (and the head's copy). */
#define CHUNK_VMEMMAP	((SZ_2M / PAGE_SIZE) * sizeof(struct page) / PAGE_SIZE)

/*
 * Grow a pool by one folio (trimmed) and take a folio of it in use, or skip
 * if trimming is off.
 */
static struct folio *gmem_cma_vmemmap_folio(struct kunit *test,
					    struct gmem_cma_pool_stats *b)
{
	int nid = gmem_cma_test_node(test, b);
	struct gmem_cma_pool_stats st;
	struct folio *folio;

	if (!gmem_cma_vmemmap_enabled())
		kunit_skip(test, "gmem_cma_vmemmap=off");
	KUNIT_ASSERT_EQ(test, gmem_cma_set_pool_pages(nid, b->nr_pages + 1), 0);
	gmem_cma_pool_stats(nid, &st);
	KUNIT_EXPECT_EQ(test, st.vmemmap_saved, b->vmemmap_saved + SAVED_PER_FOLIO);
	KUNIT_ASSERT_EQ(test, gmem_cma_pool_reserve(nid, b->free + 1), 0);
	folio = test_pool_alloc(test, nid, NULL);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	KUNIT_ASSERT_EQ(test, gmem_cma_vmemmap_shared(folio), GMEM_CMA_VMEMMAP_CHUNKS);
	return folio;
}

static void gmem_cma_vmemmap_put(struct kunit *test, struct folio *folio,
				 struct gmem_cma_pool_stats *b)
{
	int nid = folio_nid(folio);
	struct gmem_cma_pool_stats st;

	KUNIT_ASSERT_TRUE(test, folio_ref_freeze(folio, 1));
	gmem_cma_pool_free(nid, folio, true);
	gmem_cma_pool_unreserve(nid, b->free + 1);
	KUNIT_EXPECT_EQ(test, gmem_cma_set_pool_pages(nid, b->nr_pages), 0);
	gmem_cma_pool_stats(nid, &st);
	KUNIT_EXPECT_EQ(test, st.vmemmap_saved, b->vmemmap_saved);
	expect_pool(test, nid, b->nr_pages, b->free, b->resv, b->used);
}

/* Write and undo a tail struct page: oopses if its vmemmap is read-only. */
static void touch_struct_page(struct folio *folio, unsigned long chunk)
{
	struct page *page = folio_page(folio, chunk * (SZ_2M / PAGE_SIZE) + 77);

	atomic_inc(&page->_mapcount);
	atomic_dec(&page->_mapcount);
}

/* Restore and trim again 2 MiB chunks: the first, a middle one, the last two. */
static void gmem_cma_vmemmap_chunks(struct kunit *test)
{
	static const struct { unsigned long first, nr, pages; } c[] = {
		{ 0, 1, CHUNK_VMEMMAP - 1 },
		{ 5, 1, CHUNK_VMEMMAP },
		{ GMEM_CMA_VMEMMAP_CHUNKS - 2, 2, 2 * CHUNK_VMEMMAP },
		{ 0, 3, 3 * CHUNK_VMEMMAP - 1 },
	};
	struct gmem_cma_pool_stats b, st;
	struct folio *folio = gmem_cma_vmemmap_folio(test, &b);
	unsigned long full = b.vmemmap_saved + SAVED_PER_FOLIO;
	int nid = folio_nid(folio), i;

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		KUNIT_EXPECT_EQ(test, gmem_cma_vmemmap_restore(folio, c[i].first, c[i].nr), 0);
		gmem_cma_pool_stats(nid, &st);
		KUNIT_EXPECT_EQ(test, st.vmemmap_saved, full - c[i].pages);
		KUNIT_EXPECT_EQ(test, gmem_cma_vmemmap_shared(folio),
				GMEM_CMA_VMEMMAP_CHUNKS - c[i].nr);
		touch_struct_page(folio, c[i].first + c[i].nr - 1);
		/* Restoring again what has its own pages changes nothing. */
		KUNIT_EXPECT_EQ(test, gmem_cma_vmemmap_restore(folio, c[i].first, c[i].nr), 0);
		gmem_cma_pool_stats(nid, &st);
		KUNIT_EXPECT_EQ(test, st.vmemmap_saved, full - c[i].pages);

		KUNIT_EXPECT_EQ(test, gmem_cma_vmemmap_trim(folio, c[i].first, c[i].nr), 0);
		gmem_cma_pool_stats(nid, &st);
		KUNIT_EXPECT_EQ(test, st.vmemmap_saved, full);
		KUNIT_EXPECT_EQ(test, gmem_cma_vmemmap_shared(folio), GMEM_CMA_VMEMMAP_CHUNKS);
	}
	gmem_cma_vmemmap_put(test, folio, &b);
}

/* A chunk whose struct pages differ from the shared ones is not trimmed. */
static void gmem_cma_vmemmap_refuses_changed(struct kunit *test)
{
	struct gmem_cma_pool_stats b, st;
	struct folio *folio = gmem_cma_vmemmap_folio(test, &b);
	struct page *page = folio_page(folio, 7 * (SZ_2M / PAGE_SIZE) + 3);
	int nid = folio_nid(folio);

	KUNIT_ASSERT_EQ(test, gmem_cma_vmemmap_restore(folio, 7, 1), 0);
	atomic_inc(&page->_mapcount);
	KUNIT_EXPECT_EQ(test, gmem_cma_vmemmap_trim(folio, 0, GMEM_CMA_VMEMMAP_CHUNKS),
			-EBUSY);
	KUNIT_EXPECT_EQ(test, gmem_cma_vmemmap_shared(folio), GMEM_CMA_VMEMMAP_CHUNKS - 1);
	gmem_cma_pool_stats(nid, &st);
	KUNIT_EXPECT_EQ(test, st.vmemmap_saved, b.vmemmap_saved + SAVED_PER_FOLIO - CHUNK_VMEMMAP);
	atomic_dec(&page->_mapcount);
	KUNIT_EXPECT_EQ(test, gmem_cma_vmemmap_trim(folio, 0, GMEM_CMA_VMEMMAP_CHUNKS), 0);
	KUNIT_EXPECT_EQ(test, gmem_cma_vmemmap_shared(folio), GMEM_CMA_VMEMMAP_CHUNKS);
	gmem_cma_vmemmap_put(test, folio, &b);
}

/* Ranges outside the folio are refused and change nothing. */
static void gmem_cma_vmemmap_bad_ranges(struct kunit *test)
{
	struct gmem_cma_pool_stats b, st;
	struct folio *folio = gmem_cma_vmemmap_folio(test, &b);
	int nid = folio_nid(folio);

	KUNIT_EXPECT_EQ(test, gmem_cma_vmemmap_restore(folio, GMEM_CMA_VMEMMAP_CHUNKS, 1),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, gmem_cma_vmemmap_restore(folio, 1, GMEM_CMA_VMEMMAP_CHUNKS),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, gmem_cma_vmemmap_trim(folio, 0, GMEM_CMA_VMEMMAP_CHUNKS + 1),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, gmem_cma_vmemmap_restore(folio, 3, 0), 0);
	KUNIT_EXPECT_EQ(test, gmem_cma_vmemmap_shared(folio), GMEM_CMA_VMEMMAP_CHUNKS);
	gmem_cma_pool_stats(nid, &st);
	KUNIT_EXPECT_EQ(test, st.vmemmap_saved, b.vmemmap_saved + SAVED_PER_FOLIO);
	gmem_cma_vmemmap_put(test, folio, &b);
}

static struct kunit_case gmem_cma_vmemmap_test_cases[] = {
	KUNIT_CASE(gmem_cma_vmemmap_chunks),
	KUNIT_CASE(gmem_cma_vmemmap_refuses_changed),
	KUNIT_CASE(gmem_cma_vmemmap_bad_ranges),
	{}
};

static struct kunit_suite gmem_cma_vmemmap_test_suite = {
	.name = "gmem_cma_vmemmap",
	.test_cases = gmem_cma_vmemmap_test_cases,
};

/* An inode of a pseudo filesystem of the suite's own, for a page cache. */
static struct vfsmount *split_mnt;

static int split_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, 0x676d6373) ? 0 : -ENOMEM;
}

static struct file_system_type split_fs = {
	.name		= "gmem_cma_kunit",
	.init_fs_context = split_init_fs_context,
	.kill_sb	= kill_anon_super,
};

/* Like guest_memfd's: folios of a split block leaving the file are held. */
static const struct address_space_operations split_aops = {
	.dirty_folio	= noop_dirty_folio,
	.free_folio	= gmem_cma_release_piece,
};

static int gmem_cma_split_suite_init(struct kunit_suite *suite)
{
	split_mnt = kern_mount(&split_fs);
	return PTR_ERR_OR_ZERO(split_mnt);
}

static void gmem_cma_split_suite_exit(struct kunit_suite *suite)
{
	kern_unmount(split_mnt);
}

/* 4 KiB pages in a 2 MiB chunk. */
#define CHUNK_PAGES	(SZ_2M / PAGE_SIZE)
/* Vmemmap pages 512 trimmed 2 MiB folios save: all but one per folio. */
#define SPLIT_2M_SAVED	(GMEM_CMA_VMEMMAP_CHUNKS * (CHUNK_VMEMMAP - 1))

/**
 * struct split_ctx - a file of one 1 GiB page, as guest_memfd makes it
 * @b: the pool before the test grew it by one page
 * @nid: the pool's node
 * @inode: the file
 * @sp: its subpool
 * @pfn: the page's first pfn
 */
struct split_ctx {
	struct gmem_cma_pool_stats b;
	int nid;
	struct inode *inode;
	struct gmem_cma_subpool *sp;
	unsigned long pfn;
};

/* Grow a pool by one page and give it to a new file: its folio, locked. */
static struct folio *split_setup(struct kunit *test, struct split_ctx *c)
{
	struct folio *folio;

	c->nid = gmem_cma_test_node(test, &c->b);
	if (!gmem_cma_vmemmap_enabled())
		kunit_skip(test, "gmem_cma_vmemmap=off");
	KUNIT_ASSERT_EQ(test, gmem_cma_set_pool_pages(c->nid, c->b.nr_pages + 1), 0);
	c->inode = alloc_anon_inode(split_mnt->mnt_sb);
	KUNIT_ASSERT_FALSE(test, IS_ERR(c->inode));
	c->inode->i_mapping->a_ops = &split_aops;
	i_size_write(c->inode, GMEM_CMA_PAGE_SIZE);
	mapping_set_unevictable(c->inode->i_mapping);
	c->sp = gmem_cma_subpool_create(1, c->inode->i_ino);
	KUNIT_ASSERT_FALSE(test, IS_ERR(c->sp));
	folio = gmem_cma_get_folio(c->sp, c->inode->i_mapping, 0, NULL);
	KUNIT_ASSERT_FALSE(test, IS_ERR(folio));
	KUNIT_ASSERT_EQ(test, folio_order(folio), GMEM_CMA_PAGE_ORDER);
	KUNIT_ASSERT_EQ(test, folio_nid(folio), c->nid);
	c->pfn = folio_pfn(folio);
	return folio;
}

/* The pool of the test's node holds @used pages in use. */
static bool pool_used_is(struct split_ctx *c, unsigned long used)
{
	struct gmem_cma_pool_stats st;
	int i;

	for (i = 0; i < 50; i++) {
		gmem_cma_pool_stats(c->nid, &st);
		if (st.used == used)
			return true;
		msleep(100);
	}
	return false;
}

/* Close the file; the pool is back where it was. */
static void split_teardown(struct kunit *test, struct split_ctx *c)
{
	struct gmem_cma_pool_stats st;

	truncate_inode_pages(c->inode->i_mapping, 0);
	gmem_cma_subpool_destroy(c->sp);
	iput(c->inode);
	KUNIT_EXPECT_TRUE(test, pool_used_is(c, c->b.used));
	KUNIT_EXPECT_EQ(test, gmem_cma_set_pool_pages(c->nid, c->b.nr_pages), 0);
	gmem_cma_pool_stats(c->nid, &st);
	KUNIT_EXPECT_EQ(test, st.vmemmap_saved, c->b.vmemmap_saved);
	expect_pool(test, c->nid, c->b.nr_pages, c->b.free, c->b.resv, c->b.used);
}

/* The block is split so, and the pool saves @saved more than before. */
static void expect_split(struct kunit *test, struct split_ctx *c, bool split,
			 unsigned long chunks_4k, unsigned long saved)
{
	struct gmem_cma_block_state bs;
	struct gmem_cma_pool_stats st;

	KUNIT_ASSERT_EQ(test, gmem_cma_block_state(pfn_folio(c->pfn), &bs), 0);
	KUNIT_EXPECT_EQ(test, bs.split, split);
	KUNIT_EXPECT_EQ(test, bs.chunks_4k, chunks_4k);
	KUNIT_EXPECT_EQ(test, bs.chunks_2m,
			split ? GMEM_CMA_VMEMMAP_CHUNKS - chunks_4k : 0);
	gmem_cma_pool_stats(c->nid, &st);
	KUNIT_EXPECT_EQ(test, st.vmemmap_saved, c->b.vmemmap_saved + saved);
	KUNIT_EXPECT_EQ(test, bs.vmemmap_pages,
			GMEM_CMA_VMEMMAP_CHUNKS * CHUNK_VMEMMAP - saved);
}

/* The page cache has a folio of @order at @index, from the block. */
static void expect_folio(struct kunit *test, struct split_ctx *c,
			 pgoff_t index, unsigned int order)
{
	struct folio *folio = filemap_get_folio(c->inode->i_mapping, index);

	KUNIT_ASSERT_FALSE(test, IS_ERR(folio));
	KUNIT_EXPECT_EQ(test, folio_order(folio), order);
	KUNIT_EXPECT_EQ(test, folio_pfn(folio), c->pfn + ALIGN_DOWN(index, BIT(order)));
	KUNIT_EXPECT_EQ(test, folio_ref_count(folio), BIT(order) + 1);
	folio_put(folio);
}

/* Split the folio holding @index. */
static int split_at(struct split_ctx *c, pgoff_t index)
{
	struct folio *folio = filemap_lock_folio(c->inode->i_mapping, index);
	int err;

	if (IS_ERR(folio))
		return PTR_ERR(folio);
	err = gmem_cma_split_folio(folio);
	folio_unlock(folio);
	folio_put(folio);
	return err;
}

static int merge(struct split_ctx *c, pgoff_t index, unsigned int order)
{
	struct address_space *mapping = c->inode->i_mapping;
	int err;

	filemap_invalidate_lock(mapping);
	err = gmem_cma_merge(mapping, index, order);
	filemap_invalidate_unlock(mapping);
	return err;
}

/*
 * 1 GiB -> 512 x 2 MiB -> one chunk in 4 KiB -> merged back -> 1 GiB, twice,
 * with exact savings at each step: a merge must trim again what a split
 * restored, and a second split must find the state the first one left.
 * Refused on the way: splitting a 4 KiB folio, merging what is not split,
 * merging the GiB while a chunk is in 4 KiB folios or a folio is held.
 */
static void gmem_cma_split_merge_twice(struct kunit *test)
{
	struct split_ctx c;
	struct folio *folio = split_setup(test, &c);
	int round;

	folio_unlock(folio);
	folio_put(folio);
	for (round = 0; round < 2; round++) {
		expect_split(test, &c, false, 0, SAVED_PER_FOLIO);
		KUNIT_EXPECT_EQ(test, split_at(&c, 77), 0);
		expect_split(test, &c, true, 0, SPLIT_2M_SAVED);
		expect_folio(test, &c, 5 * CHUNK_PAGES + 3, HPAGE_PMD_ORDER);
		expect_folio(test, &c, 0, HPAGE_PMD_ORDER);

		KUNIT_EXPECT_EQ(test, split_at(&c, 3 * CHUNK_PAGES + 7), 0);
		expect_split(test, &c, true, 1, SPLIT_2M_SAVED - (CHUNK_VMEMMAP - 1));
		expect_folio(test, &c, 3 * CHUNK_PAGES + 7, 0);
		KUNIT_EXPECT_EQ(test, split_at(&c, 3 * CHUNK_PAGES + 7), -EINVAL);
		KUNIT_EXPECT_EQ(test, merge(&c, 5 * CHUNK_PAGES, HPAGE_PMD_ORDER), -EINVAL);
		KUNIT_EXPECT_EQ(test, merge(&c, 0, GMEM_CMA_PAGE_ORDER), -EINVAL);

		KUNIT_EXPECT_EQ(test, merge(&c, 3 * CHUNK_PAGES + 100, HPAGE_PMD_ORDER), 0);
		expect_split(test, &c, true, 0, SPLIT_2M_SAVED);
		expect_folio(test, &c, 3 * CHUNK_PAGES + 7, HPAGE_PMD_ORDER);

		folio = filemap_get_folio(c.inode->i_mapping, 511 * CHUNK_PAGES);
		KUNIT_ASSERT_FALSE(test, IS_ERR(folio));
		KUNIT_EXPECT_EQ(test, merge(&c, 0, GMEM_CMA_PAGE_ORDER), -EBUSY);
		folio_put(folio);
		expect_split(test, &c, true, 0, SPLIT_2M_SAVED);

		KUNIT_EXPECT_EQ(test, merge(&c, 12345, GMEM_CMA_PAGE_ORDER), 0);
		expect_split(test, &c, false, 0, SAVED_PER_FOLIO);
		expect_folio(test, &c, 3 * CHUNK_PAGES + 7, GMEM_CMA_PAGE_ORDER);
	}
	split_teardown(test, &c);
}

/*
 * The file lets go of a split page while one 4 KiB folio is still held
 * (a pin): no folio goes anywhere until that reference is dropped, then
 * the page is one trimmed 1 GiB folio again, back in the file's
 * reservation.
 */
static void gmem_cma_split_pieces_outlive_file(struct kunit *test)
{
	struct split_ctx c;
	struct folio *folio = split_setup(test, &c);
	struct folio *pinned;

	folio_unlock(folio);
	folio_put(folio);
	KUNIT_ASSERT_EQ(test, split_at(&c, 0), 0);
	KUNIT_ASSERT_EQ(test, split_at(&c, 9 * CHUNK_PAGES), 0);
	pinned = filemap_get_folio(c.inode->i_mapping, 9 * CHUNK_PAGES + 5);
	KUNIT_ASSERT_FALSE(test, IS_ERR(pinned));

	truncate_inode_pages(c.inode->i_mapping, 0);
	KUNIT_EXPECT_EQ(test, c.inode->i_mapping->nrpages, 0);
	msleep(1500);
	expect_split(test, &c, true, 1, SPLIT_2M_SAVED - (CHUNK_VMEMMAP - 1));
	KUNIT_EXPECT_EQ(test, folio_ref_count(pinned), 2);
	KUNIT_EXPECT_TRUE(test, pool_used_is(&c, c.b.used + 1));

	folio_put(pinned);
	KUNIT_EXPECT_TRUE(test, pool_used_is(&c, c.b.used));
	expect_split(test, &c, false, 0, SAVED_PER_FOLIO);
	split_teardown(test, &c);
}

/*
 * A folio referenced beyond the page cache is not split (-EAGAIN) and stays
 * whole and trimmed; a 2 MiB folio likewise; the pages of the range are
 * what they were.
 */
static void gmem_cma_split_refused_referenced(struct kunit *test)
{
	struct split_ctx c;
	struct folio *folio = split_setup(test, &c);
	struct folio *extra;

	folio_get(folio);
	KUNIT_EXPECT_EQ(test, gmem_cma_split_folio(folio), -EAGAIN);
	folio_put(folio);
	expect_split(test, &c, false, 0, SAVED_PER_FOLIO);
	KUNIT_EXPECT_EQ(test, folio_order(folio), GMEM_CMA_PAGE_ORDER);
	/* The caller's reference is the one it may hold. */
	KUNIT_EXPECT_EQ(test, gmem_cma_split_folio(folio), 0);
	folio_unlock(folio);
	folio_put(folio);

	extra = filemap_get_folio(c.inode->i_mapping, 6 * CHUNK_PAGES);
	KUNIT_ASSERT_FALSE(test, IS_ERR(extra));
	KUNIT_EXPECT_EQ(test, split_at(&c, 6 * CHUNK_PAGES + 1), -EAGAIN);
	folio_put(extra);
	expect_split(test, &c, true, 0, SPLIT_2M_SAVED);
	expect_folio(test, &c, 6 * CHUNK_PAGES, HPAGE_PMD_ORDER);
	KUNIT_EXPECT_EQ(test, merge(&c, 0, GMEM_CMA_PAGE_ORDER), 0);
	split_teardown(test, &c);
}

static bool fail_restore;

/* Stands in for the vmemmap restore: fails while fail_restore is set. */
static int gmem_cma_fail_restore(struct page *page, unsigned long nr, gfp_t gfp)
{
	return fail_restore ? -ENOMEM : vmemmap_restore_range(page, nr, gfp);
}

/*
 * No memory for the struct pages: a split fails with -ENOMEM and leaves the
 * folio whole and trimmed, a chunk split the same, and a merge of the GiB
 * too, with its 2 MiB folios trimmed as before.
 */
static void gmem_cma_split_nomem(struct kunit *test)
{
	struct split_ctx c;
	struct folio *folio = split_setup(test, &c);

	kunit_activate_static_stub(test, gmem_cma_vmemmap_restore_pages,
				   gmem_cma_fail_restore);
	folio_unlock(folio);
	folio_put(folio);
	fail_restore = true;
	KUNIT_EXPECT_EQ(test, split_at(&c, 0), -ENOMEM);
	expect_split(test, &c, false, 0, SAVED_PER_FOLIO);
	expect_folio(test, &c, 0, GMEM_CMA_PAGE_ORDER);

	fail_restore = false;
	KUNIT_ASSERT_EQ(test, split_at(&c, 0), 0);
	fail_restore = true;
	KUNIT_EXPECT_EQ(test, split_at(&c, 4 * CHUNK_PAGES), -ENOMEM);
	expect_split(test, &c, true, 0, SPLIT_2M_SAVED);
	KUNIT_EXPECT_EQ(test, merge(&c, 0, GMEM_CMA_PAGE_ORDER), -ENOMEM);
	expect_split(test, &c, true, 0, SPLIT_2M_SAVED);
	expect_folio(test, &c, 4 * CHUNK_PAGES, HPAGE_PMD_ORDER);

	fail_restore = false;
	KUNIT_EXPECT_EQ(test, merge(&c, 0, GMEM_CMA_PAGE_ORDER), 0);
	expect_split(test, &c, false, 0, SAVED_PER_FOLIO);
	split_teardown(test, &c);
}

static struct kunit_case gmem_cma_split_test_cases[] = {
	KUNIT_CASE_SLOW(gmem_cma_split_merge_twice),
	KUNIT_CASE_SLOW(gmem_cma_split_pieces_outlive_file),
	KUNIT_CASE_SLOW(gmem_cma_split_refused_referenced),
	KUNIT_CASE_SLOW(gmem_cma_split_nomem),
	{}
};

static struct kunit_suite gmem_cma_split_test_suite = {
	.name = "gmem_cma_split",
	.suite_init = gmem_cma_split_suite_init,
	.suite_exit = gmem_cma_split_suite_exit,
	.test_cases = gmem_cma_split_test_cases,
};

static bool poison;
module_param(poison, bool, 0444);
MODULE_PARM_DESC(poison, "run the memory-failure cases, which poison pages for good");

static int gmem_cma_mf_init(struct kunit *test)
{
	if (!IS_ENABLED(CONFIG_MEMORY_FAILURE))
		kunit_skip(test, "no CONFIG_MEMORY_FAILURE");
	if (!poison)
		kunit_skip(test, "poisons pages for good: needs gmem_cma_kunit.poison=1");
	return 0;
}

/* A node whose area still has @nr blocks in CMA, or skip. */
static int gmem_cma_mf_node(struct kunit *test, unsigned long nr,
			    struct gmem_cma_pool_stats *base)
{
	int nid;

	for_each_node_state(nid, N_MEMORY) {
		gmem_cma_pool_stats(nid, base);
		if (base->capacity >= base->nr_pages + base->poisoned + nr)
			return nid;
	}
	kunit_skip(test, "no gmem_cma area with %lu blocks left in CMA", nr);
	return NUMA_NO_NODE;
}

/* The pool of @nid, CMA included, after @poisoned more folios were retired. */
static void expect_mf_pool(struct kunit *test, int nid,
			   const struct gmem_cma_pool_stats *b,
			   unsigned long nr, unsigned long free, unsigned long resv,
			   unsigned long poisoned, unsigned long short_by)
{
	struct gmem_cma_pool_stats st;
	struct cma *cma = gmem_cma_area(nid);

	gmem_cma_pool_stats(nid, &st);
	KUNIT_EXPECT_EQ(test, st.nr_pages, nr);
	KUNIT_EXPECT_EQ(test, st.free, free);
	KUNIT_EXPECT_EQ(test, st.resv, resv);
	KUNIT_EXPECT_EQ(test, st.used, b->used);
	KUNIT_EXPECT_EQ(test, st.poisoned, b->poisoned + poisoned);
	KUNIT_EXPECT_EQ(test, st.resv_short, short_by);
	/* Retired folios stay out of CMA. */
	KUNIT_EXPECT_EQ(test, cma->available_count,
			cma->count - ((nr + st.poisoned) << GMEM_CMA_PAGE_ORDER));
}

struct gmem_cma_mf_ctx {
	unsigned long pfn;
	int ret;
	bool called;
};

static struct gmem_cma_mf_ctx gmem_cma_mf_ctx;

/* Replaces gmem_cma_pool_shrink_window(): a memory failure in the window. */
static void gmem_cma_mf_in_window(int nid, struct folio *folio)
{
	struct gmem_cma_mf_ctx *ctx = &gmem_cma_mf_ctx;

	ctx->called = true;
	ctx->pfn = folio_pfn(folio) + 3 * (SZ_2M / PAGE_SIZE) + 17;
	ctx->ret = memory_failure(ctx->pfn, MF_SW_SIMULATED);
}

/*
 * A shrink takes a free folio off the list and restores its vmemmap with
 * no lock held; a memory failure right then must not let the folio, with
 * its PG_hwpoison page, go back to CMA and the page allocator.
 */
static void gmem_cma_mf_shrink_window(struct kunit *test)
{
	struct gmem_cma_mf_ctx *ctx = &gmem_cma_mf_ctx;
	struct gmem_cma_pool_stats b, st;
	int nid = gmem_cma_mf_node(test, 1, &b);

	memset(ctx, 0, sizeof(*ctx));
	KUNIT_ASSERT_EQ(test, gmem_cma_set_pool_pages(nid, b.nr_pages + 1), 0);
	expect_mf_pool(test, nid, &b, b.nr_pages + 1, b.free + 1, b.resv, 0, 0);

	kunit_activate_static_stub(test, gmem_cma_pool_shrink_window,
				   gmem_cma_mf_in_window);
	KUNIT_EXPECT_EQ(test, gmem_cma_set_pool_pages(nid, b.nr_pages), 0);
	kunit_deactivate_static_stub(test, gmem_cma_pool_shrink_window);

	KUNIT_ASSERT_TRUE(test, ctx->called);
	KUNIT_EXPECT_EQ(test, ctx->ret, 0);
	KUNIT_EXPECT_TRUE(test, PageHWPoison(pfn_to_page(ctx->pfn)));
	KUNIT_EXPECT_FALSE(test, PageHWPoison(pfn_to_page(ctx->pfn + 1)));
	KUNIT_EXPECT_TRUE(test, gmem_cma_pfn_held(ctx->pfn));
	/* Retired, not given back: CMA still lacks the block. */
	expect_mf_pool(test, nid, &b, b.nr_pages, b.free, b.resv, 1, 0);
	gmem_cma_pool_stats(nid, &st);
	KUNIT_EXPECT_EQ(test, st.shrinks, b.shrinks);

	/* Once is enough; and it never comes back. */
	KUNIT_EXPECT_EQ(test, memory_failure(ctx->pfn, MF_SW_SIMULATED), -EHWPOISON);
	KUNIT_EXPECT_EQ(test, unpoison_memory(ctx->pfn), -EBUSY);
	KUNIT_EXPECT_TRUE(test, PageHWPoison(pfn_to_page(ctx->pfn)));
	expect_mf_pool(test, nid, &b, b.nr_pages, b.free, b.resv, 1, 0);
}

static void gmem_cma_mf_first_free(struct folio *folio, const char *state,
				   void *data)
{
	struct folio **found = data;

	if (!*found && !strcmp(state, "free"))
		*found = folio;
}

/*
 * Poison the only free folio of a pool while a reservation counts on it.
 * Return the pfn poisoned.
 */
static unsigned long gmem_cma_mf_poison_reserved(struct kunit *test, int nid,
						 const struct gmem_cma_pool_stats *b)
{
	struct folio *folio = NULL;
	unsigned long pfn;

	KUNIT_ASSERT_EQ(test, b->free, 0);
	KUNIT_ASSERT_EQ(test, gmem_cma_set_pool_pages(nid, b->nr_pages + 1), 0);
	KUNIT_ASSERT_EQ(test, gmem_cma_pool_reserve(nid, 1), 0);
	gmem_cma_pool_for_each(nid, gmem_cma_mf_first_free, &folio);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	pfn = folio_pfn(folio) + 100;
	KUNIT_EXPECT_EQ(test, memory_failure(pfn, MF_SW_SIMULATED), 0);
	KUNIT_EXPECT_TRUE(test, PageHWPoison(pfn_to_page(pfn)));
	return pfn;
}

/* A reserved free folio poisoned: CMA replaces it, the promise holds. */
static void gmem_cma_mf_reserved_replaced(struct kunit *test)
{
	struct gmem_cma_pool_stats b, st;
	int nid = gmem_cma_mf_node(test, 2, &b);
	struct folio *folio;
	unsigned long pfn;

	pfn = gmem_cma_mf_poison_reserved(test, nid, &b);
	gmem_cma_pool_refill_flush();
	expect_mf_pool(test, nid, &b, b.nr_pages + 1, 0, b.resv + 1, 1, 0);
	gmem_cma_pool_stats(nid, &st);
	KUNIT_EXPECT_EQ(test, st.grow_attempts, b.grow_attempts + 2);

	folio = test_pool_alloc(test, nid, NULL);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	KUNIT_EXPECT_NE(test, folio_pfn(folio), ALIGN_DOWN(pfn, 1UL << GMEM_CMA_PAGE_ORDER));
	KUNIT_EXPECT_FALSE(test, gmem_cma_vmemmap_poisoned(folio));
	KUNIT_ASSERT_TRUE(test, folio_ref_freeze(folio, 1));
	gmem_cma_pool_free(nid, folio, false);
	KUNIT_EXPECT_EQ(test, gmem_cma_set_pool_pages(nid, b.nr_pages), 0);
	expect_mf_pool(test, nid, &b, b.nr_pages, 0, b.resv, 1, 0);
}

/* The same with no block left in CMA: the shortage shows, allocations fail. */
static void gmem_cma_mf_reserved_short(struct kunit *test)
{
	struct gmem_cma_pool_stats b;
	int nid = gmem_cma_mf_node(test, 1, &b);

	if (b.capacity != b.nr_pages + b.poisoned + 1)
		kunit_skip(test, "node %d has more than one block left in CMA", nid);
	gmem_cma_mf_poison_reserved(test, nid, &b);
	gmem_cma_pool_refill_flush();
	expect_mf_pool(test, nid, &b, b.nr_pages, 0, b.resv + 1, 1, 1);
	KUNIT_EXPECT_NULL(test, test_pool_alloc(test, nid, NULL));
	KUNIT_EXPECT_EQ(test, gmem_cma_pool_reserve(nid, 1), -ENOMEM);
	gmem_cma_pool_unreserve(nid, 1);
	expect_mf_pool(test, nid, &b, b.nr_pages, 0, b.resv, 1, 0);
}

static struct kunit_case gmem_cma_mf_test_cases[] = {
	KUNIT_CASE(gmem_cma_mf_shrink_window),
	KUNIT_CASE(gmem_cma_mf_reserved_replaced),
	KUNIT_CASE(gmem_cma_mf_reserved_short),
	{}
};

static struct kunit_suite gmem_cma_mf_test_suite = {
	.name = "gmem_cma_memory_failure",
	.init = gmem_cma_mf_init,
	.test_cases = gmem_cma_mf_test_cases,
};

/*
 * Wait until the zeroer of @nid cleared every free folio: at most a minute
 * (TCG clears 0.2-1 GiB/s).  Return the number of zeroed folios.
 */
static unsigned long gmem_cma_zero_wait_all(struct kunit *test, int nid)
{
	struct gmem_cma_pool_stats st;
	int i;

	for (i = 0; i < 600; i++) {
		gmem_cma_pool_stats(nid, &st);
		if (st.zeroed == st.free + st.resv)
			return st.zeroed;
		msleep(100);
	}
	KUNIT_FAIL(test, "node %d: %lu of %lu free folios zeroed after 60 s",
		   nid, st.zeroed, st.free + st.resv);
	return st.zeroed;
}

/* Every 4 KiB page of @folio reads zero at its first and last word. */
static void expect_folio_zero(struct kunit *test, struct folio *folio)
{
	unsigned long i, bad = 0;

	for (i = 0; i < folio_nr_pages(folio); i++) {
		u64 *p = pfn_to_kaddr(folio_pfn(folio) + i);

		if (p[0] || p[PAGE_SIZE / sizeof(u64) - 1])
			bad++;
	}
	KUNIT_EXPECT_EQ(test, bad, 0);
}

/* Dirty every 4 KiB page of @folio at its first and last word. */
static void dirty_folio(struct folio *folio)
{
	unsigned long i;

	for (i = 0; i < folio_nr_pages(folio); i++) {
		u64 *p = pfn_to_kaddr(folio_pfn(folio) + i);

		p[0] = 0x5a5a5a5a5a5a5a5aULL;
		p[PAGE_SIZE / sizeof(u64) - 1] = i + 1;
	}
}

/* A node with room for one more folio, with pre-zeroing on, or skip. */
static int gmem_cma_zero_node(struct kunit *test, struct gmem_cma_pool_stats *b)
{
	if (!gmem_cma_prezero_enabled())
		kunit_skip(test, "gmem_cma_prezero=off");
	return gmem_cma_test_node(test, b);
}

/*
 * A grown folio is cleared in the background; an allocation takes it
 * zeroed; dirtied and freed, it is not zeroed until the zeroer cleared it
 * again.
 */
static void gmem_cma_zero_grow_alloc_free(struct kunit *test)
{
	struct gmem_cma_zero_stats zb, zst;
	struct gmem_cma_pool_stats b, st;
	int nid = gmem_cma_zero_node(test, &b);
	struct folio *folio;
	unsigned long z;
	bool zeroed;

	gmem_cma_zero_wait_all(test, nid);
	gmem_cma_pool_stats(nid, &b);
	gmem_cma_pool_zero_stats(nid, &zb);
	KUNIT_ASSERT_EQ(test, gmem_cma_set_pool_pages(nid, b.nr_pages + 1), 0);
	z = gmem_cma_zero_wait_all(test, nid);
	KUNIT_EXPECT_EQ(test, z, b.zeroed + 1);
	gmem_cma_pool_zero_stats(nid, &zst);
	KUNIT_EXPECT_EQ(test, zst.folios, zb.folios + 1);
	KUNIT_EXPECT_GE(test, zst.pages, zb.pages + (GMEM_CMA_PAGE_SIZE >> PAGE_SHIFT));

	KUNIT_ASSERT_EQ(test, gmem_cma_pool_reserve(nid, b.free + 1), 0);
	folio = test_pool_alloc(test, nid, &zeroed);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	KUNIT_EXPECT_TRUE(test, zeroed);
	expect_folio_zero(test, folio);
	gmem_cma_pool_stats(nid, &st);
	KUNIT_EXPECT_EQ(test, st.zeroed, z - 1);
	gmem_cma_pool_zero_stats(nid, &zst);
	KUNIT_EXPECT_EQ(test, zst.alloc_zeroed, zb.alloc_zeroed + 1);
	KUNIT_EXPECT_EQ(test, zst.alloc_cleared, zb.alloc_cleared);

	dirty_folio(folio);
	KUNIT_ASSERT_TRUE(test, folio_ref_freeze(folio, 1));
	gmem_cma_pool_free(nid, folio, false);
	gmem_cma_pool_unreserve(nid, b.free);
	KUNIT_EXPECT_EQ(test, gmem_cma_zero_wait_all(test, nid), z);
	gmem_cma_pool_zero_stats(nid, &zst);
	KUNIT_EXPECT_EQ(test, zst.folios, zb.folios + 2);

	/* The same folio again (the only one the pool took from CMA). */
	KUNIT_ASSERT_EQ(test, gmem_cma_pool_reserve(nid, b.free + 1), 0);
	folio = test_pool_alloc(test, nid, &zeroed);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	KUNIT_EXPECT_TRUE(test, zeroed);
	expect_folio_zero(test, folio);
	KUNIT_ASSERT_TRUE(test, folio_ref_freeze(folio, 1));
	gmem_cma_pool_free(nid, folio, false);
	gmem_cma_pool_unreserve(nid, b.free);
	gmem_cma_zero_wait_all(test, nid);
	KUNIT_EXPECT_EQ(test, gmem_cma_set_pool_pages(nid, b.nr_pages), 0);
	expect_pool(test, nid, b.nr_pages, b.free, b.resv, b.used);
	gmem_cma_pool_stats(nid, &st);
	KUNIT_EXPECT_EQ(test, st.zeroed, b.zeroed);
}

/*
 * Switched off, no folio counts as zeroed and allocations clear their own;
 * switched on again, the zeroer starts over.
 */
static void gmem_cma_zero_switch_off(struct kunit *test)
{
	struct gmem_cma_zero_stats zb, zst;
	struct gmem_cma_pool_stats b, st;
	int nid = gmem_cma_zero_node(test, &b);
	struct folio *folio;
	bool zeroed;

	KUNIT_ASSERT_EQ(test, gmem_cma_set_pool_pages(nid, b.nr_pages + 1), 0);
	gmem_cma_zero_wait_all(test, nid);
	gmem_cma_pool_stats(nid, &b);
	KUNIT_EXPECT_EQ(test, b.zeroed, b.free + b.resv);
	gmem_cma_pool_zero_stats(nid, &zb);

	KUNIT_EXPECT_EQ(test, gmem_cma_prezero_set(false), 0);
	gmem_cma_pool_stats(nid, &st);
	KUNIT_EXPECT_EQ(test, st.zeroed, 0);
	KUNIT_ASSERT_EQ(test, gmem_cma_pool_reserve(nid, b.free), 0);
	folio = test_pool_alloc(test, nid, &zeroed);
	KUNIT_ASSERT_NOT_NULL(test, folio);
	KUNIT_EXPECT_FALSE(test, zeroed);
	gmem_cma_pool_zero_stats(nid, &zst);
	KUNIT_EXPECT_EQ(test, zst.alloc_cleared, zb.alloc_cleared + 1);
	KUNIT_EXPECT_EQ(test, zst.alloc_zeroed, zb.alloc_zeroed);
	KUNIT_ASSERT_TRUE(test, folio_ref_freeze(folio, 1));
	gmem_cma_pool_free(nid, folio, false);
	gmem_cma_pool_unreserve(nid, b.free - 1);
	msleep(200);
	gmem_cma_pool_stats(nid, &st);
	KUNIT_EXPECT_EQ(test, st.zeroed, 0);

	KUNIT_EXPECT_EQ(test, gmem_cma_prezero_set(true), 0);
	KUNIT_EXPECT_EQ(test, gmem_cma_zero_wait_all(test, nid), b.free + b.resv);
	KUNIT_EXPECT_EQ(test, gmem_cma_set_pool_pages(nid, b.nr_pages - 1), 0);
}

static struct kunit_case gmem_cma_zero_test_cases[] = {
	KUNIT_CASE_SLOW(gmem_cma_zero_grow_alloc_free),
	KUNIT_CASE_SLOW(gmem_cma_zero_switch_off),
	{}
};

static struct kunit_suite gmem_cma_zero_test_suite = {
	.name = "gmem_cma_zero",
	.test_cases = gmem_cma_zero_test_cases,
};

kunit_test_suites(&gmem_cma_test_suite, &gmem_cma_pool_test_suite,
		  &gmem_cma_vmemmap_test_suite, &gmem_cma_split_test_suite,
		  &gmem_cma_mf_test_suite, &gmem_cma_zero_test_suite);

MODULE_DESCRIPTION("KUnit tests for gmem_cma");
MODULE_LICENSE("GPL");
