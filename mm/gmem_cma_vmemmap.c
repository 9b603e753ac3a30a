// SPDX-License-Identifier: GPL-2.0-only
/*
 * gmem_cma vmemmap trimming: HVO for the 1 GiB folios of the pools.
 *
 * A 1 GiB folio has 262144 struct pages, 16 MiB of vmemmap in 4096 pages.
 * While the pool holds a folio (free, reserved or in use by a guest_memfd
 * file) it stays whole, so all its tail struct pages hold the same bytes:
 * the vmemmap is remapped the way hugetlb's HVO does it, with the engine of
 * mm/hugetlb_vmemmap.c.  The first vmemmap page (the head and the first 63
 * tails, which hold the folio's own fields) becomes a copy of its own; the
 * other 4095 are mapped read-only to the zone's shared tail page and freed.
 *
 * The state lives here, not in folio flags: one &struct gmem_cma_block per
 * folio the pool holds, in an xarray indexed by the folio's 1 GiB block
 * number.  It says which 2 MiB chunks of the folio have their struct pages
 * shared (512 chunks of 8 vmemmap pages; chunk 0 has 7, the first being the
 * head's copy).  A chunk can get its own struct pages back (restore) and be
 * shared again (trim), so that code which must write tail struct pages can
 * have exactly the part it needs:
 *
 *  - the whole folio before it goes back to CMA (pool shrink);
 *  - the whole folio before host userspace maps it with PTEs, since that
 *    writes the mapcount of every mapped page; it is trimmed again when the
 *    last reference goes, before it returns to the pool;
 *  - the chunk holding a poisoned page, so that memory-failure handling
 *    (mm/gmem_cma_memory_failure.c) can mark that page; a folio with a
 *    poisoned page is never trimmed again nor given back to CMA.
 *
 * Restoring allocates pages and can fail: the caller gets -ENOMEM and the
 * folio stays whole, trimmed and usable.  There is no standing reserve of
 * vmemmap pages; see Documentation/admin-guide/mm/gmem_cma.rst.
 */

#define pr_fmt(fmt) "gmem_cma: " fmt

#include <linux/bitmap.h>
#include <linux/gmem_cma.h>
#include <linux/init.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/page-flags.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include <kunit/visibility.h>

#include "gmem_cma_internal.h"
#include "hugetlb_vmemmap.h"

#define GMEM_CMA_NR_PAGES	BIT(GMEM_CMA_PAGE_ORDER)
#define CHUNK_PAGES		(SZ_2M >> PAGE_SHIFT)
#define VMEMMAP_PER_CHUNK	(CHUNK_PAGES * sizeof(struct page) / PAGE_SIZE)

/**
 * struct gmem_cma_block - what gmem_cma knows of one 1 GiB folio it holds
 * @shared: chunks whose struct pages are mapped to the shared tail page
 * @head_copied: the first vmemmap page was replaced by a copy (the folio
 *               was trimmed once); only then can chunks be shared
 * @poisoned: chunks holding a page reported by memory-failure handling;
 *            bits are only ever set, and read without the lock
 */
struct gmem_cma_block {
	DECLARE_BITMAP(shared, GMEM_CMA_VMEMMAP_CHUNKS);
	DECLARE_BITMAP(poisoned, GMEM_CMA_VMEMMAP_CHUNKS);
	bool head_copied;
};

static bool gmem_cma_block_poisoned(struct gmem_cma_block *blk)
{
	return find_first_bit(blk->poisoned, GMEM_CMA_VMEMMAP_CHUNKS) <
	       GMEM_CMA_VMEMMAP_CHUNKS;
}

/**
 * struct gmem_cma_vmemmap_node - one node's trimming state and counters
 * @lock: serializes every change of the vmemmap of the node's folios and of
 *        their &struct gmem_cma_block, and protects @st
 * @st: the node's counters
 */
struct gmem_cma_vmemmap_node {
	struct mutex lock;	/* protects the node's blocks and st */
	struct gmem_cma_vmemmap_stats st;
};

static struct gmem_cma_vmemmap_node gmem_cma_vmemmap_nodes[MAX_NUMNODES];

/* Blocks by 1 GiB block number (pfn >> GMEM_CMA_PAGE_ORDER). */
static DEFINE_XARRAY(gmem_cma_blocks);

static bool gmem_cma_vmemmap_on __ro_after_init =
	IS_ENABLED(CONFIG_HUGETLB_PAGE_OPTIMIZE_VMEMMAP);

static int __init gmem_cma_vmemmap_param(char *val)
{
	bool on;

	if (kstrtobool(val, &on)) {
		pr_warn("gmem_cma_vmemmap: cannot parse '%s': left %s\n", val,
			str_on_off(gmem_cma_vmemmap_on));
		return 0;
	}
	if (on && !IS_ENABLED(CONFIG_HUGETLB_PAGE_OPTIMIZE_VMEMMAP)) {
		pr_warn("gmem_cma_vmemmap: the kernel has no HUGETLB_PAGE_OPTIMIZE_VMEMMAP: left off\n");
		return 0;
	}
	gmem_cma_vmemmap_on = on;
	return 0;
}
early_param("gmem_cma_vmemmap", gmem_cma_vmemmap_param);

/**
 * gmem_cma_vmemmap_enabled() - are new pool folios trimmed?
 *
 * Return: the gmem_cma_vmemmap= setting.
 */
bool gmem_cma_vmemmap_enabled(void)
{
	return gmem_cma_vmemmap_on;
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_vmemmap_enabled);

static struct gmem_cma_vmemmap_node *vnode(int nid)
{
	return &gmem_cma_vmemmap_nodes[nid];
}

static struct gmem_cma_block *gmem_cma_block(struct folio *folio)
{
	return xa_load(&gmem_cma_blocks, folio_pfn(folio) >> GMEM_CMA_PAGE_ORDER);
}

/* Vmemmap pages that sharing chunks [@first, @first + @nr) frees. */
static unsigned long gmem_cma_chunks_saving(unsigned long first,
					    unsigned long nr)
{
	return nr * VMEMMAP_PER_CHUNK - (first == 0 ? 1 : 0);
}

/*
 * Trim (@share) or restore the chunks of [@first, @first + @nr) that are
 * not in that state yet, a run of chunks at a time.  The first vmemmap
 * page, the head's copy, is never part of a range.
 */
static int gmem_cma_vmemmap_set(int nid, struct folio *folio,
				struct gmem_cma_block *blk, unsigned long first,
				unsigned long nr, bool share)
{
	const unsigned long head = PAGE_SIZE / sizeof(struct page);
	struct gmem_cma_vmemmap_stats *st = &vnode(nid)->st;
	unsigned long start, end, pfirst, pnr, saving, last = first + nr;
	ktime_t t0 = ktime_get();
	int ret = 0;

	lockdep_assert_held(&vnode(nid)->lock);

	if (share && !blk->head_copied)
		return -EINVAL;
	for (start = first; start < last; start = end) {
		start = share ? find_next_zero_bit(blk->shared, last, start) :
				find_next_bit(blk->shared, last, start);
		if (start >= last)
			break;
		end = share ? find_next_bit(blk->shared, last, start) :
			      find_next_zero_bit(blk->shared, last, start);
		pfirst = start * CHUNK_PAGES + (start ? 0 : head);
		pnr = end * CHUNK_PAGES - pfirst;
		if (share) {
			ret = vmemmap_optimize_folio_range(folio, GMEM_CMA_PAGE_ORDER,
							   pfirst, pnr);
		} else {
			ret = vmemmap_restore_folio_range(folio, pfirst, pnr,
							  GFP_KERNEL | __GFP_RETRY_MAYFAIL |
							  __GFP_NOWARN);
			if (ret) {
				st->restore_fail++;
				pr_warn_ratelimited("node %d: cannot restore the vmemmap of 1 GiB page at pfn %#lx (error %d): it stays trimmed\n",
						    nid, folio_pfn(folio), ret);
			}
		}
		if (ret)
			break;
		saving = gmem_cma_chunks_saving(start, end - start);
		if (share) {
			bitmap_set(blk->shared, start, end - start);
			WRITE_ONCE(st->saved, st->saved + saving);
			st->trims++;
		} else {
			bitmap_clear(blk->shared, start, end - start);
			WRITE_ONCE(st->saved, st->saved - saving);
			st->restores++;
		}
	}
	if (share)
		st->trim_ns += ktime_to_ns(ktime_sub(ktime_get(), t0));
	else
		st->restore_ns += ktime_to_ns(ktime_sub(ktime_get(), t0));
	return ret;
}

/*
 * gmem_cma_vmemmap_set() on a folio by its node's lock, for the callers
 * that name a range of chunks.
 */
static int gmem_cma_vmemmap_set_range(struct folio *folio, unsigned long first,
				      unsigned long nr, bool share)
{
	int nid = folio_nid(folio);
	struct gmem_cma_block *blk;
	int ret = -EINVAL;

	if (first >= GMEM_CMA_VMEMMAP_CHUNKS ||
	    nr > GMEM_CMA_VMEMMAP_CHUNKS - first)
		return -EINVAL;
	mutex_lock(&vnode(nid)->lock);
	blk = gmem_cma_block(folio);
	/* A folio never trimmed, or with a poisoned page, is left as it is. */
	if (blk && share && (!blk->head_copied || gmem_cma_block_poisoned(blk)))
		ret = 0;
	else if (blk)
		ret = gmem_cma_vmemmap_set(nid, folio, blk, first, nr, share);
	mutex_unlock(&vnode(nid)->lock);
	return ret;
}

/**
 * gmem_cma_vmemmap_add() - start tracking a folio the pool took out of CMA
 * @nid: node of the folio
 * @folio: a frozen 1 GiB folio on no list, that nothing else can reach
 *
 * Trims the folio's vmemmap if trimming is on.  A trim that fails (no page
 * for the head's copy or for a page table) leaves the folio untrimmed,
 * which costs memory but nothing else.
 *
 * Return: 0, or -ENOMEM if the tracking structure cannot be allocated.
 */
int gmem_cma_vmemmap_add(int nid, struct folio *folio)
{
	struct gmem_cma_vmemmap_node *vn = vnode(nid);
	struct gmem_cma_block *blk;
	ktime_t t0;
	int ret;

	blk = kzalloc_obj(*blk);
	if (!blk)
		return -ENOMEM;
	ret = xa_err(xa_store(&gmem_cma_blocks,
			      folio_pfn(folio) >> GMEM_CMA_PAGE_ORDER, blk,
			      GFP_KERNEL));
	if (ret) {
		kfree(blk);
		return ret;
	}
	if (!gmem_cma_vmemmap_on)
		return 0;

	mutex_lock(&vn->lock);
	t0 = ktime_get();
	ret = vmemmap_optimize_folio_order(folio, GMEM_CMA_PAGE_ORDER);
	if (!ret) {
		blk->head_copied = true;
		bitmap_fill(blk->shared, GMEM_CMA_VMEMMAP_CHUNKS);
		WRITE_ONCE(vn->st.saved,
			   vn->st.saved + gmem_cma_chunks_saving(0, GMEM_CMA_VMEMMAP_CHUNKS));
		vn->st.trims++;
	}
	vn->st.trim_ns += ktime_to_ns(ktime_sub(ktime_get(), t0));
	mutex_unlock(&vn->lock);
	if (ret)
		pr_warn_ratelimited("node %d: cannot trim the vmemmap of 1 GiB page at pfn %#lx (error %d)\n",
				    nid, folio_pfn(folio), ret);
	return 0;
}

/**
 * gmem_cma_vmemmap_remove() - stop tracking a folio before it returns to CMA
 * @nid: node of the folio
 * @folio: a frozen 1 GiB folio on no list, that nothing else can reach
 *
 * Restores the whole vmemmap first.  A folio with a poisoned page is
 * refused: memory-failure handling may have marked it after the pool took
 * the folio off its free list, and its pages must never reach the page
 * allocator.
 *
 * Return: 0, -EHWPOISON if the folio has a poisoned page (it stays tracked
 * and must be retired), or -ENOMEM if the vmemmap could not be restored:
 * the folio is then still whole, trimmed and tracked, and must stay in the
 * pool.
 */
int gmem_cma_vmemmap_remove(int nid, struct folio *folio)
{
	struct gmem_cma_vmemmap_node *vn = vnode(nid);
	struct gmem_cma_block *blk;
	int ret = 0;

	mutex_lock(&vn->lock);
	blk = gmem_cma_block(folio);
	if (blk && gmem_cma_block_poisoned(blk))
		ret = -EHWPOISON;
	else if (blk)
		ret = gmem_cma_vmemmap_set(nid, folio, blk, 0,
					   GMEM_CMA_VMEMMAP_CHUNKS, false);
	if (blk && !ret)
		xa_erase(&gmem_cma_blocks, folio_pfn(folio) >> GMEM_CMA_PAGE_ORDER);
	mutex_unlock(&vn->lock);
	if (!ret)
		kfree(blk);
	return ret;
}

/**
 * gmem_cma_vmemmap_restore() - give chunks of a folio their own struct pages
 * @folio: a 1 GiB folio of a pool
 * @first: first 2 MiB chunk
 * @nr: number of chunks
 *
 * After this, the struct pages of the 4 KiB pages in those chunks can be
 * written.  Chunks that already have their own are left alone.  The rest
 * of the folio stays trimmed.
 *
 * Return: 0, -EINVAL for a bad range or a folio gmem_cma does not hold,
 * -ENOMEM if the pages for the vmemmap cannot be allocated: the folio is
 * then unchanged from the first chunk that could not be restored on.
 */
int gmem_cma_vmemmap_restore(struct folio *folio, unsigned long first,
			     unsigned long nr)
{
	return gmem_cma_vmemmap_set_range(folio, first, nr, false);
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_vmemmap_restore);

/**
 * gmem_cma_vmemmap_trim() - share the struct pages of chunks of a folio again
 * @folio: a 1 GiB folio of a pool, whole, whose struct pages in those chunks
 *         nothing writes any more (not mapped by host page tables)
 * @first: first 2 MiB chunk
 * @nr: number of chunks
 *
 * Return: 0 (also when trimming is off or the folio was never trimmed, or
 * has a poisoned page: nothing to do), -EINVAL for a bad range or a folio
 * gmem_cma does not hold, -EBUSY if a struct page in a chunk differs from
 * the shared ones (the chunk keeps its own), -ENOMEM.
 */
int gmem_cma_vmemmap_trim(struct folio *folio, unsigned long first,
			  unsigned long nr)
{
	int ret = gmem_cma_vmemmap_set_range(folio, first, nr, true);

	if (ret && ret != -EINVAL)
		pr_warn_ratelimited("node %d: cannot trim the vmemmap of 1 GiB page at pfn %#lx again (error %d)\n",
				    folio_nid(folio), folio_pfn(folio), ret);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_vmemmap_trim);

/**
 * gmem_cma_vmemmap_needs_trim() - does a folio have chunks to share again?
 * @folio: a 1 GiB folio of a pool
 *
 * Lockless: a hint for the free path, which trims in a worker when true.
 *
 * Return: true if trimming is on and some chunk of a trimmed folio without
 * poisoned pages has its own struct pages.
 */
bool gmem_cma_vmemmap_needs_trim(struct folio *folio)
{
	struct gmem_cma_block *blk;

	if (!gmem_cma_vmemmap_on)
		return false;
	blk = gmem_cma_block(folio);
	return blk && READ_ONCE(blk->head_copied) && !gmem_cma_block_poisoned(blk) &&
	       !bitmap_full(blk->shared, GMEM_CMA_VMEMMAP_CHUNKS);
}

/**
 * gmem_cma_vmemmap_shared() - how many chunks of a folio are trimmed
 * @folio: a 1 GiB folio of a pool
 *
 * Return: the number of 2 MiB chunks whose struct pages are shared, 0 for a
 * folio gmem_cma does not hold.
 */
unsigned long gmem_cma_vmemmap_shared(struct folio *folio)
{
	struct gmem_cma_block *blk = gmem_cma_block(folio);

	return blk ? bitmap_weight(blk->shared, GMEM_CMA_VMEMMAP_CHUNKS) : 0;
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_vmemmap_shared);

/**
 * gmem_cma_prepare_user_mapping() - make a folio ready to be mapped by PTEs
 * @folio: a locked 1 GiB guest_memfd folio about to be mapped into host
 *         page tables
 *
 * Mapping a page with a PTE writes its struct page (mapcount), so the whole
 * folio gets its own struct pages first.  It is trimmed again when its last
 * reference goes.
 *
 * Return: 0, or -ENOMEM if the vmemmap cannot be restored; the folio is
 * then still trimmed and must not be mapped.
 */
int gmem_cma_prepare_user_mapping(struct folio *folio)
{
	if (!gmem_cma_vmemmap_shared(folio))
		return 0;
	return gmem_cma_vmemmap_restore(folio, 0, GMEM_CMA_VMEMMAP_CHUNKS);
}
EXPORT_SYMBOL_FOR_MODULES(gmem_cma_prepare_user_mapping, "kvm");

/**
 * gmem_cma_vmemmap_poison() - record a poisoned page of a folio gmem_cma holds
 * @pfn: the poisoned page
 * @folio_out: set to the folio holding @pfn
 *
 * Records the chunk holding @pfn as poisoned and restores it, so that the
 * page's struct page can carry PG_hwpoison.  If the restore fails, only the
 * chunk is recorded: every page of it then counts as poisoned.  Serialized
 * with gmem_cma_vmemmap_remove(), which refuses a folio recorded here.
 *
 * Return: 1 if the page is now marked poisoned, 0 if it already was, -ENOMEM
 * if only its chunk is recorded, -ENOENT if no pool holds the pfn.
 */
int gmem_cma_vmemmap_poison(unsigned long pfn, struct folio **folio_out)
{
	unsigned long base = ALIGN_DOWN(pfn, GMEM_CMA_NR_PAGES);
	int nid = pfn_to_nid(pfn);
	struct gmem_cma_vmemmap_node *vn = vnode(nid);
	unsigned long chunk = (pfn - base) / CHUNK_PAGES;
	struct gmem_cma_block *blk;
	struct folio *folio;
	int ret;

	mutex_lock(&vn->lock);
	blk = xa_load(&gmem_cma_blocks, pfn >> GMEM_CMA_PAGE_ORDER);
	if (!blk) {
		mutex_unlock(&vn->lock);
		return -ENOENT;
	}
	folio = pfn_folio(base);
	*folio_out = folio;
	set_bit(chunk, blk->poisoned);
	ret = gmem_cma_vmemmap_set(nid, folio, blk, chunk, 1, false);
	if (!ret)
		ret = TestSetPageHWPoison(pfn_to_page(pfn)) ? 0 : 1;
	mutex_unlock(&vn->lock);
	return ret;
}

/**
 * gmem_cma_vmemmap_poisoned() - does gmem_cma know of a poisoned page here?
 * @folio: a 1 GiB folio of a pool
 *
 * Return: true if memory-failure handling reported a page of @folio.
 */
bool gmem_cma_vmemmap_poisoned(struct folio *folio)
{
	struct gmem_cma_block *blk = gmem_cma_block(folio);

	return blk && gmem_cma_block_poisoned(blk);
}

/**
 * gmem_cma_vmemmap_poison_near() - how close to a page is a recorded poison?
 * @folio: a 1 GiB folio of a pool
 * @i: index of a 4 KiB page in @folio
 *
 * Lockless: the records only grow, and a page marked PG_hwpoison is marked
 * before its chunk is seen here as restored.
 *
 * Return: %GMEM_CMA_POISON_PAGE if page @i is poisoned, or its chunk is
 * recorded but still trimmed (which page is poisoned is not known);
 * %GMEM_CMA_POISON_CHUNK if another page of its 2 MiB chunk is;
 * %GMEM_CMA_POISON_FOLIO if a page of another chunk is; else
 * %GMEM_CMA_POISON_NONE.
 */
enum gmem_cma_poison gmem_cma_vmemmap_poison_near(struct folio *folio,
						  unsigned long i)
{
	struct gmem_cma_block *blk = gmem_cma_block(folio);
	unsigned long chunk = i / CHUNK_PAGES;

	if (!blk || !gmem_cma_block_poisoned(blk))
		return GMEM_CMA_POISON_NONE;
	if (!test_bit(chunk, blk->poisoned))
		return GMEM_CMA_POISON_FOLIO;
	if (test_bit(chunk, blk->shared) || PageHWPoison(folio_page(folio, i)))
		return GMEM_CMA_POISON_PAGE;
	return GMEM_CMA_POISON_CHUNK;
}

/**
 * gmem_cma_vmemmap_stats() - a node's vmemmap counters
 * @nid: node id
 * @st: filled in
 */
void gmem_cma_vmemmap_stats(int nid, struct gmem_cma_vmemmap_stats *st)
{
	struct gmem_cma_vmemmap_node *vn;

	memset(st, 0, sizeof(*st));
	if (nid < 0 || nid >= MAX_NUMNODES)
		return;
	vn = vnode(nid);
	mutex_lock(&vn->lock);
	*st = vn->st;
	mutex_unlock(&vn->lock);
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_vmemmap_stats);

/**
 * gmem_cma_pfn_held() - is a pfn inside a 1 GiB folio a pool holds?
 * @pfn: page frame number
 *
 * Lockless, for code that must leave such pages alone (soft offline).
 *
 * Return: true if the pfn's 1 GiB block is out of CMA, held by a pool.
 */
bool gmem_cma_pfn_held(unsigned long pfn)
{
	return xa_load(&gmem_cma_blocks, pfn >> GMEM_CMA_PAGE_ORDER);
}

/**
 * gmem_cma_vmemmap_saved() - vmemmap pages trimming frees on a node, now
 * @nid: node id
 *
 * Return: the count, read without the node's lock.
 */
unsigned long gmem_cma_vmemmap_saved(int nid)
{
	if (nid < 0 || nid >= MAX_NUMNODES)
		return 0;
	return READ_ONCE(vnode(nid)->st.saved);
}

static int __init gmem_cma_vmemmap_init(void)
{
	int nid;

	for (nid = 0; nid < MAX_NUMNODES; nid++)
		mutex_init(&vnode(nid)->lock);
	return 0;
}
pure_initcall(gmem_cma_vmemmap_init);
