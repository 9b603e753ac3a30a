// SPDX-License-Identifier: GPL-2.0-only
/*
 * What splitting a 1 GiB guest_memfd page costs, and what merging it back
 * gives back (kvm.gmem_in_place_conversion=1, gmem_cma=0:2G,...).
 *
 * A SW_PROTECTED guest on two private 1 GiB pages touches every
 * 4 KiB page of them; then the VMM shares one 4 KiB page in each 1 GiB page
 * (a split: 511 folios of 2 MiB and 512 of 4 KiB), the guest touches
 * everything again, and the VMM converts the pages back (a merge, done by
 * a worker after the conversion).  Prints the latency of the split and of
 * the merge, the vmemmap pages a 1 GiB page keeps whole and split, the
 * guest's KVM mappings, and the time of one pass of the guest over its
 * memory whole, split, and merged again, each the median of the rounds,
 * with "BENCH split ..." lines for scripts/bench-table.py.  A benchmark,
 * not a test: its numbers are never judged.  It sets node 0's pool to two
 * pages and puts it back as it was afterwards (the file may also take pages
 * of node 1's pool if that has some).
 *
 * usage: guest_memfd_split_bench [rounds]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define GPA		SZ_4G
#define SLOT		1
#define NR_1G		2
#define SIZE		((u64)NR_1G * SZ_1G)
#define MAX_ROUNDS	16
#define NODE_DIR	"/sys/kernel/mm/gmem_cma/node%d/%s"
/* The page each 1 GiB page shares: page 3 of its chunk 5. */
#define SHARED_OFF	(5 * SZ_2M + 3 * PAGE_SIZE)

static void guest_code(void)
{
	u64 gpa, n = 0;

	for (;;) {
		for (gpa = GPA; gpa < GPA + SIZE; gpa += PAGE_SIZE)
			WRITE_ONCE(*(u64 *)gpa, n++);
		GUEST_SYNC(0);
	}
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static long node_long(int nid, const char *name, long set)
{
	char path[96], buf[24] = "";
	long n = -1;
	int fd;

	snprintf(path, sizeof(path), NODE_DIR, nid, name);
	fd = open(path, set < 0 ? O_RDONLY : O_RDWR);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) > 0)
		n = strtol(buf, NULL, 10);
	if (set >= 0) {
		snprintf(buf, sizeof(buf), "%ld", set);
		if (pwrite(fd, buf, strlen(buf), 0) < 0)
			n = -1;
	}
	close(fd);
	return n;
}

static long saved(void)
{
	return node_long(0, "vmemmap_saved_pages", -1) +
	       node_long(1, "vmemmap_saved_pages", -1);
}

/* Wait up to 10 s for the vmemmap savings to be @want. */
static bool saved_wait(long want)
{
	int i;

	for (i = 0; i < 100000 && saved() != want; i++)
		usleep(100);
	return saved() == want;
}

static int convert(int fd, u64 offset, u64 attributes)
{
	struct kvm_memory_attributes2 a = {
		.offset = offset,
		.size = PAGE_SIZE,
		.attributes = attributes,
	};

	return ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &a) ? -errno : 0;
}

/* One pass of the guest over its memory, in milliseconds. */
static double pass_ms(struct kvm_vcpu *vcpu)
{
	struct ucall uc;
	double t = now_us();

	vcpu_run(vcpu);
	t = now_us() - t;
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_SYNC, "guest did not sync");
	return t / 1000;
}

/* The median of @rounds passes after an untimed one that maps everything. */
static double touch_ms(struct kvm_vcpu *vcpu, int rounds, double *first)
{
	double t[MAX_ROUNDS];
	int i;

	*first = pass_ms(vcpu);
	for (i = 0; i < rounds; i++)
		t[i] = pass_ms(vcpu);
	return median(t, rounds);
}

static void show_maps(struct kvm_vm *vm, const char *what)
{
	u64 m[3];

	kvm_get_stat(&vm->stats, "pages_1g", &m[0], 1);
	kvm_get_stat(&vm->stats, "pages_2m", &m[1], 1);
	kvm_get_stat(&vm->stats, "pages_4k", &m[2], 1);
	printf("split-bench: %s: KVM maps ", what);
	printf("%lu x 1 GiB, %lu x 2 MiB, %lu x 4 KiB\n", m[0], m[1], m[2]);
}

int main(int argc, char **argv)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	struct kvm_create_guest_memfd args = {
		.size = SIZE,
		.flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_HUGE_PAGES,
		.huge_page_size_log2 = 30,
	};
	double split[NR_1G], back[NR_1G], merge[NR_1G], t, first[3], pass[3];
	long pool, whole, split_saved;
	int rounds = 3, fd, g, r;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	void *mem;

	if (argc > 1)
		rounds = atoi(argv[1]);
	TEST_ASSERT(rounds >= 1 && rounds <= MAX_ROUNDS, "rounds must be 1..%d",
		    MAX_ROUNDS);
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES) ==
		     KVM_MEMORY_ATTRIBUTE_PRIVATE);
	pool = node_long(0, "nr_pages", NR_1G);
	TEST_ASSERT(pool >= 0, "node 0's pool cannot hold %d pages", NR_1G);

	vm = __vm_create_shape_with_one_vcpu(shape, &vcpu, SZ_8M / PAGE_SIZE,
					     guest_code);
	fd = __vm_ioctl(vm, KVM_CREATE_GUEST_MEMFD, &args);
	TEST_ASSERT(fd >= 0, "no 2 GiB file of 1 GiB pages: %s", strerror(errno));
	mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(mem != MAP_FAILED, "mmap: %s", strerror(errno));
	vm_set_user_memory_region2(vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA, SIZE,
				   mem, fd, 0);
	virt_map_level(vm, GPA, GPA, SIZE, PG_LEVEL_2M);

	pass[0] = touch_ms(vcpu, rounds, &first[0]);
	show_maps(vm, "whole");
	whole = saved();

	for (g = 0; g < NR_1G; g++) {
		t = now_us();
		r = convert(fd, (u64)g * SZ_1G + SHARED_OFF, 0);
		split[g] = now_us() - t;
		TEST_ASSERT(!r, "sharing a page: %s", strerror(-r));
	}
	split_saved = saved();
	TEST_ASSERT(whole >= 0 && split_saved >= 0, "no vmemmap_saved_pages");
	pass[1] = touch_ms(vcpu, rounds, &first[1]);
	show_maps(vm, "one 4 KiB page shared per 1 GiB page");

	for (g = 0; g < NR_1G; g++) {
		t = now_us();
		r = convert(fd, (u64)g * SZ_1G + SHARED_OFF, KVM_MEMORY_ATTRIBUTE_PRIVATE);
		back[g] = now_us() - t;
		TEST_ASSERT(!r, "making the page private: %s", strerror(-r));
		TEST_ASSERT(saved_wait(split_saved + (g + 1) * (whole - split_saved) / NR_1G),
			    "1 GiB page %d not merged within 10 s", g);
		merge[g] = now_us() - t;
	}
	pass[2] = touch_ms(vcpu, rounds, &first[2]);
	show_maps(vm, "merged");

	printf("split-bench: share one 4 KiB page of a whole 1 GiB page: %.0f us; ",
	       median(split, NR_1G));
	printf("back to private %.0f us, whole again after %.0f us (median of %d)\n",
	       median(back, NR_1G), median(merge, NR_1G), NR_1G);
	printf("split-bench: vmemmap pages per 1 GiB page: whole 1, ");
	printf("with one 4 KiB page shared %ld, untrimmed %d\n",
	       1 + (whole - split_saved) / NR_1G, (int)(SZ_1G / PAGE_SIZE * 64 / PAGE_SIZE));
	printf("split-bench: guest pass over %d GiB, ms: whole %.0f, split %.0f, merged %.0f ",
	       NR_1G, pass[0], pass[1], pass[2]);
	printf("(first pass %.0f, %.0f, %.0f; median of %d)\n",
	       first[0], first[1], first[2], rounds);
	printf("BENCH split convert 0 %.0f %.0f\n", median(split, NR_1G), median(back, NR_1G));
	printf("BENCH split merge 0 %.0f %ld\n", median(merge, NR_1G),
	       1 + (whole - split_saved) / NR_1G);
	printf("BENCH split touch 0 %.0f %.0f\n", pass[0], pass[1]);
	printf("BENCH split touch_first 0 %.0f %.0f\n", first[0], first[1]);
	printf("BENCH split touch_merged 0 %.0f %.0f\n", pass[2], first[2]);

	munmap(mem, SIZE);
	close(fd);
	kvm_vm_free(vm);
	for (g = 0; g < 100 && node_long(0, "nr_pages", pool) < 0; g++)
		usleep(100000);
	TEST_ASSERT(node_long(0, "nr_pages", -1) == pool,
		    "node 0's pool not back to %ld pages", pool);
	return 0;
}
