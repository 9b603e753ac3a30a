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
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/nodemask.h>
#include <linux/numa.h>
#include <linux/sizes.h>
#include <linux/string.h>

#include "../cma.h"
#include "../gmem_cma_internal.h"

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

	folio = gmem_cma_pool_alloc(nid);
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
	folio = gmem_cma_pool_alloc(nid);
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

	folio = gmem_cma_pool_alloc(nid);
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
	KUNIT_EXPECT_NULL(test, gmem_cma_pool_alloc(nid));
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

kunit_test_suites(&gmem_cma_test_suite, &gmem_cma_pool_test_suite,
		  &gmem_cma_vmemmap_test_suite, &gmem_cma_mf_test_suite);

MODULE_DESCRIPTION("KUnit tests for gmem_cma");
MODULE_LICENSE("GPL");
