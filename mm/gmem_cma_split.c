// SPDX-License-Identifier: GPL-2.0-only
/*
 * gmem_cma split and merge: a 1 GiB folio of a guest_memfd file in 2 MiB and
 * 4 KiB folios, and whole again.
 *
 * A guest that shares one 4 KiB page of a private 1 GiB page must not cost
 * it the whole GiB.  The folio is split with the page cache's own split
 * (split_huge_page_to_list_to_order()) into 512 folios of 2 MiB, and the
 * 2 MiB folio holding the page into 512 folios of 4 KiB, so that the page
 * has a reference count of its own and the rest stays as large as it can.
 * When the range is private again and nothing but the page cache holds it,
 * the folios are merged back: the 4 KiB folios of a chunk into its 2 MiB
 * folio, the 2 MiB folios of the GiB into the 1 GiB folio.  Merging has no
 * counterpart in the page cache, so it is done here: the folios are frozen,
 * one multi-index entry replaces theirs, and the struct pages are rewritten
 * as the tails of the larger folio.
 *
 * Splitting and merging write every struct page of the folio, so the block's
 * vmemmap is restored first and trimmed again after (mm/gmem_cma_vmemmap.c
 * keeps that state): a split 1 GiB page keeps one vmemmap page per 2 MiB
 * folio, as hugetlb's 2 MiB pages do, and all 8 for a chunk of 4 KiB folios.
 *
 * The folios never leave their block: gmem_cma_folio_owned() hands only
 * whole 1 GiB folios to the pool when their last reference goes, and a
 * split block is merged whole again before that.
 *
 * See Documentation/admin-guide/mm/gmem_cma.rst
 */

#define pr_fmt(fmt) "gmem_cma: " fmt

#include <linux/dax.h>
#include <linux/gmem_cma.h>
#include <linux/huge_mm.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <kunit/visibility.h>

#include "internal.h"
#include "gmem_cma_internal.h"

/**
 * gmem_cma_folio_may_split() - may the page cache split this folio?
 * @folio: a large folio about to be split
 *
 * Called by folio_check_splittable().  The folios of a gmem_cma block are
 * split only by gmem_cma itself, which restores their struct pages first.
 *
 * Return: true if @folio is not a gmem_cma folio, or gmem_cma splits it.
 */
bool gmem_cma_folio_may_split(struct folio *folio)
{
	return !gmem_cma_pfn_held(folio_pfn(folio)) ||
	       gmem_cma_block_splitting(folio);
}

static int gmem_cma_join(struct address_space *mapping, struct folio *first,
			 pgoff_t base, unsigned int order, unsigned int extra);

/*
 * The page cache's uniform split of locked @folio to @new_order; the new
 * folios other than @folio are left unlocked and unreferenced (the page
 * cache holds them).
 */
static int gmem_cma_split_to(struct folio *folio, unsigned int new_order)
{
	struct folio *piece, *next;
	LIST_HEAD(pieces);
	int err;

	/* With a list, the split leaves the folios off the LRU (never on it). */
	err = split_huge_page_to_list_to_order(&folio->page, &pieces, new_order);
	/* And takes a reference on each new folio for the list. */
	list_for_each_entry_safe(piece, next, &pieces, lru) {
		list_del(&piece->lru);
		folio_put(piece);
	}
	return err == -EBUSY ? -EAGAIN : err;
}

/* The second half of a 1 GiB folio split in two, locked, with a reference. */
static struct folio *gmem_cma_second_half(struct folio *folio)
{
	struct folio *half = page_folio(folio_page(folio, BIT(GMEM_CMA_PAGE_ORDER - 1)));

	folio_get(half);
	folio_lock(half);
	return half;
}

/*
 * Split a 1 GiB folio into 2 MiB folios.  The page cache cannot split an
 * entry that large into entries that small at once (xas_split_alloc()), so
 * it goes in halves first; a failure on the way joins the halves again.
 */
static int gmem_cma_split_1g(struct folio *folio)
{
	struct address_space *mapping = folio->mapping;
	pgoff_t base = folio->index;
	struct folio *half;
	int err, tries;

	err = gmem_cma_split_to(folio, GMEM_CMA_PAGE_ORDER - 1);
	if (err)
		return err;
	half = gmem_cma_second_half(folio);
	err = gmem_cma_split_to(half, HPAGE_PMD_ORDER);
	folio_unlock(half);
	folio_put(half);
	if (!err)
		err = gmem_cma_split_to(folio, HPAGE_PMD_ORDER);
	if (!err)
		return 0;
	/* Nothing changed, as far as anyone outside can tell. */
	for (tries = 0; tries < 100; tries++) {
		if (!gmem_cma_join(mapping, folio, base, GMEM_CMA_PAGE_ORDER, 1))
			break;
		cond_resched();
	}
	WARN_ON_ONCE(tries == 100);
	return err;
}

/**
 * gmem_cma_split_folio() - split a 1 GiB folio, or a 2 MiB piece of one
 * @folio: a whole 1 GiB folio of a pool, or a 2 MiB folio of a split one,
 *         locked, in a page cache, with a reference held by the caller
 *
 * A 1 GiB folio becomes 512 folios of 2 MiB, a 2 MiB folio 512 folios of
 * 4 KiB.  Host mappings of the folio are unmapped; the caller has zapped
 * any other mapping larger than the new folios.
 *
 * Return: 0, and @folio is the first of the new folios, still locked and
 * with the caller's reference; -EAGAIN if something other than the page
 * cache and host mappings holds @folio; -ENOMEM if the struct pages or the
 * page cache's nodes cannot be allocated; -EINVAL if @folio is not such a
 * folio.  On error nothing changed.
 */
int gmem_cma_split_folio(struct folio *folio)
{
	unsigned int order = folio_order(folio);
	unsigned long i, half;
	int err;

	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio), folio);

	if (order != GMEM_CMA_PAGE_ORDER && order != HPAGE_PMD_ORDER)
		return -EINVAL;

	err = gmem_cma_block_split_begin(folio);
	if (err)
		return err;
	if (order == GMEM_CMA_PAGE_ORDER)
		err = gmem_cma_split_1g(folio);
	else
		err = gmem_cma_split_to(folio, 0);
	/*
	 * The first 2 MiB folio of each half keeps the tails of the larger
	 * folio, which name the same head; make them the tails of a 2 MiB
	 * folio, like the shared tail page the vmemmap is trimmed to.
	 */
	for (half = 0; !err && order == GMEM_CMA_PAGE_ORDER && half < 2; half++) {
		struct page *head = folio_page(folio, half << (GMEM_CMA_PAGE_ORDER - 1));

		for (i = 1; i < HPAGE_PMD_NR; i++)
			set_compound_head(head + i, head, HPAGE_PMD_ORDER);
	}
	gmem_cma_block_split_end(folio, order, err);
	if (err == -EBUSY)
		err = -EAGAIN;
	return err;
}
EXPORT_SYMBOL_FOR_MODULES(gmem_cma_split_folio, "kvm");

/**
 * gmem_cma_rebuild_folio() - make a frozen range of struct pages one folio
 * @folio: the first folio of the range, frozen like every other one of it
 * @order: the order of the folio to make
 *
 * Every page but the first becomes a tail exactly like the zone's shared
 * tail page for @order (so that the vmemmap can be trimmed again), keeping
 * only a poisoned page's mark.  The struct pages must all be writable.
 */
void gmem_cma_rebuild_folio(struct folio *folio, unsigned int order)
{
	struct page *head = &folio->page, *page;
	unsigned long i, nr = 1UL << order;
	struct page tmpl;
	bool poisoned;

	memset(&tmpl, 0, sizeof(tmpl));
	init_compound_tail(&tmpl, head, order, page_zone(head));
	for (i = 1; i < nr; i++) {
		page = head + i;
		poisoned = PageHWPoison(page);
		/* A tail of @folio from here on, for anyone who looks. */
		WRITE_ONCE(page->compound_info, tmpl.compound_info);
		memcpy(page, &tmpl, sizeof(tmpl));
		if (poisoned)
			SetPageHWPoison(page);
		if (!(i % SZ_4K))
			cond_resched();
	}
	/* The head, and the tails once more (the same values). */
	prep_compound_page(head, order);
	folio_set_large_rmappable(folio);
}

/*
 * Unfreeze the first @n folios of [@base, @base + 2^@order) of @mapping, the
 * first one with @extra references on top of the page cache's.
 */
static void gmem_cma_unfreeze(struct address_space *mapping, pgoff_t base,
			      unsigned int order, unsigned long n,
			      unsigned int extra)
{
	XA_STATE(xas, &mapping->i_pages, base);
	struct folio *folio;

	lockdep_assert_held(&mapping->i_pages.xa_lock);

	xas_for_each(&xas, folio, base + BIT(order) - 1) {
		if (!n--)
			break;
		folio_ref_unfreeze(folio, folio_nr_pages(folio) + extra);
		extra = 0;
	}
}

/*
 * Join the folios of [@base, @base + 2^@order) of @mapping, physically
 * contiguous from @first and each held by the page cache only (@first also
 * by @extra references of the caller), into one folio of @order.  The
 * struct pages must all be writable.
 */
static int gmem_cma_join(struct address_space *mapping, struct folio *first,
			 pgoff_t base, unsigned int order, unsigned int extra)
{
	XA_STATE(xas, &mapping->i_pages, base);
	unsigned long pfn = folio_pfn(first), n = 0;
	unsigned int e = extra, small = 0;
	pgoff_t next = base;
	struct folio *folio;
	int err = 0;

	mapping_set_update(&xas, mapping);
	xas_lock_irq(&xas);
	xas_for_each(&xas, folio, base + BIT(order) - 1) {
		if (xa_is_value(folio) || folio->index != next ||
		    folio_pfn(folio) != pfn + (next - base)) {
			err = -EINVAL;
			break;
		}
		if (!folio_ref_freeze(folio, folio_nr_pages(folio) + e)) {
			err = -EBUSY;
			break;
		}
		if (folio_order(folio) < HPAGE_PMD_ORDER)
			small += folio_nr_pages(folio);
		next += folio_nr_pages(folio);
		e = 0;
		n++;
	}
	if (!err && next != base + BIT(order))
		err = -EINVAL;
	if (!err) {
		xas_set_order(&xas, base, order);
		xas_store(&xas, first);
		err = xas_error(&xas);
	}
	if (err)
		gmem_cma_unfreeze(mapping, base, order, n, extra);
	xas_unlock_irq(&xas);
	if (err)
		return err;

	/* The page cache finds @first frozen until it is whole. */
	gmem_cma_rebuild_folio(first, order);
	if (small && order >= HPAGE_PMD_ORDER)
		lruvec_stat_mod_folio(first, NR_FILE_THPS, small);
	folio_ref_unfreeze(first, BIT(order) + extra);
	return 0;
}

/**
 * gmem_cma_merge() - make a 2 MiB chunk or a 1 GiB page of a file whole again
 * @mapping: the file's page cache
 * @index: a page index inside the chunk or the page
 * @order: %HPAGE_PMD_ORDER to merge the 512 folios of 4 KiB of a chunk,
 *         %GMEM_CMA_PAGE_ORDER to merge the 512 folios of 2 MiB of a page
 *
 * The caller holds the mapping's invalidate lock for writing, so no folio
 * of the range comes or goes.  Each folio must be held by the page cache
 * only: not mapped, not pinned, no other reference.
 *
 * Return: 0; -EBUSY if some folio is referenced; -EINVAL if the range is
 * not made of present folios of the size below @order from one block;
 * -ENOMEM if the struct pages cannot be restored.  On error nothing
 * changed.
 */
int gmem_cma_merge(struct address_space *mapping, pgoff_t index,
		   unsigned int order)
{
	unsigned int piece_order;
	pgoff_t base = ALIGN_DOWN(index, BIT(order));
	struct folio *first;
	int err;

	lockdep_assert_held_write(&mapping->invalidate_lock);

	if (order == GMEM_CMA_PAGE_ORDER)
		piece_order = HPAGE_PMD_ORDER;
	else if (order == HPAGE_PMD_ORDER)
		piece_order = 0;
	else
		return -EINVAL;

	first = filemap_get_folio(mapping, base);
	if (IS_ERR(first))
		return -EINVAL;
	/* The page cache keeps it: the invalidate lock keeps it there. */
	folio_put(first);
	if (folio_order(first) != piece_order ||
	    !IS_ALIGNED(folio_pfn(first), BIT(order)))
		return -EINVAL;

	err = gmem_cma_block_merge_begin(first, order);
	if (err)
		return err;
	err = gmem_cma_join(mapping, first, base, order, 0);
	gmem_cma_block_merge_end(first, order, err);
	return err;
}
EXPORT_SYMBOL_FOR_MODULES(gmem_cma_merge, "kvm");

static void gmem_cma_reassemble_workfn(struct work_struct *work);
static DECLARE_DELAYED_WORK(gmem_cma_reassemble_work, gmem_cma_reassemble_workfn);

/*
 * Reassemble the blocks whose folios all left their file; look again every
 * second while one waits for a reference to go (the folios of a split
 * block have no callback of their own when their count drops).
 */
static void gmem_cma_reassemble_workfn(struct work_struct *work)
{
	if (gmem_cma_block_reassemble())
		queue_delayed_work(system_dfl_wq, &gmem_cma_reassemble_work, HZ);
}

/**
 * gmem_cma_release_piece() - a folio of a split 1 GiB page leaves its file
 * @folio: a folio leaving the page cache, from ->free_folio(), which runs
 *         before the page cache drops its references
 *
 * A 2 MiB or 4 KiB folio of a gmem_cma block must never reach the page
 * allocator: it keeps a reference of gmem_cma's own until every folio of
 * its block is free again, and the block becomes one 1 GiB folio that goes
 * back to its file's reservation or its pool (a worker does it).
 */
void gmem_cma_release_piece(struct folio *folio)
{
	if (folio_order(folio) == GMEM_CMA_PAGE_ORDER ||
	    !gmem_cma_pfn_held(folio_pfn(folio)))
		return;
	if (!gmem_cma_block_hold(folio))
		return;
	folio_get(folio);
	mod_delayed_work(system_dfl_wq, &gmem_cma_reassemble_work, 0);
}
EXPORT_SYMBOL_FOR_MODULES(gmem_cma_release_piece, "kvm");
