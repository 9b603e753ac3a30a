// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark, not a test: how long it takes to take 1 GiB pages out of CMA
 * for a gmem_cma pool, side by side with allocating 1 GiB hugetlb pages
 * from hugetlb_cma= and with memset() over the same amount of memory, with
 * idle CMA areas and with areas full of movable pages.
 *
 * usage: gmem_cma_bench <gmem-node> <hugetlb-node> <pages> [rounds]
 * Needs gmem_cma=<gmem-node>:<pages>G and hugetlb_cma=<hugetlb-node>:<pages>G.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gmem_cma_util.h"

#define GB		(1024UL * 1024 * 1024)
#define MAX_ROUNDS	15

static int write_num(const char *path, long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld\n", v);
	return write_str(path, buf);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

#define CHUNK		(128UL << 20)
#define MAX_CHUNKS	256

struct fill {
	void *chunk[MAX_CHUNKS];
	int nr;
	long lent_mb;
};

/*
 * Fill node @nid with anonymous memory, 128 MiB at a time, until its CMA
 * areas are lent out (less than 32 MiB of them free) or the node is nearly
 * full, so that every case migrates as much as its area holds.
 */
static int fill_node(int nid, struct fill *f)
{
	long cma_before = node_free_cma(nid);
	size_t i;
	char *buf;

	f->nr = 0;
	while (f->nr < MAX_CHUNKS && node_free_cma(nid) > 8192 &&
	       node_meminfo_kb(nid, "MemFree:") > 400 * 1024) {
		buf = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (buf == MAP_FAILED)
			return -1;
		if (bind_to_node(buf, CHUNK, nid))
			return -1;
		for (i = 0; i < CHUNK; i += 4096)
			buf[i] = 1;
		f->chunk[f->nr++] = buf;
	}
	f->lent_mb = (cma_before - node_free_cma(nid)) >> 8;
	return 0;
}

static void unfill(struct fill *f)
{
	while (f->nr)
		munmap(f->chunk[--f->nr], CHUNK);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static long lent_mb[2];

/* Median time in ms of growing @file from 0 to @pages and back. */
static double time_grow(const char *file, long pages, int rounds, int fill_nid,
			long *lent)
{
	double t[MAX_ROUNDS];
	struct fill f = { .nr = 0 };
	int r;

	for (r = 0; r < rounds; r++) {
		if (fill_nid >= 0) {
			if (fill_node(fill_nid, &f))
				return -1;
			*lent = f.lent_mb;
		}
		t[r] = now_ms();
		if (write_num(file, pages) || read_long(file) != pages) {
			fprintf(stderr, "gmem_cma_bench: %s: cannot grow to %ld\n", file, pages);
			return -1;
		}
		t[r] = now_ms() - t[r];
		write_num(file, 0);
		unfill(&f);
	}
	qsort(t, rounds, sizeof(t[0]), cmp_double);
	return t[rounds / 2];
}

static double time_memset(int nid, long pages, int rounds)
{
	size_t len = pages * GB;
	double t[MAX_ROUNDS];
	char *buf;
	int r;

	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return -1;
	bind_to_node(buf, len, nid);
	memset(buf, 1, len);	/* populate first: time the memset only */
	for (r = 0; r < rounds; r++) {
		t[r] = now_ms();
		memset(buf, r, len);
		t[r] = now_ms() - t[r];
	}
	munmap(buf, len);
	qsort(t, rounds, sizeof(t[0]), cmp_double);
	return t[rounds / 2];
}

int main(int argc, char **argv)
{
	char gmem[96], huge[128];
	int gnid, hnid, rounds;
	double v[5];
	long pages;

	if (argc < 4) {
		fprintf(stderr, "usage: %s <gmem-node> <hugetlb-node> <pages> [rounds]\n", argv[0]);
		return 2;
	}
	gnid = atoi(argv[1]);
	hnid = atoi(argv[2]);
	pages = atol(argv[3]);
	rounds = argc > 4 ? atoi(argv[4]) : 3;
	if (pages < 1 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "gmem_cma_bench: bad pages or rounds\n");
		return 2;
	}
	snprintf(gmem, sizeof(gmem), "/sys/kernel/mm/gmem_cma/node%d/nr_pages", gnid);
	snprintf(huge, sizeof(huge),
		 "/sys/devices/system/node/node%d/hugepages/hugepages-1048576kB/nr_hugepages",
		 hnid);

	/*
	 * One untimed grow of each first: the first contiguous allocation
	 * after boot pays for draining per-cpu lists and caches.
	 */
	if (time_grow(gmem, pages, 1, -1, NULL) < 0 || time_grow(huge, pages, 1, -1, NULL) < 0)
		return 1;
	v[0] = time_grow(gmem, pages, rounds, -1, NULL);
	v[1] = time_grow(gmem, pages, rounds, gnid, &lent_mb[0]);
	v[2] = time_grow(huge, pages, rounds, -1, NULL);
	v[3] = time_grow(huge, pages, rounds, hnid, &lent_mb[1]);
	v[4] = time_memset(gnid, pages, rounds);
	if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0 || v[4] < 0)
		return 1;

	/* One line per measurement: what, state, node, ms per GiB, MiB lent. */
	printf("BENCH gmem_cma idle %d %.1f 0\n", gnid, v[0] / pages);
	printf("BENCH gmem_cma busy %d %.1f %ld\n", gnid, v[1] / pages, lent_mb[0]);
	printf("BENCH hugetlb idle %d %.1f 0\n", hnid, v[2] / pages);
	printf("BENCH hugetlb busy %d %.1f %ld\n", hnid, v[3] / pages, lent_mb[1]);
	printf("BENCH memset populated %d %.1f 0\n", gnid, v[4] / pages);
	return 0;
}
