// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark, not a test: how long it takes to take 1 GiB pages out of CMA
 * for a gmem_cma pool, side by side with allocating 1 GiB hugetlb pages
 * from hugetlb_cma= and with memset() over the same amount of memory, with
 * idle CMA areas and with areas full of movable pages.  Then how long it
 * takes to populate guest memory with fallocate(): a guest_memfd of 1 GiB
 * pages from a filled pool whose zeroer cleared every page beforehand, the
 * same with pre-zeroing off, a guest_memfd of 4 KiB pages, a hugetlb 1 GiB
 * memfd; the time from creating a VM to its guest running on that memory,
 * populated; and the zeroer's CPU time per GiB it cleared.  And the vmemmap: KiB of struct
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

/* What backs the guest memory of time_populate(). */
enum backing { GMEM_1G, GMEM_1G_NOZERO, GMEM_4K, HUGETLB_1G };

static const char *const backing_name[] = {
	"gmem_1g", "gmem_1g_nozero", "gmem_4k", "hugetlb_1g",
};

/* A counter of node @nid's line in debugfs gmem_cma/zeroer, or -1. */
static double zeroer_stat(int nid, const char *key)
{
	static char text[4096];
	char hdr[32], *p;

	if (read_text("/sys/kernel/debug/gmem_cma/zeroer", text, sizeof(text)))
		return -1;
	snprintf(hdr, sizeof(hdr), "node %d: ", nid);
	p = strstr(text, hdr);
	return p ? text_field(p, key) : -1;
}

/* Wait until node @nid's pool has @pages pages cleared ahead of time. */
static int wait_zeroed(int nid, long pages)
{
	char path[96];
	int i;

	snprintf(path, sizeof(path), "/sys/kernel/mm/gmem_cma/node%d/zeroed_pages", nid);
	for (i = 0; i < 6000; i++) {
		if (read_long(path) == pages)
			return 0;
		usleep(100000);
	}
	fprintf(stderr, "gmem_cma_bench: node %d: %ld of %ld pages zeroed after 600 s\n",
		nid, read_long(path), pages);
	return -1;
}

/* Run one vCPU of @vm at GPA 0, where @code holds a HLT, until it halts. */
static int run_to_hlt(int kvm, int vm, unsigned char *code)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0, .rflags = 2 };
	struct kvm_run *run;
	int vcpu, size, ret = -1;

	code[0] = 0xf4;		/* hlt */
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || size <= 0)
		return -1;
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		goto out;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs))
		goto out_unmap;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) || ioctl(vcpu, KVM_SET_REGS, &regs))
		goto out_unmap;
	if (!ioctl(vcpu, KVM_RUN, 0) && run->exit_reason == KVM_EXIT_HLT)
		ret = 0;
	else
		fprintf(stderr, "gmem_cma_bench: the guest did not halt (exit %u)\n",
			run->exit_reason);
out_unmap:
	munmap(run, size);
out:
	close(vcpu);
	return ret;
}

/*
 * Populate @pages GiB of guest memory backed by @b with one fallocate().
 * Returns the median time of that, and in @life the median time from
 * "create the VM" to "its guest ran": create the VM and the memory, bind it
 * to a memslot at GPA 0, populate it, write a HLT there and run a vCPU
 * until it halts.  For GMEM_1G each round starts when the zeroer has
 * cleared the whole pool (not timed).
 */
static double time_populate(int gnid, long pages, int rounds, enum backing b,
			    double *life)
{
	struct kvm_create_guest_memfd args = {
		.size = pages * GB,
		.flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED,
	};
	struct kvm_userspace_memory_region2 slot = {
		.slot = 1,
		.memory_size = pages * GB,
	};
	double t[MAX_ROUNDS], l[MAX_ROUNDS], t0;
	int kvm, vm, fd, r, mode;
	unsigned char *mem;

	if (b != HUGETLB_1G && write_str("/sys/kernel/mm/gmem_cma/prezero",
					 b == GMEM_1G ? "on" : "off"))
		return -1;
	if (b == GMEM_1G || b == GMEM_1G_NOZERO) {
		args.flags |= GUEST_MEMFD_FLAG_HUGE_PAGES;
		args.huge_page_size_log2 = 30;
	}
	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0)
		return -1;
	for (r = 0; r < rounds; r++) {
		if (b == GMEM_1G && wait_zeroed(gnid, pages))
			return -1;
		l[r] = now_ms();
		vm = ioctl(kvm, KVM_CREATE_VM, 0);
		if (vm < 0) {
			perror("gmem_cma_bench: KVM_CREATE_VM");
			return -1;
		}
		if (b == HUGETLB_1G) {
			fd = memfd_create("gmem_cma_bench", MFD_HUGETLB | MFD_HUGE_1GB);
			if (fd < 0 || ftruncate(fd, pages * GB)) {
				perror("gmem_cma_bench: hugetlb memfd");
				return -1;
			}
		} else {
			fd = ioctl(vm, KVM_CREATE_GUEST_MEMFD, &args);
			if (fd < 0) {
				perror("gmem_cma_bench: KVM_CREATE_GUEST_MEMFD");
				return -1;
			}
		}
		mem = mmap(NULL, pages * GB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (mem == MAP_FAILED) {
			perror("gmem_cma_bench: mmap");
			return -1;
		}
		if (b == HUGETLB_1G) {
			slot.flags = 0;
			slot.userspace_addr = (unsigned long)mem;
		} else {
			slot.flags = KVM_MEM_GUEST_MEMFD;
			slot.guest_memfd = fd;
		}
		if (ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &slot)) {
			perror("gmem_cma_bench: KVM_SET_USER_MEMORY_REGION2");
			return -1;
		}
		t0 = now_ms();
		mode = b == HUGETLB_1G ? 0 : FALLOC_FL_KEEP_SIZE;
		if (fallocate(fd, mode, 0, pages * GB)) {
			perror("gmem_cma_bench: fallocate");
			return -1;
		}
		t[r] = now_ms() - t0;
		if (run_to_hlt(kvm, vm, mem))
			return -1;
		l[r] = now_ms() - l[r];
		munmap(mem, pages * GB);
		close(fd);
		close(vm);
	}
	close(kvm);
	if (b != HUGETLB_1G && write_str("/sys/kernel/mm/gmem_cma/prezero", "on"))
		return -1;
	qsort(t, rounds, sizeof(t[0]), cmp_double);
	qsort(l, rounds, sizeof(l[0]), cmp_double);
	*life = l[rounds / 2];
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
	int gnid, hnid, rounds, i;
	double v[5], p[4], life[4], cpu0, folios0, cpu = 0, folios = 0;
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
	cpu0 = zeroer_stat(gnid, "cpu_ns ");
	folios0 = zeroer_stat(gnid, "folios ");
	for (i = 0; i < 4; i++) {
		p[i] = time_populate(gnid, pages, rounds, i, &life[i]);
		if (p[i] < 0)
			return 1;
		/* The zeroer's work: filling the pool and after every round. */
		if (i == GMEM_1G) {
			if (wait_zeroed(gnid, pages))
				return 1;
			cpu = zeroer_stat(gnid, "cpu_ns ") - cpu0;
			folios = zeroer_stat(gnid, "folios ") - folios0;
		}
	}
	if (write_num(gmem, 0) || write_num(huge, 0))
		return 1;
	for (i = 0; i < 4; i++) {
		printf("BENCH populate %s %d %.2f 0\n", backing_name[i],
		       i == HUGETLB_1G ? hnid : gnid, p[i] / pages);
		printf("BENCH vmlife %s %d %.2f 0\n", backing_name[i],
		       i == HUGETLB_1G ? hnid : gnid, life[i] / pages);
	}
	printf("BENCH zeroer cpu_ms_per_gib %d %.1f %.0f\n", gnid,
	       folios > 0 ? cpu / folios / 1e6 : -1, folios);
	return 0;
}
