/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gmem_cma internals shared by the allocator, its reporting and its tests.
 */
#ifndef _MM_GMEM_CMA_INTERNAL_H
#define _MM_GMEM_CMA_INTERNAL_H

#include <linux/bits.h>
#include <linux/gmem_cma.h>
#include <linux/numa.h>
#include <linux/types.h>

struct cma;

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
 */
struct gmem_cma_request {
	u64 size[MAX_NUMNODES];
	u64 total;
	bool per_node;
	unsigned int problems;
	bool quiet;
};

void gmem_cma_parse(const char *val, struct gmem_cma_request *req);
void gmem_cma_plan(struct gmem_cma_request *req, const u64 *node_bytes,
		   u64 *plan);

struct cma *gmem_cma_area(int nid);

#endif /* _MM_GMEM_CMA_INTERNAL_H */
