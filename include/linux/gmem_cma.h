/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gmem_cma: 1 GiB pages for guest_memfd from per-node CMA areas.
 *
 * See Documentation/admin-guide/mm/gmem_cma.rst
 */
#ifndef _LINUX_GMEM_CMA_H
#define _LINUX_GMEM_CMA_H

#include <linux/init.h>
#include <linux/sizes.h>
#include <linux/types.h>

/* Every gmem_cma page is 1 GiB; every area is a whole number of them. */
#define GMEM_CMA_PAGE_SIZE	SZ_1G
#define GMEM_CMA_PAGE_ORDER	(30 - PAGE_SHIFT)

struct seq_file;

#ifdef CONFIG_GMEM_CMA
void __init gmem_cma_reserve(void);
unsigned long gmem_cma_capacity_pages(int nid);
void gmem_cma_report_meminfo(struct seq_file *m);
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
#endif /* CONFIG_GMEM_CMA */

#endif /* _LINUX_GMEM_CMA_H */
