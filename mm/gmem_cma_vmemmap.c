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
#include <linux/debugfs.h>
#include <linux/gmem_cma.h>
#include <linux/init.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/page-flags.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>

#include "gmem_cma_internal.h"
#include "hugetlb_vmemmap.h"

#define GMEM_CMA_NR_PAGES	BIT(GMEM_CMA_PAGE_ORDER)
#define CHUNK_PAGES		(SZ_2M >> PAGE_SHIFT)
#define VMEMMAP_PER_CHUNK	(CHUNK_PAGES * sizeof(struct page) / PAGE_SIZE)

/**
 * struct gmem_cma_block - what gmem_cma knows of one 1 GiB folio it holds
 * @shared: chunks whose struct pages are mapped to the shared tail page of
 *          the whole 1 GiB folio (order 18)
 * @trim2m: chunks that are a 2 MiB folio whose struct pages past the first
 *          vmemmap page are mapped to the shared tail page of order 9
 * @split4k: chunks split into 512 folios of 4 KiB
 * @poisoned: chunks holding a page reported by memory-failure handling;
 *            bits are only ever set, and read without the lock
 * @head_copied: the first vmemmap page was replaced by a copy (the folio
 *               was trimmed once); only then can chunks be shared
 * @split: the 1 GiB folio is split into 2 MiB folios (and some of those
 *         into 4 KiB folios, @split4k)
 * @splitting: splits of the block's folios gmem_cma has under way: the
 *             only splits folio_check_splittable() lets through
 * @merge_pending: the last merge asked for was refused (a reference, no
 *                 memory) and has not happened since
 */
struct gmem_cma_block {
	DECLARE_BITMAP(shared, GMEM_CMA_VMEMMAP_CHUNKS);
	DECLARE_BITMAP(trim2m, GMEM_CMA_VMEMMAP_CHUNKS);
	DECLARE_BITMAP(split4k, GMEM_CMA_VMEMMAP_CHUNKS);
	DECLARE_BITMAP(poisoned, GMEM_CMA_VMEMMAP_CHUNKS);
	bool head_copied;
	bool split;
	unsigned int splitting;
	bool merge_pending;
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

/**
 * gmem_cma_vmemmap_restore_pages() - vmemmap_restore_range() for gmem_cma
 * @page: the first struct page of the range
 * @nr: number of struct pages
 * @gfp: how to allocate the new vmemmap pages
 *
 * KUnit tests redirect it to fail.
 *
 * Return: as vmemmap_restore_range().
 */
VISIBLE_IF_KUNIT int gmem_cma_vmemmap_restore_pages(struct page *page,
						    unsigned long nr, gfp_t gfp)
{
	KUNIT_STATIC_STUB_REDIRECT(gmem_cma_vmemmap_restore_pages, page, nr, gfp);
	return vmemmap_restore_range(page, nr, gfp);
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_vmemmap_restore_pages);

/* The first struct page of the 1 GiB block holding @folio. */
static struct page *gmem_cma_block_page(struct folio *folio)
{
	return pfn_to_page(ALIGN_DOWN(folio_pfn(folio), GMEM_CMA_NR_PAGES));
}

/*
 * Restore the chunks of [@first, @first + @nr) that are trimmed as part of a
 * 2 MiB folio: their struct pages past the first vmemmap page.
 */
static int gmem_cma_vmemmap_restore_2m(int nid, struct page *base,
				       struct gmem_cma_block *blk,
				       unsigned long first, unsigned long nr)
{
	const unsigned long head = PAGE_SIZE / sizeof(struct page);
	struct gmem_cma_vmemmap_stats *st = &vnode(nid)->st;
	unsigned long c, last = first + nr;
	int ret;

	lockdep_assert_held(&vnode(nid)->lock);

	for (c = find_next_bit(blk->trim2m, last, first); c < last;
	     c = find_next_bit(blk->trim2m, last, c + 1)) {
		ret = gmem_cma_vmemmap_restore_pages(base + c * CHUNK_PAGES + head,
						     CHUNK_PAGES - head,
						     GFP_KERNEL | __GFP_RETRY_MAYFAIL |
						     __GFP_NOWARN);
		if (ret) {
			st->restore_fail++;
			pr_warn_ratelimited("node %d: cannot restore the vmemmap of 2 MiB page at pfn %#lx (error %d): it stays trimmed\n",
					    nid, page_to_pfn(base) + c * CHUNK_PAGES, ret);
			return ret;
		}
		clear_bit(c, blk->trim2m);
		WRITE_ONCE(st->saved, st->saved - (VMEMMAP_PER_CHUNK - 1));
		st->restores++;
	}
	return 0;
}

/*
 * Trim (@share) or restore the chunks of [@first, @first + @nr) that are
 * not in that state yet, a run of chunks at a time.  The first vmemmap
 * page, the head's copy, is never part of a range.  Only a whole folio is
 * trimmed this way; restoring also gives chunks of 2 MiB folios their
 * struct pages back.
 */
static int gmem_cma_vmemmap_set(int nid, struct folio *folio,
				struct gmem_cma_block *blk, unsigned long first,
				unsigned long nr, bool share)
{
	const unsigned long head = PAGE_SIZE / sizeof(struct page);
	struct gmem_cma_vmemmap_stats *st = &vnode(nid)->st;
	unsigned long start, end, pfirst, pnr, saving, last = first + nr;
	struct page *base = gmem_cma_block_page(folio);
	ktime_t t0 = ktime_get();
	int ret = 0;

	lockdep_assert_held(&vnode(nid)->lock);

	if (share && (!blk->head_copied || blk->split))
		return -EINVAL;
	if (!share) {
		ret = gmem_cma_vmemmap_restore_2m(nid, base, blk, first, nr);
		if (ret)
			goto out;
	}
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
			ret = vmemmap_optimize_range(base + pfirst, pnr,
						     GMEM_CMA_PAGE_ORDER);
		} else {
			ret = gmem_cma_vmemmap_restore_pages(base + pfirst, pnr,
							     GFP_KERNEL | __GFP_RETRY_MAYFAIL |
							     __GFP_NOWARN);
			if (ret) {
				st->restore_fail++;
				pr_warn_ratelimited("node %d: cannot restore the vmemmap of 1 GiB page at pfn %#lx (error %d): it stays trimmed\n",
						    nid, page_to_pfn(base), ret);
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
out:
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

/* May the block's struct pages be shared at all? */
static bool gmem_cma_block_trimmable(struct gmem_cma_block *blk)
{
	return gmem_cma_vmemmap_on && blk->head_copied &&
	       !gmem_cma_block_poisoned(blk);
}

/*
 * Trim chunk @c, a 2 MiB folio with struct pages of its own, as 2 MiB
 * folios are: all but its first vmemmap page mapped to the shared tail page
 * of order 9.  A failure leaves the chunk with its own pages (it costs
 * memory, nothing else).
 */
static void gmem_cma_vmemmap_trim_2m(int nid, struct page *base,
				     struct gmem_cma_block *blk, unsigned long c)
{
	const unsigned long head = PAGE_SIZE / sizeof(struct page);
	struct gmem_cma_vmemmap_stats *st = &vnode(nid)->st;
	ktime_t t0 = ktime_get();
	int ret;

	lockdep_assert_held(&vnode(nid)->lock);

	if (!gmem_cma_block_trimmable(blk) || test_bit(c, blk->trim2m) ||
	    test_bit(c, blk->shared) || test_bit(c, blk->split4k))
		return;
	ret = vmemmap_optimize_range(base + c * CHUNK_PAGES + head,
				     CHUNK_PAGES - head, HPAGE_PMD_ORDER);
	if (ret) {
		pr_warn_ratelimited("node %d: cannot trim the vmemmap of 2 MiB page at pfn %#lx (error %d)\n",
				    nid, page_to_pfn(base) + c * CHUNK_PAGES, ret);
		return;
	}
	set_bit(c, blk->trim2m);
	WRITE_ONCE(st->saved, st->saved + VMEMMAP_PER_CHUNK - 1);
	st->trims++;
	st->trim_ns += ktime_to_ns(ktime_sub(ktime_get(), t0));
}

static void gmem_cma_vmemmap_trim_2m_all(int nid, struct page *base,
					 struct gmem_cma_block *blk)
{
	unsigned long c;

	for (c = 0; c < GMEM_CMA_VMEMMAP_CHUNKS; c++)
		gmem_cma_vmemmap_trim_2m(nid, base, blk, c);
}

/*
 * Trim the 2 MiB folios of a block just split, but @caller's and those
 * that someone else already holds: a fault may be mapping one (it writes
 * the struct pages after gmem_cma_prepare_user_mapping(), which this lock
 * orders with the check).  They are trimmed at the next merge or split.
 */
static void gmem_cma_vmemmap_trim_2m_idle(int nid, struct page *base,
					  struct gmem_cma_block *blk,
					  struct folio *caller)
{
	struct folio *piece;
	unsigned long c;
	long refs;

	lockdep_assert_held(&vnode(nid)->lock);

	for (c = 0; c < GMEM_CMA_VMEMMAP_CHUNKS; c++) {
		piece = page_folio(base + c * CHUNK_PAGES);
		/* The page cache's references, and the caller's. */
		refs = folio_nr_pages(piece);
		if (piece == caller)
			refs++;
		if (folio_ref_count(piece) != refs || folio_mapped(piece))
			continue;
		gmem_cma_vmemmap_trim_2m(nid, base, blk, c);
	}
}

/* The block of @folio, with its node's lock held; NULL (unlocked) if none. */
static struct gmem_cma_block *gmem_cma_block_lock(struct folio *folio)
{
	struct gmem_cma_block *blk;

	mutex_lock(&vnode(folio_nid(folio))->lock);
	blk = gmem_cma_block(folio);
	if (!blk)
		mutex_unlock(&vnode(folio_nid(folio))->lock);
	return blk;
}

/*
 * The vmemmap pages a block's struct pages use: a chunk trimmed with the
 * whole folio uses none of its 8 (chunk 0 keeps the head's copy), one
 * trimmed as a 2 MiB folio uses 1.
 */
static unsigned long gmem_cma_block_vmemmap_pages(struct gmem_cma_block *blk)
{
	return GMEM_CMA_VMEMMAP_CHUNKS * VMEMMAP_PER_CHUNK -
	       bitmap_weight(blk->shared, GMEM_CMA_VMEMMAP_CHUNKS) * VMEMMAP_PER_CHUNK +
	       test_bit(0, blk->shared) -
	       bitmap_weight(blk->trim2m, GMEM_CMA_VMEMMAP_CHUNKS) *
	       (VMEMMAP_PER_CHUNK - 1);
}

/**
 * gmem_cma_block_split_begin() - get a folio of a block ready to be split
 * @folio: a whole 1 GiB folio, or a 2 MiB folio of a split one
 *
 * Gives every struct page of @folio a vmemmap page of its own (splitting
 * writes them all) and lets folio_check_splittable() accept the block's
 * folios until gmem_cma_block_split_end().
 *
 * Return: 0, -EINVAL if @folio is no such folio, -ENOMEM if the vmemmap
 * cannot be restored (nothing changed).
 */
int gmem_cma_block_split_begin(struct folio *folio)
{
	unsigned long c = (folio_pfn(folio) % GMEM_CMA_NR_PAGES) / CHUNK_PAGES;
	int nid = folio_nid(folio), ret = -EINVAL;
	struct gmem_cma_block *blk;

	blk = gmem_cma_block_lock(folio);
	if (!blk)
		return -EINVAL;
	if (folio_order(folio) == GMEM_CMA_PAGE_ORDER && !blk->split)
		ret = gmem_cma_vmemmap_set(nid, folio, blk, 0,
					   GMEM_CMA_VMEMMAP_CHUNKS, false);
	else if (folio_order(folio) == HPAGE_PMD_ORDER && blk->split &&
		 !test_bit(c, blk->split4k))
		ret = gmem_cma_vmemmap_restore_2m(nid, gmem_cma_block_page(folio),
						  blk, c, 1);
	if (!ret)
		WRITE_ONCE(blk->splitting, blk->splitting + 1);
	mutex_unlock(&vnode(nid)->lock);
	return ret;
}

/**
 * gmem_cma_block_split_end() - record a split, or undo its preparation
 * @folio: the folio gmem_cma_block_split_begin() accepted, now the first
 *         of the folios it was split into (or still whole)
 * @order: the order @folio had before the split
 * @err: 0 if the split happened, else its error
 *
 * After a split of a 1 GiB folio, every 2 MiB folio is trimmed as hugetlb
 * trims its 2 MiB pages; after a failed one, the folio is trimmed whole
 * again unless host page tables still map it.  A 2 MiB folio split into
 * 4 KiB folios keeps its struct pages.
 */
void gmem_cma_block_split_end(struct folio *folio, unsigned int order, int err)
{
	unsigned long c = (folio_pfn(folio) % GMEM_CMA_NR_PAGES) / CHUNK_PAGES;
	struct page *base = gmem_cma_block_page(folio);
	int nid = folio_nid(folio);
	struct gmem_cma_block *blk = gmem_cma_block(folio);

	mutex_lock(&vnode(nid)->lock);
	WRITE_ONCE(blk->splitting, blk->splitting - 1);
	/*
	 * A split refused for a reference may leave the folio mapped by host
	 * page tables, whose unmap writes the mapped pages' struct pages: it
	 * keeps its own until it is split, merged or freed (the folio lock
	 * keeps new mappings away meanwhile).
	 */
	if (order == GMEM_CMA_PAGE_ORDER) {
		if (!err)
			blk->split = true;
		if (!err)
			gmem_cma_vmemmap_trim_2m_idle(nid, base, blk, folio);
		else if (gmem_cma_block_trimmable(blk) && !folio_mapped(folio))
			gmem_cma_vmemmap_set(nid, folio, blk, 0,
					     GMEM_CMA_VMEMMAP_CHUNKS, true);
	} else if (!err) {
		set_bit(c, blk->split4k);
	} else if (!folio_mapped(folio)) {
		gmem_cma_vmemmap_trim_2m(nid, base, blk, c);
	}
	mutex_unlock(&vnode(nid)->lock);
}

/**
 * gmem_cma_block_splitting() - is gmem_cma splitting this folio?
 * @folio: a folio of a pool's block
 *
 * Return: true between gmem_cma_block_split_begin() and _end() for @folio's
 * block.
 */
bool gmem_cma_block_splitting(struct folio *folio)
{
	struct gmem_cma_block *blk = gmem_cma_block(folio);

	return blk && READ_ONCE(blk->splitting);
}

/**
 * gmem_cma_block_merge_begin() - get a block ready for a merge
 * @folio: the first folio of the range to merge
 * @order: HPAGE_PMD_ORDER to merge a chunk of 4 KiB folios into a 2 MiB
 *         folio, GMEM_CMA_PAGE_ORDER to merge the 2 MiB folios of a block
 *         into its 1 GiB folio
 *
 * Gives every struct page of the range a vmemmap page of its own (merging
 * writes them all).  On success the node's lock stays held until
 * gmem_cma_block_merge_end().
 *
 * Return: 0, -EINVAL if the block is not in a state to merge to @order,
 * -ENOMEM if the vmemmap cannot be restored (nothing changed).
 */
int gmem_cma_block_merge_begin(struct folio *folio, unsigned int order)
{
	unsigned long c = (folio_pfn(folio) % GMEM_CMA_NR_PAGES) / CHUNK_PAGES;
	struct page *base = gmem_cma_block_page(folio);
	int nid = folio_nid(folio), ret = -EINVAL;
	struct gmem_cma_block *blk;

	blk = gmem_cma_block_lock(folio);
	if (!blk)
		return -EINVAL;
	if (order == HPAGE_PMD_ORDER && blk->split && test_bit(c, blk->split4k)) {
		ret = 0;
	} else if (order == GMEM_CMA_PAGE_ORDER && blk->split &&
		   bitmap_empty(blk->split4k, GMEM_CMA_VMEMMAP_CHUNKS)) {
		ret = gmem_cma_vmemmap_restore_2m(nid, base, blk, 0,
						  GMEM_CMA_VMEMMAP_CHUNKS);
		if (ret) {
			gmem_cma_vmemmap_trim_2m_all(nid, base, blk);
			blk->merge_pending = true;
		}
	}
	if (ret)
		mutex_unlock(&vnode(nid)->lock);
	return ret;
}

/**
 * gmem_cma_block_merge_end() - record a merge, or undo its preparation
 * @folio: the merged folio, or the first folio of the range if @err
 * @order: the order gmem_cma_block_merge_begin() was given
 * @err: 0 if the merge happened, else its error
 *
 * Trims the merged folio (a 1 GiB folio whole again, a 2 MiB folio as
 * hugetlb does), or the 2 MiB folios again after a failed merge.  Drops
 * the node's lock.
 */
void gmem_cma_block_merge_end(struct folio *folio, unsigned int order, int err)
	__releases(&vnode(folio_nid(folio))->lock)
{
	unsigned long c = (folio_pfn(folio) % GMEM_CMA_NR_PAGES) / CHUNK_PAGES;
	struct page *base = gmem_cma_block_page(folio);
	int nid = folio_nid(folio);
	struct gmem_cma_block *blk = gmem_cma_block(folio);

	lockdep_assert_held(&vnode(nid)->lock);

	blk->merge_pending = err == -EBUSY || err == -ENOMEM;
	if (order == HPAGE_PMD_ORDER) {
		if (!err)
			clear_bit(c, blk->split4k);
		gmem_cma_vmemmap_trim_2m(nid, base, blk, c);
	} else if (err) {
		gmem_cma_vmemmap_trim_2m_all(nid, base, blk);
	} else {
		blk->split = false;
		if (gmem_cma_block_trimmable(blk))
			gmem_cma_vmemmap_set(nid, folio, blk, 0,
					     GMEM_CMA_VMEMMAP_CHUNKS, true);
	}
	mutex_unlock(&vnode(nid)->lock);
}

/* Blocks with folios out of the page cache, waiting to be reassembled. */
#define GMEM_CMA_BLOCK_HELD	XA_MARK_1

/**
 * gmem_cma_block_hold() - note that a folio of a split block left its file
 * @folio: a 2 MiB or 4 KiB folio of a split block, leaving the page cache
 *
 * Return: true if @folio is one, and its block is now queued for
 * gmem_cma_block_reassemble().
 */
bool gmem_cma_block_hold(struct folio *folio)
{
	unsigned long idx = folio_pfn(folio) >> GMEM_CMA_PAGE_ORDER;
	struct gmem_cma_block *blk;
	bool held = false;

	xa_lock(&gmem_cma_blocks);
	blk = xa_load(&gmem_cma_blocks, idx);
	/*
	 * A piece of a 1 GiB folio that gmem_cma is splitting must not leave
	 * its file (the caller's locks keep truncation out); if it does, it
	 * is held too, rather than reach the page allocator.
	 */
	if (blk && (READ_ONCE(blk->split) || WARN_ON_ONCE(READ_ONCE(blk->splitting)))) {
		__xa_set_mark(&gmem_cma_blocks, idx, GMEM_CMA_BLOCK_HELD);
		held = true;
	}
	xa_unlock(&gmem_cma_blocks);
	return held;
}

/* Give the folios of the block at @base below page @end their reference. */
static void gmem_cma_block_unfreeze(struct page *base, unsigned long end)
{
	struct folio *folio;
	unsigned long i;

	for (i = 0; i < end; i += folio_nr_pages(folio)) {
		folio = page_folio(base + i);
		folio_ref_unfreeze(folio, 1);
	}
}

/*
 * Are all folios of the block at @base out of the page cache and held by
 * gmem_cma's reference alone?  Freeze them if so.
 */
static bool gmem_cma_block_freeze_held(struct page *base)
{
	struct folio *folio;
	unsigned long i;

	for (i = 0; i < GMEM_CMA_NR_PAGES; i += folio_nr_pages(folio)) {
		folio = page_folio(base + i);
		if (READ_ONCE(folio->mapping) || !folio_ref_freeze(folio, 1)) {
			gmem_cma_block_unfreeze(base, i);
			return false;
		}
	}
	return true;
}

/**
 * gmem_cma_block_reassemble() - make held split blocks 1 GiB folios again
 *
 * For every block whose folios all left the page cache and are held by
 * gmem_cma's reference only: restores its vmemmap, rebuilds the 1 GiB
 * folio and drops the reference, which hands it back to its file or pool
 * (gmem_cma_free_folio()).
 *
 * Return: true if some block still waits (a folio still referenced, or no
 * memory for its struct pages).
 */
bool gmem_cma_block_reassemble(void)
{
	struct gmem_cma_block *blk;
	unsigned long idx;
	bool waiting = false;

	xa_for_each_marked(&gmem_cma_blocks, idx, blk, GMEM_CMA_BLOCK_HELD) {
		struct page *base = pfn_to_page(idx << GMEM_CMA_PAGE_ORDER);
		struct folio *folio = page_folio(base);
		int nid = folio_nid(folio);
		int err;

		mutex_lock(&vnode(nid)->lock);
		/*
		 * Frozen first: the struct pages of folios still in use (in
		 * the page cache, mapped, pinned) are never touched here.
		 */
		if (!gmem_cma_block_freeze_held(base)) {
			mutex_unlock(&vnode(nid)->lock);
			waiting = true;
			continue;
		}
		err = gmem_cma_vmemmap_set(nid, folio, blk, 0,
					   GMEM_CMA_VMEMMAP_CHUNKS, false);
		if (err) {
			gmem_cma_vmemmap_trim_2m_all(nid, base, blk);
			gmem_cma_block_unfreeze(base, GMEM_CMA_NR_PAGES);
			mutex_unlock(&vnode(nid)->lock);
			waiting = true;
			continue;
		}
		gmem_cma_rebuild_folio(folio, GMEM_CMA_PAGE_ORDER);
		blk->split = false;
		bitmap_zero(blk->split4k, GMEM_CMA_VMEMMAP_CHUNKS);
		xa_clear_mark(&gmem_cma_blocks, idx, GMEM_CMA_BLOCK_HELD);
		mutex_unlock(&vnode(nid)->lock);
		/* The last reference: back to the file or the pool, trimmed. */
		folio_ref_unfreeze(folio, 1);
		folio_put(folio);
		cond_resched();
	}
	return waiting;
}

/**
 * gmem_cma_block_state() - how a block is split, and its vmemmap
 * @folio: any folio of the block
 * @st: filled in
 *
 * Return: 0, or -ENOENT if no pool holds the block.
 */
int gmem_cma_block_state(struct folio *folio, struct gmem_cma_block_state *st)
{
	struct gmem_cma_block *blk;
	unsigned long n4k;

	memset(st, 0, sizeof(*st));
	blk = gmem_cma_block_lock(folio);
	if (!blk)
		return -ENOENT;
	n4k = bitmap_weight(blk->split4k, GMEM_CMA_VMEMMAP_CHUNKS);
	st->split = blk->split;
	st->chunks_2m = blk->split ? GMEM_CMA_VMEMMAP_CHUNKS - n4k : 0;
	st->chunks_4k = n4k;
	st->trimmed_1g = bitmap_weight(blk->shared, GMEM_CMA_VMEMMAP_CHUNKS);
	st->trimmed_2m = bitmap_weight(blk->trim2m, GMEM_CMA_VMEMMAP_CHUNKS);
	st->vmemmap_pages = gmem_cma_block_vmemmap_pages(blk);
	mutex_unlock(&vnode(folio_nid(folio))->lock);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_block_state);

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
 * @folio: a locked large guest_memfd folio about to be mapped into host
 *         page tables: a 1 GiB folio, or a 2 MiB folio of a split one
 *
 * Mapping a page with a PTE writes its struct page (mapcount), so the whole
 * folio gets its own struct pages first.  A 1 GiB folio is trimmed again
 * when its last reference goes, a 2 MiB one when it is split or merged.
 *
 * Return: 0, or -ENOMEM if the vmemmap cannot be restored; the folio is
 * then still trimmed and must not be mapped.
 */
int gmem_cma_prepare_user_mapping(struct folio *folio)
{
	unsigned long first = (folio_pfn(folio) % GMEM_CMA_NR_PAGES) / CHUNK_PAGES;
	unsigned long nr = DIV_ROUND_UP(folio_nr_pages(folio), CHUNK_PAGES);
	struct gmem_cma_block *blk = gmem_cma_block(folio);

	if (!blk)
		return 0;
	/*
	 * A whole 1 GiB folio is trimmed only when it is free or under its
	 * lock, which the caller holds: lockless.  A 2 MiB folio of a split
	 * one is also trimmed by a split of another folio of its block, which
	 * first checks that nobody else holds it: under the node's lock, so
	 * that the trim either sees the caller's reference or is seen here.
	 */
	if (folio_order(folio) == GMEM_CMA_PAGE_ORDER &&
	    find_next_bit(blk->shared, first + nr, first) >= first + nr)
		return 0;
	return gmem_cma_vmemmap_restore(folio, first, nr);
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
 * @folio: a folio of a pool's block (the 1 GiB folio, or one it is split in)
 * @i: index of a 4 KiB page in the block
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
	if (test_bit(chunk, blk->shared) || test_bit(chunk, blk->trim2m) ||
	    PageHWPoison(gmem_cma_block_page(folio) + i))
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

static int gmem_cma_blocks_show(struct seq_file *m, void *v)
{
	struct gmem_cma_block *blk;
	unsigned long idx, n4k;
	const char *state;
	int nid;

	seq_puts(m, "# pfn node state chunks_2m chunks_4k vmemmap_pages\n");
	xa_for_each(&gmem_cma_blocks, idx, blk) {
		nid = pfn_to_nid(idx << GMEM_CMA_PAGE_ORDER);
		mutex_lock(&vnode(nid)->lock);
		n4k = bitmap_weight(blk->split4k, GMEM_CMA_VMEMMAP_CHUNKS);
		if (!blk->split)
			state = "whole";
		else if (xa_get_mark(&gmem_cma_blocks, idx, GMEM_CMA_BLOCK_HELD))
			state = "split-released";
		else if (blk->merge_pending)
			state = "split-merge-pending";
		else
			state = "split";
		seq_printf(m, "%#lx %d %s %lu %lu %lu\n",
			   idx << GMEM_CMA_PAGE_ORDER, nid, state,
			   blk->split ? GMEM_CMA_VMEMMAP_CHUNKS - n4k : 0, n4k,
			   gmem_cma_block_vmemmap_pages(blk));
		mutex_unlock(&vnode(nid)->lock);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(gmem_cma_blocks);

static int __init gmem_cma_blocks_debugfs_init(void)
{
	struct dentry *dir = debugfs_lookup("gmem_cma", NULL);

	if (!IS_ERR_OR_NULL(dir)) {
		debugfs_create_file("blocks", 0444, dir, NULL, &gmem_cma_blocks_fops);
		dput(dir);
	}
	return 0;
}
late_initcall(gmem_cma_blocks_debugfs_init);

static int __init gmem_cma_vmemmap_init(void)
{
	int nid;

	for (nid = 0; nid < MAX_NUMNODES; nid++)
		mutex_init(&vnode(nid)->lock);
	return 0;
}
pure_initcall(gmem_cma_vmemmap_init);
