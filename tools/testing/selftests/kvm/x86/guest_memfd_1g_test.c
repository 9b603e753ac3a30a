// SPDX-License-Identifier: GPL-2.0-only
/*
 * guest_memfd files backed by 1 GiB gmem_cma pages
 * (GUEST_MEMFD_FLAG_HUGE_PAGES, huge_page_size_log2 = 30).
 *
 * Checks the uAPI and its rejections, the reservation taken at creation
 * (exact pool counters, the debugfs listing, NUMA placement for each memory
 * policy and for mbind()), zeroing and hole punching, host mmap(), guests
 * running on the memory with 1 GiB stage-2 mappings (pages_1g), and races:
 * creators racing for the last pages, faults racing on one page, faults
 * racing with hole punches.  Every test leaves the pools as it found them.
 *
 * Needs gmem_cma areas of at least 2 GiB on nodes 0 and 1 (gmem_cma=0:2G,1:2G);
 * the fixture sizes the pools and puts them back afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/mempolicy.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"
#include "kselftest_harness.h"

#define SYSFS		"/sys/kernel/mm/gmem_cma"
#define FILES		"/sys/kernel/debug/gmem_cma/files"
#define POOLS		"/sys/kernel/debug/gmem_cma/pools"
#define SAVED_PER_GB	4095	/* vmemmap pages a trimmed 1 GiB folio saves */
#define KPF_COMPOUND_HEAD	15
#define KPF_COMPOUND_TAIL	16
#define KPF_HUGE		17
#define KPF_HWPOISON		19
#define KPF_NOPAGE		20
#define NR_NODES	2
#define GPA		SZ_4G
#define SLOT		1
#define POOL_PAGES	2	/* pages each node's pool holds during a test */
#define HUGE_FLAGS	GUEST_MEMFD_FLAG_HUGE_PAGES
#define SHARED_FLAGS	(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED | \
			 GUEST_MEMFD_FLAG_HUGE_PAGES)
#define STRESS_SECONDS	6

struct pool {
	long nr, free, resv, used;
};

static long node_stat(int nid, const char *name)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), SYSFS "/node%d/%s", nid, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static void read_pools(struct pool *p)
{
	int nid;

	for (nid = 0; nid < NR_NODES; nid++) {
		p[nid].nr = node_stat(nid, "nr_pages");
		p[nid].free = node_stat(nid, "free_pages");
		p[nid].resv = node_stat(nid, "resv_pages");
		p[nid].used = node_stat(nid, "used_pages");
	}
}

static int set_pool(int nid, long pages)
{
	char path[128], buf[32];
	int fd, ret = 0;

	snprintf(path, sizeof(path), SYSFS "/node%d/nr_pages", nid);
	snprintf(buf, sizeof(buf), "%ld", pages);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, strlen(buf)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Pools equal to @base except for per-node resv/used deltas. */
static bool pools_are(const struct pool *base, const long *dresv,
		      const long *dused)
{
	struct pool now[NR_NODES];
	int nid;

	read_pools(now);
	for (nid = 0; nid < NR_NODES; nid++) {
		long r = dresv ? dresv[nid] : 0, u = dused ? dused[nid] : 0;

		if (now[nid].nr != base[nid].nr ||
		    now[nid].resv != base[nid].resv + r ||
		    now[nid].used != base[nid].used + u ||
		    now[nid].free != base[nid].free - r - u) {
			fprintf(stderr,
				"node %d: nr %ld free %ld resv %ld used %ld, want nr %ld free %ld resv %ld used %ld\n",
				nid, now[nid].nr, now[nid].free, now[nid].resv,
				now[nid].used, base[nid].nr,
				base[nid].free - r - u, base[nid].resv + r,
				base[nid].used + u);
			return false;
		}
	}
	return true;
}

/*
 * pools_are(), waiting up to 2 s: the last page of a file can be released
 * by a worker.
 */
static bool pools_wait(const struct pool *base, const long *dresv,
		       const long *dused)
{
	int i;

	for (i = 0; i < 200; i++) {
		struct pool now[NR_NODES];
		bool same = true;
		int nid;

		read_pools(now);
		for (nid = 0; nid < NR_NODES; nid++) {
			long r = dresv ? dresv[nid] : 0, u = dused ? dused[nid] : 0;

			same &= now[nid].resv == base[nid].resv + r &&
				now[nid].used == base[nid].used + u;
		}
		if (same)
			break;
		usleep(10000);
	}
	return pools_are(base, dresv, dused);
}

/* Is the pools' vmemmap trimmed (gmem_cma_vmemmap=on)? */
static bool trimming(void)
{
	char buf[8] = "";
	int fd = open(SYSFS "/vmemmap_trim", O_RDONLY);

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = '\0';
		close(fd);
	}
	return !strncmp(buf, "on", 2);
}

/* Vmemmap pages saved on every node equal @want, waiting up to 2 s. */
static bool saved_wait(const long *want)
{
	int i, nid;
	bool same = false;

	for (i = 0; i < 200 && !same; i++) {
		same = true;
		for (nid = 0; nid < NR_NODES; nid++)
			same &= node_stat(nid, "vmemmap_saved_pages") == want[nid];
		if (!same)
			usleep(10000);
	}
	for (nid = 0; nid < NR_NODES && !same; nid++)
		fprintf(stderr, "node %d: vmemmap_saved_pages %ld, want %ld\n", nid,
			node_stat(nid, "vmemmap_saved_pages"), want[nid]);
	return same;
}

/*
 * The pfn and the number of trimmed 2 MiB chunks of the folio in @state
 * ("used", "free") of node @nid that debugfs lists first; false if none.
 */
static bool pool_folio(int nid, const char *state, unsigned long *pfn,
		       long *shared)
{
	char line[256], want[32], st[16];
	bool in_node = false, found = false;
	FILE *f = fopen(POOLS, "r");

	if (!f)
		return false;
	snprintf(want, sizeof(want), "node %d: capacity", nid);
	while (!found && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "node ", 5)) {
			if (strstr(line, "capacity"))
				in_node = !strncmp(line, want, strlen(want));
			continue;
		}
		found = in_node &&
			sscanf(line, " 0x%lx %15s vmemmap_shared %ld/", pfn, st,
			       shared) == 3 && !strcmp(st, state);
	}
	fclose(f);
	return found;
}

static int create_gmem(struct kvm_vm *vm, u64 size, u64 flags, u8 log2)
{
	struct kvm_create_guest_memfd args = {
		.size = size,
		.flags = flags,
		.huge_page_size_log2 = log2,
	};

	return __vm_ioctl(vm, KVM_CREATE_GUEST_MEMFD, &args);
}

/*
 * The debugfs line of the file behind @fd: pages, resv, used and per-node
 * resv/used.  Returns false if the file is not listed.
 */
static bool file_info(int fd, long *pages, long *resv, long *used,
		      long *nresv, long *nused)
{
	char line[512], state[16], comm[64];
	unsigned long ino;
	bool found = false;
	struct stat st;
	FILE *f;
	int pid;

	if (fstat(fd, &st))
		return false;
	f = fopen(FILES, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p;
		int n, nid;
		long r, u;

		if (line[0] == '#')
			continue;
		if (sscanf(line, "%lu %d %63s %ld %ld %ld %15s%n", &ino, &pid,
			   comm, pages, resv, used, state, &n) != 7 ||
		    ino != st.st_ino)
			continue;
		found = true;
		memset(nresv, 0, NR_NODES * sizeof(long));
		memset(nused, 0, NR_NODES * sizeof(long));
		for (p = line + n; sscanf(p, " %d:%ld/%ld%n", &nid, &r, &u, &n) == 3;
		     p += n) {
			if (nid < NR_NODES) {
				nresv[nid] = r;
				nused[nid] = u;
			}
		}
	}
	fclose(f);
	return found;
}

/* Node of the page mapped at @addr, or -errno. */
static int page_node(void *addr)
{
	int status = -1;

	if (syscall(__NR_move_pages, 0, 1, &addr, NULL, &status, 0))
		return -errno;
	return status;
}

static long set_policy(int mode, unsigned long nodes)
{
	return syscall(__NR_set_mempolicy, mode, mode ? &nodes : NULL,
		       mode ? 8 * sizeof(nodes) : 0);
}

static void *map_aligned(int fd, size_t size)
{
	char *area, *addr;

	area = mmap(NULL, size + SZ_1G, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		return MAP_FAILED;
	addr = (char *)(((unsigned long)area + SZ_1G - 1) & ~(SZ_1G - 1UL));
	addr = mmap(addr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		    fd, 0);
	if (addr == MAP_FAILED) {
		munmap(area, size + SZ_1G);
		return MAP_FAILED;
	}
	if (addr > area)
		munmap(area, addr - area);
	munmap(addr + size, area + SZ_1G - addr);
	return addr;
}

FIXTURE(gmem_1g) {
	struct kvm_vm *vm;
	long saved[NR_NODES];
	struct pool base[NR_NODES];
	long vmemmap[NR_NODES];
};

FIXTURE_SETUP(gmem_1g)
{
	cpu_set_t cpus;
	int nid;

	if (!(kvm_check_cap(KVM_CAP_GUEST_MEMFD_FLAGS) & GUEST_MEMFD_FLAG_HUGE_PAGES))
		SKIP(return, "no GUEST_MEMFD_FLAG_HUGE_PAGES");
	for (nid = 0; nid < NR_NODES; nid++) {
		self->saved[nid] = node_stat(nid, "nr_pages");
		if (node_stat(nid, "capacity_pages") < POOL_PAGES)
			SKIP(return, "needs gmem_cma=0:2G,1:2G");
	}
	for (nid = 0; nid < NR_NODES; nid++)
		ASSERT_EQ(0, set_pool(nid, POOL_PAGES));
	/* The default policy means "local node first": make that node 0. */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpus), &cpus));
	read_pools(self->base);
	for (nid = 0; nid < NR_NODES; nid++) {
		ASSERT_EQ(POOL_PAGES, self->base[nid].free);
		self->vmemmap[nid] = node_stat(nid, "vmemmap_saved_pages");
	}
	self->vm = vm_create_barebones();
}

FIXTURE_TEARDOWN(gmem_1g)
{
	int nid;

	if (self->vm)
		kvm_vm_free(self->vm);
	if (!self->saved[0] && !self->saved[1] && !self->base[0].nr)
		return;
	EXPECT_TRUE(pools_wait(self->base, NULL, NULL));
	/* Folios that were restored for a host mapping are trimmed again. */
	EXPECT_TRUE(saved_wait(self->vmemmap));
	for (nid = 0; nid < NR_NODES; nid++)
		EXPECT_EQ(0, set_pool(nid, self->saved[nid]));
}

TEST_F(gmem_1g, capabilities)
{
	ASSERT_EQ(1UL << 30, vm_check_cap(self->vm, KVM_CAP_GUEST_MEMFD_HUGE_PAGE_SIZES));
	ASSERT_TRUE(vm_check_cap(self->vm, KVM_CAP_GUEST_MEMFD_FLAGS) &
		    GUEST_MEMFD_FLAG_HUGE_PAGES);
}

TEST_F(gmem_1g, rejects_bad_arguments)
{
	struct kvm_create_guest_memfd args;
	int i;

	/* The flag without a size, unsupported sizes, a size without the flag. */
	ASSERT_EQ(-1, create_gmem(self->vm, SZ_1G, HUGE_FLAGS, 0));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, create_gmem(self->vm, SZ_1G, HUGE_FLAGS, 21));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, create_gmem(self->vm, SZ_1G, HUGE_FLAGS, 12));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, create_gmem(self->vm, SZ_1G, HUGE_FLAGS, 255));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, create_gmem(self->vm, SZ_1G, 0, 30));
	ASSERT_EQ(EINVAL, errno);
	/* Sizes that are not a multiple of 1 GiB. */
	ASSERT_EQ(-1, create_gmem(self->vm, SZ_1G + SZ_2M, HUGE_FLAGS, 30));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, create_gmem(self->vm, SZ_2M, HUGE_FLAGS, 30));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, create_gmem(self->vm, 0, HUGE_FLAGS, 30));
	ASSERT_EQ(EINVAL, errno);
	/* Every byte of padding and reserved space must be zero. */
	for (i = 0; i < 7; i++) {
		memset(&args, 0, sizeof(args));
		args.size = SZ_1G;
		args.flags = HUGE_FLAGS;
		args.huge_page_size_log2 = 30;
		args.pad[i] = 1;
		ASSERT_EQ(-1, __vm_ioctl(self->vm, KVM_CREATE_GUEST_MEMFD, &args));
		ASSERT_EQ(EINVAL, errno);
	}
	for (i = 0; i < 5; i++) {
		memset(&args, 0, sizeof(args));
		args.size = SZ_1G;
		args.flags = HUGE_FLAGS;
		args.huge_page_size_log2 = 30;
		args.reserved[i] = 1ULL << 63;
		ASSERT_EQ(-1, __vm_ioctl(self->vm, KVM_CREATE_GUEST_MEMFD, &args));
		ASSERT_EQ(EINVAL, errno);
	}
	/* More pages than the pools have free: nothing reserved. */
	ASSERT_EQ(-1, create_gmem(self->vm, 5UL * SZ_1G, HUGE_FLAGS, 30));
	ASSERT_EQ(ENOMEM, errno);
	ASSERT_TRUE(pools_are(self->base, NULL, NULL));
	/* Bound to node 1, which has only 2 free pages. */
	ASSERT_EQ(0, set_policy(MPOL_BIND, 2));
	ASSERT_EQ(-1, create_gmem(self->vm, 3UL * SZ_1G, HUGE_FLAGS, 30));
	ASSERT_EQ(ENOMEM, errno);
	ASSERT_EQ(0, set_policy(MPOL_DEFAULT, 0));
	ASSERT_TRUE(pools_are(self->base, NULL, NULL));
}

/*
 * A node with memory but no gmem_cma area (boot with gmem_cma=0:2G to have
 * one): a file bound there has no pool to reserve from.  Needs no fixture,
 * so it runs on boots whose pools the fixture cannot size.
 */
TEST(no_pool_on_allowed_node)
{
	int nid, empty = -1;
	struct kvm_vm *vm;
	char path[64];

	if (!(kvm_check_cap(KVM_CAP_GUEST_MEMFD_FLAGS) & GUEST_MEMFD_FLAG_HUGE_PAGES))
		SKIP(return, "no GUEST_MEMFD_FLAG_HUGE_PAGES");
	for (nid = 0; nid < 64 && empty < 0; nid++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", nid);
		if (!access(path, F_OK) && node_stat(nid, "capacity_pages") == 0)
			empty = nid;
	}
	if (empty < 0)
		SKIP(return, "every node has a gmem_cma area");
	vm = vm_create_barebones();
	ASSERT_EQ(0, set_policy(MPOL_BIND, 1UL << empty));
	ASSERT_EQ(-1, create_gmem(vm, SZ_1G, HUGE_FLAGS, 30));
	ASSERT_EQ(ENODEV, errno);
	ASSERT_EQ(0, set_policy(MPOL_DEFAULT, 0));
	kvm_vm_free(vm);
}

TEST_F(gmem_1g, reserve_allocate_punch_close)
{
	long pages, resv, used, nresv[NR_NODES], nused[NR_NODES];
	long dresv[NR_NODES] = { 2, 0 }, dused[NR_NODES] = { 0, 0 };
	int fd;

	fd = create_gmem(self->vm, 2UL * SZ_1G, HUGE_FLAGS, 30);
	ASSERT_LE(0, fd);
	/* Default policy on a node-0 CPU: both pages from node 0. */
	ASSERT_TRUE(pools_are(self->base, dresv, dused));
	ASSERT_TRUE(file_info(fd, &pages, &resv, &used, nresv, nused));
	ASSERT_EQ(2, pages);
	ASSERT_EQ(2, resv);
	ASSERT_EQ(0, used);
	ASSERT_EQ(2, nresv[0]);

	/* Unaligned fallocate and hole punch are refused. */
	ASSERT_EQ(-1, fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_2M));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, fallocate(fd, FALLOC_FL_KEEP_SIZE, SZ_2M, SZ_1G));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
				SZ_1G, SZ_4K));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, fallocate(fd, FALLOC_FL_KEEP_SIZE, SZ_1G, 2UL * SZ_1G));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_TRUE(pools_are(self->base, dresv, dused));

	/* Allocate the second page, then both, then punch the first. */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE, SZ_1G, SZ_1G));
	dresv[0] = 1;
	dused[0] = 1;
	ASSERT_TRUE(pools_are(self->base, dresv, dused));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 2UL * SZ_1G));
	dresv[0] = 0;
	dused[0] = 2;
	ASSERT_TRUE(pools_are(self->base, dresv, dused));
	ASSERT_TRUE(file_info(fd, &pages, &resv, &used, nresv, nused));
	ASSERT_EQ(0, resv);
	ASSERT_EQ(2, used);
	ASSERT_EQ(2, nused[0]);
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			       0, SZ_1G));
	dresv[0] = 1;
	dused[0] = 1;
	ASSERT_TRUE(pools_are(self->base, dresv, dused));
	/* Punching a hole twice changes nothing. */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			       0, SZ_1G));
	ASSERT_TRUE(pools_are(self->base, dresv, dused));

	/* Closing gives everything back. */
	close(fd);
	ASSERT_TRUE(pools_wait(self->base, NULL, NULL));
	ASSERT_FALSE(file_info(fd, &pages, &resv, &used, nresv, nused));
}

/* Create a @gib GiB file under a policy; check where it reserved. */
static void check_policy(struct __test_metadata *_metadata, struct kvm_vm *vm,
			 const struct pool *base, int mode, unsigned long nodes,
			 int gib, long resv0, long resv1)
{
	long dresv[NR_NODES] = { resv0, resv1 };
	int fd;

	ASSERT_EQ(0, set_policy(mode, nodes));
	fd = create_gmem(vm, (u64)gib * SZ_1G, HUGE_FLAGS, 30);
	ASSERT_EQ(0, set_policy(MPOL_DEFAULT, 0));
	ASSERT_LE(0, fd) TH_LOG("mode %d nodes %#lx, %d GiB: %s", mode, nodes,
				gib, strerror(errno));
	ASSERT_TRUE(pools_are(base, dresv, NULL));
	close(fd);
	ASSERT_TRUE(pools_wait(base, NULL, NULL));
}

TEST_F(gmem_1g, memory_policies)
{
	/* Default: the local node (0) first, then the other one. */
	check_policy(_metadata, self->vm, self->base, MPOL_DEFAULT, 0, 1, 1, 0);
	check_policy(_metadata, self->vm, self->base, MPOL_DEFAULT, 0, 3, 2, 1);
	/* Bind: only there. */
	check_policy(_metadata, self->vm, self->base, MPOL_BIND, 2, 2, 0, 2);
	check_policy(_metadata, self->vm, self->base, MPOL_BIND, 1, 1, 1, 0);
	/* Preferred: there first, then elsewhere. */
	check_policy(_metadata, self->vm, self->base, MPOL_PREFERRED, 2, 1, 0, 1);
	check_policy(_metadata, self->vm, self->base, MPOL_PREFERRED, 2, 3, 1, 2);
	/* Interleave: round-robin. */
	check_policy(_metadata, self->vm, self->base, MPOL_INTERLEAVE, 3, 2, 1, 1);
	check_policy(_metadata, self->vm, self->base, MPOL_INTERLEAVE, 3, 4, 2, 2);
}

TEST_F(gmem_1g, placement_follows_policy)
{
	unsigned long n1 = 2, n0 = 1;
	char *mem;
	int fd;

	/* Interleaved file: page 0 on node 0, page 1 on node 1. */
	ASSERT_EQ(0, set_policy(MPOL_INTERLEAVE, 3));
	fd = create_gmem(self->vm, 2UL * SZ_1G, SHARED_FLAGS, 30);
	ASSERT_EQ(0, set_policy(MPOL_DEFAULT, 0));
	ASSERT_LE(0, fd);
	mem = map_aligned(fd, 2UL * SZ_1G);
	ASSERT_NE(MAP_FAILED, mem);
	mem[0] = 1;
	mem[SZ_1G + 4096] = 1;
	ASSERT_EQ(0, page_node(mem));
	ASSERT_EQ(1, page_node(mem + SZ_1G + 4096));
	munmap(mem, 2UL * SZ_1G);
	close(fd);
	ASSERT_TRUE(pools_wait(self->base, NULL, NULL));

	/* The file's shared policy (mbind) picks the node of the reservation. */
	ASSERT_EQ(0, set_policy(MPOL_INTERLEAVE, 3));
	fd = create_gmem(self->vm, 2UL * SZ_1G, SHARED_FLAGS, 30);
	ASSERT_EQ(0, set_policy(MPOL_DEFAULT, 0));
	ASSERT_LE(0, fd);
	mem = map_aligned(fd, 2UL * SZ_1G);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, syscall(__NR_mbind, mem, SZ_1G, MPOL_BIND, &n1, 64, 0));
	ASSERT_EQ(0, syscall(__NR_mbind, mem + SZ_1G, SZ_1G, MPOL_BIND, &n0, 64, 0));
	mem[0] = 1;
	mem[SZ_1G] = 1;
	ASSERT_EQ(1, page_node(mem));
	ASSERT_EQ(0, page_node(mem + SZ_1G));
	munmap(mem, 2UL * SZ_1G);
	close(fd);
}

TEST_F_TIMEOUT(gmem_1g, mmap_zeroed_and_shared, 240)
{
	const size_t words = SZ_1G / sizeof(u64);
	long dresv[NR_NODES] = { 0, 0 }, dused[NR_NODES] = { 1, 0 };
	u64 *mem, *alias, i;
	int fd;

	/* Mapping a file without MMAP fails; mapping privately fails. */
	fd = create_gmem(self->vm, SZ_1G, HUGE_FLAGS, 30);
	ASSERT_LE(0, fd);
	ASSERT_EQ(MAP_FAILED, mmap(NULL, SZ_1G, PROT_READ, MAP_SHARED, fd, 0));
	close(fd);

	fd = create_gmem(self->vm, SZ_1G, SHARED_FLAGS, 30);
	ASSERT_LE(0, fd);
	ASSERT_EQ(MAP_FAILED, mmap(NULL, SZ_1G, PROT_READ, MAP_PRIVATE, fd, 0));
	mem = map_aligned(fd, SZ_1G);
	ASSERT_NE(MAP_FAILED, mem);
	/* A fresh page reads as zeroes, all of it. */
	for (i = 0; i < words; i++)
		if (mem[i])
			break;
	ASSERT_EQ(words, i);
	ASSERT_TRUE(pools_are(self->base, dresv, dused));
	for (i = 0; i < words; i += 512)
		mem[i] = ~i;
	/* A second mapping sees the same bytes. */
	alias = mmap(NULL, SZ_1G, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, alias);
	for (i = 0; i < words; i += 512)
		if (alias[i] != ~i)
			break;
	ASSERT_EQ(words, i);
	munmap(alias, SZ_1G);
	/* Punching the page gives it back; the next fault gets zeroes again. */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			       0, SZ_1G));
	dresv[0] = 1;
	dused[0] = 0;
	ASSERT_TRUE(pools_wait(self->base, dresv, dused));
	dresv[0] = 0;
	dused[0] = 1;
	for (i = 0; i < words; i += 512)
		if (mem[i])
			break;
	ASSERT_EQ(words, i);
	ASSERT_TRUE(pools_are(self->base, dresv, dused));
	munmap(mem, SZ_1G);
	close(fd);
}

/*
 * Guest: check the host's pattern (@host_seed xor the file offset, @base is
 * the slot's offset in the file) on every 4 KiB page, write its own.
 */
static void guest_rw(u64 gpa, u64 size, u64 host_seed, u64 base)
{
	u64 off;

	for (off = 0; off < size; off += PAGE_SIZE) {
		u64 *p = (u64 *)(gpa + off);

		if (host_seed)
			GUEST_ASSERT_EQ(READ_ONCE(*p), host_seed ^ (base + off));
		WRITE_ONCE(*p, (gpa + off) ^ 0x600dcafe);
	}
	for (off = 0; off < size; off += PAGE_SIZE)
		GUEST_ASSERT_EQ(READ_ONCE(*(u64 *)(gpa + off)),
				(gpa + off) ^ 0x600dcafe);
	GUEST_DONE();
}

static u64 vm_stat(struct kvm_vm *vm, const char *name)
{
	u64 v = 0;

	kvm_get_stat(&vm->stats, name, &v, 1);
	return v;
}

/*
 * A DEFAULT VM whose memory is a 1 GiB slot of a shared, mmap-able file of
 * @file_size: the host writes, the guest checks and writes, the host checks.
 * @skew moves the slot's guest address, @offset its place in the file.
 */
static void run_shared_vm(struct __test_metadata *_metadata, u64 file_size,
			  u64 skew, u64 offset, u64 want_1g)
{
	const u64 seed = 0x1234567890abcdefULL, size = SZ_1G;
	const u64 gpa = GPA + skew;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	u64 *mem, off;
	int fd;

	vm = __vm_create_shape_with_one_vcpu(VM_SHAPE_DEFAULT, &vcpu,
					     SZ_8M / PAGE_SIZE, guest_rw);
	fd = create_gmem(vm, file_size, SHARED_FLAGS, 30);
	ASSERT_LE(0, fd);
	vm_set_user_memory_region2(vm, SLOT, KVM_MEM_GUEST_MEMFD, gpa, size,
				   NULL, fd, offset);
	mem = map_aligned(fd, file_size);
	ASSERT_NE(MAP_FAILED, mem);
	for (off = 0; off < size; off += PAGE_SIZE)
		mem[(offset + off) / 8] = seed ^ (offset + off);
	virt_map_level(vm, gpa, gpa, size, PG_LEVEL_2M);
	vcpu_args_set(vcpu, 4, gpa, size, seed, offset);
	vcpu_run(vcpu);
	TEST_ASSERT_EQ(get_ucall(vcpu, NULL), UCALL_DONE);
	for (off = 0; off < size; off += PAGE_SIZE)
		if (mem[(offset + off) / 8] != ((gpa + off) ^ 0x600dcafe))
			break;
	ASSERT_EQ(size, off);
	ASSERT_EQ(want_1g, vm_stat(vm, "pages_1g"));
	if (!want_1g)
		ASSERT_LT(0, vm_stat(vm, "pages_2m"));
	munmap(mem, file_size);
	close(fd);
	kvm_vm_free(vm);
}

TEST_F_TIMEOUT(gmem_1g, shared_vm_1g_mappings, 300)
{
	run_shared_vm(_metadata, SZ_1G, 0, 0, 1);
}

/* The slot's guest address is 2 MiB off: 2 MiB mappings at most. */
TEST_F_TIMEOUT(gmem_1g, shared_vm_misaligned_gpa, 300)
{
	run_shared_vm(_metadata, SZ_1G, SZ_2M, 0, 0);
}

/* The slot starts 2 MiB into the file: 2 MiB mappings at most. */
TEST_F_TIMEOUT(gmem_1g, shared_vm_misaligned_offset, 300)
{
	run_shared_vm(_metadata, 2UL * SZ_1G, 0, SZ_2M, 0);
}

/*
 * A SW_PROTECTED VM running @guest, whose memory is a private slot of a new
 * 1 GiB-page guest_memfd of @size at GPA, all of it faulted in with
 * KVM_PRE_FAULT_MEMORY.  Returns the VM; *@fd is the file.
 */
static struct kvm_vm *private_vm(struct __test_metadata *_metadata, u64 size,
				 void *guest, struct kvm_vcpu **vcpu, int *fd)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	struct kvm_pre_fault_memory range = { .gpa = GPA, .size = size };
	struct kvm_vm *vm;
	int r;

	vm = __vm_create_shape_with_one_vcpu(shape, vcpu, SZ_8M / PAGE_SIZE, guest);
	*fd = create_gmem(vm, size, HUGE_FLAGS, 30);
	ASSERT_LE(0, *fd);
	vm_set_user_memory_region2(vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA, size,
				   NULL, *fd, 0);
	vm_mem_set_private(vm, GPA, size);
	virt_map_level(vm, GPA, GPA, size, PG_LEVEL_2M);
	do {
		r = __vcpu_ioctl(*vcpu, KVM_PRE_FAULT_MEMORY, &range);
	} while (r < 0 && (errno == EINTR || errno == EAGAIN));
	ASSERT_EQ(0, r);
	ASSERT_EQ(0, range.size);
	return vm;
}

TEST_F_TIMEOUT(gmem_1g, private_vm_1g_mappings, 300)
{
	const u64 size = 2UL * SZ_1G;
	long dused[NR_NODES] = { 2, 0 };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int fd;

	if (!(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)))
		SKIP(return, "no KVM_X86_SW_PROTECTED_VM");
	vm = private_vm(_metadata, size, guest_rw, &vcpu, &fd);
	ASSERT_EQ(2, vm_stat(vm, "pages_1g"));
	ASSERT_TRUE(pools_are(self->base, NULL, dused));
	vcpu_args_set(vcpu, 4, GPA, size, 0, 0);
	vcpu_run(vcpu);
	TEST_ASSERT_EQ(get_ucall(vcpu, NULL), UCALL_DONE);
	ASSERT_EQ(2, vm_stat(vm, "pages_1g"));
	close(fd);
	kvm_vm_free(vm);
}

/* Guest: write a pattern on every 4 KiB page, check it, sync, check again. */
static void guest_write_check_twice(u64 gpa, u64 size)
{
	u64 off;

	for (off = 0; off < size; off += PAGE_SIZE)
		WRITE_ONCE(*(u64 *)(gpa + off), (gpa + off) ^ 0xfeedf00d);
	for (off = 0; off < size; off += PAGE_SIZE)
		GUEST_ASSERT_EQ(READ_ONCE(*(u64 *)(gpa + off)), (gpa + off) ^ 0xfeedf00d);
	GUEST_SYNC(1);
	for (off = 0; off < size; off += PAGE_SIZE)
		GUEST_ASSERT_EQ(READ_ONCE(*(u64 *)(gpa + off)), (gpa + off) ^ 0xfeedf00d);
	GUEST_DONE();
}

/*
 * A private 1 GiB page in use by a guest keeps its vmemmap trimmed; its
 * 262144 pfns read as one compound page in /proc/kpageflags, and the
 * guest's data is intact after they were read.
 */
TEST_F_TIMEOUT(gmem_1g, private_trimmed_kpageflags, 300)
{
	const u64 size = SZ_1G, npfn = SZ_1G / PAGE_SIZE;
	long dused[NR_NODES] = { 1, 0 }, shared = -1;
	unsigned long pfn = 0, i, bad = 0;
	struct kvm_vcpu *vcpu;
	struct ucall uc;
	struct kvm_vm *vm;
	u64 *flags;
	int fd, kfd;

	if (!(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)))
		SKIP(return, "no KVM_X86_SW_PROTECTED_VM");
	vm = private_vm(_metadata, size, guest_write_check_twice, &vcpu, &fd);
	ASSERT_TRUE(pools_are(self->base, NULL, dused));
	vcpu_args_set(vcpu, 2, GPA, size);
	vcpu_run(vcpu);
	ASSERT_EQ(UCALL_SYNC, get_ucall(vcpu, &uc));
	ASSERT_EQ(1, vm_stat(vm, "pages_1g"));

	ASSERT_TRUE(pool_folio(0, "used", &pfn, &shared));
	ASSERT_EQ(trimming() ? 512 : 0, shared);
	ASSERT_TRUE(saved_wait(self->vmemmap));
	flags = malloc(npfn * sizeof(*flags));
	ASSERT_NE(NULL, flags);
	kfd = open("/proc/kpageflags", O_RDONLY);
	ASSERT_LE(0, kfd);
	ASSERT_EQ((ssize_t)(npfn * sizeof(*flags)),
		  pread(kfd, flags, npfn * sizeof(*flags), pfn * sizeof(*flags)));
	close(kfd);
	ASSERT_TRUE(flags[0] & (1ULL << KPF_COMPOUND_HEAD));
	ASSERT_FALSE(flags[0] & (1ULL << KPF_COMPOUND_TAIL));
	for (i = 0; i < npfn; i++) {
		u64 f = flags[i];
		bool ok = !(f & (1ULL << KPF_HUGE | 1ULL << KPF_HWPOISON |
				 1ULL << KPF_NOPAGE));

		if (i)
			ok &= (f & (1ULL << KPF_COMPOUND_TAIL)) &&
			      !(f & (1ULL << KPF_COMPOUND_HEAD));
		if (!ok && !bad++)
			TH_LOG("pfn %#lx (page %lu of the folio): kpageflags %#llx",
			       pfn + i, i, (unsigned long long)f);
	}
	free(flags);
	ASSERT_EQ(0, bad);

	vcpu_run(vcpu);
	ASSERT_EQ(UCALL_DONE, get_ucall(vcpu, &uc));
	close(fd);
	kvm_vm_free(vm);
}

/*
 * Host userspace maps a folio with PTEs, which write its struct pages: the
 * folio gets its own vmemmap first, and is trimmed again once it is free.
 */
TEST_F_TIMEOUT(gmem_1g, host_mapping_restores_vmemmap, 120)
{
	long dused[NR_NODES] = { 1, 0 }, want[NR_NODES], shared = -1;
	unsigned long pfn = 0;
	char *mem;
	int fd;

	fd = create_gmem(self->vm, SZ_1G, SHARED_FLAGS, 30);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_1G));
	ASSERT_TRUE(pools_are(self->base, NULL, dused));
	ASSERT_TRUE(pool_folio(0, "used", &pfn, &shared));
	ASSERT_EQ(trimming() ? 512 : 0, shared);
	ASSERT_TRUE(saved_wait(self->vmemmap));

	mem = map_aligned(fd, SZ_1G);
	ASSERT_NE(MAP_FAILED, mem);
	mem[SZ_1G - 1] = 7;
	ASSERT_TRUE(pool_folio(0, "used", &pfn, &shared));
	ASSERT_EQ(0, shared);
	memcpy(want, self->vmemmap, sizeof(want));
	if (trimming())
		want[0] -= SAVED_PER_GB;
	ASSERT_TRUE(saved_wait(want));
	ASSERT_EQ(7, mem[SZ_1G - 1]);

	munmap(mem, SZ_1G);
	close(fd);
	ASSERT_TRUE(pools_wait(self->base, NULL, NULL));
	ASSERT_TRUE(saved_wait(self->vmemmap));
	ASSERT_TRUE(pool_folio(0, "free", &pfn, &shared));
	ASSERT_EQ(trimming() ? 512 : 0, shared);
}

struct race {
	struct kvm_vm *vm;
	pthread_barrier_t *barrier;
	int fd;
	char *mem;
	int ret, err;
	bool *stop;
	long ok, enomem;
};

static void *create_racer(void *arg)
{
	struct race *r = arg;

	pthread_barrier_wait(r->barrier);
	r->fd = create_gmem(r->vm, 2UL * SZ_1G, HUGE_FLAGS, 30);
	r->err = r->fd < 0 ? errno : 0;
	return NULL;
}

TEST_F(gmem_1g, creates_race_for_last_pages)
{
	long dresv[NR_NODES] = { 2, 2 };
	pthread_barrier_t barrier;
	pthread_t tid[4];
	struct race r[4];
	int i, won = 0;

	/* 4 free pages, 4 creators of 2-page files: exactly 2 win. */
	pthread_barrier_init(&barrier, NULL, 4);
	for (i = 0; i < 4; i++) {
		r[i] = (struct race){ .vm = self->vm, .barrier = &barrier };
		ASSERT_EQ(0, pthread_create(&tid[i], NULL, create_racer, &r[i]));
	}
	for (i = 0; i < 4; i++)
		pthread_join(tid[i], NULL);
	for (i = 0; i < 4; i++) {
		if (r[i].fd >= 0)
			won++;
		else
			ASSERT_EQ(ENOMEM, r[i].err);
	}
	ASSERT_EQ(2, won);
	ASSERT_TRUE(pools_are(self->base, dresv, NULL));
	for (i = 0; i < 4; i++)
		if (r[i].fd >= 0)
			close(r[i].fd);
	pthread_barrier_destroy(&barrier);
}

static void *fault_racer(void *arg)
{
	struct race *r = arg;

	pthread_barrier_wait(r->barrier);
	if (r->mem) {
		r->mem[4096 * (r->ok + 1)] = 1;
		r->ret = 0;
	} else {
		r->ret = fallocate(r->fd, FALLOC_FL_KEEP_SIZE, 0, SZ_1G);
		r->err = r->ret ? errno : 0;
	}
	return NULL;
}

TEST_F_TIMEOUT(gmem_1g, faults_race_on_one_page, 120)
{
	long pages, resv, used, nresv[NR_NODES], nused[NR_NODES];
	pthread_barrier_t barrier;
	pthread_t tid[4];
	struct race r[4];
	char *mem;
	int fd, i;

	/* One reserved page, four threads wanting it at once. */
	fd = create_gmem(self->vm, SZ_1G, SHARED_FLAGS, 30);
	ASSERT_LE(0, fd);
	mem = map_aligned(fd, SZ_1G);
	ASSERT_NE(MAP_FAILED, mem);
	pthread_barrier_init(&barrier, NULL, 4);
	for (i = 0; i < 4; i++) {
		r[i] = (struct race){ .barrier = &barrier, .fd = fd, .ok = i,
				      .mem = i & 1 ? mem : NULL };
		ASSERT_EQ(0, pthread_create(&tid[i], NULL, fault_racer, &r[i]));
	}
	for (i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		ASSERT_EQ(0, r[i].ret);
	}
	ASSERT_TRUE(file_info(fd, &pages, &resv, &used, nresv, nused));
	ASSERT_EQ(0, resv);
	ASSERT_EQ(1, used);
	for (i = 0; i < 4; i++)
		if (i & 1)
			ASSERT_EQ(1, mem[4096 * (i + 1)]);
	pthread_barrier_destroy(&barrier);
	munmap(mem, SZ_1G);
	close(fd);
}

static void *stress_faulter(void *arg)
{
	struct race *r = arg;
	unsigned int n = 0;

	while (!READ_ONCE(*r->stop)) {
		u64 off = (n++ & 1) * SZ_1G;

		if (r->mem) {
			/* A fresh page is zero; ours may already be 7. */
			if (r->mem[off + 64] != 0 && r->mem[off + 64] != 7) {
				r->err = EIO;
				break;
			}
			r->mem[off + 64] = 7;
		} else if (fallocate(r->fd, FALLOC_FL_KEEP_SIZE, off, SZ_1G)) {
			r->err = errno;
			break;
		}
		r->ok++;
	}
	return NULL;
}

static void *stress_puncher(void *arg)
{
	struct race *r = arg;
	unsigned int n = 0;

	while (!READ_ONCE(*r->stop)) {
		if (fallocate(r->fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			      (n++ & 1) * SZ_1G, SZ_1G)) {
			r->err = errno;
			break;
		}
		r->ok++;
		usleep(1000);
	}
	return NULL;
}

TEST_F_TIMEOUT(gmem_1g, fault_vs_punch_stress, 240)
{
	bool stop = false;
	pthread_t tid[4];
	struct race r[4];
	char *mem;
	int fd, i;

	/* Two pages, two faulting threads of each kind, one puncher. */
	fd = create_gmem(self->vm, 2UL * SZ_1G, SHARED_FLAGS, 30);
	ASSERT_LE(0, fd);
	mem = map_aligned(fd, 2UL * SZ_1G);
	ASSERT_NE(MAP_FAILED, mem);
	for (i = 0; i < 4; i++) {
		r[i] = (struct race){ .fd = fd, .stop = &stop,
				      .mem = i == 1 || i == 2 ? mem : NULL };
		ASSERT_EQ(0, pthread_create(&tid[i], NULL,
					    i == 3 ? stress_puncher : stress_faulter,
					    &r[i]));
	}
	sleep(STRESS_SECONDS);
	WRITE_ONCE(stop, true);
	for (i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		EXPECT_EQ(0, r[i].err);
		EXPECT_LT(0, r[i].ok);
	}
	ksft_print_msg("stress: %ld fallocates, %ld+%ld touches, %ld punches\n",
		       r[0].ok, r[1].ok, r[2].ok, r[3].ok);
	munmap(mem, 2UL * SZ_1G);
	close(fd);
}

TEST_HARNESS_MAIN
