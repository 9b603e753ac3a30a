// SPDX-License-Identifier: GPL-2.0
/*
 * Pre-zeroing of the pools' free 1 GiB pages: whatever the zeroer's state
 * (on and done, switched off, half done and held there), a guest_memfd
 * file's page reads zero on every 4 KiB page after an earlier file wrote a
 * pattern into all of them (every byte of every page when half done, the
 * pattern's words elsewhere, to keep the test short under TCG); the
 * counters (sysfs zeroed_pages, debugfs gmem_cma/zeroer) move by exactly
 * what each step must do; the switch
 * rejects bad values; a shrink takes a page from the zeroer; and a stress
 * races files, the switch, the hold knob and pool resizes, checking every
 * 16th 4 KiB page of each page handed out.
 *
 * Each test works on one node whose pool it grows by one page (so that page
 * is the only free one, and every file gets it) and puts back at the end.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "../kselftest_harness.h"
#include "gmem_cma_pools.h"

#define HOLD		"/sys/kernel/debug/gmem_cma/zero_hold_after"
#define PREZERO		GMEM_CMA_SYSFS "/prezero"
#define GB		0x40000000UL
#define PAGE		4096UL
#define BATCH		8192L		/* 4 KiB pages in a zeroer batch */
#define GB_PAGES	262144L
#define SHARED		(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)
#define MPOL_BIND	2
/* Clearing 1 GiB under TCG takes 1-5 s; leave room for a busy machine. */
#define ZERO_SECONDS	120

/* True once node @nid's zeroed_pages is @want, within @secs seconds. */
static bool zeroed_is(int nid, long want, int secs)
{
	int i;

	for (i = 0; i <= secs * 10; i++) {
		if (node_sysfs(nid, "zeroed_pages") == want)
			return true;
		usleep(100000);
	}
	return false;
}

static int set_hold(long batches)
{
	char v[32];

	snprintf(v, sizeof(v), "%ld", batches);
	return write_str(HOLD, v);
}

/*
 * A 1 GiB shared guest_memfd reserved on node @nid in a new VM *@vm, its
 * page allocated (fallocate) and mapped at *@map.  Returns the fd, or
 * -errno and *@what the step that failed.
 */
static int try_gmem_file(int nid, int *vm, uint64_t **map, const char **what)
{
	struct kvm_create_guest_memfd gmem = {
		.size = GB,
		.flags = SHARED | GUEST_MEMFD_FLAG_HUGE_PAGES,
		.huge_page_size_log2 = 30,
	};
	unsigned long mask = 1UL << nid;
	int kvm, fd, err;

	*what = "open /dev/kvm";
	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0)
		return -errno;
	*what = "KVM_CREATE_VM";
	*vm = ioctl(kvm, KVM_CREATE_VM, 0);
	err = errno;
	close(kvm);
	if (*vm < 0)
		return -err;
	*what = "KVM_CREATE_GUEST_MEMFD";
	if (syscall(SYS_set_mempolicy, MPOL_BIND, &mask, 64))
		return -errno;
	fd = ioctl(*vm, KVM_CREATE_GUEST_MEMFD, &gmem);
	err = errno;
	syscall(SYS_set_mempolicy, 0, NULL, 0);
	if (fd < 0)
		goto err_vm;
	*what = "fallocate";
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, GB))
		goto err_fd;
	*what = "mmap";
	*map = mmap(NULL, GB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*map == MAP_FAILED)
		goto err_fd;
	return fd;
err_fd:
	err = errno;
	close(fd);
err_vm:
	close(*vm);
	return -err;
}

static int gmem_file(struct __test_metadata *_metadata, int nid, int *vm,
		     uint64_t **map)
{
	const char *what;
	int fd = try_gmem_file(nid, vm, map, &what);

	ASSERT_GE(fd, 0) TH_LOG("%s: %s", what, strerror(-fd));
	return fd;
}

static void gmem_close(int vm, int fd, uint64_t *map)
{
	munmap(map, GB);
	close(fd);
	close(vm);
}

/* 4 KiB pages of @map with a non-zero byte: every byte of every page. */
static long nonzero_pages(const uint64_t *map)
{
	long pg, bad = 0;
	size_t i;

	for (pg = 0; pg < GB_PAGES; pg++) {
		const uint64_t *p = map + pg * (PAGE / 8);
		uint64_t or = 0;

		for (i = 0; i < PAGE / 8; i++)
			or |= p[i];
		bad += !!or;
	}
	return bad;
}

/*
 * Of every @step'th 4 KiB page of @map, those where a word dirty() writes
 * is not zero: quick, for pages that only ever held what dirty() wrote.
 */
static long dirty_words_left(const uint64_t *map, long step)
{
	long pg, bad = 0;

	for (pg = 0; pg < GB_PAGES; pg += step) {
		const uint64_t *p = map + pg * (PAGE / 8);

		bad += !!(p[0] | p[PAGE / 16] | p[PAGE / 8 - 1]);
	}
	return bad;
}

/*
 * Write a pattern into every @step'th 4 KiB page (the stress takes every
 * 16th: a host fault per page is the cost under TCG, and each 32 MiB batch
 * of the zeroer still has 512 of them): first, middle and last word.
 */
static void dirty(uint64_t *map, long step)
{
	long pg;

	for (pg = 0; pg < GB_PAGES; pg += step) {
		uint64_t *p = map + pg * (PAGE / 8);

		p[0] = 0xdeadbeef00000000ULL | pg;
		p[PAGE / 16] = ~0ULL;
		p[PAGE / 8 - 1] = pg + 1;
	}
}

/* Have a file write a pattern into every page of node @nid's free page. */
static void dirty_free_page(struct __test_metadata *_metadata, int nid,
			    long nr, long poisoned)
{
	uint64_t *map;
	int vm, fd;

	fd = gmem_file(_metadata, nid, &vm, &map);
	dirty(map, 1);
	gmem_close(vm, fd, map);
	ASSERT_TRUE(pool_is(nid, nr, 1, 0, 0, poisoned, 30))
		TH_LOG("node %d: the file's page did not come back", nid);
}

FIXTURE(prezero) {
	int nid;
	long nr, poisoned, zeroed;	/* node @nid's pool at the start */
	long az, ac, aborts, folios;	/* its zeroer's counters then */
};

static void snap(struct _test_data_prezero *self)
{
	self->az = zeroer_field(self->nid, "alloc_zeroed");
	self->ac = zeroer_field(self->nid, "alloc_cleared");
	self->aborts = zeroer_field(self->nid, "aborts");
	self->folios = zeroer_field(self->nid, "folios");
}

FIXTURE_SETUP(prezero)
{
	long cap;
	int nid;

	if (getuid())
		SKIP(return, "needs root");
	if (path_absent(PREZERO))
		SKIP(return, "no %s: kernel without CONFIG_GMEM_CMA", PREZERO);
	ASSERT_EQ(write_str(PREZERO, "on"), 0);
	ASSERT_EQ(set_hold(0), 0);
	self->nid = -1;
	for (nid = 0; nid < 8 && self->nid < 0; nid++) {
		cap = node_sysfs(nid, "capacity_pages");
		if (cap > 0 && !node_sysfs(nid, "free_pages") &&
		    !node_sysfs(nid, "resv_pages") &&
		    cap > node_sysfs(nid, "nr_pages") + pool_field(nid, "poisoned"))
			self->nid = nid;
	}
	if (self->nid < 0)
		SKIP(return, "needs a node with an empty pool and a block left in CMA");
	nid = self->nid;
	self->nr = node_sysfs(nid, "nr_pages");
	self->poisoned = pool_field(nid, "poisoned");
	self->zeroed = node_sysfs(nid, "zeroed_pages");
	ASSERT_EQ(self->zeroed, 0);
	ASSERT_EQ(set_pages(nid, self->nr + 1), 0);
	ASSERT_TRUE(pool_is(nid, self->nr + 1, 1, 0, 0, self->poisoned, 0));
}

FIXTURE_TEARDOWN(prezero)
{
	if (self->nid < 0)
		return;
	EXPECT_EQ(set_hold(0), 0);
	EXPECT_EQ(write_str(PREZERO, "on"), 0);
	EXPECT_EQ(set_pages(self->nid, self->nr), 0);
	EXPECT_TRUE(pool_is(self->nid, self->nr, 0, 0, 0, self->poisoned, 30));
	EXPECT_EQ(node_sysfs(self->nid, "zeroed_pages"), 0);
	EXPECT_EQ(zeroer_field(self->nid, "zeroing"), 0);
}

/* On and done: the file gets the page cleared ahead of time, zero. */
TEST_F_TIMEOUT(prezero, on_page_cleared_ahead, 600)
{
	uint64_t *map;
	int vm, fd, nid = self->nid;

	ASSERT_TRUE(zeroed_is(nid, 1, ZERO_SECONDS));
	EXPECT_GE(read_long(GMEM_CMA_SYSFS "/zeroed_pages"), 1);
	dirty_free_page(_metadata, nid, self->nr + 1, self->poisoned);
	ASSERT_TRUE(zeroed_is(nid, 1, ZERO_SECONDS))
		TH_LOG("the page a closed file gave back was not cleared again");
	snap(self);
	fd = gmem_file(_metadata, nid, &vm, &map);
	EXPECT_EQ(node_sysfs(nid, "zeroed_pages"), 0);
	EXPECT_EQ(zeroer_field(nid, "alloc_zeroed"), self->az + 1);
	EXPECT_EQ(zeroer_field(nid, "alloc_cleared"), self->ac);
	EXPECT_EQ(dirty_words_left(map, 1), 0);
	gmem_close(vm, fd, map);
	EXPECT_TRUE(zeroed_is(nid, 1, ZERO_SECONDS));
}

/* Off: nothing is cleared ahead of time, the allocation clears the page. */
TEST_F_TIMEOUT(prezero, off_allocation_clears, 600)
{
	uint64_t *map;
	int vm, fd, nid = self->nid;
	char text[16];

	ASSERT_EQ(write_str(PREZERO, "off"), 0);
	ASSERT_EQ(read_text(PREZERO, text, sizeof(text)), 0);
	EXPECT_STREQ(text, "off\n");
	EXPECT_EQ(read_long(GMEM_CMA_SYSFS "/zeroed_pages"), 0);
	dirty_free_page(_metadata, nid, self->nr + 1, self->poisoned);
	snap(self);
	sleep(2);
	EXPECT_EQ(node_sysfs(nid, "zeroed_pages"), 0);
	EXPECT_EQ(zeroer_field(nid, "folios"), self->folios);
	EXPECT_EQ(zeroer_field(nid, "zeroing"), 0);
	fd = gmem_file(_metadata, nid, &vm, &map);
	EXPECT_EQ(zeroer_field(nid, "alloc_zeroed"), self->az);
	EXPECT_EQ(zeroer_field(nid, "alloc_cleared"), self->ac + 1);
	EXPECT_EQ(dirty_words_left(map, 1), 0);
	gmem_close(vm, fd, map);
	ASSERT_EQ(write_str(PREZERO, "on"), 0);
	EXPECT_TRUE(zeroed_is(nid, 1, ZERO_SECONDS));
}

/*
 * Half done: the zeroer holds the dirty page after three batches; the file
 * that wants it makes the zeroer give it back and clears all of it.
 */
TEST_F_TIMEOUT(prezero, half_done_page_cleared_whole, 600)
{
	long pages;
	uint64_t *map;
	int vm, fd, i, nid = self->nid;

	ASSERT_EQ(write_str(PREZERO, "off"), 0);
	dirty_free_page(_metadata, nid, self->nr + 1, self->poisoned);
	pages = zeroer_field(nid, "pages");
	ASSERT_EQ(set_hold(3), 0);
	ASSERT_EQ(write_str(PREZERO, "on"), 0);
	for (i = 0; i < ZERO_SECONDS * 10; i++) {
		if (zeroer_field(nid, "pages") == pages + 3 * BATCH)
			break;
		usleep(100000);
	}
	ASSERT_EQ(zeroer_field(nid, "pages"), pages + 3 * BATCH);
	EXPECT_NE(zeroer_field(nid, "zeroing"), 0);
	EXPECT_EQ(node_sysfs(nid, "zeroed_pages"), 0);
	snap(self);
	fd = gmem_file(_metadata, nid, &vm, &map);
	EXPECT_EQ(zeroer_field(nid, "aborts"), self->aborts + 1);
	EXPECT_EQ(zeroer_field(nid, "alloc_cleared"), self->ac + 1);
	EXPECT_EQ(zeroer_field(nid, "alloc_zeroed"), self->az);
	EXPECT_EQ(zeroer_field(nid, "pages"), pages + 3 * BATCH);
	EXPECT_EQ(nonzero_pages(map), 0);
	gmem_close(vm, fd, map);
	ASSERT_EQ(set_hold(0), 0);
	EXPECT_TRUE(zeroed_is(nid, 1, ZERO_SECONDS));
}

/* A shrink that needs the page the zeroer holds takes it. */
TEST_F_TIMEOUT(prezero, shrink_takes_page_from_zeroer, 600)
{
	int i, nid = self->nid;

	ASSERT_EQ(write_str(PREZERO, "off"), 0);
	snap(self);
	ASSERT_EQ(set_hold(1), 0);
	ASSERT_EQ(write_str(PREZERO, "on"), 0);
	for (i = 0; i < ZERO_SECONDS * 10 && !zeroer_field(nid, "zeroing"); i++)
		usleep(100000);
	ASSERT_NE(zeroer_field(nid, "zeroing"), 0);
	ASSERT_EQ(set_pages(nid, self->nr), 0);
	EXPECT_EQ(zeroer_field(nid, "aborts"), self->aborts + 1);
	EXPECT_EQ(zeroer_field(nid, "zeroing"), 0);
	EXPECT_TRUE(pool_is(nid, self->nr, 0, 0, 0, self->poisoned, 0));
	ASSERT_EQ(set_pages(nid, self->nr + 1), 0);
}

/* Bad values change nothing; zeroed_pages cannot be written. */
TEST_F(prezero, bad_writes)
{
	static const char * const bad[] = { "maybe", "2", "o", "-1", "\n" };
	char path[128], text[16];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(write_str(PREZERO, bad[i]), EINVAL) TH_LOG("'%s'", bad[i]);
		ASSERT_EQ(read_text(PREZERO, text, sizeof(text)), 0);
		EXPECT_STREQ(text, "on\n");
	}
	EXPECT_EQ(write_str(GMEM_CMA_SYSFS "/zeroed_pages", "1"), EACCES);
	snprintf(path, sizeof(path), GMEM_CMA_SYSFS "/node%d/zeroed_pages", self->nid);
	EXPECT_EQ(write_str(path, "1"), EACCES);
	snprintf(path, sizeof(path), GMEM_CMA_SYSFS "/node%d/prezero", self->nid);
	EXPECT_TRUE(path_absent(path));
	EXPECT_EQ(write_str(HOLD, "4294967296"), EINVAL);
	EXPECT_EQ(write_str(HOLD, "x"), EINVAL);
	EXPECT_EQ(read_long(HOLD), 0);
	ASSERT_EQ(write_str(PREZERO, "0"), 0);
	ASSERT_EQ(read_text(PREZERO, text, sizeof(text)), 0);
	EXPECT_STREQ(text, "off\n");
	ASSERT_EQ(write_str(PREZERO, "y"), 0);
	ASSERT_EQ(read_text(PREZERO, text, sizeof(text)), 0);
	EXPECT_STREQ(text, "on\n");
}

/*
 * The stress: for STRESS_SECONDS, one thread creates files on the node
 * (waiting for or taking the page the zeroer holds, or, every third file,
 * with the knobs paused and pre-zeroing on, the page it cleared),
 * checks that every 16th 4 KiB page of the page it got has none of the
 * words the previous file wrote and writes them again before closing; another
 * switches pre-zeroing, moves the hold knob and resizes the pool.
 */
#define STRESS_SECONDS	45
#define STRESS_STEP	16

struct stress {
	int nid;
	long nr;
	/* Set and read with __atomic builtins: */
	bool stop;	/* the knob thread ends */
	int quiet;	/* 1: the knob thread is asked to pause; 2: it does */
	long files, busy, bad_pages, toggles, resizes, failed, zeroed_files;
	char why[128];
};

static void *stress_knobs(void *arg)
{
	struct stress *s = arg;
	unsigned int r = 12345;
	int err;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		if (__atomic_load_n(&s->quiet, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&s->quiet, 2, __ATOMIC_RELEASE);
			usleep(10000);
			continue;
		}
		r = r * 1103515245 + 12345;
		switch ((r >> 16) % 4) {
		case 0:
			err = write_str(PREZERO, (r >> 20) & 1 ? "on" : "off");
			s->toggles++;
			break;
		case 1:
			err = set_hold((r >> 20) % 3 ? 0 : 1 + (r >> 22) % 8);
			break;
		case 2:
			/* Busy if the file reserved the page meanwhile. */
			if (node_sysfs(s->nid, "free_pages") != 1) {
				err = 0;
				break;
			}
			err = set_pages(s->nid, s->nr);
			if (!err)
				err = set_pages(s->nid, s->nr + 1);
			if (err == EBUSY)
				err = 0;
			s->resizes++;
			break;
		default:
			usleep(((r >> 18) % 400) * 1000);
			err = 0;
			break;
		}
		if (err && !s->failed++)
			snprintf(s->why, sizeof(s->why), "knob write: %s", strerror(err));
	}
	set_hold(0);
	write_str(PREZERO, "on");
	return NULL;
}

TEST_F_TIMEOUT(prezero, stress, 900)
{
	struct stress s = { .nid = self->nid, .nr = self->nr };
	struct timespec t0, t;
	const char *what;
	pthread_t knobs;
	uint64_t *map;
	int vm, fd;
	bool quiet;
	long bad;

	snap(self);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(pthread_create(&knobs, NULL, stress_knobs, &s), 0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= STRESS_SECONDS)
			break;
		/* The knob thread shrank the pool for an instant. */
		if (node_sysfs(s.nid, "nr_pages") != s.nr + 1) {
			usleep(10000);
			continue;
		}
		/*
		 * Every third file: pause the knobs, switch pre-zeroing on,
		 * let the zeroer finish and take the page it cleared.
		 */
		quiet = s.files % 3 == 2;
		if (quiet) {
			__atomic_store_n(&s.quiet, 1, __ATOMIC_RELEASE);
			while (__atomic_load_n(&s.quiet, __ATOMIC_ACQUIRE) != 2)
				usleep(1000);
			ASSERT_EQ(set_hold(0), 0);
			ASSERT_EQ(write_str(PREZERO, "on"), 0);
			if (node_sysfs(s.nid, "nr_pages") != s.nr + 1)
				ASSERT_EQ(set_pages(s.nid, s.nr + 1), 0);
			ASSERT_TRUE(zeroed_is(s.nid, 1, ZERO_SECONDS))
				TH_LOG("file %ld: the zeroer did not finish", s.files);
		}
		fd = try_gmem_file(s.nid, &vm, &map, &what);
		if (quiet) {
			s.zeroed_files += fd >= 0;
			__atomic_store_n(&s.quiet, 0, __ATOMIC_RELEASE);
		}
		/* The knob thread shrank the pool between the check and here. */
		if (fd == -ENOMEM && !strcmp(what, "KVM_CREATE_GUEST_MEMFD")) {
			s.busy++;
			continue;
		}
		ASSERT_GE(fd, 0) TH_LOG("%s: %s", what, strerror(-fd));
		bad = dirty_words_left(map, STRESS_STEP);
		if (bad && !s.bad_pages)
			TH_LOG("file %ld: %ld 4 KiB pages of the ones checked not zero",
			       s.files, bad);
		s.bad_pages += bad;
		dirty(map, STRESS_STEP);
		gmem_close(vm, fd, map);
		s.files++;
	}
	__atomic_store_n(&s.stop, true, __ATOMIC_RELAXED);
	pthread_join(knobs, NULL);
	TH_LOG("files %ld (cleared ahead %ld), enomem %ld, toggles %ld, resizes %ld",
	       s.files, s.zeroed_files, s.busy, s.toggles, s.resizes);
	TH_LOG("zeroer: folios %ld, alloc_zeroed %ld, aborts %ld",
	       zeroer_field(s.nid, "folios"), zeroer_field(s.nid, "alloc_zeroed"),
	       zeroer_field(s.nid, "aborts"));
	EXPECT_EQ(s.bad_pages, 0);
	EXPECT_EQ(s.failed, 0) TH_LOG("%s", s.why);
	EXPECT_GE(s.files, 3);
	/* Both ways to a page were taken: cleared ahead and on allocation. */
	EXPECT_GE(s.zeroed_files, 1);
	EXPECT_GE(zeroer_field(s.nid, "alloc_zeroed"), self->az + s.zeroed_files);
	EXPECT_GE(zeroer_field(s.nid, "alloc_cleared"), self->ac + 1);
	ASSERT_EQ(set_pages(s.nid, s.nr + 1), 0);
	EXPECT_TRUE(pool_is(s.nid, s.nr + 1, 1, 0, 0, self->poisoned, 30));
	EXPECT_TRUE(zeroed_is(s.nid, 1, ZERO_SECONDS));
}

TEST_HARNESS_MAIN
