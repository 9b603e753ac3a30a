// SPDX-License-Identifier: GPL-2.0-only
/*
 * gmem_cma memory failure: a poisoned 4 KiB page costs that page, not the
 * 1 GiB page around it.
 *
 * memory_failure() hands the pfns of the pools' 1 GiB folios here.  Its
 * generic handling would try to split the folio (gmem_cma folios are never
 * split) and write struct pages that vmemmap trimming made read-only.
 * Instead:
 *
 *  - the page is marked: its 2 MiB chunk of vmemmap is restored and the
 *    page gets PG_hwpoison (mm/gmem_cma_vmemmap.c keeps the record, which
 *    also keeps the folio from being trimmed again or given back to CMA);
 *  - a folio in use stays in use: host page tables lose the bad page only,
 *    and the file's owner (KVM, through ->error_remove_folio()) drops its
 *    mappings of the whole folio, so that its next faults map 1 GiB no more:
 *    2 MiB where the 2 MiB chunk is clean, 4 KiB in the chunk of the bad
 *    page, and nothing for the bad page (gmem_cma_poison_order()).  The
 *    folio is retired when its last reference goes;
 *  - a free folio is retired at once; if a reservation counted on it, a
 *    worker takes a replacement out of the pool's CMA area.
 *
 * Early (hwpoison_inject, MADV_HWPOISON) and late (machine check) failures
 * take this same path.  The page never comes back: unpoisoning it is
 * refused, and so is soft offline (a 1 GiB folio is not migrated).
 *
 * See Documentation/admin-guide/mm/gmem_cma.rst
 */

#define pr_fmt(fmt) "gmem_cma: " fmt

#include <linux/errno.h>
#include <linux/gmem_cma.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/printk.h>
#include <linux/swap.h>

#include "gmem_cma_internal.h"

/*
 * A folio in use: take the bad page out of every host page table, and have
 * the file's owner drop its own mappings of the folio.
 */
static void gmem_cma_mf_unmap(struct folio *folio, unsigned long pfn)
{
	struct address_space *mapping;

	folio_lock(folio);
	mapping = folio->mapping;
	if (mapping) {
		unmap_mapping_pages(mapping,
				    folio->index + pfn - folio_pfn(folio), 1,
				    false);
		if (mapping->a_ops->error_remove_folio)
			mapping->a_ops->error_remove_folio(mapping, folio);
	}
	folio_unlock(folio);
}

/* A free folio: retire it, and back the reservations it leaves short. */
static const char *gmem_cma_mf_free(struct folio *folio)
{
	long short_by = gmem_cma_pool_retire_free(folio_nid(folio), folio);

	if (short_by < 0)
		return "not on the free list: retired by whoever holds it";
	if (!short_by)
		return "free: retired";
	gmem_cma_pool_refill();
	return "reserved: retired, a replacement is taken from the CMA area";
}

/*
 * The folio in use that holds @pfn, with a reference: the 1 GiB folio, or
 * the 2 MiB or 4 KiB one if it is split.  NULL if it is free (or frozen
 * for a merge, whose folio is then retired when freed).
 */
static struct folio *gmem_cma_mf_get_folio(unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);
	struct folio *folio;

	for (;;) {
		folio = page_folio(page);
		if (!folio_try_get(folio))
			return NULL;
		/* Split or merged meanwhile: the folio it is in now. */
		if (folio == page_folio(page))
			return folio;
		folio_put(folio);
	}
}

static const char gmem_cma_no_restore[] =
	"; no memory to restore its struct page: its whole 2 MiB chunk counts as poisoned";

/**
 * gmem_cma_memory_failure() - handle a memory failure in a pool's folio
 * @pfn: the page that failed
 * @flags: the MF_* flags of memory_failure()
 *
 * Called by memory_failure() with its mutex held, so failures are handled
 * one at a time.
 *
 * Return: -ENOENT if no pool holds the pfn (generic handling applies),
 * -EHWPOISON if the page was already poisoned, otherwise 0: the page is
 * out of use (and a task that touches it again gets SIGBUS).
 */
int gmem_cma_memory_failure(unsigned long pfn, int flags)
{
	struct folio *folio, *in_use;
	const char *state;
	int marked;

	if (!gmem_cma_pfn_held(pfn))
		return -ENOENT;
	marked = gmem_cma_vmemmap_poison(pfn, &folio);
	if (marked == -ENOENT)
		return -ENOENT;

	if (flags & MF_COUNT_INCREASED)
		put_page(pfn_to_page(pfn));
	if (!marked) {
		pr_info_ratelimited("memory failure at pfn %#lx: already poisoned\n",
				    pfn);
		return -EHWPOISON;
	}
	if (marked > 0)
		num_poisoned_pages_inc(pfn);

	in_use = gmem_cma_mf_get_folio(pfn);
	if (in_use) {
		gmem_cma_mf_unmap(in_use, pfn);
		folio_put(in_use);
		state = "in use: mappings dropped, retired when freed";
	} else {
		state = gmem_cma_mf_free(folio);
	}
	pr_err_ratelimited("memory failure at pfn %#lx, page %lu of the 1 GiB page at pfn %#lx (node %d, %s)%s\n",
			   pfn, pfn - folio_pfn(folio), folio_pfn(folio),
			   folio_nid(folio), state, marked < 0 ? gmem_cma_no_restore : "");
	return 0;
}

/**
 * gmem_cma_poison_order() - how a page of a gmem_cma folio may be mapped
 * @folio: a folio of a guest_memfd file of 1 GiB pages (the 1 GiB folio,
 *         or a 2 MiB or 4 KiB one of a split page), locked or referenced
 * @index: the page cache index of a page in @folio
 *
 * Return: -EHWPOISON if the page is poisoned (or may be: its chunk is
 * poisoned and could not be restored), 0 if another page of its 2 MiB chunk
 * is poisoned (map it alone), PMD_ORDER if a page of another chunk is,
 * otherwise the folio's order.
 */
int gmem_cma_poison_order(struct folio *folio, pgoff_t index)
{
	unsigned long i = folio_pfn(folio) % BIT(GMEM_CMA_PAGE_ORDER) +
			  (index - folio->index);

	/* @i: the page's index in its 1 GiB block, whole or split. */
	switch (gmem_cma_vmemmap_poison_near(folio, i)) {
	case GMEM_CMA_POISON_PAGE:
		return -EHWPOISON;
	case GMEM_CMA_POISON_CHUNK:
		return 0;
	case GMEM_CMA_POISON_FOLIO:
		return min(PMD_ORDER, folio_order(folio));
	default:
		return folio_order(folio);
	}
}
EXPORT_SYMBOL_FOR_MODULES(gmem_cma_poison_order, "kvm");

/**
 * gmem_cma_unpoison() - refuse to unpoison a page of a pool's folio
 * @pfn: the page unpoison_memory() was asked for
 *
 * The folio around a poisoned page is out of use for good, and its record
 * and vmemmap state would have to be undone with it: not supported.
 *
 * Return: -ENOENT if no pool holds the pfn, otherwise -EBUSY.
 */
int gmem_cma_unpoison(unsigned long pfn)
{
	if (!gmem_cma_pfn_held(pfn))
		return -ENOENT;
	pr_info_ratelimited("unpoison of pfn %#lx refused: its 1 GiB page is held by a pool, and poisoned gmem_cma pages are never unpoisoned\n",
			    pfn);
	return -EBUSY;
}
