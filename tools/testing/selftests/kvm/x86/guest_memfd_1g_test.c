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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/stddef.h>	/* before io_uring.h, which needs it */
#include <linux/io_uring.h>
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

/* The number in a sysfs file under SYSFS, or -1 if it cannot be read. */
static long sysfs_long(const char *name)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), SYSFS "/%s", name);
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

static long node_stat(int nid, const char *name)
{
	char file[96];

	snprintf(file, sizeof(file), "node%d/%s", nid, name);
	return sysfs_long(file);
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

/* Write @s to the file at @path: 0 or -errno. */
static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int set_pool(int nid, long pages)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), SYSFS "/node%d/nr_pages", nid);
	snprintf(buf, sizeof(buf), "%ld", pages);
	return write_str(path, buf);
}

/* A "<name>: <n> kB" line of /proc/meminfo in 1 GiB pages, -1 if absent. */
static long meminfo_gb(const char *name)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, strlen(name)) && line[strlen(name)] == ':')
			sscanf(line + strlen(name) + 1, "%ld", &kb);
	fclose(f);
	return kb < 0 ? -1 : kb / (SZ_1G / 1024);
}

/*
 * The global sysfs counters and the GmemCma lines of /proc/meminfo agree
 * with the per-node ones in @now (only nodes 0 and 1 have areas here).
 */
static bool totals_agree(const struct pool *now)
{
	long nr = now[0].nr + now[1].nr, free = now[0].free + now[1].free;
	long resv = now[0].resv + now[1].resv, used = now[0].used + now[1].used;
	long g[4] = { sysfs_long("nr_pages"), sysfs_long("free_pages"),
		      sysfs_long("resv_pages"), sysfs_long("used_pages") };
	long mi[3] = { meminfo_gb("GmemCmaTotal"), meminfo_gb("GmemCmaFree"),
		       meminfo_gb("GmemCmaRsvd") };

	if (g[0] == nr && g[1] == free && g[2] == resv && g[3] == used &&
	    mi[0] == nr && mi[1] == free && mi[2] == resv)
		return true;
	fprintf(stderr,
		"totals: sysfs nr %ld free %ld resv %ld used %ld, meminfo total %ld free %ld rsvd %ld; nodes: nr %ld free %ld resv %ld used %ld\n",
		g[0], g[1], g[2], g[3], mi[0], mi[1], mi[2], nr, free, resv, used);
	return false;
}

/* Pools equal to @base except for per-node resv/used deltas. */
static bool pools_are(const struct pool *base, const long *dresv,
		      const long *dused)
{
	struct pool now[NR_NODES];
	int nid;

	read_pools(now);
	for (nid = 0; nid < NR_NODES; nid++) {
		/* A counter that cannot be read never matches. */
		if (now[nid].nr < 0 || now[nid].free < 0 || now[nid].resv < 0 ||
		    now[nid].used < 0) {
			fprintf(stderr, "node %d: a pool counter is missing\n", nid);
			return false;
		}
	}
	if (!totals_agree(now))
		return false;
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

/*
 * Map @size bytes of @fd (or anonymous memory if @fd < 0) where a VMM's
 * allocator would: 2 MiB-aligned, and 2 MiB past a 1 GiB boundary so that
 * nothing passes only because the address happens to be 1 GiB-aligned.
 * @skew (a multiple of 4 KiB) moves the address further.
 */
static void *map_vmm(int fd, size_t size, size_t skew)
{
	size_t span = size + 2UL * SZ_1G;
	char *area, *addr;

	area = mmap(NULL, span, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		return MAP_FAILED;
	addr = (char *)(((unsigned long)area + SZ_1G - 1) & ~(SZ_1G - 1UL));
	addr += SZ_2M + skew;
	if (fd >= 0)
		addr = mmap(addr, size, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_FIXED, fd, 0);
	else
		addr = mmap(addr, size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			    MAP_FIXED, -1, 0);
	if (addr == MAP_FAILED) {
		munmap(area, span);
		return MAP_FAILED;
	}
	munmap(area, addr - area);
	munmap(addr + size, area + span - (addr + size));
	return addr;
}

static void *map_aligned(int fd, size_t size)
{
	return map_vmm(fd, size, 0);
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

	/* Ranges beyond the file or not 4 KiB aligned are refused. */
	ASSERT_EQ(-1, fallocate(fd, FALLOC_FL_KEEP_SIZE, SZ_1G, 2UL * SZ_1G));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_2M + 100));
	ASSERT_EQ(EINVAL, errno);
	/* Punching part of a page never allocated allocates nothing. */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			       SZ_1G, SZ_4K));
	ASSERT_TRUE(pools_are(self->base, dresv, dused));

	/*
	 * Allocate part of the second page (the whole page comes), then
	 * both; a 4 KiB punch inside a page keeps the page; then punch the
	 * first whole.
	 */
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE, SZ_1G + SZ_2M, SZ_4K));
	dresv[0] = 1;
	dused[0] = 1;
	ASSERT_TRUE(pools_are(self->base, dresv, dused));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 2UL * SZ_1G));
	dresv[0] = 0;
	dused[0] = 2;
	ASSERT_TRUE(pools_are(self->base, dresv, dused));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			       SZ_4K, SZ_4K));
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

static void guest_rw(u64 gpa, u64 size, u64 host_seed, u64 base);

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

TEST_F_TIMEOUT(gmem_1g, memory_policies, 120)
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
	/* Preferred-many: those nodes first (nearest first), then the rest. */
	check_policy(_metadata, self->vm, self->base, MPOL_PREFERRED_MANY, 2, 1, 0, 1);
	check_policy(_metadata, self->vm, self->base, MPOL_PREFERRED_MANY, 2, 3, 1, 2);
	check_policy(_metadata, self->vm, self->base, MPOL_PREFERRED_MANY, 3, 3, 2, 1);
	/* Weighted interleave: round-robin over the nodes too. */
	check_policy(_metadata, self->vm, self->base, MPOL_WEIGHTED_INTERLEAVE, 3, 2, 1, 1);
	check_policy(_metadata, self->vm, self->base, MPOL_WEIGHTED_INTERLEAVE, 3, 3, 2, 1);
}

/*
 * A 2 GiB shared file reserved one page per node (interleaved), mapped, its
 * shared policy binding page 0 to node 1 and page 1 to node 0.
 */
static char *bound_file(struct __test_metadata *_metadata, struct kvm_vm *vm,
			int *fd)
{
	unsigned long n1 = 2, n0 = 1;
	char *mem;

	ASSERT_EQ(0, set_policy(MPOL_INTERLEAVE, 3));
	*fd = create_gmem(vm, 2UL * SZ_1G, SHARED_FLAGS, 30);
	ASSERT_EQ(0, set_policy(MPOL_DEFAULT, 0));
	ASSERT_LE(0, *fd);
	mem = map_aligned(*fd, 2UL * SZ_1G);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, syscall(__NR_mbind, mem, SZ_1G, MPOL_BIND, &n1, 64, 0));
	ASSERT_EQ(0, syscall(__NR_mbind, mem + SZ_1G, SZ_1G, MPOL_BIND, &n0, 64, 0));
	return mem;
}

/*
 * mbind() on a mapping of the file also places the pages KVM faults in
 * (not only host faults): page 0 bound to node 1, page 1 to node 0, both
 * allocated by KVM_PRE_FAULT_MEMORY of a DEFAULT VM.
 */
TEST_F_TIMEOUT(gmem_1g, kvm_faults_follow_mbind, 120)
{
	struct kvm_pre_fault_memory range = { .gpa = GPA, .size = 2UL * SZ_1G };
	long dused[NR_NODES] = { 1, 1 }, pages, resv, used;
	long nresv[NR_NODES], nused[NR_NODES];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char *mem;
	int fd, r;

	vm = __vm_create_shape_with_one_vcpu(VM_SHAPE_DEFAULT, &vcpu,
					     SZ_8M / PAGE_SIZE, guest_rw);
	mem = bound_file(_metadata, vm, &fd);
	vm_set_user_memory_region2(vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA,
				   2UL * SZ_1G, mem, fd, 0);
	do {
		r = __vcpu_ioctl(vcpu, KVM_PRE_FAULT_MEMORY, &range);
	} while (r < 0 && (errno == EINTR || errno == EAGAIN));
	ASSERT_EQ(0, r);
	ASSERT_TRUE(file_info(fd, &pages, &resv, &used, nresv, nused));
	ASSERT_EQ(2, used);
	ASSERT_EQ(1, nused[0]);
	ASSERT_EQ(1, nused[1]);
	ASSERT_TRUE(pools_are(self->base, NULL, dused));
	/* Host reads find KVM's pages: page 0 on node 1, page 1 on node 0. */
	ASSERT_EQ(0, mem[SZ_2M]);
	ASSERT_EQ(0, mem[SZ_1G + SZ_2M]);
	ASSERT_EQ(1, page_node(mem + SZ_2M));
	ASSERT_EQ(0, page_node(mem + SZ_1G + SZ_2M));
	munmap(mem, 2UL * SZ_1G);
	close(fd);
	kvm_vm_free(vm);
}

TEST_F_TIMEOUT(gmem_1g, placement_follows_policy, 120)
{
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
	mem = bound_file(_metadata, self->vm, &fd);
	mem[0] = 1;
	mem[SZ_1G] = 1;
	ASSERT_EQ(1, page_node(mem));
	ASSERT_EQ(0, page_node(mem + SZ_1G));
	munmap(mem, 2UL * SZ_1G);
	close(fd);
}

/*
 * Whether all @len bytes at @p read zero: an OR over each 4 KiB page, which
 * the compiler vectorizes; under TCG a word-by-word loop that can stop at
 * any word takes about a minute per GiB.
 */
static bool all_zero(const u64 *p, size_t len)
{
	size_t i, j;
	u64 acc;

	for (i = 0; i < len / sizeof(u64); i += PAGE_SIZE / sizeof(u64)) {
		acc = 0;
		for (j = 0; j < PAGE_SIZE / sizeof(u64); j++)
			acc |= p[i + j];
		if (acc)
			return false;
	}
	return true;
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
	ASSERT_TRUE(all_zero(mem, SZ_1G));
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

		/* Without a host pattern the page is new: zeroed. */
		GUEST_ASSERT_EQ(READ_ONCE(*p),
				host_seed ? host_seed ^ (base + off) : 0);
		GUEST_ASSERT_EQ(READ_ONCE(p[PAGE_SIZE / 8 - 1]),
				host_seed ? READ_ONCE(p[PAGE_SIZE / 8 - 1]) : 0);
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
			  u64 skew, u64 offset, int want_level)
{
	const u64 seed = 0x1234567890abcdefULL, size = SZ_1G;
	/* 4 KiB mappings cost a nested fault each under TCG: touch less. */
	const u64 touch = want_level == PG_LEVEL_4K ? SZ_64M : size;
	const u64 gpa = GPA + skew;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	u64 *mem, off;
	int fd;

	vm = __vm_create_shape_with_one_vcpu(VM_SHAPE_DEFAULT, &vcpu,
					     SZ_8M / PAGE_SIZE, guest_rw);
	fd = create_gmem(vm, file_size, SHARED_FLAGS, 30);
	ASSERT_LE(0, fd);
	mem = map_aligned(fd, file_size);
	ASSERT_NE(MAP_FAILED, mem);
	vm_set_user_memory_region2(vm, SLOT, KVM_MEM_GUEST_MEMFD, gpa, size,
				   (char *)mem + offset, fd, offset);
	for (off = 0; off < size; off += PAGE_SIZE)
		mem[(offset + off) / 8] = seed ^ (offset + off);
	virt_map_level(vm, gpa, gpa, size, PG_LEVEL_2M);
	vcpu_args_set(vcpu, 4, gpa, touch, seed, offset);
	vcpu_run(vcpu);
	TEST_ASSERT_EQ(get_ucall(vcpu, NULL), UCALL_DONE);
	for (off = 0; off < touch; off += PAGE_SIZE)
		if (mem[(offset + off) / 8] != ((gpa + off) ^ 0x600dcafe))
			break;
	ASSERT_EQ(touch, off);
	ASSERT_EQ(want_level == PG_LEVEL_1G, vm_stat(vm, "pages_1g"));
	if (want_level == PG_LEVEL_2M)
		ASSERT_LT(0, vm_stat(vm, "pages_2m"));
	if (want_level == PG_LEVEL_4K)
		ASSERT_EQ(0, vm_stat(vm, "pages_2m"));
	munmap(mem, file_size);
	close(fd);
	kvm_vm_free(vm);
}

TEST_F_TIMEOUT(gmem_1g, shared_vm_1g_mappings, 300)
{
	run_shared_vm(_metadata, SZ_1G, 0, 0, PG_LEVEL_1G);
}

/* The slot's guest address is 2 MiB off: 2 MiB mappings at most. */
TEST_F_TIMEOUT(gmem_1g, shared_vm_misaligned_gpa, 300)
{
	run_shared_vm(_metadata, SZ_1G, SZ_2M, 0, PG_LEVEL_2M);
}

/* The slot starts 2 MiB into the file: 2 MiB mappings at most. */
TEST_F_TIMEOUT(gmem_1g, shared_vm_misaligned_offset, 300)
{
	run_shared_vm(_metadata, 2UL * SZ_1G, 0, SZ_2M, PG_LEVEL_2M);
}

/*
 * The slot starts 64 KiB into the file: guest_memfd must report an order
 * KVM maps (0 here, never 4), so 4 KiB mappings only.
 */
TEST_F_TIMEOUT(gmem_1g, shared_vm_offset_64k, 300)
{
	run_shared_vm(_metadata, 2UL * SZ_1G, 0, SZ_64K, PG_LEVEL_4K);
}

/* 4 MiB into the file: order 10 is reported as 9, 2 MiB mappings. */
TEST_F_TIMEOUT(gmem_1g, shared_vm_offset_4m, 300)
{
	run_shared_vm(_metadata, 2UL * SZ_1G, 0, 4 * SZ_1M, PG_LEVEL_2M);
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
	void *shared;
	int r;

	vm = __vm_create_shape_with_one_vcpu(shape, vcpu, SZ_8M / PAGE_SIZE, guest);
	*fd = create_gmem(vm, size, HUGE_FLAGS, 30);
	ASSERT_LE(0, *fd);
	/* The shared side where a VMM puts it: 2 MiB- but not 1 GiB-aligned. */
	shared = map_vmm(-1, size, 0);
	ASSERT_NE(MAP_FAILED, shared);
	vm_set_user_memory_region2(vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA, size,
				   shared, *fd, 0);
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

	for (off = 0; off < size; off += PAGE_SIZE) {
		GUEST_ASSERT_EQ(READ_ONCE(*(u64 *)(gpa + off)), 0);
		WRITE_ONCE(*(u64 *)(gpa + off), (gpa + off) ^ 0xfeedf00d);
	}
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

/*
 * A SW_PROTECTED VM with a 2 GiB slot whose shared side (userspace_addr) is
 * anonymous memory @skew bytes past where a VMM would put it: the first GiB
 * private, the second shared.  Private memory gets a 1 GiB entry whatever
 * userspace_addr is; shared memory keeps the host-mapping rule (2 MiB with
 * a 2 MiB-aligned address and THP, 4 KiB when the address is not).
 */
static void run_split_vm(struct __test_metadata *_metadata, u64 skew,
			 int want_shared_level)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	const u64 size = 2UL * SZ_1G;
	struct kvm_pre_fault_memory range = { .gpa = GPA, .size = SZ_1G };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	u64 *shared, off;
	int fd, r;

	vm = __vm_create_shape_with_one_vcpu(shape, &vcpu, SZ_8M / PAGE_SIZE,
					     guest_rw);
	fd = create_gmem(vm, size, HUGE_FLAGS, 30);
	ASSERT_LE(0, fd);
	shared = map_vmm(-1, size, skew);
	ASSERT_NE(MAP_FAILED, shared);
	ASSERT_EQ(0, madvise(shared, size, MADV_HUGEPAGE));
	vm_set_user_memory_region2(vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA, size,
				   shared, fd, 0);
	vm_mem_set_private(vm, GPA, SZ_1G);
	virt_map_level(vm, GPA, GPA, size, PG_LEVEL_2M);
	do {
		r = __vcpu_ioctl(vcpu, KVM_PRE_FAULT_MEMORY, &range);
	} while (r < 0 && (errno == EINTR || errno == EAGAIN));
	ASSERT_EQ(0, r);
	ASSERT_EQ(1, vm_stat(vm, "pages_1g"));

	/* The guest writes and checks the private GiB and 64 MiB shared. */
	vcpu_args_set(vcpu, 4, GPA, SZ_1G + SZ_64M, 0, 0);
	vcpu_run(vcpu);
	TEST_ASSERT_EQ(get_ucall(vcpu, NULL), UCALL_DONE);
	for (off = 0; off < SZ_64M; off += PAGE_SIZE)
		if (shared[(SZ_1G + off) / 8] != ((GPA + SZ_1G + off) ^ 0x600dcafe))
			break;
	ASSERT_EQ(SZ_64M, off);
	ASSERT_EQ(1, vm_stat(vm, "pages_1g"));
	ASSERT_EQ(want_shared_level == PG_LEVEL_2M, vm_stat(vm, "pages_2m") > 0);
	close(fd);
	kvm_vm_free(vm);
	munmap(shared, size);
}

TEST_F_TIMEOUT(gmem_1g, private_1g_with_vmm_shared_address, 300)
{
	if (!(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)))
		SKIP(return, "no KVM_X86_SW_PROTECTED_VM");
	run_split_vm(_metadata, 0, PG_LEVEL_2M);
}

TEST_F_TIMEOUT(gmem_1g, private_1g_with_4k_skewed_shared_address, 300)
{
	if (!(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)))
		SKIP(return, "no KVM_X86_SW_PROTECTED_VM");
	run_split_vm(_metadata, PAGE_SIZE, PG_LEVEL_4K);
}

/*
 * Only VM types without a per-page make-private step take huge pages:
 * DEFAULT and SW_PROTECTED on x86.  Every other type this host can create
 * must report no huge page size and refuse the flag with EINVAL.
 */
TEST_F(gmem_1g, vm_types)
{
	unsigned long types = kvm_check_cap(KVM_CAP_VM_TYPES);
	int type, kvm_fd, vm_fd, tried = 0;

	kvm_fd = open_kvm_dev_path_or_exit();
	for (type = 0; type < 32; type++) {
		struct kvm_create_guest_memfd args = {
			.size = SZ_1G,
			.flags = HUGE_FLAGS,
			.huge_page_size_log2 = 30,
		};
		bool huge = type == KVM_X86_DEFAULT_VM ||
			    type == KVM_X86_SW_PROTECTED_VM;
		int fd;

		if (!(types & BIT(type)))
			continue;
		vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, type);
		if (vm_fd < 0) {
			/* Listed but not creatable here (no SEV firmware). */
			ksft_print_msg("VM type %d: cannot create (%s)\n", type,
				       strerror(errno));
			continue;
		}
		tried++;
		ASSERT_EQ(huge ? 1UL << 30 : 0,
			  ioctl(vm_fd, KVM_CHECK_EXTENSION,
				KVM_CAP_GUEST_MEMFD_HUGE_PAGE_SIZES));
		ASSERT_EQ(huge, !!(ioctl(vm_fd, KVM_CHECK_EXTENSION,
					 KVM_CAP_GUEST_MEMFD_FLAGS) & HUGE_FLAGS));
		fd = ioctl(vm_fd, KVM_CREATE_GUEST_MEMFD, &args);
		if (huge) {
			ASSERT_LE(0, fd);
			close(fd);
		} else {
			ASSERT_EQ(-1, fd);
			ASSERT_EQ(EINVAL, errno);
		}
		ksft_print_msg("VM type %d: huge pages %s\n", type,
			       huge ? "accepted" : "refused");
		close(vm_fd);
	}
	close(kvm_fd);
	ASSERT_LE(2, tried);
}

/* A 1 GiB shared file, mapped as a VMM would and written with a pattern. */
static char *pattern_file(struct __test_metadata *_metadata, struct kvm_vm *vm,
			  int *fd)
{
	u64 off, *mem;

	*fd = create_gmem(vm, SZ_1G, SHARED_FLAGS, 30);
	ASSERT_LE(0, *fd);
	mem = map_aligned(*fd, SZ_1G);
	ASSERT_NE(MAP_FAILED, mem);
	for (off = 0; off < SZ_1G; off += PAGE_SIZE)
		mem[off / 8] = 0x5eed0000 ^ off;
	return (char *)mem;
}

/* Offsets (multiples of 4 KiB) in [@start, @end) whose pattern is wrong. */
static u64 pattern_bad(const char *mem, u64 start, u64 end, u64 step)
{
	u64 off, bad = 0;

	for (off = start; off < end; off += step)
		bad += *(const u64 *)(mem + off) != (0x5eed0000 ^ off);
	return bad;
}

/* The pfns of [@addr, @addr + @size) are one physically contiguous run. */
static bool contiguous(const char *addr, u64 size, unsigned long *first)
{
	u64 n = size / PAGE_SIZE, i, *pm = malloc(n * sizeof(u64));
	bool ok;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY);
	ok = pm && fd >= 0 &&
	     pread(fd, pm, n * 8, (unsigned long)addr / PAGE_SIZE * 8) == (ssize_t)(n * 8);
	for (i = 0; ok && i < n; i++)
		ok = (pm[i] >> 63) &&
		     (pm[i] & ((1ULL << 55) - 1)) == (pm[0] & ((1ULL << 55) - 1)) + i;
	if (ok && first)
		*first = pm[0] & ((1ULL << 55) - 1);
	if (fd >= 0)
		close(fd);
	free(pm);
	return ok;
}

/* The folio at @pfn is still one 1 GiB compound page (head, then tails). */
static bool still_whole(unsigned long pfn)
{
	const u64 npfn = SZ_1G / PAGE_SIZE;
	u64 *flags = malloc(npfn * sizeof(u64)), i;
	bool ok;
	int fd = open("/proc/kpageflags", O_RDONLY);

	ok = flags && fd >= 0 &&
	     pread(fd, flags, npfn * 8, pfn * 8) == (ssize_t)(npfn * 8) &&
	     (flags[0] & (1ULL << KPF_COMPOUND_HEAD));
	for (i = 1; ok && i < npfn; i++)
		ok = (flags[i] & (1ULL << KPF_COMPOUND_TAIL)) &&
		     !(flags[i] & (1ULL << KPF_COMPOUND_HEAD));
	if (fd >= 0)
		close(fd);
	free(flags);
	return ok;
}

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#define MADV_GUARD_REMOVE	103
#endif

/*
 * Every madvise() advice on a 4 KiB and a 2 MiB piece of a host mapping of
 * a 1 GiB folio: a clean errno or a no-op, never a split (the folio stays
 * one physically contiguous compound page), never lost data; MADV_REMOVE
 * zeroes the piece in place.  Poisoning
 * advice is left to the hwpoison test, which runs in a boot of its own.
 */
TEST_F_TIMEOUT(gmem_1g, madvise_every_advice, 300)
{
	static const struct { int advice; const char *name; } advs[] = {
		{ MADV_NORMAL, "NORMAL" }, { MADV_RANDOM, "RANDOM" },
		{ MADV_SEQUENTIAL, "SEQUENTIAL" }, { MADV_WILLNEED, "WILLNEED" },
		{ MADV_DONTNEED, "DONTNEED" }, { MADV_FREE, "FREE" },
		{ MADV_REMOVE, "REMOVE" }, { MADV_DONTFORK, "DONTFORK" },
		{ MADV_DOFORK, "DOFORK" }, { MADV_MERGEABLE, "MERGEABLE" },
		{ MADV_UNMERGEABLE, "UNMERGEABLE" }, { MADV_HUGEPAGE, "HUGEPAGE" },
		{ MADV_NOHUGEPAGE, "NOHUGEPAGE" }, { MADV_DONTDUMP, "DONTDUMP" },
		{ MADV_DODUMP, "DODUMP" }, { MADV_WIPEONFORK, "WIPEONFORK" },
		{ MADV_KEEPONFORK, "KEEPONFORK" }, { MADV_COLD, "COLD" },
		{ MADV_PAGEOUT, "PAGEOUT" }, { MADV_POPULATE_READ, "POPULATE_READ" },
		{ MADV_POPULATE_WRITE, "POPULATE_WRITE" },
		{ MADV_DONTNEED_LOCKED, "DONTNEED_LOCKED" },
		{ MADV_COLLAPSE, "COLLAPSE" }, { MADV_GUARD_INSTALL, "GUARD_INSTALL" },
		{ MADV_GUARD_REMOVE, "GUARD_REMOVE" },
	};
	static const struct { u64 off, len; } pieces[] = {
		{ 6 * SZ_1M + PAGE_SIZE, PAGE_SIZE }, { 10 * SZ_1M, SZ_2M },
	};
	long dused[NR_NODES] = { 1, 0 };
	unsigned long pfn = 0;
	unsigned int a, p;
	char *mem;
	int fd;

	mem = pattern_file(_metadata, self->vm, &fd);
	ASSERT_TRUE(contiguous(mem, SZ_1G, &pfn));
	ASSERT_TRUE(still_whole(pfn));
	for (a = 0; a < ARRAY_SIZE(advs); a++) {
		for (p = 0; p < ARRAY_SIZE(pieces); p++) {
			char *addr = mem + pieces[p].off;
			int r, err;

			r = madvise(addr, pieces[p].len, advs[a].advice);
			err = r ? errno : 0;
			ksft_print_msg("madvise(%s) on %llu KiB: %s\n", advs[a].name,
				       (unsigned long long)pieces[p].len >> 10,
				       r ? strerror(err) : "0");
			ASSERT_TRUE(!r || err == EINVAL || err == EBUSY ||
				    err == EAGAIN || err == EPERM ||
				    err == EOPNOTSUPP || err == EIO) {
				TH_LOG("madvise(%s): unexpected error %d",
				       advs[a].name, err);
			}
			/* A guard region faults: check it, then lift it. */
			if (advs[a].advice == MADV_GUARD_INSTALL && !r)
				ASSERT_EQ(0, madvise(addr, pieces[p].len,
						     MADV_GUARD_REMOVE));
			/*
			 * MADV_REMOVE punches: part of a 1 GiB page is zeroed
			 * in place and the page stays.  Write the pattern
			 * back.
			 */
			if (advs[a].advice == MADV_REMOVE) {
				u64 off;

				ASSERT_EQ(0, r);
				for (off = 0; off < pieces[p].len; off += PAGE_SIZE) {
					ASSERT_EQ(0, *(u64 *)(addr + off));
					*(u64 *)(addr + off) = 0x5eed0000 ^
							       (pieces[p].off + off);
				}
			}
			ASSERT_EQ(0, pattern_bad(mem, pieces[p].off,
						 pieces[p].off + pieces[p].len,
						 PAGE_SIZE));
		}
		ASSERT_EQ(0, pattern_bad(mem, 0, SZ_1G, SZ_2M));
		ASSERT_TRUE(pools_are(self->base, NULL, dused));
	}
	ASSERT_EQ(0, pattern_bad(mem, 0, SZ_1G, PAGE_SIZE));
	ASSERT_TRUE(contiguous(mem, SZ_1G, NULL));
	ASSERT_TRUE(still_whole(pfn));
	munmap(mem, SZ_1G);
	close(fd);
}

static int mem_block_state(unsigned long pfn, const char *state)
{
	char path[96], buf[32] = "";
	unsigned long block;
	ssize_t n;
	int fd;

	fd = open("/sys/devices/system/memory/block_size_bytes", O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	block = strtoul(buf, NULL, 16);
	if (!block)
		return -EINVAL;
	snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%lu/state",
		 (unsigned long)(pfn * PAGE_SIZE / block));
	return write_str(path, state);
}

/*
 * The rest of what a hostile VMM can do to a host mapping: mprotect,
 * mremap, fork, move_pages, migrate_pages, mbind(MPOL_MF_MOVE), pagemap
 * and kpageflags reads, compaction, offlining the memory block: a clean
 * errno or a no-op, the folio whole and where it was, the data intact.
 */
TEST_F_TIMEOUT(gmem_1g, hostile_calls_on_host_mapping, 300)
{
	unsigned long pfn = 0, pfn2 = 0, to = 2, from = 1;
	long dused[NR_NODES] = { 1, 0 };
	int fd, status = -1, node, cfd, r;
	char *mem, *moved;
	void *page;
	pid_t pid;

	mem = pattern_file(_metadata, self->vm, &fd);
	ASSERT_TRUE(contiguous(mem, SZ_1G, &pfn));

	/* mprotect: read-only, then back. */
	ASSERT_EQ(0, mprotect(mem, SZ_1G, PROT_READ));
	ASSERT_EQ(0, pattern_bad(mem, 0, SZ_1G, SZ_2M));
	ASSERT_EQ(0, mprotect(mem + SZ_2M, SZ_2M, PROT_NONE));
	ASSERT_EQ(0, mprotect(mem, SZ_1G, PROT_READ | PROT_WRITE));

	/* mremap: move it, shrink it, move it back. */
	moved = map_vmm(-1, SZ_1G, SZ_1G);
	ASSERT_NE(MAP_FAILED, moved);
	moved = mremap(mem, SZ_1G, SZ_1G, MREMAP_MAYMOVE | MREMAP_FIXED, moved);
	ASSERT_NE(MAP_FAILED, moved);
	ASSERT_EQ(0, pattern_bad(moved, 0, SZ_1G, SZ_2M));
	ASSERT_EQ(moved, mremap(moved, SZ_1G, SZ_512M, 0));
	ASSERT_EQ(0, pattern_bad(moved, 0, SZ_512M, SZ_2M));
	mem = mremap(moved, SZ_512M, SZ_1G, MREMAP_MAYMOVE);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, pattern_bad(mem, 0, SZ_1G, SZ_2M));

	/* fork: the child sees the data and its write reaches the parent. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (pattern_bad(mem, 0, SZ_1G, SZ_2M))
			_exit(1);
		*(u64 *)(mem + SZ_4M) = 0xc41d;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	ASSERT_EQ(0xc41d, *(u64 *)(mem + SZ_4M));
	*(u64 *)(mem + SZ_4M) = 0x5eed0000 ^ SZ_4M;

	/* Migration: nothing moves, nothing breaks. */
	page = mem + SZ_8M;
	node = 1;
	r = syscall(__NR_move_pages, 0, 1, &page, &node, &status, MPOL_MF_MOVE);
	ksft_print_msg("move_pages: %d, status %d\n", r, status);
	ASSERT_TRUE(r >= 0 || errno == EBUSY || errno == EINVAL);
	ASSERT_TRUE(r != 0 || status < 0);
	r = syscall(__NR_migrate_pages, 0, 8 * sizeof(from), &from, &to);
	ksft_print_msg("migrate_pages: %d (%s)\n", r, r < 0 ? strerror(errno) : "-");
	r = syscall(__NR_mbind, mem, SZ_1G, MPOL_BIND, &to, 8 * sizeof(to),
		    MPOL_MF_MOVE);
	ksft_print_msg("mbind(MPOL_MF_MOVE): %d (%s)\n", r, r < 0 ? strerror(errno) : "-");
	ASSERT_EQ(0, page_node(mem));
	ASSERT_EQ(0, page_node(mem + SZ_1G - SZ_2M));

	/* Compaction walks the area's pageblocks. */
	cfd = open("/proc/sys/vm/compact_memory", O_WRONLY);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(1, write(cfd, "1", 1));
	close(cfd);

	/* The memory block holding the folio cannot go offline. */
	r = mem_block_state(pfn + SZ_512M / PAGE_SIZE, "offline");
	ksft_print_msg("offline of the folio's memory block: %s\n", strerror(-r));
	ASSERT_EQ(-EBUSY, r);

	/* Every page read (so mapped again), then where it was, whole. */
	ASSERT_EQ(0, pattern_bad(mem, 0, SZ_1G, PAGE_SIZE));
	ASSERT_TRUE(contiguous(mem, SZ_1G, &pfn2));
	ASSERT_EQ(pfn, pfn2);
	ASSERT_TRUE(still_whole(pfn));
	ASSERT_TRUE(pools_are(self->base, NULL, dused));
	munmap(mem, SZ_1G);
	close(fd);
}

#define GUP_TEST_FILE	"/sys/kernel/debug/gup_test"
#include "../../../../../mm/gup_test.h"

/*
 * Long-term pins (gup_test's PIN_LONGTERM ioctls, FOLL_LONGTERM like VFIO
 * and iommufd) of a host-mapped 1 GiB folio: the pin is taken (not retried
 * for ever), the data reads back through it, closing the file keeps the
 * folio in use until the unpin, and then it goes back to its pool.
 */
TEST_F_TIMEOUT(gmem_1g, longterm_pin_gup_test, 120)
{
	long dused[NR_NODES] = { 1, 0 }, used_only[NR_NODES] = { 0, 0 };
	long pages, resv, used;
	long nresv[NR_NODES], nused[NR_NODES];
	struct pin_longterm_test pin = { .size = SZ_2M };
	struct gup_test bench = { .size = SZ_2M, .nr_pages_per_call = 512 };
	u64 *copy, flags, dst;
	int fd, gfd, ino_fd;
	char *mem;

	gfd = open(GUP_TEST_FILE, O_RDWR);
	ASSERT_LE(0, gfd) TH_LOG("no %s (CONFIG_GUP_TEST)", GUP_TEST_FILE);
	mem = pattern_file(_metadata, self->vm, &fd);

	/* Pin and unpin in one go; gup_test WARNs if the folio is not pinnable. */
	bench.addr = (unsigned long)mem;
	ASSERT_EQ(0, ioctl(gfd, PIN_LONGTERM_BENCHMARK, &bench));

	for (flags = 0; flags <= PIN_LONGTERM_TEST_FLAG_USE_FAST; flags += 2) {
		pin.addr = (unsigned long)mem + SZ_1G - SZ_2M;
		pin.flags = flags | PIN_LONGTERM_TEST_FLAG_USE_WRITE;
		ASSERT_EQ(0, ioctl(gfd, PIN_LONGTERM_TEST_START, &pin));
		ASSERT_EQ(0, ioctl(gfd, PIN_LONGTERM_TEST_STOP));
	}

	/* Hold a pin, close the file: the folio stays in use. */
	ino_fd = dup(fd);
	ASSERT_EQ(0, ioctl(gfd, PIN_LONGTERM_TEST_START, &pin));
	munmap(mem, SZ_1G);
	close(fd);
	ASSERT_TRUE(file_info(ino_fd, &pages, &resv, &used, nresv, nused));
	ASSERT_EQ(1, used);
	close(ino_fd);
	ASSERT_TRUE(pools_wait(self->base, used_only, dused));
	/* No shrink takes it: node 0 cannot go below the page in use. */
	ASSERT_EQ(-EBUSY, set_pool(0, 0));
	ASSERT_EQ(0, set_pool(0, 1));
	ASSERT_EQ(0, set_pool(0, POOL_PAGES));
	ASSERT_TRUE(pools_are(self->base, used_only, dused));

	/* The data is still there, read through the pin. */
	copy = malloc(SZ_2M);
	ASSERT_NE(NULL, copy);
	dst = (unsigned long)copy;
	ASSERT_EQ(0, ioctl(gfd, PIN_LONGTERM_TEST_READ, &dst));
	ASSERT_EQ(0x5eed0000 ^ (SZ_1G - SZ_2M), copy[0]);
	ASSERT_EQ(0x5eed0000 ^ (SZ_1G - PAGE_SIZE), copy[(SZ_2M - PAGE_SIZE) / 8]);
	free(copy);

	/* The unpin returns it to the pool. */
	ASSERT_EQ(0, ioctl(gfd, PIN_LONGTERM_TEST_STOP));
	ASSERT_TRUE(pools_wait(self->base, NULL, NULL));
	close(gfd);
}

/*
 * io_uring fixed buffers pin their pages long term: registering part of a
 * 1 GiB folio works, the folio outlives its file while registered, and the
 * ring's release gives it back.
 */
TEST_F_TIMEOUT(gmem_1g, longterm_pin_io_uring, 120)
{
	long dused[NR_NODES] = { 1, 0 }, none[NR_NODES] = { 0, 0 };
	struct io_uring_params params = { 0 };
	struct iovec iov;
	int fd, ring;
	char *mem;

	mem = pattern_file(_metadata, self->vm, &fd);
	ring = syscall(__NR_io_uring_setup, 4, &params);
	ASSERT_LE(0, ring) TH_LOG("io_uring_setup: %s", strerror(errno));
	iov.iov_base = mem + SZ_2M;
	iov.iov_len = SZ_2M;
	ASSERT_EQ(0, syscall(__NR_io_uring_register, ring,
			     IORING_REGISTER_BUFFERS, &iov, 1));
	ASSERT_TRUE(pools_are(self->base, NULL, dused));
	munmap(mem, SZ_1G);
	close(fd);
	/* The file is gone; its reservation too; the folio is still in use. */
	ASSERT_TRUE(pools_wait(self->base, none, dused));
	ASSERT_EQ(0, syscall(__NR_io_uring_register, ring,
			     IORING_UNREGISTER_BUFFERS, NULL, 0));
	close(ring);
	ASSERT_TRUE(pools_wait(self->base, NULL, NULL));
}

/* Bytes of region @name in a dmem.* file of cgroup @cg, -1 if not listed. */
static long long dmem_value(const char *cg, const char *file, const char *name)
{
	char path[160], line[128], reg[64];
	long long v = -1, val;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld", reg, &val) == 2 && !strcmp(reg, name))
			v = val;
	fclose(f);
	return v;
}

#define CGROOT	"/sys/fs/cgroup"
#define CG	CGROOT "/gmem_tenant"

/* In the limited cgroup: what one tenant may and may not reserve. */
static int tenant(void)
{
	struct kvm_vm *vm;
	int one, two, three;
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", getpid());
	if (write_str(CG "/cgroup.procs", pid))
		return 10;
	vm = vm_create_barebones();
	/* Two pages would exceed node 0's 1 GiB limit: nothing reserved. */
	two = create_gmem(vm, 2UL * SZ_1G, HUGE_FLAGS, 30);
	if (two >= 0 || errno != ENOMEM)
		return 11;
	if (dmem_value(CG, "dmem.current", "gmem_cma/node0") != 0)
		return 12;
	one = create_gmem(vm, SZ_1G, HUGE_FLAGS, 30);
	if (one < 0)
		return 13;
	if (dmem_value(CG, "dmem.current", "gmem_cma/node0") != SZ_1G)
		return 14;
	/* Node 0 is at its limit and node 1's is zero. */
	three = create_gmem(vm, SZ_1G, HUGE_FLAGS, 30);
	if (three >= 0 || errno != ENOMEM)
		return 15;
	/* A page in use stays charged; closing returns the charge. */
	if (fallocate(one, FALLOC_FL_KEEP_SIZE, 0, SZ_1G))
		return 16;
	if (dmem_value(CG, "dmem.current", "gmem_cma/node0") != SZ_1G)
		return 17;
	close(one);
	kvm_vm_free(vm);
	return 0;
}

/*
 * A tenant limit with the dmem cgroup controller: a child cgroup limited
 * to 1 GiB of node 0 and none of node 1 gets ENOMEM beyond that, is charged
 * exactly, and the charge comes back when its file is closed.
 */
TEST_F_TIMEOUT(gmem_1g, dmem_cgroup_limit, 120)
{
	char limits[128];
	int status = -1;
	pid_t pid;

	mkdir(CGROOT, 0755);
	if (access(CGROOT "/cgroup.controllers", F_OK))
		ASSERT_EQ(0, mount("none", CGROOT, "cgroup2", 0, NULL));
	/* The root's dmem files appear once the controller is enabled. */
	ASSERT_EQ(0, write_str(CGROOT "/cgroup.subtree_control", "+dmem"));
	ASSERT_EQ(2LL * SZ_1G, dmem_value(CGROOT, "dmem.capacity", "gmem_cma/node0"))
		TH_LOG("no gmem_cma/node0 region in dmem.capacity");
	ASSERT_EQ(2LL * SZ_1G, dmem_value(CGROOT, "dmem.capacity", "gmem_cma/node1"));
	rmdir(CG);
	ASSERT_EQ(0, mkdir(CG, 0755));
	snprintf(limits, sizeof(limits), "gmem_cma/node0 %d", SZ_1G);
	ASSERT_EQ(0, write_str(CG "/dmem.max", limits));
	ASSERT_EQ(0, write_str(CG "/dmem.max", "gmem_cma/node1 0"));
	ASSERT_EQ(SZ_1G, dmem_value(CG, "dmem.max", "gmem_cma/node0"));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(tenant());
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("tenant step %d failed",
						 WEXITSTATUS(status));
	ASSERT_TRUE(pools_wait(self->base, NULL, NULL));
	ASSERT_EQ(0, dmem_value(CG, "dmem.current", "gmem_cma/node0"));
	ASSERT_EQ(0, dmem_value(CG, "dmem.current", "gmem_cma/node1"));
	ASSERT_EQ(0, rmdir(CG));
}

#include "../../../../../drivers/iommu/iommufd/iommufd_test.h"

/*
 * A DMA mapping through iommufd (its mock domain, CONFIG_IOMMUFD_TEST)
 * pins part of a 1 GiB folio long term: IOMMU_IOAS_MAP works, the mock
 * IOMMU's page table points at the folio's pages, the folio stays in use
 * after its file is closed, and IOMMU_IOAS_UNMAP gives it back.
 */
TEST_F_TIMEOUT(gmem_1g, longterm_pin_iommufd_dma_map, 120)
{
	long dused[NR_NODES] = { 1, 0 }, none[NR_NODES] = { 0, 0 };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_test_cmd mock = {
		.size = sizeof(mock), .op = IOMMU_TEST_OP_MOCK_DOMAIN,
	};
	struct iommu_test_cmd check = {
		.size = sizeof(check), .op = IOMMU_TEST_OP_MD_CHECK_MAP,
	};
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE |
			 IOMMU_IOAS_MAP_READABLE,
		.length = SZ_2M,
		.iova = MOCK_APERTURE_START,
	};
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap), .iova = MOCK_APERTURE_START,
		.length = SZ_2M,
	};
	int fd, iommufd;
	char *mem;

	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd) TH_LOG("no /dev/iommu: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc));
	mock.id = alloc.out_ioas_id;
	ASSERT_EQ(0, ioctl(iommufd, IOMMU_TEST_CMD, &mock))
		TH_LOG("mock domain: %s", strerror(errno));
	mem = pattern_file(_metadata, self->vm, &fd);
	map.ioas_id = alloc.out_ioas_id;
	map.user_va = (unsigned long)mem + SZ_4M;
	ASSERT_EQ(0, ioctl(iommufd, IOMMU_IOAS_MAP, &map))
		TH_LOG("IOMMU_IOAS_MAP: %s", strerror(errno));
	check.id = mock.mock_domain.out_hwpt_id;
	check.check_map.iova = MOCK_APERTURE_START;
	check.check_map.length = SZ_2M;
	check.check_map.uptr = map.user_va;
	ASSERT_EQ(0, ioctl(iommufd, IOMMU_TEST_CMD, &check))
		TH_LOG("the IOMMU does not map the folio's pages: %s", strerror(errno));
	ASSERT_TRUE(pools_are(self->base, NULL, dused));
	munmap(mem, SZ_1G);
	close(fd);
	ASSERT_TRUE(pools_wait(self->base, none, dused));
	unmap.ioas_id = alloc.out_ioas_id;
	ASSERT_EQ(0, ioctl(iommufd, IOMMU_IOAS_UNMAP, &unmap));
	ASSERT_EQ(SZ_2M, unmap.length);
	close(iommufd);
	ASSERT_TRUE(pools_wait(self->base, NULL, NULL));
}

/* 'S' (interruptible sleep), 'D', 'R', ... of @pid. */
static char task_state(pid_t pid)
{
	char path[64], buf[256], *p;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] ? p[2] : '?';
}

/*
 * Fork a child that allocates the page with fallocate() if @fd >= 0, then
 * reads @addr: exit status 0 if it read zero, 1 if not, 2 if fallocate()
 * failed.
 */
static pid_t toucher(int fd, u64 *addr)
{
	pid_t pid = fork();

	if (!pid) {
		if (fd >= 0 && fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_1G))
			_exit(2);
		_exit(READ_ONCE(*addr) == 0 ? 0 : 1);
	}
	return pid;
}

/* Wait up to 10 s for @pid to sleep in the kernel ('S'). */
static bool sleeping(pid_t pid)
{
	int i;

	for (i = 0; i < 1000; i++) {
		if (task_state(pid) == 'S')
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * An allocation that finds its file's only page punched but still
 * referenced (a page of it spliced into a pipe) waits for it with no lock
 * held: another VM's file is created and populated meanwhile, the waiter (a
 * fallocate()) is still waiting afterwards (not failed after a timeout),
 * gets a zeroed page when the reference goes, and a second waiter (a host
 * fault) can be killed.
 */
TEST_F_TIMEOUT(gmem_1g, fault_waits_for_punched_folio, 180)
{
	int fd, fd_b, status = -1, pipefd[2];
	pid_t waiter, victim;
	struct kvm_vm *vm_b;
	struct iovec iov;
	char buf[64];
	char *mem;

	mem = pattern_file(_metadata, self->vm, &fd);
	ASSERT_EQ(0, pipe(pipefd));
	iov.iov_base = mem;
	iov.iov_len = sizeof(buf);
	ASSERT_EQ(sizeof(buf), vmsplice(pipefd[1], &iov, 1, 0));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			       0, SZ_1G));

	waiter = toucher(fd, (u64 *)(mem + SZ_4M));
	ASSERT_LE(0, waiter);
	ASSERT_TRUE(sleeping(waiter));

	/* Another VM creates, populates and frees a file meanwhile. */
	vm_b = vm_create_barebones();
	fd_b = create_gmem(vm_b, SZ_1G, HUGE_FLAGS, 30);
	ASSERT_LE(0, fd_b);
	ASSERT_EQ(0, fallocate(fd_b, FALLOC_FL_KEEP_SIZE, 0, SZ_1G));
	close(fd_b);
	kvm_vm_free(vm_b);
	ASSERT_EQ(0, waitpid(waiter, &status, WNOHANG))
		TH_LOG("the waiting fault ended (status %#x) while the page was pinned",
		       status);

	/* A second waiter dies when killed. */
	victim = toucher(-1, (u64 *)(mem + SZ_8M));
	ASSERT_LE(0, victim);
	ASSERT_TRUE(sleeping(victim));
	ASSERT_EQ(0, kill(victim, SIGKILL));
	ASSERT_EQ(victim, waitpid(victim, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* Draining the pipe returns the folio; the waiter gets a zeroed page. */
	ASSERT_EQ(sizeof(buf), read(pipefd[0], buf, sizeof(buf)));
	ASSERT_EQ(0x5eed0000, *(u64 *)buf);
	ASSERT_EQ(waiter, waitpid(waiter, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("waiter status %#x", status);
	close(pipefd[0]);
	close(pipefd[1]);
	munmap(mem, SZ_1G);
	close(fd);
}

/* How closed_ring_frees_punched_folio's child touches the punched page. */
enum touch_by { BY_FALLOCATE, BY_USER_READ, BY_KERNEL_READ, NR_TOUCH_BY };

static const char * const touch_by_name[NR_TOUCH_BY] = {
	"fallocate()", "a user-space read", "a kernel read (write() to a pipe)",
};

/*
 * Child of closed_ring_frees_punched_folio: register 2 MiB of @mem with a
 * new io_uring, punch the page, close the ring with the buffer still
 * registered, and touch the page @how, repeating what a signal interrupted
 * (counted in *@retries).  Exit status 0 if the page reads zero, 1 if it
 * does not, 2 if a call failed, 3 if the retries ran out.
 */
static void __noreturn closing_ring_child(int fd, char *mem, enum touch_by how,
					  int *retries)
{
	struct io_uring_params params = { 0 };
	struct iovec iov = { mem + SZ_2M, SZ_2M };
	int ring, pipefd[2], i;
	u64 val = ~0ULL;
	long r = -1;

	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0 || syscall(__NR_io_uring_register, ring,
				IORING_REGISTER_BUFFERS, &iov, 1) ||
	    fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0, SZ_1G) ||
	    pipe(pipefd))
		_exit(2);
	/* The ring goes; its buffer is released once this task ran its exit work. */
	close(ring);
	for (i = 0; i < 100; i++) {
		switch (how) {
		case BY_FALLOCATE:
			r = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_1G);
			if (!r)
				val = READ_ONCE(*(u64 *)(mem + SZ_4M));
			break;
		case BY_USER_READ:
			val = READ_ONCE(*(u64 *)(mem + SZ_4M));
			r = 0;
			break;
		default:
			r = write(pipefd[1], mem + SZ_4M, sizeof(val)) == sizeof(val) ? 0 : -1;
			if (!r && read(pipefd[0], &val, sizeof(val)) != sizeof(val))
				_exit(2);
			break;
		}
		if (!r)
			_exit(val ? 1 : 0);
		if (errno != (how == BY_FALLOCATE ? EINTR : EFAULT))
			_exit(2);
		__atomic_add_fetch(retries, 1, __ATOMIC_RELAXED);
	}
	_exit(3);
}

/*
 * A punched page whose only other reference is a closed io_uring's
 * registered buffer: the ring is freed only after the task that closed it
 * ran io_uring's exit task work, so a wait for the page in that task's
 * fault or fallocate() must end on the task work (EINTR for fallocate(),
 * a transparent retry for a user fault, EFAULT for a kernel access) rather
 * than sleep for ever.  Each way gets a zeroed page, and the pools end as
 * they began.
 */
TEST_F_TIMEOUT(gmem_1g, closed_ring_frees_punched_folio, 180)
{
	long dused[NR_NODES] = { 1, 0 };
	int fd, status, *retries, i;
	enum touch_by how;
	pid_t child;
	char *mem;

	retries = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, retries);
	mem = pattern_file(_metadata, self->vm, &fd);
	for (how = 0; how < NR_TOUCH_BY; how++) {
		*retries = 0;
		child = fork();
		ASSERT_LE(0, child);
		if (!child)
			closing_ring_child(fd, mem, how, retries);
		for (i = 0; i < 3000 && !waitpid(child, &status, WNOHANG); i++)
			usleep(10000);
		if (i == 3000) {
			kill(child, SIGKILL);
			waitpid(child, &status, 0);
			ASSERT_TRUE(false)
				TH_LOG("%s of a page held by a closed ring still waits after 30 s",
				       touch_by_name[how]);
		}
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("%s: child status %#x", touch_by_name[how], status);
		TH_LOG("%s: the page came back zeroed after %d retries",
		       touch_by_name[how], *retries);
		/* The ring's folio went back to the file, which holds one page. */
		ASSERT_TRUE(pools_wait(self->base, NULL, dused));
	}
	munmap(mem, SZ_1G);
	close(fd);
	munmap(retries, PAGE_SIZE);
}

#define FPA	"/sys/kernel/debug/fail_page_alloc"

/*
 * The first host fault on a trimmed folio restores its struct pages; when
 * that cannot get memory the fault fails with SIGBUS (not VM_FAULT_OOM,
 * which the fault path would retry for ever).  The child that faults has
 * every page allocation fail (fail_page_alloc, task filter); its own memory
 * is locked beforehand and the page table for the address exists.
 */
TEST_F_TIMEOUT(gmem_1g, host_fault_restore_failure_sigbus, 120)
{
	long dused[NR_NODES] = { 1, 0 };
	int fd, status = -1, i;
	char *area;
	pid_t pid;

	if (access(FPA, F_OK))
		SKIP(return, "no fail_page_alloc");
	fd = create_gmem(self->vm, SZ_1G, SHARED_FLAGS, 30);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SZ_1G));
	area = map_vmm(-1, SZ_4M, 0);
	ASSERT_NE(MAP_FAILED, area);
	ASSERT_EQ(0, write_str(FPA "/verbose", "0"));
	ASSERT_EQ(0, write_str(FPA "/ignore-gfp-wait", "N"));
	ASSERT_EQ(0, write_str(FPA "/ignore-gfp-highmem", "N"));
	ASSERT_EQ(0, write_str(FPA "/min-order", "0"));
	ASSERT_EQ(0, write_str(FPA "/task-filter", "Y"));
	ASSERT_EQ(0, write_str(FPA "/interval", "1"));
	ASSERT_EQ(0, write_str(FPA "/times", "-1"));
	ASSERT_EQ(0, write_str(FPA "/probability", "100"));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int self_fd = open("/proc/self/make-it-fail", O_WRONLY);
		char *file;

		/* The SIGBUS is the expected outcome, not kvm_util's failure. */
		signal(SIGBUS, SIG_DFL);
		/* Page table for the 2 MiB around the file's page: present. */
		area[0] = 1;
		if (self_fd < 0 || mlockall(MCL_CURRENT))
			_exit(10);
		file = mmap(area + PAGE_SIZE, SZ_2M - PAGE_SIZE,
			    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
			    PAGE_SIZE);
		if (file == MAP_FAILED || write(self_fd, "1", 1) != 1)
			_exit(11);
		WRITE_ONCE(*file, 1);
		_exit(12);
	}
	for (i = 0; i < 2000 && !waitpid(pid, &status, WNOHANG); i++)
		usleep(10000);
	if (i == 2000) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ASSERT_EQ(0, write_str(FPA "/probability", "0"));
	/* Trimmed: SIGBUS.  Not trimmed: nothing to restore, the write works. */
	ASSERT_TRUE(trimming() ? WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS :
		    WIFEXITED(status) && WEXITSTATUS(status) == 12)
		TH_LOG("child status %#x after %d0 ms", status, i);

	/* Without failures the same fault works; the folio was never lost. */
	area = map_aligned(fd, SZ_1G);
	ASSERT_NE(MAP_FAILED, area);
	/* The child's write landed only where nothing had to be restored. */
	ASSERT_EQ(trimming() ? 0 : 1, area[PAGE_SIZE]);
	area[PAGE_SIZE] = 2;
	ASSERT_EQ(2, area[PAGE_SIZE]);
	ASSERT_TRUE(pools_are(self->base, NULL, dused));
	munmap(area, SZ_1G);
	close(fd);
}

/*
 * The last put of a folio while other references remain: pages of a host
 * mapping spliced into a pipe keep the folio in use after the file is
 * closed; the data reads back from the pipe, and closing the pipe returns
 * the folio to its pool.
 */
TEST_F_TIMEOUT(gmem_1g, vmsplice_outlives_file, 120)
{
	long dused[NR_NODES] = { 1, 0 }, none[NR_NODES] = { 0, 0 };
	struct iovec iov;
	u64 buf[PAGE_SIZE / 8];
	int fd, pipefd[2];
	char *mem;

	mem = pattern_file(_metadata, self->vm, &fd);
	ASSERT_EQ(0, pipe(pipefd));
	iov.iov_base = mem + SZ_16M;
	iov.iov_len = PAGE_SIZE;
	ASSERT_EQ(PAGE_SIZE, vmsplice(pipefd[1], &iov, 1, 0));
	munmap(mem, SZ_1G);
	close(fd);
	ASSERT_TRUE(pools_wait(self->base, none, dused));
	ASSERT_EQ(PAGE_SIZE, read(pipefd[0], buf, sizeof(buf)));
	ASSERT_EQ(0x5eed0000 ^ SZ_16M, buf[0]);
	close(pipefd[0]);
	close(pipefd[1]);
	ASSERT_TRUE(pools_wait(self->base, NULL, NULL));
}

TEST_HARNESS_MAIN
