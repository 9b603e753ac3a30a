// SPDX-License-Identifier: GPL-2.0
/*
 * Memory failure in the pools' 1 GiB folios, whose vmemmap is trimmed: a
 * poisoned page of a free folio, of a folio in use by a private guest_memfd
 * file and of a folio host userspace maps is contained without an oops or a
 * warning, gets PG_hwpoison, and takes its folio out of use; soft offline
 * (MADV_SOFT_OFFLINE) refuses such pages.
 *
 * Poisoned folios are never handed out again, so the pools do not return to
 * their baseline: the test runs only when the kernel command line has
 * gmem_hwpoison_test (make check boots a kernel for it alone), and skips
 * otherwise.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "../kselftest_harness.h"
#include "gmem_cma_util.h"

#define POOLS		"/sys/kernel/debug/gmem_cma/pools"
#define CORRUPT		"/sys/kernel/debug/hwpoison/corrupt-pfn"
#define KPF_HWPOISON	19
#ifndef MADV_HWPOISON
#define MADV_HWPOISON		100
#endif
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE	101
#endif
#define CHUNK		512L		/* 4 KiB pages in a 2 MiB chunk */
#define SAVED_PER_GB	4095L
#define GB		0x40000000UL

struct folio_line {
	unsigned long pfn;
	char state[16];
	long shared;
};

/* The folio lines of node @nid in debugfs; returns how many. */
static int folios(int nid, struct folio_line *f, int max)
{
	static char text[1 << 16];
	char hdr[32], *p, *end;
	int n = 0;

	if (read_text(POOLS, text, sizeof(text)))
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

/* A counter of the "node <nid>:" lines of debugfs (e.g. "poisoned"). */
static long pool_field(int nid, const char *key)
{
	static char text[1 << 16];
	char hdr[32], k[40], *p, *q;

	if (read_text(POOLS, text, sizeof(text)))
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

/* Wait up to 2 s for a counter to reach @want (a folio's last put may lag). */
static long wait_field(int nid, const char *key, long want)
{
	long v = pool_field(nid, key);

	for (int i = 0; i < 200 && v != want; i++) {
		usleep(10000);
		v = pool_field(nid, key);
	}
	return v;
}

static struct folio_line *find(struct folio_line *f, int n, unsigned long pfn)
{
	for (int i = 0; i < n; i++)
		if (f[i].pfn == pfn)
			return &f[i];
	return NULL;
}

static int write_pfn(const char *path, unsigned long pfn)
{
	char v[32];

	snprintf(v, sizeof(v), "%#lx", pfn);
	return write_str(path, v);
}

/* The /proc/kpageflags of @pfn; failing to read it fails the test. */
static uint64_t page_flags(struct __test_metadata *_metadata, unsigned long pfn)
{
	uint64_t v = 0;
	ssize_t n;
	int fd;

	fd = open("/proc/kpageflags", O_RDONLY);
	ASSERT_GE(fd, 0) TH_LOG("/proc/kpageflags: %s", strerror(errno));
	n = pread(fd, &v, sizeof(v), pfn * sizeof(v));
	close(fd);
	ASSERT_EQ(sizeof(v), n) TH_LOG("/proc/kpageflags of pfn 0x%lx", pfn);
	return v;
}

static long hw_corrupted_kb(void)
{
	char text[8192];

	if (read_text("/proc/meminfo", text, sizeof(text)))
		return -1;
	return text_field(text, "HardwareCorrupted:");
}

static int set_pages(int nid, long pages)
{
	char path[96], v[32];

	snprintf(path, sizeof(path), GMEM_CMA_SYSFS "/node%d/nr_pages", nid);
	snprintf(v, sizeof(v), "%ld", pages);
	return write_str(path, v);
}

static long pool_pages(int nid)
{
	return read_long_fmt(GMEM_CMA_SYSFS "/node%d/nr_pages", nid);
}

static long saved(int nid)
{
	return read_long_fmt(GMEM_CMA_SYSFS "/node%d/vmemmap_saved_pages", nid);
}

/*
 * Whether the test may run: only with gmem_hwpoison_test on the command
 * line (a skip otherwise).  The boot that asks for it is made for it, so
 * what it needs is then required, not a reason to skip.  The caller
 * returns when this returns false: SKIP() here only leaves this function.
 */
static bool require_run(struct __test_metadata *_metadata)
{
	char cmdline[4096];

	if (read_text("/proc/cmdline", cmdline, sizeof(cmdline)) ||
	    !strstr(cmdline, "gmem_hwpoison_test"))
		SKIP(return false, "leaves poisoned pages: runs only with gmem_hwpoison_test");
	EXPECT_EQ(0, access(CORRUPT, W_OK)) TH_LOG("no %s (CONFIG_HWPOISON_INJECT)", CORRUPT);
	EXPECT_LE(2, read_long(GMEM_CMA_SYSFS "/node0/capacity_pages"))
		TH_LOG("needs 2 pages of area on node 0");
	EXPECT_LE(2, read_long(GMEM_CMA_SYSFS "/node1/capacity_pages"))
		TH_LOG("needs 2 pages of area on node 1");
	return !_metadata->exit_code;
}

/* A 1 GiB guest_memfd bound to node 1, in a new VM; returns the fd. */
static int gmem_on_node1(struct __test_metadata *_metadata, int *vm, uint64_t flags)
{
	struct kvm_create_guest_memfd gmem = {
		.size = GB,
		.flags = flags | GUEST_MEMFD_FLAG_HUGE_PAGES,
		.huge_page_size_log2 = 30,
	};
	unsigned long mask = 1UL << 1;
	int kvm, fd;

	kvm = open("/dev/kvm", O_RDWR);
	ASSERT_GE(kvm, 0);
	*vm = ioctl(kvm, KVM_CREATE_VM, 0);
	ASSERT_GE(*vm, 0);
	close(kvm);
	ASSERT_EQ(syscall(SYS_set_mempolicy, MPOL_BIND, &mask, 64), 0);
	fd = ioctl(*vm, KVM_CREATE_GUEST_MEMFD, &gmem);
	ASSERT_EQ(syscall(SYS_set_mempolicy, 0, NULL, 0), 0);
	ASSERT_GE(fd, 0) TH_LOG("KVM_CREATE_GUEST_MEMFD: %s", strerror(errno));
	return fd;
}

/* The one used folio of node 1: exactly one must be listed. */
static struct folio_line used_folio(struct __test_metadata *_metadata)
{
	struct folio_line f[8];
	int n = folios(1, f, 8), used = -1, nr_used = 0;

	ASSERT_GE(n, 0) TH_LOG("cannot read node 1 of %s", POOLS);
	for (int i = 0; i < n; i++) {
		if (!strcmp(f[i].state, "used")) {
			used = i;
			nr_used++;
		}
	}
	ASSERT_EQ(1, nr_used) TH_LOG("node 1 lists %d used folios", nr_used);
	return f[used];
}

TEST(free_folio)
{
	struct folio_line f[8], *a, *b;
	unsigned long pfn, healthy;
	long base, hc, s0, p0;
	int n;

	if (!require_run(_metadata))
		return;
	/* Baselines: a missing counter (-1) fails here, not in a comparison. */
	base = pool_pages(0);
	ASSERT_GE(base, 0);
	p0 = pool_field(0, "poisoned");
	ASSERT_GE(p0, 0);
	ASSERT_EQ(set_pages(0, base + 2), 0);
	s0 = saved(0);
	ASSERT_GE(s0, 2 * SAVED_PER_GB);
	n = folios(0, f, 8);
	ASSERT_EQ(n, base + 2);
	a = &f[n - 2];
	b = &f[n - 1];
	ASSERT_STREQ(a->state, "free");
	ASSERT_EQ(a->shared, 512);
	pfn = a->pfn + 5 * CHUNK + 7;
	healthy = b->pfn;
	hc = hw_corrupted_kb();
	ASSERT_GE(hc, 0) TH_LOG("no HardwareCorrupted in /proc/meminfo");

	EXPECT_EQ(write_pfn(CORRUPT, pfn), EBUSY);
	EXPECT_EQ(pool_field(0, "poisoned"), p0 + 1);
	EXPECT_EQ(pool_pages(0), base + 1);
	EXPECT_EQ(saved(0), s0 - 8);
	EXPECT_NE(page_flags(_metadata, pfn) & (1ULL << KPF_HWPOISON), 0);
	EXPECT_EQ(page_flags(_metadata, pfn + 1) & (1ULL << KPF_HWPOISON), 0);
	EXPECT_EQ(hw_corrupted_kb(), hc + 4);
	n = folios(0, f, 8);
	EXPECT_EQ(n, base + 2) TH_LOG("the poisoned folio is still listed, and the healthy one");
	a = find(f, n, pfn & ~(PAGES_PER_GB - 1));
	ASSERT_NE(a, NULL);
	EXPECT_STREQ(a->state, "poisoned");
	EXPECT_EQ(a->shared, 511);

	/* Again: already poisoned, nothing changes. */
	EXPECT_EQ(write_pfn(CORRUPT, pfn), EBUSY);
	EXPECT_EQ(pool_field(0, "poisoned"), p0 + 1);
	EXPECT_EQ(hw_corrupted_kb(), hc + 4);

	b = find(f, n, healthy);
	ASSERT_NE(b, NULL);
	EXPECT_STREQ(b->state, "free");
	EXPECT_EQ(b->shared, 512);

	/* The healthy folio goes back to CMA, the poisoned one stays out. */
	EXPECT_EQ(set_pages(0, base), 0);
	EXPECT_EQ(pool_pages(0), base);
	EXPECT_EQ(pool_field(0, "poisoned"), p0 + 1);
	EXPECT_EQ(saved(0), s0 - 8 - SAVED_PER_GB);
}

TEST(private_file_folio)
{
	long base, s0, p0;
	struct folio_line u;
	int vm, fd;

	if (!require_run(_metadata))
		return;
	base = pool_pages(1);
	ASSERT_GE(base, 0);
	ASSERT_EQ(set_pages(1, base + 1), 0);
	p0 = pool_field(1, "poisoned");
	ASSERT_GE(p0, 0);
	fd = gmem_on_node1(_metadata, &vm, 0);
	ASSERT_EQ(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, GB), 0);
	u = used_folio(_metadata);
	ASSERT_EQ(u.shared, 512);
	s0 = saved(1);
	ASSERT_GE(s0, SAVED_PER_GB);

	EXPECT_EQ(write_pfn(CORRUPT, u.pfn + 300 * CHUNK + 1), EBUSY);
	EXPECT_EQ(saved(1), s0 - 8);
	EXPECT_NE(page_flags(_metadata, u.pfn + 300 * CHUNK + 1) & (1ULL << KPF_HWPOISON), 0);
	EXPECT_EQ(used_folio(_metadata).shared, 511);

	close(fd);
	close(vm);
	EXPECT_EQ(wait_field(1, "poisoned", p0 + 1), p0 + 1);
	EXPECT_EQ(pool_pages(1), base);
	EXPECT_EQ(pool_field(1, "used"), 0);
}

TEST(mapped_file_folio)
{
	long base, p0;
	struct folio_line u;
	char *mem;
	int vm, fd;

	if (!require_run(_metadata))
		return;
	base = pool_pages(1);
	ASSERT_GE(base, 0);
	ASSERT_EQ(set_pages(1, base + 1), 0);
	p0 = pool_field(1, "poisoned");
	ASSERT_GE(p0, 0);
	fd = gmem_on_node1(_metadata, &vm, GUEST_MEMFD_FLAG_MMAP |
			   GUEST_MEMFD_FLAG_INIT_SHARED);
	mem = mmap(NULL, GB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(mem, MAP_FAILED);
	mem[0] = 1;
	u = used_folio(_metadata);
	EXPECT_EQ(u.shared, 0) TH_LOG("a folio mapped by host PTEs has its own struct pages");

	/* Soft offline cannot migrate a page of a held folio. */
	EXPECT_EQ(madvise(mem + 20 * 4096, 4096, MADV_SOFT_OFFLINE), -1);
	EXPECT_EQ(errno, EBUSY);
	EXPECT_EQ(page_flags(_metadata, u.pfn + 20) & (1ULL << KPF_HWPOISON), 0);
	EXPECT_STREQ(used_folio(_metadata).state, "used");

	EXPECT_EQ(madvise(mem + 10 * 4096, 4096, MADV_HWPOISON), -1);
	EXPECT_EQ(errno, EBUSY);
	EXPECT_EQ(mem[0], 1);

	munmap(mem, GB);
	close(fd);
	close(vm);
	EXPECT_EQ(wait_field(1, "poisoned", p0 + 1), p0 + 1);
	EXPECT_EQ(pool_pages(1), base);
}

TEST_HARNESS_MAIN
