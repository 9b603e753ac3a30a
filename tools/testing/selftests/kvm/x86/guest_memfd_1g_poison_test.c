// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory failure in a 1 GiB guest_memfd page (GUEST_MEMFD_FLAG_HUGE_PAGES,
 * huge_page_size_log2 = 30) that a guest maps with a 1 GiB entry, for a
 * DEFAULT VM whose slot is a shared, mmap-able file (guest_memfd only) and
 * for a SW_PROTECTED VM whose slot is a private file.
 *
 * One 4 KiB page fails (corrupt-pfn).  Every KVM mapping of the folio is
 * zapped: the VM's 1 GiB entry, and the 4 KiB entry of the page in a second
 * VM that maps the shared file through the host mapping.  KVM_PRE_FAULT_MEMORY
 * of the page and a guest access to it fail with EHWPOISON, the access with
 * a KVM_EXIT_MEMORY_FAULT exit for exactly the page's GPA; every other page
 * keeps its data and maps again, at 2 MiB in the other chunks and at 4 KiB
 * in the failed one.  Host mappings lose only the failed page (SIGBUS
 * BUS_MCEERR_AR there), and so does the second VM.  The folio stays in use
 * until the file lets it go, then leaves the pool.
 *
 * Poisoned pages never come back: the test runs only with
 * gmem_hwpoison_test=2 on the kernel command line (make check boots a
 * kernel with gmem_cma=0:2G,1:2G for it and skips it otherwise).  It
 * poisons both pages of node 0; node 1 belongs to gmem_cma_hwpoison in that
 * boot.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/mempolicy.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"
#include "kselftest_harness.h"
#include "../../gmem_cma/gmem_cma_pools.h"

#define CORRUPT		HWPOISON_CORRUPT
#define NID		0	/* the node whose pages the test poisons */
#define GPA		SZ_4G
#define SLOT		1
#define HUGE_FLAGS	GUEST_MEMFD_FLAG_HUGE_PAGES
#define SHARED_FLAGS	(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED | \
			 GUEST_MEMFD_FLAG_HUGE_PAGES)
/* The page that fails: page 37 of 2 MiB chunk 300, and its chunk. */
#define BAD_OFF		(300UL * SZ_2M + 37 * PAGE_SIZE)
#define BAD_CHUNK	(300UL * SZ_2M)
#define PATTERN1(gpa)	((gpa) ^ 0xbadc0ffee0ddf00dULL)
#define PATTERN2(gpa)	((gpa) ^ 0x5ca1ab1e00c0ffeeULL)
#ifndef BUS_MCEERR_AR
#define BUS_MCEERR_AR	4
#endif

/* gmem_hwpoison_test=2 is on the kernel command line. */
static bool hwpoison_boot2(void)
{
	static const char key[] = "gmem_hwpoison_test=2";
	char cmdline[4096], *p;
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	cmdline[n > 0 ? n : 0] = '\0';
	for (p = strstr(cmdline, key); p; p = strstr(p + 1, key))
		if ((p == cmdline || p[-1] == ' ') &&
		    (!p[strlen(key)] || p[strlen(key)] == ' ' || p[strlen(key)] == '\n'))
			return true;
	return false;
}

/* A 1 GiB-page guest_memfd of 1 GiB whose page is reserved on node NID. */
static int create_gmem(struct kvm_vm *vm, u64 flags)
{
	struct kvm_create_guest_memfd args = {
		.size = SZ_1G,
		.flags = flags,
		.huge_page_size_log2 = 30,
	};
	unsigned long nodes = 1UL << NID;
	int fd, err;

	if (syscall(__NR_set_mempolicy, MPOL_BIND, &nodes, 8 * sizeof(nodes)))
		return -1;
	fd = __vm_ioctl(vm, KVM_CREATE_GUEST_MEMFD, &args);
	err = errno;
	syscall(__NR_set_mempolicy, MPOL_DEFAULT, NULL, 0);
	errno = err;
	return fd;
}

/*
 * Map @size bytes of @fd (or anonymous memory if @fd < 0) where a VMM's
 * allocator would: 2 MiB-aligned, and 2 MiB past a 1 GiB boundary.
 */
static void *map_vmm(int fd, size_t size)
{
	size_t span = size + 2UL * SZ_1G;
	char *area, *addr;

	area = mmap(NULL, span, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		return MAP_FAILED;
	addr = (char *)(((unsigned long)area + SZ_1G - 1) & ~(SZ_1G - 1UL));
	addr += SZ_2M;
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

/*
 * Guest, first vCPU: write PATTERN1 on every 4 KiB page of [@gpa, @gpa +
 * @size); sync; then, on every page but @bad, check it, write PATTERN2 and
 * check that.
 */
static void guest_main(u64 gpa, u64 size, u64 bad)
{
	u64 off;

	for (off = 0; off < size; off += PAGE_SIZE)
		WRITE_ONCE(*(u64 *)(gpa + off), PATTERN1(gpa + off));
	GUEST_SYNC(1);
	for (off = 0; off < size; off += PAGE_SIZE) {
		u64 *p = (u64 *)(gpa + off);

		if (gpa + off == bad)
			continue;
		GUEST_ASSERT_EQ(READ_ONCE(*p), PATTERN1(gpa + off));
		WRITE_ONCE(*p, PATTERN2(gpa + off));
		GUEST_ASSERT_EQ(READ_ONCE(*p), PATTERN2(gpa + off));
	}
	GUEST_DONE();
}

/*
 * Guest of the second VM: check PATTERN1 on every page of [@gpa, @gpa +
 * @size); sync; then PATTERN2 on every page but @bad.
 */
static void guest_second(u64 gpa, u64 size, u64 bad)
{
	u64 off;

	for (off = 0; off < size; off += PAGE_SIZE)
		GUEST_ASSERT_EQ(READ_ONCE(*(u64 *)(gpa + off)), PATTERN1(gpa + off));
	GUEST_SYNC(1);
	for (off = 0; off < size; off += PAGE_SIZE)
		if (gpa + off != bad)
			GUEST_ASSERT_EQ(READ_ONCE(*(u64 *)(gpa + off)),
					PATTERN2(gpa + off));
	GUEST_DONE();
}

/* Guest, second vCPU: sync (mapping its own stack), then read @gpa. */
static void guest_probe(u64 gpa)
{
	GUEST_SYNC(0);
	(void)READ_ONCE(*(u64 *)gpa);
	GUEST_DONE();
}

/* Run @vcpu to its next ucall, which must be @cmd. */
static void run_to(struct kvm_vcpu *vcpu, u64 cmd)
{
	struct ucall uc;

	vcpu_run(vcpu);
	if (get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	TEST_ASSERT_EQ(uc.cmd, cmd);
}

struct stats {
	u64 g1, m2, k4;
};

static u64 vm_stat(struct kvm_vm *vm, const char *name)
{
	u64 v = 0;

	kvm_get_stat(&vm->stats, name, &v, 1);
	return v;
}

static struct stats vm_stats(struct kvm_vm *vm)
{
	return (struct stats){ vm_stat(vm, "pages_1g"), vm_stat(vm, "pages_2m"),
			       vm_stat(vm, "pages_4k") };
}

static void print_stats(const char *what, struct stats s)
{
	ksft_print_msg("%s: pages_1g %llu pages_2m %llu pages_4k %llu\n", what,
		       (unsigned long long)s.g1, (unsigned long long)s.m2,
		       (unsigned long long)s.k4);
}

/* The VM's pages_1g, pages_2m and pages_4k are exactly these. */
static bool stats_are(struct kvm_vm *vm, u64 g1, u64 m2, u64 k4)
{
	struct stats s = vm_stats(vm);

	if (s.g1 == g1 && s.m2 == m2 && s.k4 == k4)
		return true;
	ksft_print_msg("pages_1g %llu pages_2m %llu pages_4k %llu, want %llu %llu %llu\n",
		       (unsigned long long)s.g1, (unsigned long long)s.m2,
		       (unsigned long long)s.k4, (unsigned long long)g1,
		       (unsigned long long)m2, (unsigned long long)k4);
	return false;
}

/* Pages of the host mapping @mem but the failed one without @pattern's data. */
static u64 host_bad(const char *mem, bool second)
{
	u64 off, bad = 0, want;

	for (off = 0; off < SZ_1G; off += PAGE_SIZE) {
		if (off == BAD_OFF)
			continue;
		want = second ? PATTERN2(GPA + off) : PATTERN1(GPA + off);
		bad += *(const u64 *)(mem + off) != want;
	}
	return bad;
}

static sigjmp_buf sigbus_jmp;
static siginfo_t sigbus_info;
static int sigbus_armed;

/* A SIGBUS where none is expected fails the test, as kvm_util's handler would. */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	sigbus_info = *si;
	if (__atomic_load_n(&sigbus_armed, __ATOMIC_SEQ_CST))
		siglongjmp(sigbus_jmp, 1);
	fprintf(stderr, "unexpected SIGBUS at %p, si_code %d\n", si->si_addr, si->si_code);
	_exit(KSFT_FAIL);
}

/* Catch SIGBUS (instead of kvm_util's handler, which fails the test). */
static void catch_sigbus(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };

	sigaction(SIGBUS, &sa, NULL);
}

/* Read the word at @addr: true if that raised SIGBUS, its siginfo in *@si. */
static bool read_sigbus(const char *addr, siginfo_t *si)
{
	bool hit = false;

	memset(&sigbus_info, 0, sizeof(sigbus_info));
	if (!sigsetjmp(sigbus_jmp, 1)) {
		__atomic_store_n(&sigbus_armed, 1, __ATOMIC_SEQ_CST);
		(void)READ_ONCE(*(const u64 *)addr);
	} else {
		hit = true;
	}
	__atomic_store_n(&sigbus_armed, 0, __ATOMIC_SEQ_CST);
	*si = sigbus_info;
	return hit;
}

/* One KVM_RUN of @vcpu: true if SIGBUS came with it, its siginfo in *@si. */
static bool run_sigbus(struct kvm_vcpu *vcpu, siginfo_t *si)
{
	bool hit = false;

	memset(&sigbus_info, 0, sizeof(sigbus_info));
	if (!sigsetjmp(sigbus_jmp, 1)) {
		__atomic_store_n(&sigbus_armed, 1, __ATOMIC_SEQ_CST);
		__vcpu_run(vcpu);
	} else {
		hit = true;
	}
	__atomic_store_n(&sigbus_armed, 0, __ATOMIC_SEQ_CST);
	*si = sigbus_info;
	return hit;
}

/* @hit: SIGBUS came, BUS_MCEERR_AR for exactly @addr and a 4 KiB page. */
static void expect_mceerr_ar(struct __test_metadata *_metadata, bool hit,
			     const siginfo_t *si, const char *addr)
{
	EXPECT_TRUE(hit) TH_LOG("no SIGBUS for %p", addr);
	EXPECT_EQ(BUS_MCEERR_AR, si->si_code);
	EXPECT_EQ((void *)addr, si->si_addr);
	EXPECT_EQ(12, si->si_addr_lsb);
}

/*
 * KVM_PRE_FAULT_MEMORY of the failed page, then @probe's read of it:
 * both EHWPOISON, the read with a KVM_EXIT_MEMORY_FAULT exit for exactly
 * that page (@flags: KVM_MEMORY_EXIT_FLAG_PRIVATE for private memory).
 * Neither maps anything.
 */
static void expect_poisoned_gpa(struct __test_metadata *_metadata,
				struct kvm_vm *vm, struct kvm_vcpu *probe,
				u64 flags)
{
	struct kvm_pre_fault_memory range = { .gpa = GPA + BAD_OFF, .size = PAGE_SIZE };
	struct stats before = vm_stats(vm);
	struct kvm_run *run = probe->run;
	int r, err;

	do {
		r = __vcpu_ioctl(probe, KVM_PRE_FAULT_MEMORY, &range);
		err = errno;
	} while (r < 0 && (err == EINTR || err == EAGAIN));
	EXPECT_EQ(-1, r);
	EXPECT_EQ(EHWPOISON, err) TH_LOG("KVM_PRE_FAULT_MEMORY: %s", strerror(err));
	EXPECT_EQ(PAGE_SIZE, range.size);

	r = _vcpu_run(probe);
	err = errno;
	EXPECT_EQ(-1, r);
	EXPECT_EQ(EHWPOISON, err) TH_LOG("KVM_RUN: %s", strerror(err));
	EXPECT_EQ(KVM_EXIT_MEMORY_FAULT, run->exit_reason);
	EXPECT_EQ(GPA + BAD_OFF, run->memory_fault.gpa);
	EXPECT_EQ(PAGE_SIZE, run->memory_fault.size);
	EXPECT_EQ(flags, run->memory_fault.flags);
	EXPECT_TRUE(stats_are(vm, before.g1, before.m2, before.k4));
}

/*
 * Fail page @pfn of the file's 1 GiB folio at @folio (node NID's pool of
 * @base + 1 pages, @p0 retired before): only that page is marked,
 * HardwareCorrupted grows by 4 kB, and the folio is still the file's.
 * Returns HardwareCorrupted from before.
 */
static long poison_page(struct __test_metadata *_metadata, long base, long p0,
			unsigned long folio, unsigned long pfn)
{
	unsigned long first;
	long hc = hw_corrupted_kb();

	ASSERT_LE(0, hc);
	ASSERT_EQ(0, hwpoison_write(CORRUPT, pfn));
	EXPECT_EQ(1, hwpoisoned(folio, &first));
	EXPECT_EQ(pfn, first);
	EXPECT_EQ(hc + 4, hw_corrupted_kb());
	EXPECT_TRUE(pool_is(NID, base + 1, base, 0, 1, p0, 0));
	return hc;
}

FIXTURE(poison) {
	long base, p0;
};

FIXTURE_SETUP(poison)
{
	cpu_set_t cpus;

	if (!hwpoison_boot2())
		SKIP(return, "leaves poisoned pages: runs only with gmem_hwpoison_test=2");
	/* The boot is made for this test: what it needs is required. */
	ASSERT_TRUE(kvm_check_cap(KVM_CAP_GUEST_MEMFD_FLAGS) & HUGE_FLAGS);
	ASSERT_TRUE(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM));
	ASSERT_EQ(0, access(CORRUPT, W_OK)) TH_LOG("no %s (CONFIG_HWPOISON_INJECT)", CORRUPT);
	ASSERT_EQ(2, node_sysfs(NID, "capacity_pages")) TH_LOG("needs gmem_cma=0:2G,1:2G");
	self->base = pool_field(NID, "nr_pages");
	self->p0 = pool_field(NID, "poisoned");
	ASSERT_LE(0, self->base);
	ASSERT_LE(0, self->p0);
	ASSERT_LE(self->base + self->p0 + 1, 2) TH_LOG("node %d has no healthy block left", NID);
	ASSERT_TRUE(pool_is(NID, self->base, self->base, 0, 0, self->p0, 0));
	ASSERT_EQ(0, set_pages(NID, self->base + 1));
	ASSERT_TRUE(pool_is(NID, self->base + 1, self->base + 1, 0, 0, self->p0, 0));
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpus), &cpus));
	catch_sigbus();
}

/*
 * Nothing to undo: each test checks that the pool is back at its size
 * (the poisoned folio left it).  After a failure the state is left as it
 * is, for the log to show.
 */
FIXTURE_TEARDOWN(poison)
{
}

/*
 * A DEFAULT VM with a guest_memfd-only slot of a shared, mmap-able file,
 * and a second VM whose ordinary slot maps the failed page's chunk through
 * the host mapping of that file.
 */
TEST_F_TIMEOUT(poison, shared_gmem_only_slot, 900)
{
	struct kvm_vcpu *vcpus[2], *b_vcpus[2];
	unsigned long folio, pfn, first;
	struct stats a, b;
	struct kvm_vm *vm, *vm_b;
	siginfo_t si;
	bool hit;
	char *mem;
	long hc;
	int fd;

	vm = __vm_create_with_vcpus(VM_SHAPE_DEFAULT, 2, SZ_8M / PAGE_SIZE,
				    guest_main, vcpus);
	vcpu_arch_set_entry_point(vcpus[1], guest_probe);
	fd = create_gmem(vm, SHARED_FLAGS);
	ASSERT_LE(0, fd) TH_LOG("KVM_CREATE_GUEST_MEMFD: %s", strerror(errno));
	mem = map_vmm(fd, SZ_1G);
	ASSERT_NE(MAP_FAILED, mem);
	vm_set_user_memory_region2(vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA, SZ_1G,
				   mem, fd, 0);
	virt_map_level(vm, GPA, GPA, SZ_1G, PG_LEVEL_2M);
	vcpu_args_set(vcpus[0], 3, GPA, SZ_1G, GPA + BAD_OFF);
	vcpu_args_set(vcpus[1], 1, GPA + BAD_OFF);
	run_to(vcpus[0], UCALL_SYNC);
	ASSERT_EQ(1, vm_stat(vm, "pages_1g"));
	ASSERT_TRUE(pool_is(NID, self->base + 1, self->base, 0, 1, self->p0, 0));

	/* The host sees the guest's data; its mapping gives the pfn. */
	ASSERT_EQ(0, host_bad(mem, false));
	/* host_bad() skips that page: map it here, for pagemap. */
	ASSERT_EQ(PATTERN1(GPA + BAD_OFF), READ_ONCE(*(u64 *)(mem + BAD_OFF)));
	folio = pool_only_folio(NID, "used");
	ASSERT_NE(0, folio);
	pfn = pagemap_pfn(mem + BAD_OFF);
	ASSERT_EQ(folio + BAD_OFF / PAGE_SIZE, pfn);

	/* The second VM maps the failed page's chunk, 4 KiB at a time. */
	vm_b = __vm_create_with_vcpus(VM_SHAPE_DEFAULT, 2, SZ_8M / PAGE_SIZE,
				      guest_second, b_vcpus);
	vcpu_arch_set_entry_point(b_vcpus[1], guest_probe);
	vm_set_user_memory_region(vm_b, SLOT, 0, GPA, SZ_1G, mem);
	virt_map_level(vm_b, GPA, GPA, SZ_1G, PG_LEVEL_2M);
	vcpu_args_set(b_vcpus[0], 3, GPA + BAD_CHUNK, SZ_2M, GPA + BAD_OFF);
	vcpu_args_set(b_vcpus[1], 1, GPA + BAD_OFF);
	run_to(b_vcpus[0], UCALL_SYNC);
	/* The probes' first run maps what they need but the page. */
	run_to(vcpus[1], UCALL_SYNC);
	run_to(b_vcpus[1], UCALL_SYNC);
	a = vm_stats(vm);
	b = vm_stats(vm_b);
	print_stats("VM before", a);
	print_stats("second VM before", b);
	ASSERT_EQ(1, a.g1);
	ASSERT_EQ(0, b.g1);
	ASSERT_LE(512, b.k4);

	hc = poison_page(_metadata, self->base, self->p0, folio, pfn);
	/* Zapped: the VM's 1 GiB entry, the second VM's entry for the page. */
	EXPECT_TRUE(stats_are(vm, 0, a.m2, a.k4));
	EXPECT_TRUE(stats_are(vm_b, b.g1, b.m2, b.k4 - 1));

	expect_poisoned_gpa(_metadata, vm, vcpus[1], 0);
	/* Every other page: the data, at 2 MiB, and at 4 KiB in the chunk. */
	run_to(vcpus[0], UCALL_DONE);
	EXPECT_TRUE(stats_are(vm, 0, a.m2 + 511, a.k4 + 511));

	/* The second VM: the other pages as they are; the page: SIGBUS. */
	run_to(b_vcpus[0], UCALL_DONE);
	EXPECT_TRUE(stats_are(vm_b, b.g1, b.m2, b.k4 - 1));
	hit = run_sigbus(b_vcpus[1], &si);
	expect_mceerr_ar(_metadata, hit, &si, mem + BAD_OFF);
	EXPECT_TRUE(stats_are(vm_b, b.g1, b.m2, b.k4 - 1));

	/* The host: SIGBUS on the page only. */
	hit = read_sigbus(mem + BAD_OFF, &si);
	expect_mceerr_ar(_metadata, hit, &si, mem + BAD_OFF);
	EXPECT_EQ(0, host_bad(mem, true));
	EXPECT_EQ(1, hwpoisoned(folio, &first));
	EXPECT_EQ(hc + 4, hw_corrupted_kb());
	EXPECT_TRUE(pool_is(NID, self->base + 1, self->base, 0, 1, self->p0, 0));

	kvm_vm_free(vm_b);
	munmap(mem, SZ_1G);
	close(fd);
	kvm_vm_free(vm);
	EXPECT_TRUE(pool_is(NID, self->base, self->base, 0, 0, self->p0 + 1, 2));
}

/* A SW_PROTECTED VM whose slot is a private file, all of it faulted in. */
TEST_F_TIMEOUT(poison, private_slot, 900)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	struct kvm_pre_fault_memory range = { .gpa = GPA, .size = SZ_1G };
	unsigned long folio, pfn, first;
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	struct stats a;
	void *shared;
	int fd, r;

	vm = __vm_create_with_vcpus(shape, 2, SZ_8M / PAGE_SIZE, guest_main, vcpus);
	vcpu_arch_set_entry_point(vcpus[1], guest_probe);
	fd = create_gmem(vm, HUGE_FLAGS);
	ASSERT_LE(0, fd) TH_LOG("KVM_CREATE_GUEST_MEMFD: %s", strerror(errno));
	/* The shared side where a VMM puts it: 2 MiB- but not 1 GiB-aligned. */
	shared = map_vmm(-1, SZ_1G);
	ASSERT_NE(MAP_FAILED, shared);
	vm_set_user_memory_region2(vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA, SZ_1G,
				   shared, fd, 0);
	vm_mem_set_private(vm, GPA, SZ_1G);
	virt_map_level(vm, GPA, GPA, SZ_1G, PG_LEVEL_2M);
	do {
		r = __vcpu_ioctl(vcpus[0], KVM_PRE_FAULT_MEMORY, &range);
	} while (r < 0 && (errno == EINTR || errno == EAGAIN));
	ASSERT_EQ(0, r);
	ASSERT_EQ(0, range.size);
	ASSERT_EQ(1, vm_stat(vm, "pages_1g"));
	vcpu_args_set(vcpus[0], 3, GPA, SZ_1G, GPA + BAD_OFF);
	vcpu_args_set(vcpus[1], 1, GPA + BAD_OFF);
	run_to(vcpus[0], UCALL_SYNC);
	run_to(vcpus[1], UCALL_SYNC);
	a = vm_stats(vm);
	print_stats("before", a);
	ASSERT_EQ(1, a.g1);
	ASSERT_TRUE(pool_is(NID, self->base + 1, self->base, 0, 1, self->p0, 0));
	/* No host mapping: the pfn is the folio's (debugfs) plus the offset. */
	folio = pool_only_folio(NID, "used");
	ASSERT_NE(0, folio);
	pfn = folio + BAD_OFF / PAGE_SIZE;

	poison_page(_metadata, self->base, self->p0, folio, pfn);
	EXPECT_TRUE(stats_are(vm, 0, a.m2, a.k4));

	expect_poisoned_gpa(_metadata, vm, vcpus[1], KVM_MEMORY_EXIT_FLAG_PRIVATE);
	run_to(vcpus[0], UCALL_DONE);
	EXPECT_TRUE(stats_are(vm, 0, a.m2 + 511, a.k4 + 511));
	EXPECT_EQ(1, hwpoisoned(folio, &first));
	EXPECT_TRUE(pool_is(NID, self->base + 1, self->base, 0, 1, self->p0, 0));

	close(fd);
	kvm_vm_free(vm);
	munmap(shared, SZ_1G);
	EXPECT_TRUE(pool_is(NID, self->base, self->base, 0, 0, self->p0 + 1, 2));
}

TEST_HARNESS_MAIN
