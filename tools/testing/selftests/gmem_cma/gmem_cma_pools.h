/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the memory-failure tests (gmem_cma_hwpoison and KVM's
 * guest_memfd_1g_poison_test): the pools' counters in debugfs and sysfs,
 * their folio lists, the hwpoison injector and the page flags it sets.
 * Include after kselftest_harness.h (or kselftest.h).
 */
#ifndef _GMEM_CMA_POOLS_H
#define _GMEM_CMA_POOLS_H

#include <stdbool.h>
#include <stdint.h>

#include "gmem_cma_util.h"

#define GMEM_CMA_POOLS		"/sys/kernel/debug/gmem_cma/pools"
#define ZEROER			"/sys/kernel/debug/gmem_cma/zeroer"
#define HWPOISON_CORRUPT	"/sys/kernel/debug/hwpoison/corrupt-pfn"
#define HWPOISON_UNPOISON	"/sys/kernel/debug/hwpoison/unpoison-pfn"
#define KPF_HWPOISON_BIT	19

struct folio_line {
	unsigned long pfn;
	char state[16];
	long shared;
};

/* The folio lines of node @nid in debugfs; returns how many, -1 if none. */
static inline int pool_folios(int nid, struct folio_line *f, int max)
{
	static char text[1 << 16];
	char hdr[32], *p, *end;
	int n = 0;

	if (read_text(GMEM_CMA_POOLS, text, sizeof(text)))
		return -1;
	snprintf(hdr, sizeof(hdr), "node %d: capacity", nid);
	p = strstr(text, hdr);
	if (!p)
		return -1;
	end = strstr(p + 1, "\nnode ");
	end = end ? strstr(end + 1, "\nnode ") : NULL;	/* skip the vmemmap line */
	for (p = strstr(p, "\n  0x"); p && (!end || p < end) && n < max;
	     p = strstr(p + 1, "\n  0x")) {
		if (sscanf(p, " 0x%lx %15s vmemmap_shared %ld/", &f[n].pfn,
			   f[n].state, &f[n].shared) == 3)
			n++;
	}
	return n;
}

/* The pfn of the one folio node @nid lists in @state; 0 unless exactly one. */
static inline unsigned long pool_only_folio(int nid, const char *state)
{
	struct folio_line f[8];
	int n = pool_folios(nid, f, 8), i, nr = 0;
	unsigned long pfn = 0;

	for (i = 0; i < n; i++) {
		if (!strcmp(f[i].state, state)) {
			pfn = f[i].pfn;
			nr++;
		}
	}
	return nr == 1 ? pfn : 0;
}

/* A counter of the "node <nid>:" lines of debugfs (e.g. "poisoned"), or -1. */
static inline long pool_field(int nid, const char *key)
{
	static char text[1 << 16];
	char hdr[32], k[40], *p, *q;

	if (read_text(GMEM_CMA_POOLS, text, sizeof(text)))
		return -1;
	snprintf(hdr, sizeof(hdr), "node %d: ", nid);
	snprintf(k, sizeof(k), " %s ", key);
	for (p = strstr(text, hdr); p; p = strstr(p + 1, hdr)) {
		q = strstr(p, k);
		if (q && q < strchr(p, '\n'))
			return strtol(q + strlen(k), NULL, 10);
	}
	return -1;
}

/* A counter of the "node <nid>:" line of debugfs gmem_cma/zeroer, or -1. */
static inline long zeroer_field(int nid, const char *key)
{
	static char text[4096];
	char hdr[32], k[40], *p, *q;

	if (read_text(ZEROER, text, sizeof(text)))
		return -1;
	snprintf(hdr, sizeof(hdr), "node %d: ", nid);
	snprintf(k, sizeof(k), " %s ", key);
	p = strstr(text, hdr);
	q = p ? strstr(p, k) : NULL;
	if (!q || q > strchr(p, '\n'))
		return -1;
	return strtol(q + strlen(k), NULL, 0);
}

/* The number in sysfs file @name of node @nid's pool, or -1. */
static inline long node_sysfs(int nid, const char *name)
{
	char path[160];

	snprintf(path, sizeof(path), GMEM_CMA_SYSFS "/node%d/%s", nid, name);
	return read_long(path);
}

/* Set node @nid's pool to @pages pages: 0 or the errno. */
static inline int set_pages(int nid, long pages)
{
	char path[96], v[32];

	snprintf(path, sizeof(path), GMEM_CMA_SYSFS "/node%d/nr_pages", nid);
	snprintf(v, sizeof(v), "%ld", pages);
	return write_str(path, v);
}

/*
 * Node @nid's pool is exactly nr_pages @nr, free @free, resv @resv, used
 * @used and poisoned @poisoned, in debugfs and in sysfs alike, within
 * @secs seconds (a folio's last put may lag, a replacement takes a grow).
 */
static inline bool pool_is(int nid, long nr, long free, long resv, long used,
			   long poisoned, int secs)
{
	long got[9];
	int i;

	for (i = 0; i <= secs * 100; i++) {
		got[0] = pool_field(nid, "nr_pages");
		got[1] = pool_field(nid, "free");
		got[2] = pool_field(nid, "resv");
		got[3] = pool_field(nid, "used");
		got[4] = pool_field(nid, "poisoned");
		got[5] = node_sysfs(nid, "nr_pages");
		got[6] = node_sysfs(nid, "free_pages");
		got[7] = node_sysfs(nid, "resv_pages");
		got[8] = node_sysfs(nid, "used_pages");
		if (got[0] == nr && got[1] == free && got[2] == resv &&
		    got[3] == used && got[4] == poisoned && got[5] == nr &&
		    got[6] == free && got[7] == resv && got[8] == used)
			return true;
		if (i < secs * 100)
			usleep(10000);
	}
	ksft_print_msg("node %d (nr_pages/free/resv/used/poisoned): debugfs %ld/%ld/%ld/%ld/%ld\n",
		       nid, got[0], got[1], got[2], got[3], got[4]);
	ksft_print_msg("node %d: sysfs %ld/%ld/%ld/%ld, want %ld/%ld/%ld/%ld/%ld\n", nid,
		       got[5], got[6], got[7], got[8], nr, free, resv, used, poisoned);
	return false;
}

/*
 * Write @pfn to a hwpoison debugfs file (@path): 0 if the whole write went
 * through, else the errno.
 */
static inline int hwpoison_write(const char *path, unsigned long pfn)
{
	char v[32];
	ssize_t n;
	int fd, err = 0;

	snprintf(v, sizeof(v), "%#lx", pfn);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	n = write(fd, v, strlen(v));
	if (n < 0)
		err = errno;
	else if (n != (ssize_t)strlen(v))
		err = EIO;
	close(fd);
	return err;
}

/*
 * The pages of the 1 GiB folio at @pfn that /proc/kpageflags shows with
 * KPF_HWPOISON: how many (-1 if it cannot be read), the first in *@first.
 */
static inline long hwpoisoned(unsigned long pfn, unsigned long *first)
{
	size_t len = PAGES_PER_GB * sizeof(uint64_t);
	uint64_t *flags = malloc(len);
	long n = -1, i;
	int fd;

	*first = 0;
	fd = open("/proc/kpageflags", O_RDONLY);
	if (flags && fd >= 0 && pread(fd, flags, len, pfn * sizeof(uint64_t)) == (ssize_t)len) {
		for (i = 0, n = 0; i < PAGES_PER_GB; i++) {
			if (!(flags[i] & (1ULL << KPF_HWPOISON_BIT)))
				continue;
			if (!n++)
				*first = pfn + i;
		}
	}
	if (fd >= 0)
		close(fd);
	free(flags);
	return n;
}

/* HardwareCorrupted of /proc/meminfo in kB, or -1. */
static inline long hw_corrupted_kb(void)
{
	char text[8192];

	if (read_text("/proc/meminfo", text, sizeof(text)))
		return -1;
	return text_field(text, "HardwareCorrupted:");
}

/* The pfn mapped at @addr (0 if none), from /proc/self/pagemap. */
static inline unsigned long pagemap_pfn(const void *addr)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e), (unsigned long)addr / 4096 * sizeof(e)) != sizeof(e))
		e = 0;
	close(fd);
	return e >> 63 ? e & ((1ULL << 55) - 1) : 0;
}

#endif /* _GMEM_CMA_POOLS_H */
