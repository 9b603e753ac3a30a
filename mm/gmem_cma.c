// SPDX-License-Identifier: GPL-2.0-only
/*
 * gmem_cma: per-node CMA areas that hold 1 GiB pages for guest_memfd.
 *
 * The areas are declared at boot from the gmem_cma= parameter, one per node,
 * named gmem<nid>.  While nothing is taken out of them the page allocator
 * lends their memory to movable allocations.
 *
 * See Documentation/admin-guide/mm/gmem_cma.rst
 */

#define pr_fmt(fmt) "gmem_cma: " fmt

#include <linux/cma.h>
#include <linux/ctype.h>
#include <linux/gmem_cma.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/memblock.h>
#include <linux/minmax.h>
#include <linux/nodemask.h>
#include <linux/nospec.h>
#include <linux/overflow.h>
#include <linux/printk.h>
#include <linux/string.h>
#include <kunit/visibility.h>

#include "cma.h"
#include "gmem_cma_internal.h"

/* The gmem_cma= request, parsed by the early_param, used by the reserve step. */
static struct gmem_cma_request gmem_cma_request __initdata;
static bool gmem_cma_requested __initdata;

/* One area per node, set at boot and never changed afterwards. */
static struct cma *gmem_cma_areas[MAX_NUMNODES] __ro_after_init;

/* One warning line about a gmem_cma= or gmem_cma_pool= value. */
static __printf(2, 3) void gmem_cma_warn(const struct gmem_cma_request *req,
					 const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	if (req->quiet)
		return;
	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	pr_warn("%s%pV", req->prefix ?: "", &vaf);
	va_end(args);
}

/*
 * Parse an unsigned number, decimal or 0x-prefixed hexadecimal, from @s.
 * Returns the number of characters used, 0 if there is no number, or
 * -EOVERFLOW if it does not fit in 64 bits.
 */
static int gmem_cma_parse_u64(const char *s, size_t len, u64 *val)
{
	unsigned int base = 10;
	size_t i = 0;
	u64 v = 0;

	if (len > 2 && s[0] == '0' && tolower(s[1]) == 'x' && isxdigit(s[2])) {
		base = 16;
		i = 2;
	}
	for (; i < len; i++) {
		unsigned int d;

		if (isdigit(s[i]))
			d = s[i] - '0';
		else if (base == 16 && isxdigit(s[i]))
			d = tolower(s[i]) - 'a' + 10;
		else
			break;
		if (check_mul_overflow(v, (u64)base, &v) ||
		    check_add_overflow(v, (u64)d, &v))
			return -EOVERFLOW;
	}
	*val = v;
	return (base == 16 && i == 2) ? 0 : i;
}

/*
 * Parse a size in memparse() form (a number with an optional K, M, G, T, P
 * or E suffix) that must make up all of @s.  Returns 0, -EINVAL for text
 * that is not such a size, or -EOVERFLOW.
 */
static int gmem_cma_parse_size(const char *s, size_t len, u64 *bytes)
{
	static const char suffixes[] = "kmgtpe";
	const char *suffix;
	unsigned int shift = 0;
	int used;
	u64 v;

	used = gmem_cma_parse_u64(s, len, &v);
	if (used < 0)
		return used;
	if (!used)
		return -EINVAL;
	if (used < len) {
		if (used + 1 != len || !s[used])
			return -EINVAL;
		suffix = strchr(suffixes, tolower(s[used]));
		if (!suffix)
			return -EINVAL;
		shift = 10 * (suffix - suffixes + 1);
	}
	if (shift && v > (U64_MAX >> shift))
		return -EOVERFLOW;
	*bytes = v << shift;
	return 0;
}

/*
 * Round @bytes down to whole 1 GiB pages, warning about what was cut.
 * Returns the rounded size, which may be zero.
 */
static u64 gmem_cma_align(struct gmem_cma_request *req, const char *s,
			  size_t len, u64 bytes)
{
	u64 aligned = ALIGN_DOWN(bytes, GMEM_CMA_PAGE_SIZE);

	if (aligned == bytes && bytes)
		return bytes;
	req->problems |= GMEM_CMA_UNALIGNED;
	if (aligned)
		gmem_cma_warn(req, "'%.*s' is not a multiple of 1G: rounded down to %lluG\n",
			      (int)len, s, aligned >> 30);
	else
		gmem_cma_warn(req, "'%.*s' is less than 1G: skipped\n",
			      (int)len, s);
	return aligned;
}

/* Parse one "<nid>:<size>" entry; @colon points at the ':' inside @s. */
static void gmem_cma_parse_node(struct gmem_cma_request *req, const char *s,
				size_t len, const char *colon)
{
	size_t nid_len = colon - s;
	u64 nid, bytes;
	int ret;

	ret = gmem_cma_parse_u64(s, nid_len, &nid);
	if (ret == -EOVERFLOW)
		goto overflow;
	if (ret != nid_len || !nid_len)
		goto garbage;
	ret = gmem_cma_parse_size(colon + 1, len - nid_len - 1, &bytes);
	if (ret == -EOVERFLOW)
		goto overflow;
	if (ret)
		goto garbage;

	if (nid >= MAX_NUMNODES) {
		req->problems |= GMEM_CMA_BAD_NODE;
		gmem_cma_warn(req, "node %llu does not exist or has no memory: '%.*s' skipped\n",
			      nid, (int)len, s);
		return;
	}
	nid = array_index_nospec(nid, MAX_NUMNODES);
	if (req->size[nid]) {
		req->problems |= GMEM_CMA_REPEATED;
		gmem_cma_warn(req, "node %llu given more than once: '%.*s' ignored\n",
			      nid, (int)len, s);
		return;
	}
	req->size[nid] = gmem_cma_align(req, s, len, bytes);
	return;

overflow:
	req->problems |= GMEM_CMA_OVERFLOW;
	gmem_cma_warn(req, "number too large in '%.*s': skipped\n", (int)len, s);
	return;
garbage:
	req->problems |= GMEM_CMA_GARBAGE;
	gmem_cma_warn(req, "cannot parse '%.*s': skipped\n", (int)len, s);
}

/* Parse the one entry of the total form, "<size>". */
static void gmem_cma_parse_total(struct gmem_cma_request *req, const char *s,
				 size_t len, bool has_node)
{
	u64 bytes;
	int ret;

	if (has_node) {
		req->problems |= GMEM_CMA_GARBAGE;
		gmem_cma_warn(req, "'%.*s' has no node but other entries do: skipped\n",
			      (int)len, s);
		return;
	}
	if (req->total) {
		req->problems |= GMEM_CMA_REPEATED;
		gmem_cma_warn(req, "total size given more than once: '%.*s' ignored\n",
			      (int)len, s);
		return;
	}
	ret = gmem_cma_parse_size(s, len, &bytes);
	if (ret == -EOVERFLOW) {
		req->problems |= GMEM_CMA_OVERFLOW;
		gmem_cma_warn(req, "number too large in '%.*s': skipped\n",
			      (int)len, s);
		return;
	}
	if (ret) {
		req->problems |= GMEM_CMA_GARBAGE;
		gmem_cma_warn(req, "cannot parse '%.*s': skipped\n", (int)len, s);
		return;
	}
	req->total = gmem_cma_align(req, s, len, bytes);
}

/**
 * gmem_cma_parse() - parse the value of the gmem_cma= boot parameter
 * @val: the text after "gmem_cma=", or NULL when there was no '='
 * @req: the request to fill; zero it before the call except for @req->quiet
 *
 * @val is either one size for all nodes ("8G") or a comma-separated list of
 * "<nid>:<size>" entries.  Sizes take memparse() suffixes.  Bad entries are
 * skipped and reported, good ones are kept: an empty entry, text that does
 * not parse, a number that overflows, a node number above MAX_NUMNODES and a
 * node given twice are skipped; a size that is not a multiple of 1 GiB is
 * rounded down (and skipped if that leaves nothing).  Whether a node exists
 * and has the memory is checked later by gmem_cma_plan().
 *
 * This is a plain function so that the KUnit suite can call it.
 */
void gmem_cma_parse(const char *val, struct gmem_cma_request *req)
{
	const char *s = val, *end, *colon;
	bool has_node;
	size_t len;

	if (!val || !*val) {
		req->problems |= GMEM_CMA_EMPTY;
		gmem_cma_warn(req, "empty value: no area reserved\n");
		return;
	}

	/* The total form is only valid when no entry names a node. */
	has_node = strchr(val, ':');
	req->per_node = has_node;
	for (;;) {
		end = strchrnul(s, ',');
		len = end - s;
		colon = memchr(s, ':', len);
		if (!len) {
			req->problems |= GMEM_CMA_EMPTY;
			gmem_cma_warn(req, "empty entry in '%s' ignored\n", val);
		} else if (colon) {
			gmem_cma_parse_node(req, s, len, colon);
		} else {
			gmem_cma_parse_total(req, s, len, has_node);
		}
		if (!*end)
			break;
		s = end + 1;
	}
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_parse);

/**
 * gmem_cma_plan() - decide how much to reserve on each node
 * @req: a request filled by gmem_cma_parse()
 * @node_bytes: bytes of memory on each node (MAX_NUMNODES entries, 0 for a
 *              node that does not exist or has no memory)
 * @plan: bytes to reserve on each node (MAX_NUMNODES entries, filled here)
 *
 * A per-node request keeps the entries whose node has memory and is larger
 * than the request; the others are reported and skipped.  A total request
 * is spread over the nodes that have memory like hugetlb_cma= does: each
 * node gets the total divided by the number of such nodes, rounded up to
 * 1 GiB, until the total is reached, so 3G on four nodes gives 1G to each of
 * the first three.  A node too small for its share is skipped and its share
 * is not moved elsewhere.
 */
void gmem_cma_plan(struct gmem_cma_request *req, const u64 *node_bytes,
		   u64 *plan)
{
	u64 per_node, left, size;
	unsigned int nr_nodes = 0;
	int nid;

	for (nid = 0; nid < MAX_NUMNODES; nid++) {
		plan[nid] = 0;
		if (node_bytes[nid])
			nr_nodes++;
	}
	if (!req->per_node && (!req->total || !nr_nodes))
		return;

	per_node = 0;
	left = req->total;
	if (!req->per_node)
		per_node = round_up(div_u64(req->total + nr_nodes - 1, nr_nodes),
				    GMEM_CMA_PAGE_SIZE);

	for (nid = 0; nid < MAX_NUMNODES; nid++) {
		if (req->per_node) {
			size = req->size[nid];
			if (!size)
				continue;
			if (!node_bytes[nid]) {
				req->problems |= GMEM_CMA_BAD_NODE;
				gmem_cma_warn(req, "node %d does not exist or has no memory: %lluG skipped\n",
					      nid, size >> 30);
				continue;
			}
		} else {
			if (!node_bytes[nid])
				continue;
			size = min(per_node, left);
			if (!size)
				break;
			left -= size;
		}
		if (size >= node_bytes[nid]) {
			req->problems |= GMEM_CMA_TOO_BIG;
			gmem_cma_warn(req, "node %d: %lluG asked for but the node has only %lluM: skipped\n",
				      nid, size >> 30, node_bytes[nid] >> 20);
			continue;
		}
		plan[nid] = size;
	}
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_plan);

static int __init gmem_cma_early_param(char *val)
{
	gmem_cma_requested = true;
	gmem_cma_parse(val, &gmem_cma_request);
	return 0;
}
early_param("gmem_cma", gmem_cma_early_param);

/*
 * How much free memory of a node is in whole 1 GiB-aligned blocks, and the
 * longest run of such blocks: what an area could still get.  Used to say
 * why a reservation failed.
 */
static void __init gmem_cma_free_blocks(int nid, u64 *total, u64 *largest)
{
	phys_addr_t start, end, s, e;
	u64 i;

	*total = 0;
	*largest = 0;
	for_each_free_mem_range(i, nid, MEMBLOCK_NONE, &start, &end, NULL) {
		s = ALIGN(start, GMEM_CMA_PAGE_SIZE);
		e = ALIGN_DOWN(end, GMEM_CMA_PAGE_SIZE);
		if (e <= s)
			continue;
		*total += e - s;
		*largest = max_t(u64, *largest, e - s);
	}
}

/**
 * gmem_cma_reserve() - declare the CMA areas asked for by gmem_cma=
 *
 * Called from mm_core_init_early(), after NUMA initialisation has assigned
 * memblock ranges to nodes and before the page allocator takes the free
 * memory.  A node whose area cannot be placed is reported and skipped; the
 * other nodes still get theirs.
 */
void __init gmem_cma_reserve(void)
{
	static u64 node_bytes[MAX_NUMNODES] __initdata;
	static u64 plan[MAX_NUMNODES] __initdata;
	unsigned long start_pfn, end_pfn;
	char name[CMA_MAX_NAME];
	u64 free, largest;
	int i, nid, ret;

	if (!gmem_cma_requested)
		return;

	for_each_mem_pfn_range(i, MAX_NUMNODES, &start_pfn, &end_pfn, &nid)
		node_bytes[nid] += PFN_PHYS(end_pfn - start_pfn);

	gmem_cma_plan(&gmem_cma_request, node_bytes, plan);

	for (nid = 0; nid < MAX_NUMNODES; nid++) {
		if (!plan[nid])
			continue;
		snprintf(name, sizeof(name), "gmem%d", nid);
		/*
		 * One bitmap bit per 1 GiB page: the area is only ever
		 * allocated from and released to in whole pages.  A multi-range
		 * area lets it span the holes of the node's memory map.
		 */
		ret = cma_declare_contiguous_multi(plan[nid], GMEM_CMA_PAGE_SIZE,
						   GMEM_CMA_PAGE_ORDER, name,
						   &gmem_cma_areas[nid], nid);
		if (ret == -ENOSPC) {
			pr_warn("node %d: no CMA area left for %lluG (raise CONFIG_CMA_AREAS): skipped\n",
				nid, plan[nid] >> 30);
			continue;
		}
		if (ret) {
			gmem_cma_free_blocks(nid, &free, &largest);
			pr_warn("node %d: cannot reserve %lluG: the node has %lluG of free 1G-aligned memory in runs of up to %lluG (error %d): skipped\n",
				nid, plan[nid] >> 30, free >> 30, largest >> 30, ret);
			continue;
		}
		pr_info("node %d: reserved %lluG in %d range(s) as CMA area %s\n",
			nid, plan[nid] >> 30, gmem_cma_areas[nid]->nranges, name);
	}
}

/**
 * gmem_cma_area() - the CMA area of a node
 * @nid: node id
 *
 * Return: the node's gmem_cma area, or NULL if it has none.
 */
struct cma *gmem_cma_area(int nid)
{
	if (nid < 0 || nid >= MAX_NUMNODES)
		return NULL;
	return gmem_cma_areas[array_index_nospec(nid, MAX_NUMNODES)];
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_area);

/**
 * gmem_cma_capacity_pages() - size of a node's area in 1 GiB pages
 * @nid: node id
 *
 * Return: the number of 1 GiB pages the node's area holds, 0 if none.
 */
unsigned long gmem_cma_capacity_pages(int nid)
{
	struct cma *cma = gmem_cma_area(nid);

	return cma ? cma_get_size(cma) >> 30 : 0;
}
