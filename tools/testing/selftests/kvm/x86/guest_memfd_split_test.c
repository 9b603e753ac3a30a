// SPDX-License-Identifier: GPL-2.0-only
/*
 * 1 GiB guest_memfd pages split only where a conversion needs it, and whole
 * again when the range is private again
 * (kvm.gmem_in_place_conversion=1, gmem_cma=0:2G,1:2G).
 *
 * A SW_PROTECTED guest fills two private 1 GiB pages; the VMM shares one
 * 4 KiB page of the first: that page's 1 GiB folio becomes 511 folios of
 * 2 MiB and 512 of 4 KiB, KVM maps it so (the other 1 GiB page stays one
 * mapping), the vmemmap gives back all but one page per 2 MiB folio, and
 * every page keeps its data, checked by the guest.  Converting the page back
 * merges the folio again: one 1 GiB mapping, fully trimmed.  Also: a pinned
 * shared page refuses exactly its own conversion (a pinned shared 2 MiB
 * folio the conversions of its own pages), a 4 KiB punch inside a
 * 1 GiB page zeroes that page only, and conversions, host faults, punches
 * and pre-faults race for a while with the pools back at the end.
 *
 * The last case poisons two pages of a split 1 GiB page, one private, one
 * shared: only those two pages are lost (to the guest, KVM and the host),
 * everything else keeps its data and mapping, and the 1 GiB page leaves
 * the pool when the file lets it go.  Poisoned pages never come back: it
 * must stay the last case of the boot's last test.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"
#include "kselftest_harness.h"
#include "../../gmem_cma/gmem_cma_pools.h"

#define GPA		SZ_4G
#define SLOT		1
#define SIZE		(2ULL * SZ_1G)
#define PRIVATE		KVM_MEMORY_ATTRIBUTE_PRIVATE
#define PRESERVE	KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE
#define SAVED_1G	4095	/* vmemmap pages a trimmed 1 GiB folio saves */
#define SAVED_2M	7	/* ... and a trimmed 2 MiB folio */

/* What the guest does at its next run. */
enum { CMD_WRITE = 1, CMD_VERIFY, CMD_TOUCH, CMD_DONE };

static u64 cmd, seed;
/* A page the VMM wrote (or punched) and the value it holds now. */
static u64 odd_gpa = -1ULL, odd_val;
/* Poisoned pages, which the guest leaves alone. */
static u64 bad_gpa[2] = { -1ULL, -1ULL };

static u64 expected(u64 gpa)
{
	return gpa == odd_gpa ? odd_val : gpa ^ seed;
}

static void guest_code(void)
{
	u64 gpa;

	for (;;) {
		switch (READ_ONCE(cmd)) {
		case CMD_WRITE:
			for (gpa = GPA; gpa < GPA + SIZE; gpa += PAGE_SIZE)
				WRITE_ONCE(*(u64 *)gpa, gpa ^ seed);
			break;
		case CMD_VERIFY:
			for (gpa = GPA; gpa < GPA + SIZE; gpa += PAGE_SIZE)
				if (gpa != bad_gpa[0] && gpa != bad_gpa[1])
					__GUEST_ASSERT(READ_ONCE(*(u64 *)gpa) == expected(gpa),
						       "gpa %lx: %lx, want %lx", gpa,
						       READ_ONCE(*(u64 *)gpa), expected(gpa));
			break;
		case CMD_TOUCH:
			for (gpa = GPA; gpa < GPA + SIZE; gpa += PAGE_SIZE)
				READ_ONCE(*(u64 *)gpa);
			break;
		default:
			GUEST_DONE();
		}
		GUEST_SYNC(cmd);
	}
}

static long vmemmap_saved(void)
{
	return node_sysfs(0, "vmemmap_saved_pages") +
	       node_sysfs(1, "vmemmap_saved_pages");
}

/* vmemmap_saved() equals @want, waiting up to 5 s (merges are deferred). */
static bool saved_is(long want)
{
	int i;

	for (i = 0; i < 500 && vmemmap_saved() != want; i++)
		usleep(10000);
	if (vmemmap_saved() == want)
		return true;
	fprintf(stderr, "vmemmap_saved_pages %ld, want %ld\n", vmemmap_saved(), want);
	return false;
}

static int convert(int fd, u64 offset, u64 size, u64 attributes, u64 flags,
		   u64 *error_offset)
{
	struct kvm_memory_attributes2 a = {
		.offset = offset,
		.size = size,
		.attributes = attributes,
		.flags = flags,
	};
	int r = ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &a);

	if (error_offset)
		*error_offset = a.error_offset;
	return r ? -errno : 0;
}

static u64 vm_stat(struct kvm_vm *vm, const char *name)
{
	u64 v = 0;

	kvm_get_stat(&vm->stats, name, &v, 1);
	return v;
}

FIXTURE(split) {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	int fd;
	u64 *mem;
	long pools[2];
	long saved_before;	/* before the test grew the pools */
	bool poisoned;		/* a 1 GiB page was retired: its vmemmap is not saved */
	long saved0;		/* the pools' folios all whole and trimmed */
	int gfd;		/* gup_test's, whose pins go when it is closed */
	u64 base_1g, base_2m, base_4k;
	/* Threads of a case that use the file, stopped before it goes. */
	pthread_t threads[2];
	bool *thread_stop[2];
	int nr_threads;
};

/* Run the guest through @c; it must come back with SYNC(@c). */
static void run(struct __test_metadata *_metadata, struct _test_data_split *self,
		u64 c)
{
	struct ucall uc;

	cmd = c;
	sync_global_to_guest(self->vm, cmd);
	sync_global_to_guest(self->vm, odd_gpa);
	sync_global_to_guest(self->vm, odd_val);
	sync_global_to_guest(self->vm, bad_gpa);
	vcpu_run(self->vcpu);
	switch (get_ucall(self->vcpu, &uc)) {
	case UCALL_SYNC:
		ASSERT_EQ(c, uc.args[1]);
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		ASSERT_TRUE(false)
			TH_LOG("command %lu: exit reason %s, ucall %lu", c,
			       exit_reason_str(self->vcpu->run->exit_reason), uc.cmd);
	}
}

FIXTURE_SETUP(split)
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
	int nid;

	ASSERT_EQ(PRIVATE, kvm_check_cap(KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES));
	self->fd = -1;
	self->gfd = -1;
	self->poisoned = false;
	self->nr_threads = 0;
	self->saved_before = vmemmap_saved();
	for (nid = 0; nid < 2; nid++) {
		self->pools[nid] = node_sysfs(nid, "nr_pages");
		ASSERT_LE(0, self->pools[nid]);
		ASSERT_EQ(0, set_pages(nid, 2));
	}
	self->saved0 = vmemmap_saved();
	self->vm = __vm_create_shape_with_one_vcpu(shape, &self->vcpu,
						   SZ_8M / PAGE_SIZE, guest_code);
	self->fd = __vm_ioctl(self->vm, KVM_CREATE_GUEST_MEMFD, &args);
	ASSERT_LE(0, self->fd);
	self->mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	vm_set_user_memory_region2(self->vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA, SIZE,
				   self->mem, self->fd, 0);
	virt_map_level(self->vm, GPA, GPA, SIZE, PG_LEVEL_2M);
	seed = 0x5eed0000f00dULL;
	sync_global_to_guest(self->vm, seed);
	odd_gpa = -1ULL;
	run(_metadata, self, CMD_WRITE);
	run(_metadata, self, CMD_VERIFY);
	/* The guest's own memory is mapped too: count from here. */
	self->base_1g = vm_stat(self->vm, "pages_1g");
	self->base_2m = vm_stat(self->vm, "pages_2m");
	self->base_4k = vm_stat(self->vm, "pages_4k");
	ASSERT_LE(2, self->base_1g);
	ASSERT_TRUE(saved_is(self->saved0));
}

/* Stop and join the case's threads that use the file. */
static void stop_threads(struct _test_data_split *self)
{
	int i;

	for (i = 0; i < self->nr_threads; i++)
		WRITE_ONCE(*self->thread_stop[i], true);
	for (i = 0; i < self->nr_threads; i++)
		pthread_join(self->threads[i], NULL);
	self->nr_threads = 0;
}

FIXTURE_TEARDOWN(split)
{
	int nid, i;
	long want;

	/* A case that failed while its threads use the file: stop them first. */
	stop_threads(self);
	/* A case that failed while it pinned a page: unpin it first. */
	if (self->gfd >= 0)
		close(self->gfd);
	if (self->mem)
		munmap(self->mem, SIZE);
	if (self->fd >= 0)
		close(self->fd);
	if (self->vm)
		kvm_vm_free(self->vm);
	for (nid = 0; nid < 2; nid++) {
		for (i = 0; i < 100 && (node_sysfs(nid, "used_pages") ||
					node_sysfs(nid, "resv_pages")); i++)
			usleep(100 * 1000);
		EXPECT_EQ(0, node_sysfs(nid, "used_pages"));
		EXPECT_EQ(0, node_sysfs(nid, "resv_pages"));
		want = self->pools[nid];
		/* A retired page is gone from the area: it may now be short. */
		if (self->poisoned)
			want = min(want, pool_field(nid, "capacity") -
				   pool_field(nid, "poisoned"));
		EXPECT_EQ(0, set_pages(nid, want));
	}
	if (!self->poisoned)
		EXPECT_TRUE(saved_is(self->saved_before));
}

/* The guest's mappings of the 2 GiB: this many 1 GiB, 2 MiB and 4 KiB. */
static void expect_maps(struct __test_metadata *_metadata,
			struct _test_data_split *self, long d1g, long d2m, long d4k)
{
	EXPECT_EQ(self->base_1g + d1g, vm_stat(self->vm, "pages_1g"));
	EXPECT_EQ(self->base_2m + d2m, vm_stat(self->vm, "pages_2m"));
	EXPECT_EQ(self->base_4k + d4k, vm_stat(self->vm, "pages_4k"));
}

/*
 * Share one 4 KiB page (page 5 of chunk 3 of the first GiB) and back, twice:
 * split only there, data kept, and whole again afterwards.
 */
TEST_F_TIMEOUT(split, one_page_shared_and_back, 300)
{
	u64 off = 3 * SZ_2M + 5 * PAGE_SIZE;
	int round;

	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, convert(self->fd, off, PAGE_SIZE, 0, PRESERVE, NULL));
		/* What the guest sees, read by the host through its mapping. */
		ASSERT_EQ(expected(GPA + off), READ_ONCE(self->mem[off / 8]));
		/* 511 2 MiB folios keep one vmemmap page, one chunk all 8. */
		ASSERT_TRUE(saved_is(self->saved0 - SAVED_1G +
				     511 * SAVED_2M));
		odd_gpa = GPA + off;
		odd_val = 0x0dd0dd0ddULL + round;
		WRITE_ONCE(self->mem[off / 8], odd_val);
		run(_metadata, self, CMD_VERIFY);
		expect_maps(_metadata, self, -1, 511, 512);

		ASSERT_EQ(0, convert(self->fd, off, PAGE_SIZE, PRIVATE, PRESERVE, NULL));
		/* Merged by the work: 2 MiB, then the GiB, trimmed whole. */
		ASSERT_TRUE(saved_is(self->saved0));
		run(_metadata, self, CMD_VERIFY);
		expect_maps(_metadata, self, 0, 0, 0);
	}
}

static sigjmp_buf sigbus_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(sigbus_jmp, 1);
}

/* Does a host read of @p fault with SIGBUS (a private page)? */
static bool read_sigbus(char *p)
{
	sighandler_t old = signal(SIGBUS, on_sigbus);
	bool bus = false;

	if (sigsetjmp(sigbus_jmp, 1))
		bus = true;
	else
		(void)READ_ONCE(*p);
	signal(SIGBUS, old);
	return bus;
}

#define GUP_TEST_FILE	"/sys/kernel/debug/gup_test"
#include "../../../../../mm/gup_test.h"

/* A pinned shared page refuses its own conversion, and only its own. */
TEST_F_TIMEOUT(split, pinned_page_refuses_only_itself, 300)
{
	struct pin_longterm_test pin = { .size = PAGE_SIZE };
	u64 a = SZ_1G + 7 * SZ_2M + 3 * PAGE_SIZE, b = a + PAGE_SIZE, eo;
	int gfd;

	self->gfd = open(GUP_TEST_FILE, O_RDWR);
	gfd = self->gfd;
	ASSERT_LE(0, gfd) TH_LOG("no %s (CONFIG_GUP_TEST)", GUP_TEST_FILE);
	ASSERT_EQ(0, convert(self->fd, a, 2 * PAGE_SIZE, 0, PRESERVE, NULL));
	pin.addr = (unsigned long)self->mem + a;
	pin.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE;
	ASSERT_EQ(0, ioctl(gfd, PIN_LONGTERM_TEST_START, &pin));
	ASSERT_EQ(-EAGAIN, convert(self->fd, a, 2 * PAGE_SIZE, PRIVATE, PRESERVE, &eo));
	ASSERT_EQ(a, eo);
	ASSERT_EQ(0, convert(self->fd, b, PAGE_SIZE, PRIVATE, PRESERVE, NULL));
	ASSERT_EQ(-EAGAIN, convert(self->fd, a, PAGE_SIZE, PRIVATE, PRESERVE, &eo));
	ASSERT_EQ(a, eo);
	/* Split while pinned: the other GiB whole, this one in pieces. */
	ASSERT_TRUE(saved_is(self->saved0 - SAVED_1G + 511 * SAVED_2M));
	ASSERT_EQ(0, ioctl(gfd, PIN_LONGTERM_TEST_STOP));
	ASSERT_EQ(0, convert(self->fd, a, PAGE_SIZE, PRIVATE, PRESERVE, NULL));
	ASSERT_TRUE(saved_is(self->saved0));
	run(_metadata, self, CMD_VERIFY);
	expect_maps(_metadata, self, 0, 0, 0);
}

/*
 * A split 1 GiB page made shared whole keeps its 2 MiB folios.  A pin on
 * one of them refuses only conversions of that folio's pages, not one of
 * another chunk's page.
 */
TEST_F_TIMEOUT(split, pinned_2m_folio_refuses_only_itself, 300)
{
	struct pin_longterm_test pin = { .size = PAGE_SIZE };
	u64 pinned = 7 * SZ_2M + 3 * PAGE_SIZE, other = 20 * SZ_2M + 5 * PAGE_SIZE;
	u64 eo;
	int gfd;

	self->gfd = open(GUP_TEST_FILE, O_RDWR);
	gfd = self->gfd;
	ASSERT_LE(0, gfd) TH_LOG("no %s (CONFIG_GUP_TEST)", GUP_TEST_FILE);
	/* Split by one shared page, then all shared: 511 2 MiB folios stay. */
	ASSERT_EQ(0, convert(self->fd, other, PAGE_SIZE, 0, PRESERVE, NULL));
	ASSERT_EQ(0, convert(self->fd, 0, SZ_1G, 0, PRESERVE, NULL));
	ASSERT_TRUE(saved_is(self->saved0 - SAVED_1G + 511 * SAVED_2M));
	pin.addr = (unsigned long)self->mem + pinned;
	pin.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE;
	ASSERT_EQ(0, ioctl(gfd, PIN_LONGTERM_TEST_START, &pin));
	ASSERT_EQ(expected(GPA + pinned), READ_ONCE(self->mem[pinned / 8]));

	/*
	 * Another chunk's page: private.  Every shared page becomes a 4 KiB
	 * folio, but the pinned 2 MiB folio cannot split and stays (mapped,
	 * with its own struct pages): nothing of the GiB is trimmed.
	 */
	ASSERT_EQ(0, convert(self->fd, other + SZ_2M, PAGE_SIZE, PRIVATE,
			     PRESERVE, &eo));
	ASSERT_TRUE(saved_is(self->saved0 - SAVED_1G));
	/* Any page of the pinned 2 MiB folio: refused, from the range's start. */
	ASSERT_EQ(-EAGAIN, convert(self->fd, pinned + PAGE_SIZE, PAGE_SIZE,
				   PRIVATE, PRESERVE, &eo));
	ASSERT_EQ(pinned + PAGE_SIZE, eo);
	ASSERT_EQ(-EAGAIN, convert(self->fd, 6 * SZ_2M, 2 * SZ_2M, PRIVATE,
				   PRESERVE, &eo));
	ASSERT_EQ(7 * SZ_2M, eo);
	ASSERT_FALSE(read_sigbus((char *)self->mem + pinned + PAGE_SIZE));
	ASSERT_TRUE(read_sigbus((char *)self->mem + other + SZ_2M));

	ASSERT_EQ(0, ioctl(gfd, PIN_LONGTERM_TEST_STOP));
	ASSERT_EQ(0, convert(self->fd, 0, SZ_1G, PRIVATE, PRESERVE, NULL));
	ASSERT_TRUE(saved_is(self->saved0));
	run(_metadata, self, CMD_VERIFY);
	expect_maps(_metadata, self, 0, 0, 0);
}

/* A 4 KiB punch inside a 1 GiB page zeroes that page, nothing else. */
TEST_F_TIMEOUT(split, punch_4k_inside_1g, 300)
{
	u64 off = SZ_1G + 100 * SZ_2M + 9 * PAGE_SIZE;

	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			       off, PAGE_SIZE));
	odd_gpa = GPA + off;
	odd_val = 0;
	run(_metadata, self, CMD_VERIFY);
	/* No split: zeroed in place, mapped at 1 GiB again. */
	expect_maps(_metadata, self, 0, 0, 0);
	ASSERT_TRUE(saved_is(self->saved0));
}

#define FPA	"/sys/kernel/debug/fail_page_alloc"
#define FSLAB	"/sys/kernel/debug/failslab"

/* Fault injection for this thread's next allocations (fail-nth). */
static int fault_knobs(void)
{
	static const char * const knobs[][2] = {
		{ FPA "/verbose", "0" }, { FPA "/ignore-gfp-wait", "N" },
		{ FPA "/ignore-gfp-highmem", "N" }, { FPA "/min-order", "0" },
		{ FSLAB "/verbose", "0" }, { FSLAB "/ignore-gfp-wait", "N" },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(knobs); i++)
		if (write_str(knobs[i][0], knobs[i][1]))
			return -1;
	return 0;
}

/*
 * Share @off with the @n-th allocation of this thread failing (0: none).
 * Returns the conversion's result; *@calls is how many allocations it made
 * when none failed.
 */
static int convert_failing(struct __test_metadata *_metadata, int nth_fd,
			   int fd, u64 off, long n, long *calls, u64 *eo)
{
	char buf[24] = "";
	int r;

	snprintf(buf, sizeof(buf), "%ld", n);
	if (n)
		EXPECT_EQ(strlen(buf), pwrite(nth_fd, buf, strlen(buf), 0));
	r = convert(fd, off, PAGE_SIZE, 0, PRESERVE, eo);
	/* What is left of the count: 0 if the n-th allocation failed. */
	memset(buf, 0, sizeof(buf));
	EXPECT_LT(0, pread(nth_fd, buf, sizeof(buf) - 1, 0));
	EXPECT_EQ(1, pwrite(nth_fd, "0", 1, 0));
	*calls = n - atol(buf);
	return r;
}

/*
 * Sharing one page of a whole private 1 GiB page with one allocation of
 * the conversion failing: the first ones (the vmemmap's pages), some in
 * the middle, and the last 40 (the page cache's nodes, the attributes'
 * tree).  A failure is either ENOMEM with the page still private and the
 * folio whole and trimmed again, or one with a fallback (the conversion
 * done as without it); the guest's data is intact at the end.
 */
TEST_F_TIMEOUT(split, enomem_changes_nothing, 600)
{
	u64 off = 9 * SZ_2M + 17 * PAGE_SIZE, eo;
	long calls, n, points[64], enomem = 0, tail = 0;
	int nth_fd, r, i, np = 0;

	ASSERT_EQ(0, fault_knobs()) TH_LOG("no failslab or fail_page_alloc in debugfs");
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	ASSERT_LE(0, nth_fd) TH_LOG("no fail-nth (CONFIG_FAULT_INJECTION)");

	/* How many allocations a split makes; then back to one 1 GiB page. */
	ASSERT_EQ(0, convert_failing(_metadata, nth_fd, self->fd, off, 1L << 30,
				     &calls, &eo));
	TH_LOG("sharing one page of a whole 1 GiB page: %ld allocations", calls);
	ASSERT_LE(8 + 40, calls);
	ASSERT_TRUE(saved_is(self->saved0 - SAVED_1G + 511 * SAVED_2M));
	ASSERT_EQ(0, convert(self->fd, off, PAGE_SIZE, PRIVATE, PRESERVE, NULL));
	ASSERT_TRUE(saved_is(self->saved0));

	for (n = 1; n <= 8; n++)
		points[np++] = n;
	for (n = 1; n < 4; n++)
		points[np++] = calls * n / 4;
	for (n = calls - 39; n <= calls; n++)
		points[np++] = n;
	for (i = 0; i < np; i++) {
		r = convert_failing(_metadata, nth_fd, self->fd, off, points[i],
				    &n, &eo);
		if (!r) {
			/*
			 * Nothing failed (fewer allocations than before: a
			 * node or a page table of an earlier try was kept),
			 * or what failed had a fallback (slab's first try of
			 * a larger page): converted, and back.
			 */
			ASSERT_FALSE(read_sigbus((char *)self->mem + off));
			ASSERT_TRUE(saved_is(self->saved0 - SAVED_1G + 511 * SAVED_2M));
			ASSERT_EQ(0, convert(self->fd, off, PAGE_SIZE, PRIVATE,
					     PRESERVE, NULL));
			ASSERT_TRUE(saved_is(self->saved0));
			continue;
		}
		ASSERT_EQ(-ENOMEM, r)
			TH_LOG("allocation %ld of %ld failed: %d", points[i], calls, r);
		ASSERT_EQ(points[i], n) TH_LOG("ENOMEM, but no allocation failed");
		ASSERT_EQ(off, eo);
		ASSERT_TRUE(read_sigbus((char *)self->mem + off));
		ASSERT_TRUE(saved_is(self->saved0))
			TH_LOG("allocation %ld of %ld failed", points[i], calls);
		enomem++;
		tail += i >= 11;
	}
	TH_LOG("%ld of %d failure points: ENOMEM, nothing changed (%ld of the last 40)",
	       enomem, np, tail);
	/* The first ones, the middle ones, and the page cache's nodes. */
	ASSERT_LE(11 + 10, enomem);
	ASSERT_LE(10, tail);

	ASSERT_EQ(0, convert_failing(_metadata, nth_fd, self->fd, off, 0, &n, &eo));
	close(nth_fd);
	ASSERT_FALSE(read_sigbus((char *)self->mem + off));
	ASSERT_TRUE(saved_is(self->saved0 - SAVED_1G + 511 * SAVED_2M));
	run(_metadata, self, CMD_VERIFY);
	expect_maps(_metadata, self, -1, 511, 512);
	ASSERT_EQ(0, convert(self->fd, off, PAGE_SIZE, PRIVATE, PRESERVE, NULL));
	ASSERT_TRUE(saved_is(self->saved0));
	run(_metadata, self, CMD_VERIFY);
}

struct racer {
	struct _test_data_split *self;
	bool stop;
	unsigned int seed;
	long converts, again, reads, sigbus, punches, prefaults, bad;
};

static __thread sigjmp_buf racer_jmp;
static __thread int racer_armed;

/*
 * The handler is the whole process's: only the host racer's read may jump
 * back; a SIGBUS in another thread is fatal, as it would be without it.
 */
static void racer_sigbus(int sig)
{
	if (!READ_ONCE(racer_armed)) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	WRITE_ONCE(racer_armed, 0);
	siglongjmp(racer_jmp, 1);
}

/* A random 4 KiB aligned range: a page, a few, or a whole 2 MiB chunk. */
static void pick(unsigned int *seed, u64 *off, u64 *len)
{
	int kind = rand_r(seed) % 4;

	*off = (u64)(rand_r(seed) % (SIZE / PAGE_SIZE)) * PAGE_SIZE;
	*len = kind == 3 ? SZ_2M : PAGE_SIZE * (1 + rand_r(seed) % 8);
	if (kind == 3)
		*off &= ~((u64)SZ_2M - 1);
	if (*off + *len > SIZE)
		*len = SIZE - *off;
}

static void *host_racer(void *arg)
{
	struct racer *r = arg;
	unsigned int seed = r->seed;
	u64 off, len;
	char c;

	signal(SIGBUS, racer_sigbus);
	while (!READ_ONCE(r->stop)) {
		pick(&seed, &off, &len);
		if (sigsetjmp(racer_jmp, 1)) {
			r->sigbus++;
			continue;
		}
		WRITE_ONCE(racer_armed, 1);
		c = READ_ONCE(((char *)r->self->mem)[off]);
		WRITE_ONCE(racer_armed, 0);
		(void)c;
		r->reads++;
	}
	return NULL;
}

static void *punch_racer(void *arg)
{
	struct racer *r = arg;
	unsigned int seed = r->seed;
	u64 off, len;

	while (!READ_ONCE(r->stop)) {
		pick(&seed, &off, &len);
		if (fallocate(r->self->fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			      off, len)) {
			r->bad++;
			break;
		}
		r->punches++;
		usleep(2000);
	}
	return NULL;
}

/*
 * Conversions of random ranges both ways race host faults, punches of parts
 * of the pages, KVM pre-faults and a guest reading every page.  Afterwards,
 * with everything private again, the two 1 GiB pages are whole and trimmed,
 * mapped at 1 GiB, and hold what the guest writes.  The limit only
 * catches a hang: the debug kernel (KASAN) on one CPU took over 600 s.
 */
TEST_F_TIMEOUT(split, conversions_faults_punches_race, 1800)
{
	struct racer hr = { .self = self, .seed = 1 }, pr = { .self = self, .seed = 2 };
	unsigned int seed = 3;
	u64 off, len, eo;
	int i, r, tries;

	ASSERT_EQ(0, pthread_create(&self->threads[0], NULL, host_racer, &hr));
	self->thread_stop[self->nr_threads++] = &hr.stop;
	ASSERT_EQ(0, pthread_create(&self->threads[1], NULL, punch_racer, &pr));
	self->thread_stop[self->nr_threads++] = &pr.stop;
	for (i = 0; i < 200 && !pr.bad; i++) {
		struct kvm_pre_fault_memory range;
		struct ucall uc;

		pick(&seed, &off, &len);
		r = convert(self->fd, off, len, rand_r(&seed) % 2 ? PRIVATE : 0,
			    PRESERVE, &eo);
		if (r == -EAGAIN) {
			hr.again++;
			ASSERT_LE(off, eo);
			ASSERT_GT(off + len, eo);
		} else {
			ASSERT_EQ(0, r);
			hr.converts++;
		}
		pick(&seed, &off, &len);
		range = (struct kvm_pre_fault_memory){ .gpa = GPA + off, .size = len };
		r = __vcpu_ioctl(self->vcpu, KVM_PRE_FAULT_MEMORY, &range);
		hr.prefaults += !r;
		if (!(i % 20)) {
			/* The guest reads everything; a conversion may race it. */
			do {
				cmd = CMD_TOUCH;
				sync_global_to_guest(self->vm, cmd);
				r = _vcpu_run(self->vcpu);
			} while (r && errno == EFAULT &&
				 self->vcpu->run->exit_reason == KVM_EXIT_MEMORY_FAULT);
			ASSERT_EQ(0, r);
			/* The guest came back from reading everything, or broke. */
			ASSERT_EQ(UCALL_SYNC, get_ucall(self->vcpu, &uc))
				TH_LOG("round %d: exit reason %s", i,
				       exit_reason_str(self->vcpu->run->exit_reason));
			ASSERT_EQ(CMD_TOUCH, uc.args[1]);
		}
	}
	stop_threads(self);
	TH_LOG("%ld conversions, %ld EAGAIN, %ld pre-faults", hr.converts, hr.again,
	       hr.prefaults);
	TH_LOG("%ld host reads, %ld SIGBUS, %ld punches", hr.reads, hr.sigbus,
	       pr.punches);
	ASSERT_EQ(0, pr.bad);
	ASSERT_LT(0, hr.converts);
	ASSERT_LT(0, pr.punches);

	/* All private again: whole, trimmed, and the guest's. */
	for (tries = 0; tries < 1000; tries++) {
		r = convert(self->fd, 0, SIZE, PRIVATE, PRESERVE, NULL);
		if (r != -EAGAIN)
			break;
		usleep(1000);
	}
	ASSERT_EQ(0, r);
	ASSERT_TRUE(saved_is(self->saved0));
	run(_metadata, self, CMD_WRITE);
	run(_metadata, self, CMD_VERIFY);
	expect_maps(_metadata, self, 0, 0, 0);
}

/* KVM_PRE_FAULT_MEMORY of the page at @off: EHWPOISON, nothing mapped. */
static void expect_prefault_hwpoison(struct __test_metadata *_metadata,
				     struct _test_data_split *self, u64 off)
{
	struct kvm_pre_fault_memory range = { .gpa = GPA + off, .size = PAGE_SIZE };
	int r, err;

	do {
		r = __vcpu_ioctl(self->vcpu, KVM_PRE_FAULT_MEMORY, &range);
		err = errno;
	} while (r < 0 && (err == EINTR || err == EAGAIN));
	EXPECT_EQ(-1, r);
	EXPECT_EQ(EHWPOISON, err) TH_LOG("offset %#lx: %s", off, strerror(err));
	EXPECT_EQ(PAGE_SIZE, range.size);
}

/*
 * Memory failure in a split 1 GiB page: page 9 of chunk 7 (private, in its
 * 2 MiB folio) and the shared page 5 of chunk 3 (its own 4 KiB folio; page
 * 6 is shared too) of the first GiB.  Each is lost alone: KVM refuses it
 * (EHWPOISON), the host gets SIGBUS on the shared one, the guest reads
 * every other page back, mapped at 2 MiB where it can (chunk 7 at 4 KiB
 * now, the poisoned page not at all) and the other GiB still at 1 GiB.
 * Sharing the rest of chunk 7 still works.  When the file goes, the
 * 1 GiB page leaves its pool (poisoned), the other one comes back.
 */
TEST_F_TIMEOUT(split, memory_failure_in_split_gib, 300)
{
	u64 shared_off = 3 * SZ_2M + 5 * PAGE_SIZE, bad_off = 7 * SZ_2M + 9 * PAGE_SIZE;
	unsigned long pfn, folio, first;
	long hc, p0[2], nr[2];
	int nid, home = -1;
	char *page;

	ASSERT_EQ(0, access(HWPOISON_CORRUPT, W_OK)) TH_LOG("no %s", HWPOISON_CORRUPT);
	for (nid = 0; nid < 2; nid++) {
		p0[nid] = pool_field(nid, "poisoned");
		ASSERT_LE(0, p0[nid]);
	}
	hc = hw_corrupted_kb();
	ASSERT_LE(0, hc);
	/* Two shared pages: the poisoned one and its neighbour. */
	ASSERT_EQ(0, convert(self->fd, shared_off, 2 * PAGE_SIZE, 0, PRESERVE, NULL));
	page = (char *)self->mem + shared_off;
	ASSERT_EQ(expected(GPA + shared_off), READ_ONCE(*(u64 *)page));
	pfn = pagemap_pfn(page);
	ASSERT_NE(0, pfn);
	folio = pfn - shared_off / PAGE_SIZE;
	/* The pool that holds it. */
	for (nid = 0; nid < 2; nid++) {
		struct folio_line lines[8];
		int i, n = pool_folios(nid, lines, 8);

		for (i = 0; i < n; i++)
			if (lines[i].pfn == folio)
				home = nid;
	}
	ASSERT_LE(0, home) TH_LOG("pfn %#lx is not a pool's 1 GiB folio", folio);
	run(_metadata, self, CMD_VERIFY);
	expect_maps(_metadata, self, -1, 511, 512);

	/* The private page: only it is lost. */
	self->poisoned = true;
	ASSERT_EQ(0, hwpoison_write(HWPOISON_CORRUPT, folio + bad_off / PAGE_SIZE));
	EXPECT_EQ(1, hwpoisoned(folio, &first));
	EXPECT_EQ(folio + bad_off / PAGE_SIZE, first);
	EXPECT_EQ(hc + 4, hw_corrupted_kb());
	bad_gpa[0] = GPA + bad_off;
	expect_prefault_hwpoison(_metadata, self, bad_off);
	run(_metadata, self, CMD_VERIFY);
	/* Chunk 7 maps at 4 KiB now, all but the poisoned page. */
	expect_maps(_metadata, self, -1, 510, 512 + 511);

	/* The shared page: the host loses it too, and only it. */
	ASSERT_EQ(0, hwpoison_write(HWPOISON_CORRUPT, pfn));
	EXPECT_EQ(2, hwpoisoned(folio, &first));
	EXPECT_EQ(hc + 8, hw_corrupted_kb());
	EXPECT_TRUE(read_sigbus(page));
	EXPECT_EQ(expected(GPA + shared_off + PAGE_SIZE),
		  READ_ONCE(*(u64 *)(page + PAGE_SIZE)));
	bad_gpa[1] = GPA + shared_off;
	expect_prefault_hwpoison(_metadata, self, shared_off);
	run(_metadata, self, CMD_VERIFY);
	expect_maps(_metadata, self, -1, 510, 511 + 511);

	/* Conversions around a poisoned page still work. */
	ASSERT_EQ(0, convert(self->fd, bad_off + PAGE_SIZE, PAGE_SIZE, 0, PRESERVE, NULL));
	EXPECT_EQ(expected(GPA + bad_off + PAGE_SIZE),
		  READ_ONCE(*(u64 *)((char *)self->mem + bad_off + PAGE_SIZE)));
	ASSERT_EQ(0, convert(self->fd, bad_off + PAGE_SIZE, PAGE_SIZE, PRIVATE, PRESERVE,
			     NULL));
	run(_metadata, self, CMD_VERIFY);

	/* The file goes: the poisoned 1 GiB page leaves its pool. */
	for (nid = 0; nid < 2; nid++)
		nr[nid] = node_sysfs(nid, "nr_pages");
	munmap(self->mem, SIZE);
	self->mem = NULL;
	close(self->fd);
	self->fd = -1;
	kvm_vm_free(self->vm);
	self->vm = NULL;
	for (nid = 0; nid < 2; nid++)
		EXPECT_TRUE(pool_is(nid, nr[nid] - (nid == home), nr[nid] - (nid == home), 0, 0,
				    p0[nid] + (nid == home), 5));
	bad_gpa[0] = -1ULL;
	bad_gpa[1] = -1ULL;
}

TEST_HARNESS_MAIN
