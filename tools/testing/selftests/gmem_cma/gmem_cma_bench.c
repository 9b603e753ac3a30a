// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark, not a test: how long it takes to take 1 GiB pages out of CMA
 * for a gmem_cma pool, side by side with allocating 1 GiB hugetlb pages
 * from hugetlb_cma= and with memset() over the same amount of memory, with
 * idle CMA areas and with areas full of movable pages.  Then how long it
 * takes to populate guest memory with fallocate(): a guest_memfd of 1 GiB
 * pages from a filled pool, a guest_memfd of 4 KiB pages, a hugetlb 1 GiB
 * memfd; and the life of a VM's memory (create the VM and the file, bind
 * it, populate it, close everything).  And the vmemmap: KiB of struct
 * pages per GiB the pool holds (from the memmap counters of /proc/vmstat)
 * against hugetlb 1 GiB pages with HVO, and the time a trim and a restore
 * of one 1 GiB folio take.
 *
 * usage: gmem_cma_bench <gmem-node> <hugetlb-node> <pages> [rounds [off]]
 * Needs gmem_cma=<gmem-node>:<pages>G and hugetlb_cma=<hugetlb-node>:<pages>G.
 * "off" is for a kernel booted with gmem_cma_vmemmap=off: it measures only
 * the pool grows and the vmemmap.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memfd_create() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/kvm.h>
#include <linux/memfd.h>
#include <sys/ioctl.h>
#include <stdbool.h>
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

/*
 * Populate a guest_memfd of @pages GiB with one fallocate().  Returns the
 * median time of that, and in @life the median time of the whole life of
 * the VM's memory: create the VM and the file, bind it to a memslot,
 * populate it, close the file and the VM.
 */
static double time_gmem_populate(long pages, int rounds, bool huge, double *life)
{
	struct kvm_create_guest_memfd args = {
		.size = pages * GB,
		.flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED,
	};
	struct kvm_userspace_memory_region2 slot = {
		.slot = 1,
		.flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = 4 * GB,
		.memory_size = pages * GB,
	};
	double t[MAX_ROUNDS], l[MAX_ROUNDS], t0;
	int kvm, vm, fd, r;

	if (huge) {
		args.flags |= GUEST_MEMFD_FLAG_HUGE_PAGES;
		args.huge_page_size_log2 = 30;
	}
	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0)
		return -1;
	for (r = 0; r < rounds; r++) {
		l[r] = now_ms();
		vm = ioctl(kvm, KVM_CREATE_VM, 0);
		fd = vm < 0 ? -1 : ioctl(vm, KVM_CREATE_GUEST_MEMFD, &args);
		if (fd < 0) {
			perror("gmem_cma_bench: KVM_CREATE_GUEST_MEMFD");
			return -1;
		}
		slot.guest_memfd = fd;
		if (ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &slot)) {
			perror("gmem_cma_bench: KVM_SET_USER_MEMORY_REGION2");
			return -1;
		}
		t0 = now_ms();
		if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, pages * GB)) {
			perror("gmem_cma_bench: fallocate guest_memfd");
			return -1;
		}
		t[r] = now_ms() - t0;
		close(fd);
		close(vm);
		l[r] = now_ms() - l[r];
	}
	close(kvm);
	qsort(t, rounds, sizeof(t[0]), cmp_double);
	qsort(l, rounds, sizeof(l[0]), cmp_double);
	*life = l[rounds / 2];
	return t[rounds / 2];
}

/* Populate a hugetlb 1 GiB memfd of @pages GiB with one fallocate(). */
static double time_hugetlb_populate(long pages, int rounds)
{
	double t[MAX_ROUNDS];
	int fd, r;

	for (r = 0; r < rounds; r++) {
		fd = memfd_create("gmem_cma_bench", MFD_HUGETLB | MFD_HUGE_1GB);
		if (fd < 0 || ftruncate(fd, pages * GB)) {
			perror("gmem_cma_bench: hugetlb memfd");
			return -1;
		}
		t[r] = now_ms();
		if (fallocate(fd, 0, 0, pages * GB)) {
			perror("gmem_cma_bench: fallocate hugetlb memfd");
			return -1;
		}
		t[r] = now_ms() - t[r];
		close(fd);
	}
	qsort(t, rounds, sizeof(t[0]), cmp_double);
	return t[rounds / 2];
}

/* nr_memmap_pages + nr_memmap_boot_pages of /proc/vmstat. */
static long memmap_pages(void)
{
	static char text[1 << 16];

	if (read_text("/proc/vmstat", text, sizeof(text)))
		return -1;
	return text_field(text, "nr_memmap_pages ") +
	       text_field(text, "nr_memmap_boot_pages ");
}

/* A counter of the "node <nid>: vmemmap_saved" line of debugfs. */
static double vmemmap_stat(int nid, const char *key)
{
	static char text[1 << 16];
	char hdr[48], *p;

	if (read_text("/sys/kernel/debug/gmem_cma/pools", text, sizeof(text)))
		return -1;
	snprintf(hdr, sizeof(hdr), "node %d: vmemmap_saved", nid);
	p = strstr(text, hdr);
	return p ? text_field(p, key) : -1;
}

/*
 * KiB of vmemmap per GiB held: 16 MiB of struct pages per GiB, less what
 * growing @file by @pages takes out of the memmap counters.
 */
static double vmemmap_kib(const char *file, long pages)
{
	long m0 = memmap_pages(), m1;

	if (write_num(file, pages) || read_long(file) != pages)
		return -1;
	m1 = memmap_pages();
	write_num(file, 0);
	return (PAGES_PER_GB * 64 / 1024) + (m1 - m0) * 4.0 / pages;
}

/*
 * Vmemmap of what a pool holds, against hugetlb's with HVO, and the time a
 * trim and a restore of a whole 1 GiB folio take (from gmem_cma's debugfs
 * counters, over @rounds grows and shrinks).
 */
static int vmemmap_bench(const char *gmem, const char *huge, int gnid, int hnid,
			 long pages, int rounds, const char *tag)
{
	double t0 = vmemmap_stat(gnid, "trims "), tn0 = vmemmap_stat(gnid, "trim_ns ");
	double r0 = vmemmap_stat(gnid, "restores "), rn0 = vmemmap_stat(gnid, "restore_ns ");
	double kib = 0, k, t, r;
	int i;

	for (i = 0; i < rounds; i++) {
		k = vmemmap_kib(gmem, pages);
		if (k < 0)
			return -1;
		kib += k / rounds;
	}
	printf("BENCH vmemmap_kib gmem%s %d %.1f 0\n", tag, gnid, kib);
	t = vmemmap_stat(gnid, "trims ") - t0;
	r = vmemmap_stat(gnid, "restores ") - r0;
	if (t > 0 && r > 0) {
		printf("BENCH vmemmap_ms trim %d %.2f 0\n", gnid,
		       (vmemmap_stat(gnid, "trim_ns ") - tn0) / t / 1e6);
		printf("BENCH vmemmap_ms restore %d %.2f 0\n", gnid,
		       (vmemmap_stat(gnid, "restore_ns ") - rn0) / r / 1e6);
	}
	if (!huge)
		return 0;
	k = vmemmap_kib(huge, pages);
	if (k < 0)
		return -1;
	printf("BENCH vmemmap_kib hugetlb %d %.1f 0\n", hnid, k);
	return 0;
}

int main(int argc, char **argv)
{
	char gmem[96], huge[128];
	int gnid, hnid, rounds;
	double v[5], p[4], life[2];
	long pages;
	bool off;

	if (argc < 4) {
		fprintf(stderr, "usage: %s <gmem-node> <hugetlb-node> <pages> [rounds [off]]\n",
			argv[0]);
		return 2;
	}
	gnid = atoi(argv[1]);
	hnid = atoi(argv[2]);
	pages = atol(argv[3]);
	rounds = argc > 4 ? atoi(argv[4]) : 3;
	off = argc > 5 && !strcmp(argv[5], "off");
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
	if (off) {
		/* gmem_cma_vmemmap=off: pool grows and vmemmap only. */
		v[0] = time_grow(gmem, pages, rounds, -1, NULL);
		if (v[0] < 0 || vmemmap_bench(gmem, NULL, gnid, hnid, pages, rounds, "_off"))
			return 1;
		printf("BENCH gmem_cma idle_off %d %.1f 0\n", gnid, v[0] / pages);
		return 0;
	}
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
	if (vmemmap_bench(gmem, huge, gnid, hnid, pages, rounds, ""))
		return 1;

	/* Populating guest memory, from pools filled beforehand. */
	if (write_num(gmem, pages) || write_num(huge, pages)) {
		fprintf(stderr, "gmem_cma_bench: cannot fill the pools\n");
		return 1;
	}
	p[0] = time_gmem_populate(pages, rounds, true, &life[0]);
	p[1] = time_gmem_populate(pages, rounds, false, &life[1]);
	p[2] = time_hugetlb_populate(pages, rounds);
	p[3] = v[4];
	if (write_num(gmem, 0) || write_num(huge, 0) || p[0] < 0 || p[1] < 0 || p[2] < 0)
		return 1;
	printf("BENCH populate gmem_1g %d %.1f 0\n", gnid, p[0] / pages);
	printf("BENCH populate gmem_4k %d %.1f 0\n", gnid, p[1] / pages);
	printf("BENCH populate hugetlb_1g %d %.1f 0\n", hnid, p[2] / pages);
	printf("BENCH vmlife gmem_1g %d %.1f 0\n", gnid, life[0] / pages);
	printf("BENCH vmlife gmem_4k %d %.1f 0\n", gnid, life[1] / pages);
	return 0;
}
