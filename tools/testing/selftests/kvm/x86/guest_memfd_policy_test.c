// SPDX-License-Identifier: GPL-2.0-only
/*
 * The operator's guest_memfd policy of gmem_cma
 * (/sys/kernel/mm/gmem_cma/guest_memfd_enabled): which guest_memfd files get
 * 1 GiB pages without asking for them, and the files that fall back to
 * 4 KiB pages (guest_memfd_fallback).
 *
 * Checks the sysfs file and its rejections, that advise leaves plain files
 * alone, that within_size and always give a whole-GiB file 1 GiB pages
 * (exact pool counters, the debugfs listing, data through mmap()), that a
 * file of another size, a VM type that takes no huge pages and empty pools
 * each fall back and are counted once, as does a file beyond the creator's
 * dmem cgroup limit, and that never turns the flag off.
 * Every test puts the policy and the pools back as it found them.
 *
 * Needs gmem_cma areas of at least 2 GiB on nodes 0 and 1 (gmem_cma=0:2G,1:2G).
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "kselftest_harness.h"

#define SYSFS		"/sys/kernel/mm/gmem_cma"
#define POLICY		SYSFS "/guest_memfd_enabled"
#define FILES		"/sys/kernel/debug/gmem_cma/files"
#define NR_NODES	2
#define POOL_PAGES	2	/* pages each node's pool holds during a test */
#define SHARED		(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)

static const char * const policies[] = { "never", "advise", "within_size", "always" };

/* The first line of @path in @buf, without its newline; false if unreadable. */
static bool read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, size, f);
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

static long sysfs_long(const char *name)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), SYSFS "/%s", name);
	return read_line(path, buf, sizeof(buf)) ? strtol(buf, NULL, 10) : -1;
}

static long node_stat(int nid, const char *name)
{
	char file[64];

	snprintf(file, sizeof(file), "node%d/%s", nid, name);
	return sysfs_long(file);
}

/* Write @s to @path: 0 or -errno. */
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
	char path[64], buf[32];

	snprintf(path, sizeof(path), SYSFS "/node%d/nr_pages", nid);
	snprintf(buf, sizeof(buf), "%ld", pages);
	return write_str(path, buf);
}

/* The policy in brackets in guest_memfd_enabled, or "" if there is none. */
static const char *current_policy(void)
{
	static char word[32];
	char buf[128], *open_b, *close_b;

	word[0] = '\0';
	if (!read_line(POLICY, buf, sizeof(buf)))
		return word;
	open_b = strchr(buf, '[');
	close_b = open_b ? strchr(open_b, ']') : NULL;
	if (close_b && close_b - open_b - 1 < (long)sizeof(word)) {
		memcpy(word, open_b + 1, close_b - open_b - 1);
		word[close_b - open_b - 1] = '\0';
	}
	return word;
}

/* Reserved pages of both pools together. */
static long resv_pages(void)
{
	return node_stat(0, "resv_pages") + node_stat(1, "resv_pages");
}

/*
 * Pages in use of both pools together.  A closed file's folios go back
 * from a worker (the vmemmap is trimmed again there), so wait up to 10 s
 * for them to reach @want.
 */
static long used_pages_wait(long want)
{
	long used = -1;
	int i;

	for (i = 0; i < 1000; i++) {
		used = node_stat(0, "used_pages") + node_stat(1, "used_pages");
		if (used == want)
			break;
		usleep(10000);
	}
	return used;
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

/* The pages and resv columns of @fd's line in FILES; false if not listed. */
static bool file_listed(int fd, long *pages, long *resv, long *used)
{
	char line[512], comm[64], state[16];
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
	while (!found && fgets(line, sizeof(line), f))
		found = line[0] != '#' &&
			sscanf(line, "%lu %d %63s %ld %ld %ld %15s", &ino, &pid,
			       comm, pages, resv, used, state) == 7 &&
			ino == st.st_ino;
	fclose(f);
	return found;
}

/* Write a pattern through a mapping of @fd and read it back: pages that differ. */
static long pattern_mismatches(int fd, u64 size)
{
	u64 *mem, off;
	long bad = 0;

	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	for (off = 0; off < size; off += SZ_16M)
		mem[off / 8] = off ^ 0x90d1c7ULL;
	for (off = 0; off < size; off += SZ_16M)
		bad += mem[off / 8] != (off ^ 0x90d1c7ULL);
	munmap(mem, size);
	return bad;
}

FIXTURE(policy) {
	struct kvm_vm *vm;
	char booted[32];
	long saved[NR_NODES];
	long resv, used, fallback;
	long fallbacks;		/* the fallbacks the test expects */
};

FIXTURE_SETUP(policy)
{
	int nid;

	if (access(POLICY, F_OK))
		SKIP(return, "no " POLICY);
	for (nid = 0; nid < NR_NODES; nid++) {
		self->saved[nid] = node_stat(nid, "nr_pages");
		if (node_stat(nid, "capacity_pages") < POOL_PAGES)
			SKIP(return, "needs gmem_cma=0:2G,1:2G");
	}
	snprintf(self->booted, sizeof(self->booted), "%s", current_policy());
	ASSERT_NE('\0', self->booted[0]);
	for (nid = 0; nid < NR_NODES; nid++)
		ASSERT_EQ(0, set_pool(nid, POOL_PAGES));
	self->resv = resv_pages();
	self->used = used_pages_wait(0);
	self->fallback = sysfs_long("guest_memfd_fallback");
	ASSERT_LE(0, self->fallback);
	self->vm = vm_create_barebones();
}

FIXTURE_TEARDOWN(policy)
{
	int nid;

	if (self->vm)
		kvm_vm_free(self->vm);
	if (!self->booted[0])
		return;
	EXPECT_EQ(0, write_str(POLICY, self->booted));
	EXPECT_EQ(self->resv, resv_pages());
	EXPECT_EQ(self->used, used_pages_wait(self->used));
	EXPECT_EQ(self->fallback + self->fallbacks, sysfs_long("guest_memfd_fallback"));
	for (nid = 0; nid < NR_NODES; nid++)
		EXPECT_EQ(0, set_pool(nid, self->saved[nid]));
}

TEST_F(policy, sysfs_sets_and_rejects)
{
	char buf[128], want[32];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(policies); i++) {
		ASSERT_EQ(0, write_str(POLICY, policies[i]));
		ASSERT_STREQ(policies[i], current_policy());
		ASSERT_TRUE(read_line(POLICY, buf, sizeof(buf)));
		snprintf(want, sizeof(want), "[%s]", policies[i]);
		ASSERT_NE(NULL, strstr(buf, want));
	}
	ASSERT_STREQ("never advise within_size [always]", buf);
	ASSERT_EQ(0, write_str(POLICY, "advise\n"));
	ASSERT_STREQ("advise", current_policy());
	/* Each bad word: EINVAL, one log line, the policy unchanged. */
	ASSERT_EQ(-EINVAL, write_str(POLICY, "bogus"));
	ASSERT_EQ(-EINVAL, write_str(POLICY, "alwaysx"));
	ASSERT_STREQ("advise", current_policy());
}

TEST_F(policy, advise_leaves_plain_files_alone)
{
	long pages, resv, used;
	int fd;

	ASSERT_EQ(0, write_str(POLICY, "advise"));
	fd = create_gmem(self->vm, SZ_2G, SHARED, 0);
	ASSERT_LE(0, fd);
	ASSERT_FALSE(file_listed(fd, &pages, &resv, &used));
	ASSERT_EQ(self->resv, resv_pages());
	ASSERT_EQ(0, pattern_mismatches(fd, SZ_2G));
	close(fd);
}

/* within_size and always: a 2 GiB file reserves 2 pages and uses them. */
static void whole_gib_file(struct __test_metadata *_metadata,
			   struct kvm_vm *vm, long base_resv, const char *policy)
{
	long pages, resv, used;
	int fd;

	ASSERT_EQ(0, write_str(POLICY, policy));
	fd = create_gmem(vm, SZ_2G, SHARED, 0);
	ASSERT_LE(0, fd);
	ASSERT_TRUE(file_listed(fd, &pages, &resv, &used));
	ASSERT_EQ(2, pages);
	ASSERT_EQ(2, resv);
	ASSERT_EQ(0, used);
	ASSERT_EQ(base_resv + 2, resv_pages());
	ASSERT_EQ(0, pattern_mismatches(fd, SZ_2G));
	ASSERT_TRUE(file_listed(fd, &pages, &resv, &used));
	ASSERT_EQ(2, used);
	ASSERT_EQ(0, resv);
	close(fd);
}

TEST_F_TIMEOUT(policy, within_size_gives_whole_gib_files_1g_pages, 120)
{
	whole_gib_file(_metadata, self->vm, self->resv, "within_size");
}

TEST_F_TIMEOUT(policy, always_gives_whole_gib_files_1g_pages, 120)
{
	whole_gib_file(_metadata, self->vm, self->resv, "always");
}

TEST_F(policy, other_sizes_fall_back)
{
	static const u64 sizes[] = { SZ_1G + SZ_512M, SZ_4K, SZ_1G - SZ_4K };
	long pages, resv, used;
	unsigned int i;
	int fd;

	ASSERT_EQ(0, write_str(POLICY, "always"));
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		fd = create_gmem(self->vm, sizes[i], SHARED, 0);
		ASSERT_LE(0, fd);
		self->fallbacks++;
		ASSERT_FALSE(file_listed(fd, &pages, &resv, &used));
		ASSERT_EQ(self->fallback + self->fallbacks,
			  sysfs_long("guest_memfd_fallback"));
		ASSERT_EQ(0, pattern_mismatches(fd, sizes[i]));
		close(fd);
	}
	ASSERT_EQ(self->resv, resv_pages());
}

TEST_F(policy, empty_pools_fall_back)
{
	long pages, resv, used;
	int fd, fd2;

	ASSERT_EQ(0, write_str(POLICY, "within_size"));
	/* The first file takes all four pages, the second finds none. */
	fd = create_gmem(self->vm, SZ_4G, SHARED, 0);
	ASSERT_LE(0, fd);
	ASSERT_TRUE(file_listed(fd, &pages, &resv, &used));
	ASSERT_EQ(4, resv);
	fd2 = create_gmem(self->vm, SZ_1G, SHARED, 0);
	ASSERT_LE(0, fd2);
	self->fallbacks++;
	ASSERT_FALSE(file_listed(fd2, &pages, &resv, &used));
	ASSERT_EQ(self->fallback + 1, sysfs_long("guest_memfd_fallback"));
	ASSERT_EQ(0, pattern_mismatches(fd2, SZ_1G));
	close(fd2);
	close(fd);
	ASSERT_EQ(self->resv, resv_pages());
}

/*
 * Every VM type that can be created: those that take huge pages (DEFAULT,
 * SW_PROTECTED) get a 1 GiB-page file, the others (SEV, SNP, TDX: their
 * firmware is rarely there to create one) a 4 KiB one and a fallback.
 */
TEST_F(policy, every_vm_type)
{
	unsigned long types = kvm_check_cap(KVM_CAP_VM_TYPES);
	int type, kvm_fd, vm_fd, fd, huge_types = 0;
	long pages, resv, used;

	ASSERT_EQ(0, write_str(POLICY, "always"));
	kvm_fd = open_kvm_dev_path_or_exit();
	for (type = 0; type < 32; type++) {
		struct kvm_create_guest_memfd args = { .size = SZ_1G };
		bool huge;

		if (!(types & BIT(type)))
			continue;
		vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, type);
		if (vm_fd < 0) {
			ksft_print_msg("VM type %d: cannot create (%s)\n", type,
				       strerror(errno));
			continue;
		}
		huge = ioctl(vm_fd, KVM_CHECK_EXTENSION,
			     KVM_CAP_GUEST_MEMFD_HUGE_PAGE_SIZES) == SZ_1G;
		huge_types += huge;
		fd = ioctl(vm_fd, KVM_CREATE_GUEST_MEMFD, &args);
		ASSERT_LE(0, fd);
		if (!huge)
			self->fallbacks++;
		ASSERT_EQ(huge, file_listed(fd, &pages, &resv, &used));
		ASSERT_EQ(self->fallback + self->fallbacks,
			  sysfs_long("guest_memfd_fallback"));
		ksft_print_msg("VM type %d: %s\n", type,
			       huge ? "1 GiB pages" : "4 KiB pages, a fallback");
		close(fd);
		close(vm_fd);
	}
	close(kvm_fd);
	ASSERT_LE(2, huge_types);
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
#define CG	CGROOT "/gmem_policy_tenant"

/* In a cgroup limited to 1 GiB of node 0: the step that failed, or 0. */
static int tenant(void)
{
	long pages, resv, used;
	struct kvm_vm *vm;
	cpu_set_t cpus;
	int two, one;
	char pid[16];

	/* The default policy means "local node first": make that node 0. */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		return 9;
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (write_str(CG "/cgroup.procs", pid))
		return 10;
	vm = vm_create_barebones();
	/* Two pages would exceed the limit: 4 KiB pages, nothing charged. */
	two = create_gmem(vm, SZ_2G, SHARED, 0);
	if (two < 0)
		return 11;
	if (file_listed(two, &pages, &resv, &used))
		return 12;
	if (dmem_value(CG, "dmem.current", "gmem_cma/node0") != 0)
		return 13;
	if (pattern_mismatches(two, SZ_2G))
		return 14;
	/* One page fits: 1 GiB, charged. */
	one = create_gmem(vm, SZ_1G, SHARED, 0);
	if (one < 0)
		return 15;
	if (!file_listed(one, &pages, &resv, &used) || pages != 1)
		return 16;
	if (dmem_value(CG, "dmem.current", "gmem_cma/node0") != SZ_1G)
		return 17;
	close(one);
	close(two);
	kvm_vm_free(vm);
	return 0;
}

/*
 * The creator's dmem cgroup limit: under "always", a file that would
 * exceed it falls back to 4 KiB pages (no ENOMEM, nothing charged, counted
 * once); one within it gets its 1 GiB page and is charged.
 */
TEST_F_TIMEOUT(policy, dmem_limit_falls_back, 120)
{
	char limits[128];
	int status = -1;
	pid_t pid;

	ASSERT_EQ(0, write_str(POLICY, "always"));
	mkdir(CGROOT, 0755);
	if (access(CGROOT "/cgroup.controllers", F_OK))
		ASSERT_EQ(0, mount("none", CGROOT, "cgroup2", 0, NULL));
	ASSERT_EQ(0, write_str(CGROOT "/cgroup.subtree_control", "+dmem"));
	rmdir(CG);
	ASSERT_EQ(0, mkdir(CG, 0755));
	snprintf(limits, sizeof(limits), "gmem_cma/node0 %d", SZ_1G);
	ASSERT_EQ(0, write_str(CG "/dmem.max", limits));
	ASSERT_EQ(0, write_str(CG "/dmem.max", "gmem_cma/node1 0"));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(tenant());
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("tenant step %d failed",
						 WEXITSTATUS(status));
	self->fallbacks++;
	ASSERT_EQ(self->fallback + 1, sysfs_long("guest_memfd_fallback"));
	ASSERT_EQ(self->used, used_pages_wait(self->used));
	ASSERT_EQ(0, dmem_value(CG, "dmem.current", "gmem_cma/node0"));
	ASSERT_EQ(0, rmdir(CG));
}

TEST_F(policy, explicit_flag_keeps_its_rules)
{
	long pages, resv, used;
	int fd;

	ASSERT_EQ(0, write_str(POLICY, "always"));
	fd = create_gmem(self->vm, SZ_1G, GUEST_MEMFD_FLAG_HUGE_PAGES, 30);
	ASSERT_LE(0, fd);
	ASSERT_TRUE(file_listed(fd, &pages, &resv, &used));
	ASSERT_EQ(1, pages);
	close(fd);
	/* Asked for, a size that is not a multiple is refused, not a fallback. */
	ASSERT_EQ(-1, create_gmem(self->vm, SZ_1G + SZ_4K,
				  GUEST_MEMFD_FLAG_HUGE_PAGES, 30));
	ASSERT_EQ(EINVAL, errno);
}

TEST_F(policy, never_turns_the_flag_off)
{
	long pages, resv, used;
	int fd;

	ASSERT_EQ(0, write_str(POLICY, "never"));
	ASSERT_EQ(0, vm_check_cap(self->vm, KVM_CAP_GUEST_MEMFD_HUGE_PAGE_SIZES));
	ASSERT_EQ(0, vm_check_cap(self->vm, KVM_CAP_GUEST_MEMFD_FLAGS) &
		  GUEST_MEMFD_FLAG_HUGE_PAGES);
	ASSERT_EQ(-1, create_gmem(self->vm, SZ_1G, GUEST_MEMFD_FLAG_HUGE_PAGES, 30));
	ASSERT_EQ(EINVAL, errno);
	fd = create_gmem(self->vm, SZ_2G, SHARED, 0);
	ASSERT_LE(0, fd);
	ASSERT_FALSE(file_listed(fd, &pages, &resv, &used));
	close(fd);
	ASSERT_EQ(0, write_str(POLICY, "advise"));
	ASSERT_EQ(1UL << 30, vm_check_cap(self->vm, KVM_CAP_GUEST_MEMFD_HUGE_PAGE_SIZES));
}

TEST_HARNESS_MAIN
