// SPDX-License-Identifier: GPL-2.0-only
/*
 * Size the gmem_cma pools through sysfs and check that every report agrees:
 * the per-node and global files, /proc/meminfo, CMA's own counters of each
 * gmem<N> area and debugfs.  Grow through memory full of movable pages,
 * fail on a pinned block, reject bad and concurrent writes, and leave every
 * counter as it was found.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "gmem_cma_util.h"

#define MAX_NODES	8
#define SYSFS		GMEM_CMA_SYSFS
#define CMA_AREA	"/sys/kernel/mm/cma/gmem%d"
/*
 * Leave this much of a node free when filling it: enough that the page
 * allocator has already lent a good part of the area to the filler.
 */
#define FILL_MARGIN_MB	1536

struct snapshot {
	long cap[MAX_NODES], nr[MAX_NODES], free[MAX_NODES], resv[MAX_NODES];
	long used[MAX_NODES], fail[MAX_NODES];
	long cma_avail[MAX_NODES], cma_ok[MAX_NODES], cma_rel[MAX_NODES];
};

static int nr_nodes;

static int set_pages(int nid, long pages)
{
	char path[96], val[32];

	if (nid < 0)
		snprintf(path, sizeof(path), SYSFS "/nr_pages");
	else
		snprintf(path, sizeof(path), SYSFS "/node%d/nr_pages", nid);
	snprintf(val, sizeof(val), "%ld\n", pages);
	return write_str(path, val);
}

static long meminfo_kb(const char *key)
{
	char buf[8192];

	return read_text("/proc/meminfo", buf, sizeof(buf)) ? -1 : text_field(buf, key);
}

/*
 * A count read from a file: a missing or garbled file (read_long() -1 or
 * -2) fails the test instead of being compared as a number.
 */
static long count_of(struct __test_metadata *_metadata, const char *fmt, int nid)
{
	char path[160];
	long v;

	snprintf(path, sizeof(path), fmt, nid);
	v = read_long(path);
	ASSERT_GE(v, 0) TH_LOG("%s: %s", path, v == -1 ? "cannot be read" : "not a number");
	return v;
}

static void take(struct __test_metadata *_metadata, struct snapshot *s)
{
	int nid;

	memset(s, 0, sizeof(*s));
	for (nid = 0; nid < nr_nodes; nid++) {
		s->cap[nid] = count_of(_metadata, SYSFS "/node%d/capacity_pages", nid);
		s->nr[nid] = count_of(_metadata, SYSFS "/node%d/nr_pages", nid);
		s->free[nid] = count_of(_metadata, SYSFS "/node%d/free_pages", nid);
		s->resv[nid] = count_of(_metadata, SYSFS "/node%d/resv_pages", nid);
		s->used[nid] = count_of(_metadata, SYSFS "/node%d/used_pages", nid);
		s->fail[nid] = count_of(_metadata, SYSFS "/node%d/alloc_fail", nid);
		if (!s->cap[nid])
			continue;	/* no area, no CMA files */
		s->cma_avail[nid] = count_of(_metadata, CMA_AREA "/available_pages", nid);
		s->cma_ok[nid] = count_of(_metadata, CMA_AREA "/alloc_pages_success", nid);
		s->cma_rel[nid] = count_of(_metadata, CMA_AREA "/release_pages_success", nid);
	}
}

/*
 * The pool sizes that writing @target to the global nr_pages must leave,
 * from @nr before the write and the capacities @cap: one page at a time,
 * the nodes in turn, a node dropping out once it is full (growing) or
 * empty (shrinking), as Documentation/admin-guide/mm/gmem_cma.rst says.
 */
static void spread(const long *cap, long *nr, long target)
{
	int stuck[MAX_NODES] = { 0 };
	long cur = 0;
	bool grow, progress = true;
	int nid;

	for (nid = 0; nid < nr_nodes; nid++)
		cur += nr[nid];
	grow = target > cur;
	while (cur != target && progress) {
		progress = false;
		for (nid = 0; nid < nr_nodes && cur != target; nid++) {
			if (stuck[nid])
				continue;
			if (grow && nr[nid] < cap[nid]) {
				nr[nid]++;
				cur++;
				progress = true;
			} else if (!grow && nr[nid] > 0) {
				nr[nid]--;
				cur--;
				progress = true;
			} else {
				stuck[nid] = 1;
			}
		}
	}
}

/*
 * Every report agrees with the pool sizes in @want (per node), which the
 * caller worked out from what it wrote: nr_pages and free_pages per node
 * and summed, nothing reserved or in use, the capacities and alloc_fail as
 * in @base (taken before the write), /proc/meminfo, CMA's available pages,
 * and CMA's success and release counters moved from @base by exactly the
 * pages that went out (@grown) and came back (@shrunk).
 */
static void check_all(struct __test_metadata *_metadata, const long *want,
		      const struct snapshot *base, const long *grown,
		      const long *shrunk)
{
	long cap = 0, nr = 0, fail = 0;
	struct snapshot s;
	int nid;

	take(_metadata, &s);
	for (nid = 0; nid < nr_nodes; nid++) {
		EXPECT_EQ(base->cap[nid], s.cap[nid]) TH_LOG("node %d capacity_pages", nid);
		EXPECT_EQ(want[nid], s.nr[nid]) TH_LOG("node %d nr_pages", nid);
		EXPECT_EQ(want[nid], s.free[nid]) TH_LOG("node %d free_pages", nid);
		EXPECT_EQ(0, s.resv[nid]) TH_LOG("node %d resv_pages", nid);
		EXPECT_EQ(0, s.used[nid]) TH_LOG("node %d used_pages", nid);
		EXPECT_EQ(base->fail[nid], s.fail[nid]) TH_LOG("node %d alloc_fail", nid);
		cap += base->cap[nid];
		nr += want[nid];
		fail += base->fail[nid];
		if (!base->cap[nid])
			continue;
		EXPECT_EQ((base->cap[nid] - want[nid]) * PAGES_PER_GB, s.cma_avail[nid])
			TH_LOG("node %d cma available_pages", nid);
		EXPECT_EQ(base->cma_ok[nid] + grown[nid] * PAGES_PER_GB, s.cma_ok[nid])
			TH_LOG("node %d cma alloc_pages_success", nid);
		EXPECT_EQ(base->cma_rel[nid] + shrunk[nid] * PAGES_PER_GB, s.cma_rel[nid])
			TH_LOG("node %d cma release_pages_success", nid);
	}
	/* read_long() gives -1 or -2 for a missing or bad file: never equal. */
	EXPECT_EQ(cap, read_long(SYSFS "/capacity_pages"));
	EXPECT_EQ(nr, read_long(SYSFS "/nr_pages"));
	EXPECT_EQ(nr, read_long(SYSFS "/free_pages"));
	EXPECT_EQ(0, read_long(SYSFS "/resv_pages"));
	EXPECT_EQ(0, read_long(SYSFS "/used_pages"));
	EXPECT_EQ(fail, read_long(SYSFS "/alloc_fail"));
	EXPECT_EQ(nr << 20, meminfo_kb("GmemCmaTotal:"));
	EXPECT_EQ(nr << 20, meminfo_kb("GmemCmaFree:"));
	EXPECT_EQ(0, meminfo_kb("GmemCmaRsvd:"));
}

FIXTURE(pool) {
	struct snapshot base;	/* when the test started */
	long start[MAX_NODES];	/* pool sizes when the test started */
	long want[MAX_NODES];	/* pool sizes the writes so far must have left */
	long total_cap;		/* the capacities of base, summed */
	int node;	/* the smallest node with an area of two pages or more */
};

FIXTURE_SETUP(pool)
{
	char path[96];
	long total;
	int nid;

	if (getuid())
		SKIP(return, "needs root");
	total = read_long(SYSFS "/capacity_pages");
	if (total == -1 && path_absent(SYSFS))
		SKIP(return, "no %s: kernel without CONFIG_GMEM_CMA", SYSFS);
	ASSERT_GE(total, 0) TH_LOG(SYSFS "/capacity_pages cannot be read or is not a number");
	if (!total && !cmdline_has("gmem_cma"))
		SKIP(return, "no gmem_cma areas (boot with gmem_cma=)");
	ASSERT_GT(total, 0) TH_LOG("gmem_cma= is on the command line but no area exists");
	for (nr_nodes = 0; nr_nodes < MAX_NODES; nr_nodes++) {
		snprintf(path, sizeof(path), SYSFS "/node%d", nr_nodes);
		if (path_absent(path))
			break;
	}
	ASSERT_GT(nr_nodes, 0) TH_LOG("no " SYSFS "/node<N> directory");
	take(_metadata, &self->base);
	memcpy(self->start, self->base.nr, sizeof(self->start));
	memcpy(self->want, self->base.nr, sizeof(self->want));
	self->total_cap = 0;
	self->node = -1;
	for (nid = 0; nid < nr_nodes; nid++) {
		self->total_cap += self->base.cap[nid];
		if (self->base.cap[nid] >= 2 &&
		    (self->node < 0 || node_meminfo_kb(nid, "MemTotal:") <
				       node_meminfo_kb(self->node, "MemTotal:")))
			self->node = nid;
	}
	ASSERT_EQ(total, self->total_cap) TH_LOG("capacity_pages is not the sum of the nodes'");
	if (self->node < 0)
		SKIP(return, "needs a node with an area of two pages or more");
}

/*
 * Put every pool back to its size at the start and check it is exact; over
 * the whole test, CMA must have got back exactly the pages it gave out.
 */
FIXTURE_TEARDOWN(pool)
{
	long grown[MAX_NODES], shrunk[MAX_NODES];
	struct snapshot now, end;
	int nid;

	if (!nr_nodes)
		return;
	take(_metadata, &now);
	for (nid = 0; nid < nr_nodes; nid++) {
		long d = self->start[nid] - now.nr[nid];

		grown[nid] = d > 0 ? d : 0;
		shrunk[nid] = d < 0 ? -d : 0;
		EXPECT_EQ(0, set_pages(nid, self->start[nid]));
	}
	check_all(_metadata, self->start, &now, grown, shrunk);
	take(_metadata, &end);
	for (nid = 0; nid < nr_nodes; nid++) {
		if (!self->base.cap[nid])
			continue;
		EXPECT_EQ(end.cma_ok[nid] - self->base.cma_ok[nid],
			  end.cma_rel[nid] - self->base.cma_rel[nid])
			TH_LOG("node %d: CMA gave out and got back different amounts", nid);
		EXPECT_EQ(0, (end.cma_ok[nid] - self->base.cma_ok[nid]) % PAGES_PER_GB);
	}
}

/*
 * Set node @nid's pool (or the total, @nid < 0) to @pages, and check every
 * report against what that write must leave: @pages on that node and the
 * others as they were, or the total spread over the nodes in turn.
 */
static void resize(struct __test_metadata *_metadata, struct _test_data_pool *self,
		   int nid, long pages)
{
	long want[MAX_NODES], grown[MAX_NODES], shrunk[MAX_NODES];
	struct snapshot before;
	int n;

	take(_metadata, &before);
	memcpy(want, self->want, sizeof(want));
	if (nid < 0)
		spread(self->base.cap, want, pages);
	else
		want[nid] = pages;
	for (n = 0; n < nr_nodes; n++) {
		long d = want[n] - self->want[n];

		grown[n] = d > 0 ? d : 0;
		shrunk[n] = d < 0 ? -d : 0;
	}
	ASSERT_EQ(0, set_pages(nid, pages)) TH_LOG("node %d <- %ld", nid, pages);
	check_all(_metadata, want, &before, grown, shrunk);
	memcpy(self->want, want, sizeof(want));
}

TEST_F(pool, grow_and_shrink_each_node)
{
	int nid;

	for (nid = 0; nid < nr_nodes; nid++) {
		if (self->base.cap[nid] <= 0)
			continue;
		resize(_metadata, self, nid, 0);
		resize(_metadata, self, nid, self->base.cap[nid]);
		resize(_metadata, self, nid, 1);
		resize(_metadata, self, nid, self->start[nid]);
	}
}

TEST_F(pool, grow_and_shrink_total)
{
	int nid;

	resize(_metadata, self, -1, 0);
	resize(_metadata, self, -1, self->total_cap);
	for (nid = 0; nid < nr_nodes; nid++)
		EXPECT_EQ(self->base.cap[nid],
			  read_long_fmt(SYSFS "/node%d/nr_pages", nid)) TH_LOG("node %d", nid);
	/* Shrinking the total spreads over the nodes, like nr_hugepages. */
	resize(_metadata, self, -1, nr_nodes);
	for (nid = 0; nid < nr_nodes; nid++)
		if (self->base.cap[nid] > 0)
			EXPECT_EQ(1, read_long_fmt(SYSFS "/node%d/nr_pages", nid))
				TH_LOG("node %d", nid);
	resize(_metadata, self, -1, 0);
}

/* Each bad write fails with its errno and changes nothing. */
TEST_F(pool, bad_writes)
{
	static const struct { const char *val; int err; } bad[] = {
		{ "abc\n", EINVAL }, { "-1\n", EINVAL }, { "\n", EINVAL },
		{ "1x\n", EINVAL }, { "1.5\n", EINVAL }, { " 1\n", EINVAL },
		{ "99999999999999999999\n", ERANGE },
		{ "18446744073709551615\n", EINVAL },
	};
	char path[96], val[32];
	struct snapshot before, after;
	int nid = self->node, i, w;

	take(_metadata, &before);
	for (w = 0; w < 2; w++) {
		if (w)
			snprintf(path, sizeof(path), SYSFS "/nr_pages");
		else
			snprintf(path, sizeof(path), SYSFS "/node%d/nr_pages", nid);
		for (i = 0; i < (int)ARRAY_SIZE(bad); i++)
			EXPECT_EQ(bad[i].err, write_str(path, bad[i].val))
				TH_LOG("%s <- bad[%d]", path, i);
		snprintf(val, sizeof(val), "%ld\n", (w ? self->total_cap : before.cap[nid]) + 1);
		EXPECT_EQ(EINVAL, write_str(path, val)) TH_LOG("above capacity");
	}
	take(_metadata, &after);
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
}

/*
 * Two writers at once: each write either completes or fails with EBUSY,
 * and the pools stay consistent.  Loops until it has seen a collision.
 */
TEST_F(pool, concurrent_writers)
{
	long *seen = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long cap = self->base.cap[self->node];
	int child, status, i, k;

	ASSERT_NE(MAP_FAILED, seen);
	memset(seen, 0, 4096);
	for (k = 0; k < 2; k++) {
		child = fork();
		ASSERT_GE(child, 0);
		if (child)
			continue;
		for (i = 0; i < 400 && !seen[2]; i++) {
			int err = set_pages(k ? -1 : self->node, (i + k) % 2 ? cap : 0);

			if (!err)
				__atomic_add_fetch(&seen[0], 1, __ATOMIC_SEQ_CST);
			else if (err == EBUSY)
				__atomic_add_fetch(&seen[2], 1, __ATOMIC_SEQ_CST);
			else
				__atomic_add_fetch(&seen[3], 1, __ATOMIC_SEQ_CST);
		}
		_exit(0);
	}
	for (k = 0; k < 2; k++) {
		wait(&status);
		EXPECT_EQ(0, status);
	}
	TH_LOG("%ld writes done, %ld EBUSY, %ld other errors", seen[0], seen[2], seen[3]);
	EXPECT_GT(seen[0], 0);
	EXPECT_GT(seen[2], 0);
	EXPECT_EQ(0, seen[3]);
	munmap(seen, 4096);
	/* The teardown checks that the reports agree with whatever won. */
}

/*
 * Fill node @nid with anonymous memory (leaving @margin_mb free), so that
 * part of its CMA area is lent out.  Returns the buffer and its size.
 */
static char *fill_node(int nid, long margin_mb, size_t *len)
{
	long free_kb;
	char *buf;
	size_t i;

	free_kb = node_meminfo_kb(nid, "MemFree:");
	if (free_kb < margin_mb * 1024 + 65536)
		return NULL;
	*len = (size_t)(free_kb - margin_mb * 1024) * 1024;
	buf = mmap(NULL, *len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (buf == MAP_FAILED)
		return NULL;
	if (bind_to_node(buf, *len, nid)) {
		munmap(buf, *len);
		return NULL;
	}
	for (i = 0; i < *len; i += 4096)
		*(uint64_t *)(buf + i) = i ^ 0x5a5a5a5a5a5a5a5aULL;
	return buf;
}

#define CACHE_FILE	"/tmp/gmem_cma_pool.cache"
#define CACHE_MB	256

/*
 * Write a tmpfs file (page cache, shmem) from node @nid, so that its pages
 * land there too.  Returns 0 or -1.
 */
static int write_cache_file(int nid)
{
	unsigned long mask = 1UL << nid;
	uint64_t block[512];
	int fd, i, j;

	if (syscall(__NR_set_mempolicy, MPOL_BIND, &mask, sizeof(mask) * 8))
		return -1;
	fd = open(CACHE_FILE, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	for (i = 0; fd >= 0 && i < CACHE_MB * 256; i++) {
		for (j = 0; j < 512; j++)
			block[j] = (uint64_t)i << 9 | j;
		if (write(fd, block, sizeof(block)) != sizeof(block))
			break;
	}
	syscall(__NR_set_mempolicy, 0, NULL, 0);
	if (fd < 0)
		return -1;
	close(fd);
	return i == CACHE_MB * 256 ? 0 : -1;
}

/* The file still holds what write_cache_file() wrote. */
static int cache_file_intact(void)
{
	uint64_t block[512];
	int fd, i, j, bad = 0;

	fd = open(CACHE_FILE, O_RDONLY);
	if (fd < 0)
		return 0;
	for (i = 0; i < CACHE_MB * 256 && !bad; i++) {
		if (read(fd, block, sizeof(block)) != sizeof(block))
			bad = 1;
		for (j = 0; j < 512 && !bad; j++)
			bad = block[j] != ((uint64_t)i << 9 | j);
	}
	close(fd);
	return !bad;
}

/*
 * Growing while the area is lent to page cache (a tmpfs file) and
 * anonymous memory migrates them away, and their contents survive.
 */
TEST_F_TIMEOUT(pool, grow_through_movable_memory, 600)
{
	int nid = self->node;
	long cap = self->base.cap[nid], lent;
	size_t len, i;
	char *buf;

	ASSERT_EQ(0, set_pages(nid, 0));
	ASSERT_EQ(0, write_cache_file(nid));
	buf = fill_node(nid, FILL_MARGIN_MB, &len);
	ASSERT_NE(NULL, buf) TH_LOG("cannot fill node %d", nid);
	lent = node_free_cma(nid);
	ASSERT_GE(lent, 0) TH_LOG("no nr_free_cma for node %d in /proc/zoneinfo", nid);
	lent = cap * PAGES_PER_GB - lent;
	TH_LOG("node %d: %ld MiB of the area lent to movable pages", nid, lent >> 8);
	EXPECT_GT(lent, PAGES_PER_GB / 4) TH_LOG("the area was not used by the allocator");

	EXPECT_EQ(0, set_pages(nid, cap));
	EXPECT_EQ(cap, read_long_fmt(SYSFS "/node%d/nr_pages", nid));
	for (i = 0; i < len; i += 4096)
		if (*(uint64_t *)(buf + i) != (i ^ 0x5a5a5a5a5a5a5a5aULL))
			break;
	EXPECT_EQ(len, i) TH_LOG("data changed at offset %zu after migration", i);
	EXPECT_TRUE(cache_file_intact()) TH_LOG("the tmpfs file changed after migration");
	munmap(buf, len);
	unlink(CACHE_FILE);
}

static long pfn_of(int pagemap, void *addr)
{
	uint64_t ent;

	if (pread(pagemap, &ent, sizeof(ent), ((uintptr_t)addr / 4096) * 8) != sizeof(ent))
		return -1;
	return (ent & (1ULL << 63)) ? (long)(ent & ((1ULL << 55) - 1)) : -1;
}

/*
 * A page held by a pipe (vmsplice) cannot be migrated: the block holding it
 * cannot be taken, the other blocks can, and the failure is counted once.
 */
TEST_F_TIMEOUT(pool, pinned_block_fails_only_that_block, 600)
{
	int nid = self->node, pagemap, pipefd[2];
	long cap = self->base.cap[nid], base_pfn = -1, pfn = -1, fail0, total_fail0;
	long range_end = -1;
	char line[256];
	struct iovec iov;
	size_t len, i;
	FILE *areas;
	char *buf;

	ASSERT_GE(cap, 2);	/* the fixture picked such a node */
	areas = fopen("/sys/kernel/debug/gmem_cma/areas", "r");
	ASSERT_NE(NULL, areas);
	while (fgets(line, sizeof(line), areas)) {
		int n, r;
		unsigned long b, e;
		char name[32];

		if (sscanf(line, "%d %31s %d 0x%lx 0x%lx", &n, name, &r, &b, &e) == 5 &&
		    n == nid && base_pfn < 0) {
			base_pfn = b;
			range_end = e;
		}
	}
	fclose(areas);
	ASSERT_GE(base_pfn, 0);

	ASSERT_EQ(0, set_pages(nid, 0));
	buf = fill_node(nid, FILL_MARGIN_MB, &len);
	ASSERT_NE(NULL, buf) TH_LOG("cannot fill node %d", nid);
	pagemap = open("/proc/self/pagemap", O_RDONLY);
	ASSERT_GE(pagemap, 0);
	/* A page of ours in a block of the area's first range. */
	for (i = 0; i < len; i += 4096) {
		pfn = pfn_of(pagemap, buf + i);
		if (pfn >= base_pfn && pfn < range_end)
			break;
	}
	close(pagemap);
	ASSERT_LT(i, len) TH_LOG("no page of the buffer landed in the area");
	TH_LOG("pinning pfn 0x%lx, in block %ld of the area", pfn,
	       (pfn - base_pfn) / PAGES_PER_GB);

	ASSERT_EQ(0, pipe(pipefd));
	iov.iov_base = buf + i;
	iov.iov_len = 4096;
	ASSERT_EQ(4096, vmsplice(pipefd[1], &iov, 1, 0));

	fail0 = count_of(_metadata, SYSFS "/node%d/alloc_fail", nid);
	total_fail0 = count_of(_metadata, SYSFS "/alloc_fail", 0);
	EXPECT_EQ(ENOMEM, set_pages(nid, cap));
	EXPECT_EQ(cap - 1, read_long_fmt(SYSFS "/node%d/nr_pages", nid));
	EXPECT_EQ(fail0 + 1, read_long_fmt(SYSFS "/node%d/alloc_fail", nid));
	EXPECT_EQ(total_fail0 + 1, read_long_fmt(SYSFS "/alloc_fail", 0));

	/* Once the pipe lets go, the block can be taken. */
	close(pipefd[0]);
	close(pipefd[1]);
	EXPECT_EQ(0, set_pages(nid, cap));
	EXPECT_EQ(cap, read_long_fmt(SYSFS "/node%d/nr_pages", nid));
	munmap(buf, len);
}

TEST_HARNESS_MAIN
