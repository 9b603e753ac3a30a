/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gmem_cma: 1 GiB pages for guest_memfd from per-node CMA areas.
 *
 * See Documentation/admin-guide/mm/gmem_cma.rst
 */
#ifndef _LINUX_GMEM_CMA_H
#define _LINUX_GMEM_CMA_H

#include <linux/err.h>
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <linux/types.h>

/* Every gmem_cma page is 1 GiB; every area is a whole number of them. */
#define GMEM_CMA_PAGE_SIZE	SZ_1G
#define GMEM_CMA_PAGE_ORDER	(30 - PAGE_SHIFT)

/**
 * enum gmem_cma_gmem_policy - which guest_memfd files get 1 GiB pages
 * @GMEM_CMA_GMEM_NEVER: none; GUEST_MEMFD_FLAG_HUGE_PAGES is refused
 * @GMEM_CMA_GMEM_ADVISE: only files created with GUEST_MEMFD_FLAG_HUGE_PAGES
 * @GMEM_CMA_GMEM_WITHIN_SIZE: also every file whose size is a multiple of
 *	1 GiB, if the pools can reserve its pages
 * @GMEM_CMA_GMEM_ALWAYS: the same as @GMEM_CMA_GMEM_WITHIN_SIZE today: a
 *	guest_memfd file cannot grow, so no 1 GiB page can lie past its end
 *
 * Set with gmem_cma_guest_memfd= or /sys/kernel/mm/gmem_cma/guest_memfd_enabled.
 */
enum gmem_cma_gmem_policy {
	GMEM_CMA_GMEM_NEVER,
	GMEM_CMA_GMEM_ADVISE,
	GMEM_CMA_GMEM_WITHIN_SIZE,
	GMEM_CMA_GMEM_ALWAYS,
};

struct address_space;
struct gmem_cma_subpool;
struct mempolicy;
struct seq_file;

#ifdef CONFIG_GMEM_CMA
void __init gmem_cma_reserve(void);
unsigned long gmem_cma_capacity_pages(int nid);
void gmem_cma_report_meminfo(struct seq_file *m);

struct gmem_cma_subpool *gmem_cma_subpool_create(unsigned long nr_pages,
						 unsigned long ino);
void gmem_cma_subpool_destroy(struct gmem_cma_subpool *sp);
struct folio *gmem_cma_get_folio(struct gmem_cma_subpool *sp,
				 struct address_space *mapping, pgoff_t index,
				 const struct mempolicy *pol);
bool __gmem_cma_folio_owned(struct folio *folio);
void gmem_cma_free_folio(struct folio *folio);
int gmem_cma_prepare_user_mapping(struct folio *folio);
int gmem_cma_memory_failure(unsigned long pfn, int flags);
int gmem_cma_poison_order(struct folio *folio, pgoff_t index);
int gmem_cma_unpoison(unsigned long pfn);
bool gmem_cma_pfn_held(unsigned long pfn);
bool gmem_cma_folio_may_split(struct folio *folio);
int gmem_cma_split_folio(struct folio *folio);
int gmem_cma_merge(struct address_space *mapping, pgoff_t index,
		   unsigned int order);
void gmem_cma_release_piece(struct folio *folio);
enum gmem_cma_gmem_policy gmem_cma_guest_memfd_policy(void);
void gmem_cma_guest_memfd_fallback(void);

/**
 * gmem_cma_folio_owned() - is this a gmem_cma 1 GiB folio?
 * @folio: a folio whose reference count dropped to zero
 *
 * Return: true if @folio must be freed with gmem_cma_free_folio(), not by
 * the page allocator.
 */
static inline bool gmem_cma_folio_owned(struct folio *folio)
{
	if (likely(!folio_test_large(folio)) ||
	    folio_large_order(folio) != GMEM_CMA_PAGE_ORDER)
		return false;
	return __gmem_cma_folio_owned(folio);
}
#else
static inline void gmem_cma_reserve(void)
{
}

static inline void gmem_cma_report_meminfo(struct seq_file *m)
{
}

static inline unsigned long gmem_cma_capacity_pages(int nid)
{
	return 0;
}

static inline struct gmem_cma_subpool *
gmem_cma_subpool_create(unsigned long nr_pages, unsigned long ino)
{
	return ERR_PTR(-ENODEV);
}

static inline void gmem_cma_subpool_destroy(struct gmem_cma_subpool *sp)
{
}

static inline struct folio *gmem_cma_get_folio(struct gmem_cma_subpool *sp,
					       struct address_space *mapping,
					       pgoff_t index,
					       const struct mempolicy *pol)
{
	return ERR_PTR(-ENODEV);
}

static inline bool gmem_cma_folio_owned(struct folio *folio)
{
	return false;
}

static inline void gmem_cma_free_folio(struct folio *folio)
{
}

static inline int gmem_cma_prepare_user_mapping(struct folio *folio)
{
	return 0;
}

static inline int gmem_cma_memory_failure(unsigned long pfn, int flags)
{
	return -ENOENT;
}

static inline int gmem_cma_poison_order(struct folio *folio, pgoff_t index)
{
	return folio_test_hwpoison(folio) ? -EHWPOISON : folio_order(folio);
}

static inline int gmem_cma_unpoison(unsigned long pfn)
{
	return -ENOENT;
}

static inline bool gmem_cma_pfn_held(unsigned long pfn)
{
	return false;
}

static inline bool gmem_cma_folio_may_split(struct folio *folio)
{
	return true;
}

static inline int gmem_cma_split_folio(struct folio *folio)
{
	return -EINVAL;
}

static inline int gmem_cma_merge(struct address_space *mapping, pgoff_t index,
				 unsigned int order)
{
	return -EINVAL;
}

static inline void gmem_cma_release_piece(struct folio *folio)
{
}

static inline enum gmem_cma_gmem_policy gmem_cma_guest_memfd_policy(void)
{
	return GMEM_CMA_GMEM_NEVER;
}

static inline void gmem_cma_guest_memfd_fallback(void)
{
}
#endif /* CONFIG_GMEM_CMA */

#endif /* _LINUX_GMEM_CMA_H */
