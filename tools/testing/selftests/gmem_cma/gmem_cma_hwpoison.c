// SPDX-License-Identifier: GPL-2.0
/*
 * Memory failure in the pools' 1 GiB folios, 4 KiB at a time: injection
 * succeeds, only the failed page gets PG_hwpoison, and its folio is taken
 * out of use, a free one at once (replaced from CMA if a reservation needs
 * it and the area has a free block), one in use when its file lets it go;
 * a host mapping loses only the failed page (SIGBUS BUS_MCEERR_AR there,
 * every other page keeps its data); unpoison and soft offline are refused.
 *
 * Poisoned folios are never handed out again, and the areas of
 * gmem_cma=0:2G,1:2G hold four folios, fewer than the tests poison, so the
 * tests are split over two boots made for them: free_folio and
 * folio_being_zeroed (node 0), private_file_folio and mapped_file_folio
 * (node 1) run with
 * gmem_hwpoison_test on the kernel command line; reserved_folio_replaced
 * and reserved_folio_no_free_block (node 1, in that order) run with
 * gmem_hwpoison_test=2, whose boot gives node 0 to the KVM test
 * (guest_memfd_1g_poison_test).  Each test skips in the other boot, and
 * all of them skip without gmem_hwpoison_test.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "gmem_cma_pools.h"

#define POOLS		GMEM_CMA_POOLS
#define FILES		"/sys/kernel/debug/gmem_cma/files"
#define CORRUPT		HWPOISON_CORRUPT
#define UNPOISON	HWPOISON_UNPOISON
#ifndef MADV_HWPOISON
#define MADV_HWPOISON		100
#endif
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE	101
#endif
#ifndef BUS_MCEERR_AR
#define BUS_MCEERR_AR	4
#endif
#define CHUNK		512L		/* 4 KiB pages in a 2 MiB chunk */
#define PAGE		4096UL
#define GB		0x40000000UL
#define SHARED		(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)
#define PATTERN(off)	(0x5eed0000c0ffee00ULL ^ (off))
/* How long a replacement taken out of CMA may take (migration, TCG). */
#define GROW_SECONDS	60

/* The state node @nid's debugfs lists for the folio at @pfn, "" if none. */
static const char *folio_state(int nid, unsigned long pfn)
{
	static struct folio_line f[8];
	int n = pool_folios(nid, f, 8);

	for (int i = 0; i < n; i++)
		if (f[i].pfn == pfn)
			return f[i].state;
	return "";
}

/*
 * The one folio node @nid lists in @state: exactly one must be listed (the
 * test fails otherwise).  "free" covers reserved folios too.
 */
static unsigned long only_folio(struct __test_metadata *_metadata, int nid,
				const char *state)
{
	struct folio_line f[8];
	int n = pool_folios(nid, f, 8), found = -1, nr = 0;

	ASSERT_GE(n, 0) TH_LOG("cannot read node %d of %s", nid, POOLS);
	for (int i = 0; i < n; i++) {
		if (!strcmp(f[i].state, state)) {
			found = i;
			nr++;
		}
	}
	ASSERT_EQ(1, nr) TH_LOG("node %d lists %d %s folios", nid, nr, state);
	return f[found].pfn;
}

/* Of the 1 GiB folio at @folio, @pfn and only @pfn is marked hwpoison. */
static void expect_only_poisoned(struct __test_metadata *_metadata,
				 unsigned long folio, unsigned long pfn)
{
	unsigned long first;

	EXPECT_EQ(1, hwpoisoned(folio, &first)) TH_LOG("folio at pfn %#lx", folio);
	EXPECT_EQ(pfn, first);
}

/*
 * The resv and used counts of the file with inode @ino in debugfs
 * gmem_cma/files; false if it is not listed.
 */
static bool file_listed(unsigned long ino, long *resv, long *used)
{
	char line[512], comm[64], state[16];
	unsigned long i;
	long pages;
	bool found = false;
	FILE *f = fopen(FILES, "r");
	int pid;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = line[0] != '#' &&
			sscanf(line, "%lu %d %63s %ld %ld %ld %15s", &i, &pid, comm,
			       &pages, resv, used, state) == 7 && i == ino;
	fclose(f);
	return found;
}

static unsigned long inode_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/*
 * Which hwpoison boot this is: 1 with gmem_hwpoison_test on the kernel
 * command line, 2 with gmem_hwpoison_test=2, 0 without it.
 */
static int hwpoison_boot(void)
{
	static const char key[] = "gmem_hwpoison_test";
	char cmdline[4096], *p, *v;

	if (read_text("/proc/cmdline", cmdline, sizeof(cmdline)))
		return 0;
	for (p = strstr(cmdline, key); p; p = strstr(p + 1, key)) {
		if (p != cmdline && p[-1] != ' ')
			continue;
		v = p + strlen(key);
		if (!*v || *v == ' ' || *v == '\n')
			return 1;
		if (!strncmp(v, "=2", 2) && (!v[2] || v[2] == ' ' || v[2] == '\n'))
			return 2;
	}
	return 0;
}

/*
 * Whether the test may run: only in hwpoison boot @boot (a skip
 * otherwise).  That boot is made for it, so what it needs is then
 * required, not a reason to skip.  The caller returns when this returns
 * false: SKIP() here only leaves this function.
 */
static bool require_run(struct __test_metadata *_metadata, int boot)
{
	int now = hwpoison_boot();

	if (!now)
		SKIP(return false, "leaves poisoned pages: runs only with gmem_hwpoison_test");
	if (now != boot)
		SKIP(return false, "poison budget: runs in the boot with gmem_hwpoison_test%s",
		     boot == 2 ? "=2" : "");
	EXPECT_EQ(0, access(CORRUPT, W_OK)) TH_LOG("no %s (CONFIG_HWPOISON_INJECT)", CORRUPT);
	EXPECT_EQ(0, access(UNPOISON, W_OK)) TH_LOG("no %s", UNPOISON);
	EXPECT_EQ(2, read_long(GMEM_CMA_SYSFS "/node0/capacity_pages"))
		TH_LOG("needs gmem_cma=0:2G,1:2G");
	EXPECT_EQ(2, read_long(GMEM_CMA_SYSFS "/node1/capacity_pages"))
		TH_LOG("needs gmem_cma=0:2G,1:2G");
	return !_metadata->exit_code;
}

/*
 * A 1 GiB guest_memfd with @flags whose reservation is bound to node @nid
 * (MPOL_BIND while it is created), in a new VM *@vm; returns the fd.
 */
static int gmem_on_node(struct __test_metadata *_metadata, int nid, int *vm,
			uint64_t flags)
{
	struct kvm_create_guest_memfd gmem = {
		.size = GB,
		.flags = flags | GUEST_MEMFD_FLAG_HUGE_PAGES,
		.huge_page_size_log2 = 30,
	};
	unsigned long mask = 1UL << nid;
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

/* SIGBUS: the siginfo of the last, where to jump if armed, how many came unarmed. */
static sigjmp_buf sigbus_jmp;
static siginfo_t sigbus_info;
static int sigbus_armed, sigbus_count;

/*
 * Unarmed, a SIGBUS is only counted: one sent with a syscall returns there.
 * A fault would come back at once: give up on a storm of them.
 */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	sigbus_info = *si;
	if (__atomic_load_n(&sigbus_armed, __ATOMIC_SEQ_CST))
		siglongjmp(sigbus_jmp, 1);
	if (__atomic_add_fetch(&sigbus_count, 1, __ATOMIC_SEQ_CST) > 100) {
		fprintf(stderr, "SIGBUS storm at %p, si_code %d\n", si->si_addr, si->si_code);
		_exit(KSFT_FAIL);
	}
}

/* Count SIGBUS and record its siginfo instead of dying of it. */
static void catch_sigbus(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };

	sigaction(SIGBUS, &sa, NULL);
	__atomic_store_n(&sigbus_count, 0, __ATOMIC_SEQ_CST);
}

static int sigbus_seen(void)
{
	return __atomic_load_n(&sigbus_count, __ATOMIC_SEQ_CST);
}

/*
 * Read (or write) the word at @addr: true if that raised SIGBUS, whose
 * siginfo is then in *@si.
 */
static bool touch_sigbus(uint64_t *addr, bool write, siginfo_t *si)
{
	bool hit = false;

	memset(&sigbus_info, 0, sizeof(sigbus_info));
	if (!sigsetjmp(sigbus_jmp, 1)) {
		__atomic_store_n(&sigbus_armed, 1, __ATOMIC_SEQ_CST);
		if (write)
			__atomic_store_n(addr, 1, __ATOMIC_RELAXED);
		else
			__atomic_load_n(addr, __ATOMIC_RELAXED);
	} else {
		hit = true;
	}
	__atomic_store_n(&sigbus_armed, 0, __ATOMIC_SEQ_CST);
	*si = sigbus_info;
	return hit;
}

/*
 * A read (or write) of @addr, in the poisoned page, raises SIGBUS
 * BUS_MCEERR_AR for exactly that address, and a 4 KiB page.
 */
static void expect_mceerr_ar(struct __test_metadata *_metadata, char *addr,
			     bool write)
{
	siginfo_t si;

	EXPECT_TRUE(touch_sigbus((uint64_t *)addr, write, &si))
		TH_LOG("%s of %p: no SIGBUS", write ? "write" : "read", addr);
	EXPECT_EQ(BUS_MCEERR_AR, si.si_code);
	EXPECT_EQ((void *)addr, si.si_addr);
	EXPECT_EQ(12, si.si_addr_lsb);
}

/* Wait up to @secs for @pid; kill it if it still runs.  Its status, or -1. */
static int reap(pid_t pid, int secs)
{
	int status = -1;

	for (int i = 0; i < secs * 100; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

FIXTURE(hwpoison) {
};

FIXTURE_SETUP(hwpoison)
{
}

FIXTURE_TEARDOWN(hwpoison)
{
	/* folio_being_zeroed holds the zeroer: never leave it so. */
	write_str("/sys/kernel/debug/gmem_cma/zero_hold_after", "0");
}

/*
 * A free folio (nobody's reservation needs it): poisoning one page retires
 * it at once; the same page again is EHWPOISON; unpoison is refused.
 */
TEST_F_TIMEOUT(hwpoison, free_folio, 120)
{
	struct folio_line f[8];
	unsigned long a = 0, b = 0, pfn, first;
	long base, p0, hc;
	int n, i;

	if (!require_run(_metadata, 1))
		return;
	base = pool_field(0, "nr_pages");
	p0 = pool_field(0, "poisoned");
	ASSERT_GE(base, 0);
	ASSERT_GE(p0, 0);
	ASSERT_TRUE(pool_is(0, base, base, 0, 0, p0, 0));
	ASSERT_EQ(0, set_pages(0, base + 2));
	ASSERT_TRUE(pool_is(0, base + 2, base + 2, 0, 0, p0, 0));
	n = pool_folios(0, f, 8);
	for (i = 0; i < n; i++) {
		if (strcmp(f[i].state, "free"))
			continue;
		if (!a)
			a = f[i].pfn;
		else if (!b)
			b = f[i].pfn;
		else
			ASSERT_TRUE(false) TH_LOG("more than 2 free folios on node 0");
	}
	ASSERT_NE(0UL, b) TH_LOG("fewer than 2 free folios on node 0");
	pfn = a + 5 * CHUNK + 7;
	hc = hw_corrupted_kb();
	ASSERT_GE(hc, 0) TH_LOG("no HardwareCorrupted in /proc/meminfo");
	ASSERT_EQ(0, hwpoisoned(a, &first));

	ASSERT_EQ(0, hwpoison_write(CORRUPT, pfn));
	EXPECT_TRUE(pool_is(0, base + 1, base + 1, 0, 0, p0 + 1, 0));
	expect_only_poisoned(_metadata, a, pfn);
	EXPECT_EQ(0, hwpoisoned(b, &first));
	EXPECT_EQ(hc + 4, hw_corrupted_kb());
	EXPECT_STREQ("poisoned", folio_state(0, a));
	EXPECT_STREQ("free", folio_state(0, b));

	/* Again: already poisoned, nothing changes. */
	EXPECT_EQ(EHWPOISON, hwpoison_write(CORRUPT, pfn));
	EXPECT_TRUE(pool_is(0, base + 1, base + 1, 0, 0, p0 + 1, 0));
	EXPECT_EQ(hc + 4, hw_corrupted_kb());

	/* Unpoison is refused: the page stays poisoned. */
	EXPECT_EQ(EBUSY, hwpoison_write(UNPOISON, pfn));
	expect_only_poisoned(_metadata, a, pfn);
	EXPECT_EQ(hc + 4, hw_corrupted_kb());
	EXPECT_TRUE(pool_is(0, base + 1, base + 1, 0, 0, p0 + 1, 0));

	/* The healthy folio goes back to CMA, the poisoned one stays out. */
	EXPECT_EQ(0, set_pages(0, base));
	EXPECT_TRUE(pool_is(0, base, base, 0, 0, p0 + 1, 0));
	EXPECT_STREQ("poisoned", folio_state(0, a));
	EXPECT_STREQ("", folio_state(0, b));
}

#define ZERO_HOLD	"/sys/kernel/debug/gmem_cma/zero_hold_after"

/*
 * The folio the zeroer is clearing (held half done by zero_hold_after):
 * a memory failure in it retires it at once, as any free folio, and the
 * zeroer lets go of it.  Node 0's last block, after free_folio.
 */
TEST_F_TIMEOUT(hwpoison, folio_being_zeroed, 300)
{
	unsigned long a, pfn, first;
	long base, p0, retired, zeroed;
	int i;

	if (!require_run(_metadata, 1))
		return;
	base = pool_field(0, "nr_pages");
	p0 = pool_field(0, "poisoned");
	retired = zeroer_field(0, "retired");
	zeroed = zeroer_field(0, "folios");
	ASSERT_GE(retired, 0) TH_LOG("no " ZEROER);
	ASSERT_TRUE(pool_is(0, base, base, 0, 0, p0, 0));
	ASSERT_EQ(0, write_str(GMEM_CMA_SYSFS "/prezero", "on"));
	ASSERT_EQ(0, write_str(ZERO_HOLD, "2"));
	ASSERT_EQ(0, set_pages(0, base + 1));
	for (i = 0; i < 1200 && zeroer_field(0, "zeroing") <= 0; i++)
		usleep(100000);
	a = zeroer_field(0, "zeroing");
	ASSERT_NE(0UL, a) TH_LOG("the zeroer did not take the new folio");
	ASSERT_EQ(0, hwpoisoned(a, &first));
	pfn = a + 3 * CHUNK + 11;

	ASSERT_EQ(0, hwpoison_write(CORRUPT, pfn));
	EXPECT_TRUE(pool_is(0, base, base, 0, 0, p0 + 1, 0));
	EXPECT_EQ(zeroer_field(0, "zeroing"), 0);
	EXPECT_EQ(zeroer_field(0, "retired"), retired + 1);
	EXPECT_STREQ("poisoned", folio_state(0, a));
	expect_only_poisoned(_metadata, a, pfn);

	/* Let go of the hold: the zeroer must not finish the folio. */
	EXPECT_EQ(0, write_str(ZERO_HOLD, "0"));
	sleep(2);
	EXPECT_EQ(zeroer_field(0, "folios"), zeroed);
	EXPECT_EQ(node_sysfs(0, "zeroed_pages"), 0);
	EXPECT_STREQ("poisoned", folio_state(0, a));
	EXPECT_TRUE(pool_is(0, base, base, 0, 0, p0 + 1, 0));
}

/*
 * A folio in use by a private file: it stays in use while the file holds
 * it, and is retired when the file lets it go.
 */
TEST_F_TIMEOUT(hwpoison, private_file_folio, 120)
{
	unsigned long u, pfn;
	long base, p0, hc;
	int vm, fd;

	if (!require_run(_metadata, 1))
		return;
	base = pool_field(1, "nr_pages");
	p0 = pool_field(1, "poisoned");
	ASSERT_GE(base, 0);
	ASSERT_GE(p0, 0);
	ASSERT_TRUE(pool_is(1, base, base, 0, 0, p0, 0));
	ASSERT_EQ(0, set_pages(1, base + 1));
	fd = gmem_on_node(_metadata, 1, &vm, 0);
	ASSERT_TRUE(pool_is(1, base + 1, base, 1, 0, p0, 0));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, GB));
	ASSERT_TRUE(pool_is(1, base + 1, base, 0, 1, p0, 0));
	u = only_folio(_metadata, 1, "used");
	pfn = u + 300 * CHUNK + 1;
	hc = hw_corrupted_kb();
	ASSERT_GE(hc, 0);

	ASSERT_EQ(0, hwpoison_write(CORRUPT, pfn));
	/* Still the file's: in use, not retired yet. */
	EXPECT_TRUE(pool_is(1, base + 1, base, 0, 1, p0, 0));
	EXPECT_STREQ("used", folio_state(1, u));
	expect_only_poisoned(_metadata, u, pfn);
	EXPECT_EQ(hc + 4, hw_corrupted_kb());
	EXPECT_EQ(EHWPOISON, hwpoison_write(CORRUPT, pfn));
	EXPECT_EQ(EBUSY, hwpoison_write(UNPOISON, pfn));
	expect_only_poisoned(_metadata, u, pfn);
	EXPECT_EQ(hc + 4, hw_corrupted_kb());

	close(fd);
	close(vm);
	EXPECT_TRUE(pool_is(1, base, base, 0, 0, p0 + 1, 2));
	EXPECT_STREQ("poisoned", folio_state(1, u));
}

/*
 * A folio host userspace maps: MADV_SOFT_OFFLINE is refused; MADV_HWPOISON
 * poisons one page without a signal; touching that page raises SIGBUS
 * BUS_MCEERR_AR at its address, in this mapping and in a new one; every
 * other page keeps its data and stays writable; the folio is retired when
 * the file lets it go.
 */
TEST_F_TIMEOUT(hwpoison, mapped_file_folio, 300)
{
	const unsigned long bad = 10;
	unsigned long u, off, first, wrong = 0;
	long base, p0, hc;
	char *mem, *again;
	int vm, fd;

	if (!require_run(_metadata, 1))
		return;
	base = pool_field(1, "nr_pages");
	p0 = pool_field(1, "poisoned");
	ASSERT_GE(base, 0);
	ASSERT_GE(p0, 0);
	ASSERT_TRUE(pool_is(1, base, base, 0, 0, p0, 0));
	ASSERT_EQ(0, set_pages(1, base + 1));
	fd = gmem_on_node(_metadata, 1, &vm, SHARED);
	mem = mmap(NULL, GB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, madvise(mem, GB, MADV_POPULATE_WRITE));
	for (off = 0; off < GB; off += PAGE)
		*(uint64_t *)(mem + off) = PATTERN(off);
	u = only_folio(_metadata, 1, "used");
	ASSERT_EQ(u + bad, pagemap_pfn(mem + bad * PAGE));
	ASSERT_TRUE(pool_is(1, base + 1, base, 0, 1, p0, 0));

	/* Soft offline cannot migrate a page of a held folio. */
	EXPECT_EQ(-1, madvise(mem + 20 * PAGE, PAGE, MADV_SOFT_OFFLINE));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, hwpoisoned(u, &first));
	EXPECT_STREQ("used", folio_state(1, u));

	hc = hw_corrupted_kb();
	ASSERT_GE(hc, 0);
	catch_sigbus();
	ASSERT_EQ(0, madvise(mem + bad * PAGE, PAGE, MADV_HWPOISON))
		TH_LOG("MADV_HWPOISON: %s", strerror(errno));
	EXPECT_EQ(0, sigbus_seen()) TH_LOG("MADV_HWPOISON itself sent SIGBUS");
	expect_only_poisoned(_metadata, u, u + bad);
	EXPECT_EQ(hc + 4, hw_corrupted_kb());
	EXPECT_TRUE(pool_is(1, base + 1, base, 0, 1, p0, 0));
	EXPECT_STREQ("used", folio_state(1, u));

	expect_mceerr_ar(_metadata, mem + bad * PAGE, false);
	expect_mceerr_ar(_metadata, mem + bad * PAGE, true);
	/* Every other page: its data, and writable. */
	for (off = 0; off < GB; off += PAGE) {
		uint64_t *p = (uint64_t *)(mem + off);

		if (off == bad * PAGE)
			continue;
		wrong += *p != PATTERN(off);
		*p = ~PATTERN(off);
		wrong += *p != ~PATTERN(off);
	}
	EXPECT_EQ(0UL, wrong);

	/* A new mapping: the same page fails, the others read back. */
	again = mmap(NULL, GB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, again);
	expect_mceerr_ar(_metadata, again + bad * PAGE, false);
	EXPECT_EQ(~PATTERN((bad - 1) * PAGE), *(uint64_t *)(again + (bad - 1) * PAGE));
	EXPECT_EQ(~PATTERN((bad + 1) * PAGE), *(uint64_t *)(again + (bad + 1) * PAGE));
	EXPECT_EQ(~PATTERN(GB - PAGE), *(uint64_t *)(again + GB - PAGE));
	EXPECT_EQ(0, sigbus_seen()) TH_LOG("a SIGBUS outside the touches of the page");
	expect_only_poisoned(_metadata, u, u + bad);
	EXPECT_EQ(hc + 4, hw_corrupted_kb());
	EXPECT_TRUE(pool_is(1, base + 1, base, 0, 1, p0, 0));

	munmap(again, GB);
	munmap(mem, GB);
	close(fd);
	close(vm);
	EXPECT_TRUE(pool_is(1, base, base, 0, 0, p0 + 1, 2));
	EXPECT_STREQ("poisoned", folio_state(1, u));
}

/* Where the reserved_folio_* tests start: see reserve_node1_page(). */
struct reserved_start {
	int vm, fd;
	unsigned long ino, old;	/* the file's inode, the folio it reserved */
	long g0, f0, hc;	/* grow_attempts, alloc_fail, HardwareCorrupted */
};

/*
 * Node 1's pool, empty with @poisoned folios retired before, sized to one
 * page that a new shared file reserves (not allocated yet); the counters
 * the test compares with afterwards.
 */
static void reserve_node1_page(struct __test_metadata *_metadata, long poisoned,
			       struct reserved_start *s)
{
	long resv, used;

	ASSERT_TRUE(pool_is(1, 0, 0, 0, 0, poisoned, 0));
	ASSERT_EQ(0, set_pages(1, 1));
	s->fd = gmem_on_node(_metadata, 1, &s->vm, SHARED);
	s->ino = inode_of(s->fd);
	ASSERT_TRUE(pool_is(1, 1, 0, 1, 0, poisoned, 0));
	ASSERT_TRUE(file_listed(s->ino, &resv, &used));
	ASSERT_EQ(1, resv);
	ASSERT_EQ(0, used);
	s->old = only_folio(_metadata, 1, "free");
	s->g0 = pool_field(1, "grow_attempts");
	s->f0 = pool_field(1, "alloc_fail");
	ASSERT_GE(s->g0, 0);
	ASSERT_GE(s->f0, 0);
	s->hc = hw_corrupted_kb();
	ASSERT_GE(s->hc, 0);
}

/*
 * The second race: node 1's only pool page is reserved by a file and not
 * allocated yet when it fails, while the area still has a free block.  The
 * pool retires it and (a worker) takes a replacement out of CMA at once, so
 * the reservation stays backed and the file's fault gets a healthy page.
 * Needs both blocks of node 1 healthy: runs first on node 1.
 */
TEST_F_TIMEOUT(hwpoison, reserved_folio_replaced, 300)
{
	const unsigned long offs[] = { 0, PAGE, 100 * CHUNK * PAGE + 3 * PAGE,
				       511 * CHUNK * PAGE, GB - PAGE };
	unsigned long repl, pfn, first;
	long resv, used;
	struct reserved_start st;
	unsigned int i;
	char *mem;

	if (!require_run(_metadata, 2))
		return;
	ASSERT_EQ(0, pool_field(1, "poisoned"))
		TH_LOG("node 1 must have both blocks healthy: runs first there");
	reserve_node1_page(_metadata, 0, &st);
	pfn = st.old + 100 * CHUNK + 3;

	ASSERT_EQ(0, hwpoison_write(CORRUPT, pfn));
	/* Retired, and replaced: one page, reserved, from the other block. */
	EXPECT_TRUE(pool_is(1, 1, 0, 1, 0, 1, GROW_SECONDS));
	EXPECT_EQ(0, pool_field(1, "resv_short"));
	EXPECT_EQ(st.g0 + 1, pool_field(1, "grow_attempts"));
	EXPECT_EQ(st.f0, pool_field(1, "alloc_fail"));
	EXPECT_STREQ("poisoned", folio_state(1, st.old));
	repl = only_folio(_metadata, 1, "free");
	EXPECT_NE(st.old, repl);
	expect_only_poisoned(_metadata, st.old, pfn);
	EXPECT_EQ(0, hwpoisoned(repl, &first));
	EXPECT_EQ(st.hc + 4, hw_corrupted_kb());
	ASSERT_TRUE(file_listed(st.ino, &resv, &used));
	EXPECT_EQ(1, resv);
	EXPECT_EQ(0, used);

	/* The file's fault gets the replacement; the data reads back. */
	mem = mmap(NULL, GB, PROT_READ | PROT_WRITE, MAP_SHARED, st.fd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		*(uint64_t *)(mem + offs[i]) = PATTERN(offs[i]);
	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		EXPECT_EQ(PATTERN(offs[i]), *(uint64_t *)(mem + offs[i]));
		EXPECT_EQ(repl + offs[i] / PAGE, pagemap_pfn(mem + offs[i]));
	}
	EXPECT_TRUE(pool_is(1, 1, 0, 0, 1, 1, 0));
	EXPECT_STREQ("used", folio_state(1, repl));
	ASSERT_TRUE(file_listed(st.ino, &resv, &used));
	EXPECT_EQ(0, resv);
	EXPECT_EQ(1, used);

	munmap(mem, GB);
	close(st.fd);
	close(st.vm);
	EXPECT_TRUE(pool_is(1, 1, 1, 0, 0, 1, 2));
	EXPECT_FALSE(file_listed(st.ino, &resv, &used));
	EXPECT_EQ(0, set_pages(1, 0));
	EXPECT_TRUE(pool_is(1, 0, 0, 0, 0, 1, 0));
	EXPECT_EQ(st.hc + 4, hw_corrupted_kb());
}

/*
 * The same race when the pool already holds all of the area that is left
 * (node 1's one healthy block): nothing can replace the retired page, so
 * the reservation stays counted with no folio behind it (resv_short), no
 * grow is attempted, the file's fault finds no page (fallocate ENOMEM,
 * host fault SIGBUS, neither waits), and closing the file leaves nothing
 * reserved.  Runs after reserved_folio_replaced, which leaves node 1 one
 * healthy block.
 */
TEST_F_TIMEOUT(hwpoison, reserved_folio_no_free_block, 300)
{
	unsigned long pfn;
	long resv, used;
	struct reserved_start st;
	struct folio_line f[8];
	int status, n;
	pid_t pid;

	if (!require_run(_metadata, 2))
		return;
	ASSERT_EQ(1, pool_field(1, "poisoned"))
		TH_LOG("node 1 needs one healthy block (reserved_folio_replaced runs first)");
	reserve_node1_page(_metadata, 1, &st);
	pfn = st.old + 77 * CHUNK + 9;

	ASSERT_EQ(0, hwpoison_write(CORRUPT, pfn));
	/* Retired; the reservation has no page behind it any more. */
	EXPECT_TRUE(pool_is(1, 0, 0, 1, 0, 2, 2));
	EXPECT_EQ(1, pool_field(1, "resv_short"));
	EXPECT_STREQ("poisoned", folio_state(1, st.old));
	n = pool_folios(1, f, 8);
	EXPECT_EQ(2, n) TH_LOG("node 1 lists %d folios, not just its 2 poisoned ones", n);
	expect_only_poisoned(_metadata, st.old, pfn);
	EXPECT_EQ(st.hc + 4, hw_corrupted_kb());
	ASSERT_TRUE(file_listed(st.ino, &resv, &used));
	EXPECT_EQ(1, resv);
	EXPECT_EQ(0, used);

	/* The file's fault finds no page: ENOMEM, not a wait. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(fallocate(st.fd, FALLOC_FL_KEEP_SIZE, 0, GB) ? errno == ENOMEM ? 0 : 2 : 1);
	status = reap(pid, 30);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("fallocate: status %#x (exit 1: it succeeded, 2: not ENOMEM, -1: hung)",
		       status);
	/* A host fault: SIGBUS. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *mem = mmap(NULL, GB, PROT_READ | PROT_WRITE, MAP_SHARED, st.fd, 0);

		signal(SIGBUS, SIG_DFL);
		if (mem == MAP_FAILED)
			_exit(2);
		__atomic_store_n(mem + PAGE, 1, __ATOMIC_RELAXED);
		_exit(1);
	}
	status = reap(pid, 30);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS)
		TH_LOG("host fault: status %#x (exit 1: it worked, -1: hung)", status);
	/* Nothing changed, and the area has no block a grow could take. */
	EXPECT_TRUE(pool_is(1, 0, 0, 1, 0, 2, 0));
	EXPECT_EQ(1, pool_field(1, "resv_short"));
	EXPECT_EQ(st.g0, pool_field(1, "grow_attempts"));
	EXPECT_EQ(st.f0, pool_field(1, "alloc_fail"));
	ASSERT_TRUE(file_listed(st.ino, &resv, &used));
	EXPECT_EQ(1, resv);
	EXPECT_EQ(0, used);

	close(st.fd);
	close(st.vm);
	EXPECT_TRUE(pool_is(1, 0, 0, 0, 0, 2, 2));
	EXPECT_EQ(0, pool_field(1, "resv_short"));
	EXPECT_FALSE(file_listed(st.ino, &resv, &used));
	EXPECT_EQ(st.hc + 4, hw_corrupted_kb());
}

TEST_HARNESS_MAIN
