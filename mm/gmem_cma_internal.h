/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gmem_cma internals shared by the allocator, its reporting and its tests.
 */
#ifndef _MM_GMEM_CMA_INTERNAL_H
#define _MM_GMEM_CMA_INTERNAL_H

#include <linux/bits.h>
#include <linux/gmem_cma.h>
#include <linux/list.h>
#include <linux/numa.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

struct cma;
struct folio;
struct task_struct;

/*
 * Problems found in a gmem_cma= value.  Each one is reported with one
 * pr_warn() line; the bits let tests check exactly which were seen.
 */
enum gmem_cma_problem {
	GMEM_CMA_EMPTY		= BIT(0),	/* empty value or empty entry */
	GMEM_CMA_GARBAGE	= BIT(1),	/* text that does not parse */
	GMEM_CMA_OVERFLOW	= BIT(2),	/* number does not fit */
	GMEM_CMA_BAD_NODE	= BIT(3),	/* no such node, or no memory */
	GMEM_CMA_UNALIGNED	= BIT(4),	/* not a multiple of 1 GiB */
	GMEM_CMA_REPEATED	= BIT(5),	/* node or total given twice */
	GMEM_CMA_TOO_BIG	= BIT(6),	/* larger than the node */
};

/**
 * struct gmem_cma_request - a parsed gmem_cma= value
 * @size: bytes asked for on each node (per-node form), 1 GiB multiples
 * @total: bytes asked for in all (total form), a 1 GiB multiple
 * @per_node: true if @size holds the request, false if @total does
 * @problems: mask of &enum gmem_cma_problem seen while parsing and planning
 * @quiet: do not print the warnings (used by the KUnit suite)
 * @prefix: printed before each warning, to name the parameter
 */
struct gmem_cma_request {
	u64 size[MAX_NUMNODES];
	u64 total;
	bool per_node;
	unsigned int problems;
	bool quiet;
	const char *prefix;
};

void gmem_cma_parse(const char *val, struct gmem_cma_request *req);
void gmem_cma_plan(struct gmem_cma_request *req, const u64 *node_bytes,
		   u64 *plan);

struct cma *gmem_cma_area(int nid);

/**
 * struct gmem_cma_zero_stats - a node's pre-zeroing counters
 * @folios: folios the zeroer cleared whole
 * @pages: 4 KiB pages the zeroer cleared, in whole or unfinished folios
 * @aborts: folios the zeroer gave back unfinished (wanted, switched off)
 * @retired: folios a memory failure took from the zeroer
 * @alloc_zeroed: allocations served by a folio cleared ahead of time
 * @alloc_cleared: allocations whose folio the allocator cleared itself
 * @cpu_ns: CPU time the zeroer used (filled in by the snapshot only)
 * @zeroing_pfn: first pfn of the folio being cleared, 0 if none (snapshot)
 */
struct gmem_cma_zero_stats {
	unsigned long folios;
	unsigned long pages;
	unsigned long aborts;
	unsigned long retired;
	unsigned long alloc_zeroed;
	unsigned long alloc_cleared;
	u64 cpu_ns;
	unsigned long zeroing_pfn;
};

/**
 * struct gmem_cma_pool - the 1 GiB pages a node holds out of its area
 * @lock: protects every other field
 * @free_list: folios not in use (free or promised to a reservation), frozen
 * @used_list: folios in use
 * @nr_free: folios on @free_list
 * @nr_resv: how many pages are promised; more than @nr_free only after a
 *           free folio was poisoned and CMA had no replacement for it
 * @nr_used: folios on @used_list
 * @alloc_fail: 1 GiB pages a grow asked for and CMA could not provide
 * @grow_attempts: 1 GiB pages a grow asked CMA for
 * @shrinks: 1 GiB pages given back to CMA
 * @poisoned_list: folios with a poisoned page, never handed out again
 * @nr_poisoned: folios on @poisoned_list
 * @zeroed_list: free folios cleared since their last use, frozen; counted
 *               in @nr_free
 * @nr_zeroed: folios on @zeroed_list
 * @zeroing: the free folio the node's zeroer is clearing, on no list,
 *           counted in @nr_free; NULL if none
 * @want: an allocation or a shrink waits for @zeroing
 * @backoff: the zeroer gave a folio back because it was wanted: it starts
 *           no other one until a folio was taken or @backoff_until passed
 * @backoff_until: jiffies
 * @zst: the zeroer's counters
 * @zeroer: the node's zeroer thread, or NULL (not under @lock: set once)
 * @zeroer_wait: the zeroer waits there for work (not under @lock)
 * @zero_wait: allocations and shrinks wait there for @zeroing to come
 *             back (not under @lock)
 */
struct gmem_cma_pool {
	spinlock_t lock;		/* protects the fields up to @zst */
	struct list_head free_list;
	struct list_head used_list;
	struct list_head poisoned_list;
	struct list_head zeroed_list;
	unsigned long nr_free;
	unsigned long nr_resv;
	unsigned long nr_used;
	unsigned long nr_poisoned;
	unsigned long nr_zeroed;
	unsigned long alloc_fail;
	unsigned long grow_attempts;
	unsigned long shrinks;
	struct folio *zeroing;
	bool want;
	bool backoff;
	unsigned long backoff_until;
	struct gmem_cma_zero_stats zst;
	struct task_struct *zeroer;
	wait_queue_head_t zeroer_wait;
	wait_queue_head_t zero_wait;
};

/**
 * struct gmem_cma_pool_stats - a snapshot of a pool, in 1 GiB pages
 * @capacity: blocks in the node's area
 * @nr_pages: held by the pool: @free + @resv + @used - @resv_short
 * @free: free and promised to nobody
 * @resv: promised to guest_memfd files, not yet allocated
 * @used: allocated
 * @alloc_fail: pages a grow asked for and CMA could not provide
 * @grow_attempts: pages a grow asked CMA for
 * @shrinks: pages given back to CMA
 * @poisoned: pages taken out of use for a poisoned 4 KiB page, not in
 *            @nr_pages
 * @resv_short: reserved pages with no free folio behind them, after a
 *              free folio was poisoned and CMA had no replacement
 * @vmemmap_saved: vmemmap pages (4 KiB) freed by trimming the pool's folios
 * @zeroed: free pages cleared ahead of time, ready to be handed out
 */
struct gmem_cma_pool_stats {
	unsigned long capacity;
	unsigned long nr_pages;
	unsigned long free;
	unsigned long resv;
	unsigned long used;
	unsigned long alloc_fail;
	unsigned long grow_attempts;
	unsigned long shrinks;
	unsigned long poisoned;
	unsigned long resv_short;
	unsigned long vmemmap_saved;
	unsigned long zeroed;
};

struct gmem_cma_pool *gmem_cma_pool(int nid);
void gmem_cma_pool_stats(int nid, struct gmem_cma_pool_stats *stats);
unsigned long gmem_cma_total_pool_pages(void);
int gmem_cma_set_pool_pages(int nid, unsigned long target);
int gmem_cma_pool_reserve(int nid, unsigned long nr);
void gmem_cma_pool_unreserve(int nid, unsigned long nr);
struct folio *gmem_cma_pool_alloc(int nid, bool *zeroed);
int gmem_cma_pool_wait_zeroing(int nid);
void gmem_cma_pool_free(int nid, struct folio *folio, bool keep_reserved);
void gmem_cma_pool_retire(int nid, struct folio *folio);
long gmem_cma_pool_retire_free(int nid, struct folio *folio);
void gmem_cma_pool_refill(void);
void gmem_cma_pool_refill_flush(void);
void gmem_cma_pool_zero_stats(int nid, struct gmem_cma_zero_stats *zst);
struct folio *gmem_cma_pool_zero_begin(int nid);
bool gmem_cma_pool_zero_continue(int nid, struct folio *folio,
				 unsigned long cleared, bool stop);
void gmem_cma_pool_zero_end(int nid, struct folio *folio,
			    unsigned long cleared);
bool gmem_cma_pool_zero_pending(int nid);
void gmem_cma_pool_drop_zeroed(int nid);
void gmem_cma_zeroer_wake(int nid);
bool gmem_cma_prezero_enabled(void);
int gmem_cma_prezero_set(bool on);
#if IS_ENABLED(CONFIG_KUNIT)
void gmem_cma_pool_shrink_window(int nid, struct folio *folio);
int gmem_cma_vmemmap_restore_pages(struct page *page, unsigned long nr,
				   gfp_t gfp);
#endif
void gmem_cma_pool_for_each(int nid,
			    void (*fn)(struct folio *folio, const char *state,
				       void *data),
			    void *data);

/* The vmemmap of a folio is trimmed and restored in 2 MiB chunks. */
#define GMEM_CMA_VMEMMAP_CHUNKS	(GMEM_CMA_PAGE_SIZE / SZ_2M)

/**
 * struct gmem_cma_vmemmap_stats - a node's vmemmap trimming counters
 * @saved: vmemmap pages freed by trimming, now
 * @trims: folios or runs of chunks trimmed
 * @trim_ns: time spent trimming
 * @restores: folios or runs of chunks restored
 * @restore_ns: time spent restoring
 * @restore_fail: restores that could not get their pages
 */
struct gmem_cma_vmemmap_stats {
	unsigned long saved;
	unsigned long trims;
	u64 trim_ns;
	unsigned long restores;
	u64 restore_ns;
	unsigned long restore_fail;
};

/* The guest_memfd policy, for sysfs (gmem_cma_file.c). */
unsigned long gmem_cma_guest_memfd_fallbacks(void);
ssize_t gmem_cma_guest_memfd_policy_show(char *buf);
int gmem_cma_guest_memfd_policy_set(const char *name);

bool gmem_cma_vmemmap_enabled(void);
int gmem_cma_vmemmap_add(int nid, struct folio *folio);
int gmem_cma_vmemmap_remove(int nid, struct folio *folio);
int gmem_cma_vmemmap_restore(struct folio *folio, unsigned long first,
			     unsigned long nr);
int gmem_cma_vmemmap_trim(struct folio *folio, unsigned long first,
			  unsigned long nr);
bool gmem_cma_vmemmap_needs_trim(struct folio *folio);
unsigned long gmem_cma_vmemmap_shared(struct folio *folio);
int gmem_cma_vmemmap_poison(unsigned long pfn, struct folio **folio_out);
bool gmem_cma_vmemmap_poisoned(struct folio *folio);

/**
 * struct gmem_cma_block_state - how a 1 GiB block is split
 * @split: the 1 GiB folio is split
 * @chunks_2m: 2 MiB chunks that are one 2 MiB folio
 * @chunks_4k: 2 MiB chunks split into 4 KiB folios
 * @trimmed_1g: chunks trimmed as part of the whole 1 GiB folio
 * @trimmed_2m: chunks trimmed as a 2 MiB folio
 * @vmemmap_pages: vmemmap pages the block's struct pages use now
 */
struct gmem_cma_block_state {
	bool split;
	unsigned long chunks_2m;
	unsigned long chunks_4k;
	unsigned long trimmed_1g;
	unsigned long trimmed_2m;
	unsigned long vmemmap_pages;
};

int gmem_cma_block_split_begin(struct folio *folio);
void gmem_cma_block_split_end(struct folio *folio, unsigned int order, int err);
bool gmem_cma_block_splitting(struct folio *folio);
int gmem_cma_block_merge_begin(struct folio *folio, unsigned int order);
void gmem_cma_block_merge_end(struct folio *folio, unsigned int order, int err);
int gmem_cma_block_state(struct folio *folio, struct gmem_cma_block_state *st);
bool gmem_cma_block_hold(struct folio *folio);
bool gmem_cma_block_reassemble(void);
void gmem_cma_rebuild_folio(struct folio *folio, unsigned int order);

/* How close to a page memory-failure handling found a poisoned page. */
enum gmem_cma_poison {
	GMEM_CMA_POISON_NONE,	/* nowhere in the folio */
	GMEM_CMA_POISON_FOLIO,	/* in another 2 MiB chunk */
	GMEM_CMA_POISON_CHUNK,	/* in the same 2 MiB chunk, not this page */
	GMEM_CMA_POISON_PAGE,	/* this page (or cannot tell in its chunk) */
};

enum gmem_cma_poison gmem_cma_vmemmap_poison_near(struct folio *folio,
						  unsigned long i);
void gmem_cma_vmemmap_stats(int nid, struct gmem_cma_vmemmap_stats *st);
unsigned long gmem_cma_vmemmap_saved(int nid);

#endif /* _MM_GMEM_CMA_INTERNAL_H */
