// SPDX-License-Identifier: GPL-2.0
/*
 * Latency of in-place conversion (KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd,
 * kvm.gmem_in_place_conversion=1): 4 KiB, 2 MiB and 1 GiB ranges, shared to
 * private and back, on a file of 4 KiB pages and on a file of 1 GiB gmem_cma
 * pages, every page allocated and host-mapped first.  On the 1 GiB-page file
 * the first 4 KiB round splits the shared 1 GiB page to 4 KiB folios, and it
 * stays split: the benchmark converts back to shared before the merge work
 * runs, and only private pages merge.
 * Prints one line per case with the median over the rounds, in microseconds,
 * and a "BENCH convert <file>_<range> 0 <to private> <to shared>" line for
 * scripts/bench-table.py.  A benchmark, not a test: its numbers are never
 * judged.  It gives node 0's pool one 1 GiB page for the 1 GiB-page file and
 * puts the pool back as it was.
 *
 * usage: gmem_cma_convert_bench [rounds]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#define SZ_4K	0x1000ULL
#define SZ_2M	0x200000ULL
#define SZ_1G	0x40000000ULL
#define MAX_ROUNDS	64
#define POOL	"/sys/kernel/mm/gmem_cma/node0/nr_pages"

static int rounds = 3;

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

static int convert(int fd, uint64_t offset, uint64_t size, uint64_t attributes)
{
	struct kvm_memory_attributes2 a = {
		.offset = offset,
		.size = size,
		.attributes = attributes,
	};

	return ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &a) ? -errno : 0;
}

/* Median latency of converting [0, @range) each way; 0 on success. */
static int bench(int fd, char *mem, uint64_t range, double *to_private,
		 double *to_shared)
{
	double p[MAX_ROUNDS], s[MAX_ROUNDS], t;
	uint64_t off;
	int i, r;

	for (i = 0; i < rounds; i++) {
		/* Host-map every page of the range, as a VMM's I/O would. */
		for (off = 0; off < range; off += SZ_4K)
			mem[off] = (char)i;
		t = now_us();
		r = convert(fd, 0, range, KVM_MEMORY_ATTRIBUTE_PRIVATE);
		p[i] = now_us() - t;
		if (r)
			return r;
		t = now_us();
		r = convert(fd, 0, range, 0);
		s[i] = now_us() - t;
		if (r)
			return r;
	}
	qsort(p, rounds, sizeof(double), cmp_double);
	qsort(s, rounds, sizeof(double), cmp_double);
	*to_private = p[rounds / 2];
	*to_shared = s[rounds / 2];
	return 0;
}

/* Node 0's pool size, or -1; set it to @pages unless @pages < 0. */
static long pool(long pages)
{
	char buf[24] = "";
	long old = -1;
	int fd;

	fd = open(POOL, O_RDWR);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) > 0)
		old = strtol(buf, NULL, 10);
	if (pages >= 0) {
		snprintf(buf, sizeof(buf), "%ld", pages);
		if (pwrite(fd, buf, strlen(buf), 0) < 0)
			old = -1;
	}
	close(fd);
	return old;
}

int main(int argc, char **argv)
{
	static const uint64_t ranges[] = { SZ_4K, SZ_2M, SZ_1G };
	static const char *const names[] = { "4 KiB", "2 MiB", "1 GiB" };
	static const char *const keys[] = { "4k", "2m", "1g" };
	int kvm, vm, huge, i, fails = 0;
	long saved;

	if (argc > 1)
		rounds = atoi(argv[1]);
	if (rounds < 1 || rounds > MAX_ROUNDS) {
		printf("convert-bench: FAIL: rounds must be 1..%d\n", MAX_ROUNDS);
		return 1;
	}
	saved = pool(-1);
	if (saved < 0 || (saved < 1 && pool(1) < 0)) {
		printf("convert-bench: FAIL: cannot give node 0's pool a page (gmem_cma=0:...?)\n");
		return 1;
	}

	kvm = open("/dev/kvm", O_RDWR);
	vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (vm < 0 || ioctl(vm, KVM_CHECK_EXTENSION,
			    KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES) !=
		      KVM_MEMORY_ATTRIBUTE_PRIVATE) {
		printf("convert-bench: FAIL: no in-place conversion (%s)\n",
		       "kvm.gmem_in_place_conversion=1?");
		return 1;
	}
	for (huge = 0; huge < 2; huge++) {
		struct kvm_create_guest_memfd g = {
			.size = SZ_1G,
			.flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED |
				 (huge ? GUEST_MEMFD_FLAG_HUGE_PAGES : 0),
			.huge_page_size_log2 = huge ? 30 : 0,
		};
		int fd = ioctl(vm, KVM_CREATE_GUEST_MEMFD, &g);
		char *mem;

		if (fd < 0) {
			printf("convert-bench: FAIL: creating a %s file: %s\n",
			       huge ? "1 GiB-page" : "4 KiB-page", strerror(errno));
			return 1;
		}
		mem = mmap(NULL, SZ_1G, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (mem == MAP_FAILED)
			return 1;
		for (i = 0; i < 3; i++) {
			double p, s;
			int r;

			r = bench(fd, mem, ranges[i], &p, &s);
			if (r) {
				printf("convert-bench: %s file, %s range: FAIL: %s\n",
				       huge ? "1 GiB-page" : "4 KiB-page", names[i], strerror(-r));
				fails++;
				continue;
			}
			printf("convert-bench: %s file, %s range: to private %.0f us, ",
			       huge ? "1 GiB-page" : "4 KiB-page", names[i], p);
			printf("to shared %.0f us (median of %d)\n", s, rounds);
			printf("BENCH convert %s_%s 0 %.0f %.0f\n", huge ? "file1g" : "file4k",
			       keys[i], p, s);
		}
		munmap(mem, SZ_1G);
		close(fd);
	}
	/* The closed file's page goes back to the pool asynchronously. */
	for (i = 0; i < 100 && saved < 1 && pool(0) < 0; i++)
		usleep(100000);
	if (saved < 1 && pool(-1) != 0) {
		printf("convert-bench: FAIL: node 0's pool not back to %ld pages\n", saved);
		fails++;
	}
	return !!fails;
}
