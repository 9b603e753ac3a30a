// SPDX-License-Identifier: GPL-2.0
/*
 * Randomized stress of gmem_cma for the debug kernel of "make stress".
 *
 * Worker processes pick operations at random until the time is up: pool
 * grows and shrinks through sysfs; KVM VMs with guest_memfd files of 1 GiB
 * pages (shared files of DEFAULT VMs, private ones of SW_PROTECTED VMs),
 * fallocate, hole punches and closes; host mappings touched through the
 * VMM's mapping or a second one, with a data check; long-term pins (io_uring
 * fixed buffers, kept until a later unpin, and gup_test's pin-and-unpin);
 * madvise() with random advice on 4 KiB, 2 MiB and 1 GiB pieces;
 * KVM_PRE_FAULT_MEMORY of private and shared memory; memory failures
 * injected into free and in-use folios (a budget of -P, since a poisoned
 * folio is retired for good); page and slab allocation failures
 * (fail_page_alloc, failslab) for the task around one system call of an
 * operation; and the zeroer's switches: pre-zeroing off and on, and the
 * debugfs knob that has it hold the folio it clears after a few batches.
 * Hole punches take whole 1 GiB pages or any 4 KiB-aligned part of one
 * (zeroed in place).
 *
 * With in-place conversion (kvm.gmem_in_place_conversion=1) the private
 * files are mmap-able and private by default instead of private through
 * VM-level attributes, and one more operation converts random ranges of
 * them (4 KiB, a few pages, 2 MiB, 1 GiB, up to 4 MiB anywhere) to shared
 * or private with KVM_SET_MEMORY_ATTRIBUTES2 and a random content mode,
 * which splits their 1 GiB pages where needed and lets the kernel merge
 * them back.  Each worker knows the attribute of every page of its files:
 * a host access to a private page must raise SIGBUS, one to a shared page
 * must work and read what was written (through conversions that keep the
 * contents, zero after ZERO or a punch); 4 KiB pages of them are pinned
 * too, and a conversion to private over a pinned page must fail with
 * EAGAIN and an error_offset within the range.
 *
 * Errors an operation may meet (ENOMEM, EBUSY, EHWPOISON, SIGBUS on a
 * poisoned page, ...) are counted; anything else is a failure.  EINTR is
 * retried, as a VMM does: io_uring's task work (queued when a ring is
 * closed) interrupts KVM_CREATE_VM, fallocate() and the wait for a punched
 * folio that such a ring still holds.  At the end
 * every counter must be back at its baseline: the pools' sysfs counters, the
 * GmemCma lines of /proc/meminfo, no file left in debugfs, and each retired
 * folio counted once as "poisoned" in debugfs (HardwareCorrupted grows by
 * 4 kB per poisoned page).  The pools are put back to their sizes, and
 * pre-zeroing as it was: the zeroer must then clear every free page (or, off,
 * count none) within SETTLE_S.
 *
 * It prints the count of each operation by outcome, the seed (-S replays
 * each worker's sequence of choices; the interleaving depends on timing)
 * and "gmem_cma_stress: PASS" or "gmem_cma_stress: FAIL: <why>"; the exit
 * status is 0 only on PASS.  Not a kselftest: scripts/stress.sh runs it.
 *
 * usage: gmem_cma_stress [-s seconds] [-S seed] [-j workers] [-P poisons] [-v]
 *
 * -v prints every operation with its outcome, for a replay.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/kvm.h>
#include <linux/stddef.h>	/* before io_uring.h, which needs it */
#include <linux/io_uring.h>

#include "../../../../mm/gup_test.h"
#include "gmem_cma_util.h"

#ifndef MADV_COLD
#define MADV_COLD		20
#define MADV_PAGEOUT		21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED	24
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25
#endif
#ifndef EHWPOISON
#define EHWPOISON		133
#endif
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif
#define MPOL_DEFAULT		0
#define MPOL_INTERLEAVE		3

#define POOLS		"/sys/kernel/debug/gmem_cma/pools"
#define FILES		"/sys/kernel/debug/gmem_cma/files"
#define CORRUPT		"/sys/kernel/debug/hwpoison/corrupt-pfn"
#define GUP_TEST	"/sys/kernel/debug/gup_test"
#define FPA		"/sys/kernel/debug/fail_page_alloc"
#define FSLAB		"/sys/kernel/debug/failslab"
#define LOCK_FILE	"/tmp/gmem_cma_stress.lock"
#define INPLACE		"/sys/module/kvm/parameters/gmem_in_place_conversion"
#define PREZERO		GMEM_CMA_SYSFS "/prezero"
#define HOLD		"/sys/kernel/debug/gmem_cma/zero_hold_after"

#define GB		0x40000000UL
#define MB2		0x200000UL
#define PAGE		4096UL
#define GPA		(4UL << 30)	/* where each VM's slot starts */
#define MAX_NODES	8
#define MAX_WORKERS	16
#define MAX_FILES	2		/* per worker */
#define MAX_PINS	4		/* per worker */
#define MAX_POISON	64
#define MAX_MSGS	16
#define RECORDS		4		/* values remembered per 1 GiB of a file */
#define FILE_PAGES	(2 * GB / PAGE)	/* pages of the largest file */
#define FOLL_WRITE_FLAG	1		/* FOLL_WRITE, for gup_test */
#define SETTLE_S	180		/* for the last pages and unpins to come back */

enum op {
	OP_GROW, OP_SHRINK, OP_CREATE, OP_FALLOCATE, OP_PUNCH, OP_CLOSE,
	OP_TOUCH, OP_PIN, OP_UNPIN, OP_MADVISE, OP_PREFAULT_PRIVATE,
	OP_PREFAULT_SHARED, OP_CONVERT, OP_POISON_FREE, OP_POISON_USED, OP_ZEROER,
	OP_INJECT, NR_OPS
};

static const struct {
	const char *name;
	int weight;
} ops[NR_OPS] = {
	[OP_GROW]		= { "pool-grow", 8 },
	[OP_SHRINK]		= { "pool-shrink", 6 },
	[OP_CREATE]		= { "create", 8 },
	[OP_FALLOCATE]		= { "fallocate", 5 },
	[OP_PUNCH]		= { "punch", 5 },
	[OP_CLOSE]		= { "close", 5 },
	[OP_TOUCH]		= { "mmap-touch", 12 },
	[OP_PIN]		= { "pin", 6 },
	[OP_UNPIN]		= { "unpin", 4 },
	[OP_MADVISE]		= { "madvise", 12 },
	[OP_PREFAULT_PRIVATE]	= { "prefault-private", 7 },
	[OP_PREFAULT_SHARED]	= { "prefault-shared", 7 },
	[OP_CONVERT]		= { "convert", 12 },
	[OP_POISON_FREE]	= { "poison-free", 1 },
	[OP_POISON_USED]	= { "poison-used", 1 },
	[OP_ZEROER]		= { "zeroer", 3 },
	[OP_INJECT]		= { "fault-inject", 10 },
};

/* Outcomes: 0 (done), an errno, or one of these. */
enum {
	R_SIGBUS_MCE = 200,	/* SIGBUS, BUS_MCEERR_AR: a poisoned page */
	R_SIGBUS,		/* another SIGBUS */
	R_NONE,			/* nothing to do it on (no file, no pin...) */
	R_BUDGET,		/* the memory-failure budget is spent */
	NR_RESULTS
};

/* What the workers share with the main process (a MAP_SHARED page set). */
struct shared {
	long count[NR_OPS][NR_RESULTS];
	long failures;
	char msgs[MAX_MSGS][256];
	/* Under the pool lock (LOCK_EX): the budget and what was accepted. */
	int poison_tries;
	int nr_poisoned;
	struct {
		unsigned long pfn;
		int nid;
	} poisoned[MAX_POISON];
	/* Set once a memory failure was accepted. */
	int any_poison;
};

/* A value written through a host mapping, to be read back. */
struct record {
	unsigned long off;
	uint64_t val;
};

/* A VM, its vCPU and its guest_memfd file of 1 GiB pages, bound to slot 0. */
struct gfile {
	bool open;
	bool private;		/* SW_PROTECTED VM, private slot */
	unsigned int gen;	/* tells a reopened slot from the file a pin saw */
	int vm, vcpu, fd;
	unsigned long size;
	char *mem;		/* shared: the VMM's mapping; private: the slot's shared side */
	int stale_pins;		/* pins of folios punched out of the file */
	bool ring_closed;	/* a ring holding a stale pin was closed, not unregistered */
	bool written[2];	/* per GiB: written since it was allocated or punched */
	struct record rec[2][RECORDS];
	int nr_rec[2];
	/* In-place private files: a bit per 4 KiB page, set while it is shared. */
	uint64_t shared_bits[FILE_PAGES / 64];
};

struct pin {
	int ring;		/* io_uring with a registered buffer, or -1 */
	int file;		/* slot in files[] and its gen when pinned */
	unsigned int gen;
	int gib;
	unsigned long off, len;	/* the pinned range of the file */
	bool stale;
};

struct worker {
	int id;
	uint64_t rng;
	int kvm, gup, lock, self_fail;
	bool injecting;		/* fail allocations around the next system call */
	bool raced;		/* EINVAL may come from a raced state */
	bool task_work;		/* EFAULT may come from io_uring's task work */
	char what[160];		/* the operation, for a failure message */
	struct gfile files[MAX_FILES];
	struct pin pins[MAX_PINS];
	unsigned int gen;
};

struct counters {
	long nr[MAX_NODES], free[MAX_NODES], resv[MAX_NODES], used[MAX_NODES];
	long saved[MAX_NODES], poisoned[MAX_NODES], resv_short[MAX_NODES];
	long g_nr, g_free, g_resv, g_used;
	long mi_total, mi_free, mi_rsvd, hw_corrupted;
};

static struct shared *sh;
static int nr_nodes;
static bool has_area[MAX_NODES];
static struct timespec deadline;
static long run_secs;
static uint64_t seed;
static bool inplace;		/* kvm.gmem_in_place_conversion is on */
static bool verbose;		/* -v: print every operation */
static struct kvm_cpuid2 *cpuid;
static char pools_text[1 << 16];

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A number in [0, n). */
static unsigned long rnd(struct worker *w, unsigned long n)
{
	return n ? splitmix(&w->rng) % n : 0;
}

/* Seconds since the start of the run. */
static long elapsed(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return run_secs - (deadline.tv_sec - now.tv_sec);
}

static bool time_left(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec < deadline.tv_sec ||
	       (now.tv_sec == deadline.tv_sec && now.tv_nsec < deadline.tv_nsec);
}

static const char *result_name(int r)
{
	static char buf[16];
	const char *name;

	switch (r) {
	case 0:
		return "done";
	case R_SIGBUS_MCE:
		return "SIGBUS(MCEERR_AR)";
	case R_SIGBUS:
		return "SIGBUS";
	case R_NONE:
		return "nothing-to-do";
	case R_BUDGET:
		return "budget-spent";
	}
	name = strerrorname_np(r);
	if (name)
		return name;
	snprintf(buf, sizeof(buf), "errno %d", r);
	return buf;
}

/* Record a failure: counted, and its message kept if there is room. */
static void fail(struct worker *w, const char *fmt, ...)
{
	long n = __atomic_fetch_add(&sh->failures, 1, __ATOMIC_RELAXED);
	va_list ap;
	int len;

	if (n >= MAX_MSGS)
		return;
	if (w)
		len = snprintf(sh->msgs[n], sizeof(sh->msgs[n]), "worker %d: ", w->id);
	else
		len = snprintf(sh->msgs[n], sizeof(sh->msgs[n]), "main: ");
	va_start(ap, fmt);
	vsnprintf(sh->msgs[n] + len, sizeof(sh->msgs[n]) - len, fmt, ap);
	va_end(ap);
}

static bool poisoned_any(void)
{
	return __atomic_load_n(&sh->any_poison, __ATOMIC_RELAXED);
}

/*
 * Whether @r is an outcome @op may have: errors of a raced state or of an
 * exhausted pool, allocation failures while they are injected, and, once a
 * memory failure was accepted, the errors of a poisoned page or of a pool
 * left without the folio it retired.
 */
static bool expected(struct worker *w, int op, int r)
{
	if (!r || r == R_NONE || r == R_BUDGET)
		return true;
	if (w->injecting && r == ENOMEM)
		return true;
	if (w->raced && r == EINVAL)
		return true;
	if (w->task_work && r == EFAULT)
		return true;
	switch (op) {
	case OP_GROW:
	case OP_SHRINK:
		return r == EBUSY || r == ENOMEM;
	case OP_CREATE:
		if (r == ENOMEM)
			return true;
		break;
	case OP_MADVISE:
		if (r == EINVAL || r == EBUSY || r == EAGAIN || r == EOPNOTSUPP)
			return true;
		break;
	case OP_CONVERT:
		/* A page of the range referenced for a moment (a pin going away). */
		if (r == EAGAIN)
			return true;
		break;
	case OP_POISON_FREE:
	case OP_POISON_USED:
		if (r == EHWPOISON)
			return true;
		break;
	}
	return poisoned_any() && (r == EHWPOISON || r == R_SIGBUS_MCE ||
				  r == R_SIGBUS || r == ENOMEM || r == EFAULT);
}

/* Count outcome @r under @op; whether it is expected is up to @kind. */
static void account(struct worker *w, int op, int kind, int r)
{
	if (r < 0 || r >= NR_RESULTS)
		r = EIO;
	__atomic_fetch_add(&sh->count[op][r], 1, __ATOMIC_RELAXED);
	if (!expected(w, kind, r))
		fail(w, "%s%s: %s: %s", w->injecting ? "fault-inject: " : "",
		     ops[kind].name, w->what, result_name(r));
}

/* Allocation failures for this task, around one system call at a time. */
static void fi_begin(struct worker *w)
{
	if (w->injecting && pwrite(w->self_fail, "1", 1, 0) != 1)
		fail(w, "cannot write 1 to /proc/self/make-it-fail: %s", strerror(errno));
}

static void fi_end(struct worker *w)
{
	int i;

	if (!w->injecting)
		return;
	for (i = 0; i < 100 && pwrite(w->self_fail, "0", 1, 0) != 1; i++)
		;
	if (i == 100)
		fail(w, "cannot write 0 to /proc/self/make-it-fail: %s", strerror(errno));
}

/* ioctl(), repeated while a signal or task work interrupts it. */
static int ioctl_restart(int fd, unsigned long req, void *arg)
{
	int i, r = -1;

	for (i = 0; i < 1000; i++) {
		r = ioctl(fd, req, arg);
		if (r >= 0 || errno != EINTR)
			break;
	}
	return r;
}

/* -1 with errno set, or @ret: for calls that return -1 on error. */
static int err_of(long ret)
{
	return ret < 0 ? errno : 0;
}

/*
 * SIGBUS on a host access: the access returns its si_code instead of
 * killing the worker.
 */
static sigjmp_buf bus_env;
static int bus_armed;		/* __atomic: the handler reads it */
static siginfo_t bus_info;

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	if (!__atomic_load_n(&bus_armed, __ATOMIC_SEQ_CST)) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	bus_info = *si;
	siglongjmp(bus_env, 1);
}

/*
 * Read (or write, if @write) the u64 at @p, with one access the compiler
 * keeps: 0, R_SIGBUS_MCE or R_SIGBUS.
 */
static int access_u64(uint64_t *p, uint64_t *val, bool write)
{
	if (sigsetjmp(bus_env, 1)) {
		__atomic_store_n(&bus_armed, 0, __ATOMIC_SEQ_CST);
		return bus_info.si_code == BUS_MCEERR_AR ? R_SIGBUS_MCE : R_SIGBUS;
	}
	__atomic_store_n(&bus_armed, 1, __ATOMIC_SEQ_CST);
	if (write)
		__atomic_store_n(p, *val, __ATOMIC_RELAXED);
	else
		*val = __atomic_load_n(p, __ATOMIC_RELAXED);
	__atomic_store_n(&bus_armed, 0, __ATOMIC_SEQ_CST);
	return 0;
}

/* The pfn mapped at @addr, 0 if none. */
static unsigned long pfn_of(void *addr)
{
	uint64_t ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &ent, sizeof(ent), (unsigned long)addr / PAGE * sizeof(ent)) != sizeof(ent))
		ent = 0;
	close(fd);
	return ent >> 63 ? ent & ((1ULL << 55) - 1) : 0;
}

/* Read the debugfs pools listing into pools_text; false if it cannot. */
static bool read_pools(void)
{
	return !read_text(POOLS, pools_text, sizeof(pools_text));
}

/* A counter of the "node <nid>: capacity ..." line of debugfs, -1 if none. */
static long pool_field(int nid, const char *key)
{
	char hdr[32], k[40], *p, *q, *eol;

	if (!read_pools())
		return -1;
	snprintf(hdr, sizeof(hdr), "node %d: capacity", nid);
	snprintf(k, sizeof(k), " %s ", key);
	p = strstr(pools_text, hdr);
	if (!p)
		return -1;
	eol = strchr(p, '\n');
	q = strstr(p, k);
	if (!q || (eol && q > eol))
		return -1;
	return strtol(q + strlen(k), NULL, 10);
}

/*
 * Walk the folios debugfs lists (after read_pools()): the node of the
 * folio at @pfn if @pfn, else the @pick'th folio of node @nid in @state,
 * or the number of them if @pick < 0.
 */
static long walk_folios(unsigned long pfn, int nid, const char *state, long pick,
			unsigned long *found)
{
	char *line = pools_text, st[16];
	unsigned long fpfn;
	long n = 0;
	int cur = -1;

	for (; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (sscanf(line, "node %d: capacity", &cur) == 1)
			continue;
		if (sscanf(line, " 0x%lx %15s vmemmap_shared", &fpfn, st) != 2)
			continue;
		if (pfn) {
			if (fpfn == pfn)
				return cur;
			continue;
		}
		if (cur != nid || strcmp(st, state))
			continue;
		if (n++ == pick) {
			*found = fpfn;
			return 1;
		}
	}
	return pfn ? -1 : (pick < 0 ? n : 0);
}

static long node_long(int nid, const char *name)
{
	char fmt[96];

	snprintf(fmt, sizeof(fmt), GMEM_CMA_SYSFS "/node%%d/%s", name);
	return read_long_fmt(fmt, nid);
}

/* A random node that has an area. */
static int pick_node(struct worker *w)
{
	int n, nid;

	for (n = 0, nid = 0; nid < nr_nodes; nid++)
		n += has_area[nid];
	n = rnd(w, n);
	for (nid = 0; nid < nr_nodes; nid++)
		if (has_area[nid] && !n--)
			return nid;
	return 0;
}

static void pool_lock(struct worker *w, int how)
{
	while (flock(w->lock, how) && errno == EINTR)
		;
}

/* Write @val to @path with allocation failures injected around the write. */
static int write_injected(struct worker *w, const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), err;
	ssize_t n;

	if (fd < 0)
		return errno;
	fi_begin(w);
	n = write(fd, val, strlen(val));
	err = n < 0 ? errno : 0;
	fi_end(w);
	close(fd);
	return err;
}

/*
 * Switch pre-zeroing off or on, or have the zeroer hold the folio it clears
 * after 1-8 batches (or not), while the other workers allocate, punch,
 * shrink and poison: none of it may hand out a page that was not cleared
 * (touch_file() reads new pages) or lose a folio (final_checks()).
 */
static int op_zeroer(struct worker *w)
{
	char val[8];

	if (rnd(w, 2)) {
		snprintf(val, sizeof(val), "%s", rnd(w, 2) ? "on" : "off");
		snprintf(w->what, sizeof(w->what), "prezero %s", val);
		return write_str(PREZERO, val);
	}
	snprintf(val, sizeof(val), "%lu", rnd(w, 2) ? 0 : 1 + rnd(w, 8));
	snprintf(w->what, sizeof(w->what), "zero_hold_after %s", val);
	return write_str(HOLD, val);
}

/*
 * Resize a random node's pool to a random size above (grow) or below
 * (shrink) the current one.  Memory-failure injection takes the pool lock
 * exclusively, so that no folio it picked leaves the pool under it.
 */
static int op_resize(struct worker *w, bool grow)
{
	int nid = pick_node(w), err;
	long cur, cap, target;
	char path[96], val[24];

	pool_lock(w, LOCK_SH);
	cur = node_long(nid, "nr_pages");
	cap = node_long(nid, "capacity_pages");
	if (grow)
		target = cur < cap ? cur + 1 + (long)rnd(w, cap - cur) : cap;
	else
		target = cur > 0 ? (long)rnd(w, cur) : 0;
	snprintf(w->what, sizeof(w->what), "node %d nr_pages %ld -> %ld", nid, cur, target);
	snprintf(path, sizeof(path), GMEM_CMA_SYSFS "/node%d/nr_pages", nid);
	snprintf(val, sizeof(val), "%ld", target);
	err = write_injected(w, path, val);
	if (err == EINVAL && target > node_long(nid, "capacity_pages"))
		w->raced = true;
	pool_lock(w, LOCK_UN);
	return err;
}

static struct gfile *pick_file(struct worker *w, int kind)
{
	struct gfile *cand[MAX_FILES];
	int i, n = 0;

	for (i = 0; i < MAX_FILES; i++) {
		struct gfile *f = &w->files[i];

		if (!f->open || (kind == 1 && f->private) || (kind == 2 && !f->private))
			continue;
		cand[n++] = f;
	}
	return n ? cand[rnd(w, n)] : NULL;
}

/* A file for an operation that faults pages in: none with stale pins. */
static struct gfile *pick_faultable(struct worker *w, int kind)
{
	struct gfile *f = pick_file(w, kind);

	/*
	 * A fault on a file whose punched folio is still pinned waits for the
	 * folio to come back: only this worker could unpin it.
	 */
	return f && !f->stale_pins ? f : NULL;
}

/* Whether the host may access the page at @off of @f. */
static bool page_shared(const struct gfile *f, unsigned long off)
{
	unsigned long pg = off / PAGE;

	if (!inplace || !f->private)
		return true;
	return f->shared_bits[pg / 64] >> (pg % 64) & 1;
}

static void set_shared(struct gfile *f, unsigned long off, unsigned long len, bool shared)
{
	unsigned long pg;

	for (pg = off / PAGE; pg < (off + len) / PAGE; pg++) {
		if (shared)
			f->shared_bits[pg / 64] |= 1ULL << (pg % 64);
		else
			f->shared_bits[pg / 64] &= ~(1ULL << (pg % 64));
	}
}

/* [@off, @off + @len) of @f reads zeroes now: so do the records there. */
static void zeroed_range(struct gfile *f, unsigned long off, unsigned long len)
{
	int gib, i;

	for (gib = 0; gib < 2; gib++)
		for (i = 0; i < f->nr_rec[gib]; i++)
			if (f->rec[gib][i].off >= off && f->rec[gib][i].off < off + len)
				f->rec[gib][i].val = 0;
}

/*
 * The offset of a shared page of in-place private file @f at or after a
 * random one (wrapping around), or -1 if it has none.
 */
static long pick_shared_page(struct worker *w, struct gfile *f)
{
	unsigned long n = f->size / PAGE, start = rnd(w, n), i, pg;

	for (i = 0; i < n; i += 64 - pg % 64) {
		pg = (start + i) % n;
		if (f->shared_bits[pg / 64] >> (pg % 64))
			return (pg + __builtin_ctzll(f->shared_bits[pg / 64] >> (pg % 64))) * PAGE;
	}
	return -1;
}

static void unmap_file(struct gfile *f)
{
	if (f->mem && f->mem != MAP_FAILED)
		munmap(f->mem, f->size);
	f->mem = NULL;
}

static void close_file(struct worker *w, struct gfile *f)
{
	int i;

	unmap_file(f);
	if (f->fd >= 0)
		close(f->fd);
	if (f->vcpu >= 0)
		close(f->vcpu);
	if (f->vm >= 0)
		close(f->vm);
	f->open = false;
	/* No fault can wait for a punched folio of a closed file. */
	for (i = 0; i < MAX_PINS; i++)
		if (w->pins[i].ring >= 0 && &w->files[w->pins[i].file] == f &&
		    w->pins[i].gen == f->gen)
			w->pins[i].stale = false;
}

/* Map @fd where a VMM would: 1 GiB aligned, so KVM can map 1 GiB. */
static char *map_aligned(int fd, unsigned long size)
{
	char *area, *addr;

	area = mmap(NULL, size + GB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		    -1, 0);
	if (area == MAP_FAILED)
		return MAP_FAILED;
	addr = (char *)(((unsigned long)area + GB - 1) & ~(GB - 1));
	if (mmap(addr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
		munmap(area, size + GB);
		return MAP_FAILED;
	}
	if (addr > area)
		munmap(area, addr - area);
	munmap(addr + size, area + GB - addr);
	return addr;
}

/*
 * A new VM (DEFAULT with a shared, mmap-able file, or SW_PROTECTED with a
 * private one: through VM-level attributes, or with in-place conversion a
 * file that starts private and is mapped like a shared one), its vCPU, a 1
 * or 2 GiB file of 1 GiB pages reserved under a random memory policy, and
 * slot 0 over the whole file at GPA.
 */
static int op_create(struct worker *w)
{
	struct kvm_create_guest_memfd args = { .huge_page_size_log2 = 30 };
	struct kvm_userspace_memory_region2 slot = {
		.flags = KVM_MEM_GUEST_MEMFD, .guest_phys_addr = GPA,
	};
	struct kvm_memory_attributes attr = { .address = GPA };
	static const char * const pols[] = { "default", "bind", "interleave" };
	unsigned long mask = 0;
	struct gfile *f = NULL;
	int i, pol, err = 0;

	for (i = 0; i < MAX_FILES && !f; i++)
		if (!w->files[i].open)
			f = &w->files[i];
	if (!f)
		return R_NONE;
	memset(f, 0, sizeof(*f));
	f->vm = -1;
	f->vcpu = -1;
	f->fd = -1;
	f->private = rnd(w, 2);
	f->size = rnd(w, 4) ? GB : 2 * GB;
	f->gen = ++w->gen;
	pol = rnd(w, 3);
	if (pol == 1)
		mask = 1UL << pick_node(w);
	for (i = 0; pol == 2 && i < nr_nodes; i++)
		mask |= (unsigned long)has_area[i] << i;
	snprintf(w->what, sizeof(w->what), "%s VM, %lu GiB file %d, policy %s %#lx",
		 f->private ? "SW_PROTECTED" : "DEFAULT", f->size / GB, (int)(f - w->files),
		 pols[pol], mask);

	f->open = true;
	f->vm = ioctl_restart(w->kvm, KVM_CREATE_VM,
			      (void *)(f->private ? KVM_X86_SW_PROTECTED_VM : 0UL));
	if (f->vm < 0)
		goto out_err;
	args.size = f->size;
	args.flags = GUEST_MEMFD_FLAG_HUGE_PAGES;
	if (!f->private)
		args.flags |= GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
	else if (inplace)
		args.flags |= GUEST_MEMFD_FLAG_MMAP;
	if (pol && syscall(__NR_set_mempolicy, pol == 1 ? MPOL_BIND : MPOL_INTERLEAVE,
			   &mask, 8 * sizeof(mask)))
		goto out_err;
	fi_begin(w);
	f->fd = ioctl_restart(f->vm, KVM_CREATE_GUEST_MEMFD, &args);
	err = err_of(f->fd);
	fi_end(w);
	syscall(__NR_set_mempolicy, MPOL_DEFAULT, NULL, 0);
	if (err)
		goto out;
	f->vcpu = ioctl_restart(f->vm, KVM_CREATE_VCPU, NULL);
	if (f->vcpu < 0 || ioctl_restart(f->vcpu, KVM_SET_CPUID2, cpuid))
		goto out_err;
	if (f->private && !inplace)
		f->mem = mmap(NULL, f->size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	else
		f->mem = map_aligned(f->fd, f->size);
	if (f->mem == MAP_FAILED)
		goto out_err;
	slot.memory_size = f->size;
	slot.userspace_addr = (unsigned long)f->mem;
	slot.guest_memfd = f->fd;
	fi_begin(w);
	err = err_of(ioctl_restart(f->vm, KVM_SET_USER_MEMORY_REGION2, &slot));
	fi_end(w);
	if (err)
		goto out;
	attr.size = f->size;
	attr.attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE;
	if (f->private && !inplace && ioctl_restart(f->vm, KVM_SET_MEMORY_ATTRIBUTES, &attr))
		goto out_err;
	return 0;

out_err:
	err = errno;
out:
	close_file(w, f);
	return err;
}

static int op_close(struct worker *w)
{
	struct gfile *f = pick_file(w, 0);

	if (!f)
		return R_NONE;
	snprintf(w->what, sizeof(w->what), "%lu GiB %s file %d", f->size / GB,
		 f->private ? "private" : "shared", (int)(f - w->files));
	close_file(w, f);
	return 0;
}

/* Forget what was written to GiB @gib of @f: it reads zeroes again. */
static void punched(struct worker *w, struct gfile *f, int gib, bool zeroed)
{
	int i;

	f->written[gib] = !zeroed;
	f->nr_rec[gib] = 0;
	for (i = 0; i < MAX_PINS; i++) {
		struct pin *p = &w->pins[i];

		if (p->ring >= 0 && &w->files[p->file] == f && p->gen == f->gen &&
		    p->gib == gib && !p->stale) {
			p->stale = true;
			f->stale_pins++;
		}
	}
}

/*
 * A random 4 KiB-aligned range in GiB @gib: one page, a few, an aligned
 * 2 MiB, or up to 4 MiB anywhere (not beyond the GiB).
 */
static void random_range(struct worker *w, int gib, unsigned long *off, unsigned long *len)
{
	switch (rnd(w, 4)) {
	case 0:
		*len = PAGE;
		break;
	case 1:
		*len = (2 + rnd(w, 15)) * PAGE;
		break;
	case 2:
		*off = gib * GB + rnd(w, GB / MB2) * MB2;
		*len = MB2;
		return;
	default:
		*len = (1 + rnd(w, 2 * MB2 / PAGE)) * PAGE;
		break;
	}
	*off = gib * GB + rnd(w, (GB - *len) / PAGE + 1) * PAGE;
}

static int op_fallocate(struct worker *w, bool punch)
{
	struct gfile *f = punch ? pick_file(w, 0) : pick_faultable(w, 0);
	int mode = FALLOC_FL_KEEP_SIZE | (punch ? FALLOC_FL_PUNCH_HOLE : 0);
	unsigned long off, len;
	int err, gib, i;

	if (!f)
		return R_NONE;
	gib = rnd(w, f->size / GB);
	off = gib * GB;
	len = GB;
	if (!punch && !rnd(w, 4)) {
		off = 0;
		len = f->size;
	} else if (punch && rnd(w, 2)) {
		/* Part of a 1 GiB page: 4 KiB, 2 MiB, or up to 4 MiB anywhere. */
		random_range(w, gib, &off, &len);
	}
	snprintf(w->what, sizeof(w->what), "fallocate(%#x, %#lx, %#lx) of a %lu GiB %s file %d",
		 mode, off, len, f->size / GB, f->private ? "private" : "shared",
		 (int)(f - w->files));
	for (i = 0; i < 1000; i++) {
		fi_begin(w);
		err = err_of(fallocate(f->fd, mode, off, len));
		fi_end(w);
		if (err != EINTR)
			break;
	}
	if (punch && !err && len == GB)
		punched(w, f, gib, true);
	else if (punch && !err)
		zeroed_range(f, off, len);
	return err;
}

/*
 * Check what this worker knows of GiB @gib of @f through @base (a mapping
 * of the file), then write and read back a new value at a random place
 * (of an in-place private file: at a random shared page if @shared, else
 * anywhere, where a private page must raise SIGBUS).
 */
static int touch_file(struct worker *w, struct gfile *f, char *base, int gib, bool shared)
{
	unsigned long off = gib * GB + rnd(w, GB / 8) * 8;
	uint64_t val, want;
	int i, r;

	if (shared) {
		long pg = pick_shared_page(w, f);

		if (pg < 0)
			return R_NONE;
		off = pg + rnd(w, PAGE / 8) * 8;
		gib = off / GB;
	}
	for (i = 0; i < f->nr_rec[gib]; i++) {
		struct record *rec = &f->rec[gib][i];

		if (!page_shared(f, rec->off))
			continue;
		r = access_u64((uint64_t *)(base + rec->off), &val, false);
		if (r == R_SIGBUS_MCE)	/* a poisoned page: forget it */
			*rec = f->rec[gib][--f->nr_rec[gib]];
		if (r)
			return r;
		if (val != rec->val) {
			fail(w,
			     "mmap-touch: offset %#lx of a %lu GiB file reads %#llx, wrote %#llx",
			     rec->off, f->size / GB, (unsigned long long)val,
			     (unsigned long long)rec->val);
			return 0;
		}
	}
	r = access_u64((uint64_t *)(base + off), &val, false);
	if (!page_shared(f, off)) {
		if (r == R_SIGBUS || r == R_SIGBUS_MCE)
			return r == R_SIGBUS ? 0 : r;
		fail(w, "mmap-touch: offset %#lx of a %lu GiB file is private, reads with %s",
		     off, f->size / GB, result_name(r));
		return 0;
	}
	if (r)
		return r;
	if (!f->written[gib] && val) {
		fail(w, "mmap-touch: offset %#lx of a new or punched page reads %#llx, not 0",
		     off, (unsigned long long)val);
		return 0;
	}
	want = splitmix(&w->rng) | 1;
	r = access_u64((uint64_t *)(base + off), &want, true);
	if (!r)
		r = access_u64((uint64_t *)(base + off), &val, false);
	if (r)
		return r;
	if (val != want)
		fail(w, "mmap-touch: offset %#lx reads %#llx right after writing %#llx",
		     off, (unsigned long long)val, (unsigned long long)want);
	f->written[gib] = true;
	i = f->nr_rec[gib] < RECORDS ? f->nr_rec[gib]++ : (int)rnd(w, RECORDS);
	f->rec[gib][i].off = off;
	f->rec[gib][i].val = want;
	return 0;
}

/*
 * Touch a shared file, or with in-place conversion also a private one,
 * through the VMM's mapping or through a new one.
 */
static int op_touch(struct worker *w)
{
	struct gfile *f = pick_faultable(w, inplace ? 0 : 1);
	bool shared = f && f->private && rnd(w, 2);
	char *alias = NULL;
	int gib, r;

	if (!f)
		return R_NONE;
	gib = rnd(w, f->size / GB);
	snprintf(w->what, sizeof(w->what), "GiB %d of a %lu GiB %s file%s", gib, f->size / GB,
		 f->private ? "private" : "shared", shared ? ", a shared page" : "");
	if (!rnd(w, 4)) {
		alias = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
		if (alias == MAP_FAILED)
			return errno;
		strcat(w->what, ", second mapping");
	}
	r = touch_file(w, f, alias ? alias : f->mem, gib, shared);
	if (alias)
		munmap(alias, f->size);
	return r;
}

/*
 * A long-term pin of 2 MiB of a shared file, or with in-place conversion of
 * a shared 4 KiB page of a private file: io_uring fixed buffers, kept until
 * an unpin (or the end), or gup_test's pin and unpin in one call.
 */
static int op_pin(struct worker *w)
{
	struct gfile *f = pick_faultable(w, inplace && rnd(w, 2) ? 2 : 1);
	struct io_uring_params params = { 0 };
	struct iovec iov;
	struct pin *p = NULL;
	uint64_t val;
	int i, gib, r;
	long pg;

	if (!f)
		return R_NONE;
	/* A kernel access that a closed ring's task work interrupts: EFAULT. */
	w->task_work = f->ring_closed;
	gib = rnd(w, f->size / GB);
	iov.iov_base = f->mem + gib * GB + rnd(w, GB / MB2) * MB2;
	iov.iov_len = MB2;
	if (f->private) {
		pg = pick_shared_page(w, f);
		if (pg < 0)
			return R_NONE;
		gib = pg / GB;
		iov.iov_base = f->mem + pg;
		iov.iov_len = PAGE;
	}
	r = access_u64((uint64_t *)iov.iov_base, &val, false);
	if (r)
		return r;
	if (!rnd(w, 3)) {
		struct gup_test gup = {
			.addr = (unsigned long)iov.iov_base, .size = iov.iov_len,
			.nr_pages_per_call = iov.iov_len / PAGE, .gup_flags = FOLL_WRITE_FLAG,
		};

		snprintf(w->what, sizeof(w->what), "gup_test PIN_LONGTERM_BENCHMARK of %zu KiB",
			 iov.iov_len / 1024);
		fi_begin(w);
		r = err_of(ioctl(w->gup, PIN_LONGTERM_BENCHMARK, &gup));
		fi_end(w);
		return r;
	}
	for (i = 0; i < MAX_PINS && !p; i++)
		if (w->pins[i].ring < 0)
			p = &w->pins[i];
	if (!p)
		return R_NONE;
	snprintf(w->what, sizeof(w->what),
		 "io_uring IORING_REGISTER_BUFFERS of %zu KiB at %#lx of file %d",
		 iov.iov_len / 1024, (unsigned long)((char *)iov.iov_base - f->mem),
		 (int)(f - w->files));
	p->ring = syscall(__NR_io_uring_setup, 4, &params);
	if (p->ring < 0) {
		p->ring = -1;
		return errno;
	}
	fi_begin(w);
	r = err_of(syscall(__NR_io_uring_register, p->ring, IORING_REGISTER_BUFFERS, &iov, 1));
	fi_end(w);
	if (r) {
		close(p->ring);
		p->ring = -1;
		return r;
	}
	p->file = f - w->files;
	p->gen = f->gen;
	p->gib = gib;
	p->off = (char *)iov.iov_base - f->mem;
	p->len = iov.iov_len;
	p->stale = false;
	return 0;
}

static void unpin(struct worker *w, struct pin *p, bool unregister)
{
	struct gfile *f = &w->files[p->file];

	if (unregister)
		syscall(__NR_io_uring_register, p->ring, IORING_UNREGISTER_BUFFERS, NULL, 0);
	close(p->ring);
	p->ring = -1;
	if (p->stale && f->open && f->gen == p->gen) {
		f->stale_pins--;
		/* Its buffer goes once this task ran the ring's exit work. */
		f->ring_closed |= !unregister;
	}
}

/* Unregister the buffer and close the ring, or only close it (async). */
static int op_unpin(struct worker *w)
{
	struct pin *cand[MAX_PINS];
	int i, n = 0;
	bool unregister = rnd(w, 2);

	for (i = 0; i < MAX_PINS; i++)
		if (w->pins[i].ring >= 0)
			cand[n++] = &w->pins[i];
	if (!n)
		return R_NONE;
	i = rnd(w, n);
	snprintf(w->what, sizeof(w->what), "%s of the pin at %#lx of file %d%s",
		 unregister ? "IORING_UNREGISTER_BUFFERS" : "close", cand[i]->off, cand[i]->file,
		 cand[i]->stale ? " (stale)" : "");
	unpin(w, cand[i], unregister);
	return 0;
}

static int op_madvise(struct worker *w)
{
	static const int advice[] = {
		MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED,
		MADV_FREE, MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK, MADV_MERGEABLE,
		MADV_UNMERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP,
		MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT,
		MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_DONTNEED_LOCKED, MADV_COLLAPSE,
	};
	static const unsigned long piece[] = { PAGE, MB2, GB };
	struct gfile *f = pick_faultable(w, 1);
	unsigned long len, off;
	int adv, err, gib;

	if (!f)
		return R_NONE;
	/* MADV_POPULATE_* is a kernel access: see op_pin(). */
	w->task_work = f->ring_closed;
	adv = advice[rnd(w, ARRAY_SIZE(advice))];
	len = piece[rnd(w, 3)];
	off = rnd(w, f->size / len) * len;
	gib = off / GB;
	snprintf(w->what, sizeof(w->what), "advice %d on %#lx bytes at offset %#lx", adv, len, off);
	err = err_of(madvise(f->mem + off, len, adv));
	/* A hole punched through the mapping: less than 1 GiB is zeroed. */
	if (adv == MADV_REMOVE && !err && len == GB)
		punched(w, f, gib, true);
	else if (adv == MADV_REMOVE && !err)
		zeroed_range(f, off, len);
	return err;
}

/* KVM_PRE_FAULT_MEMORY of 4 KiB, 2 MiB or 1 GiB of a private or shared slot. */
static int op_prefault(struct worker *w, bool private)
{
	static const unsigned long piece[] = { PAGE, MB2, GB };
	struct kvm_pre_fault_memory range = { 0 };
	struct gfile *f = pick_faultable(w, private ? 2 : 1);
	unsigned long len;
	int i, r = 0;

	if (!f)
		return R_NONE;
	len = piece[rnd(w, 3)];
	range.gpa = GPA + rnd(w, f->size / len) * len;
	range.size = len;
	snprintf(w->what, sizeof(w->what), "gpa %#llx size %#lx", range.gpa, len);
	for (i = 0; i < 1000 && range.size; i++) {
		fi_begin(w);
		r = err_of(ioctl(f->vcpu, KVM_PRE_FAULT_MEMORY, &range));
		fi_end(w);
		if (r && r != EINTR && r != EAGAIN)
			break;
	}
	return r;
}

/*
 * Convert a random range of an in-place private file to shared or private
 * with a random content mode.  A conversion to private over a page this
 * worker pins must fail with EAGAIN, error_offset in the range; whatever
 * fails changes nothing, which the page bits let mmap-touch check.
 */
static int op_convert(struct worker *w)
{
	static const char * const modes[] = { "", ", ZERO", ", PRESERVE" };
	struct gfile *f = inplace ? pick_file(w, 2) : NULL;
	struct kvm_memory_attributes2 a = { 0 };
	unsigned long pinned = -1UL, off, len;
	int i, r = 0, mode;

	if (!f)
		return R_NONE;
	off = rnd(w, f->size / GB) * GB;
	len = GB;
	if (rnd(w, 8))
		random_range(w, off / GB, &off, &len);
	a.offset = off;
	a.size = len;
	a.attributes = rnd(w, 2) ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
	mode = rnd(w, 3);
	a.flags = mode == 1 ? KVM_SET_MEMORY_ATTRIBUTES2_ZERO :
		  mode == 2 ? KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE : 0;
	for (i = 0; i < MAX_PINS; i++) {
		struct pin *p = &w->pins[i];

		if (p->ring >= 0 && &w->files[p->file] == f && p->gen == f->gen && !p->stale &&
		    p->off < a.offset + a.size && p->off + p->len > a.offset &&
		    p->off < pinned)
			pinned = p->off;
	}
	snprintf(w->what, sizeof(w->what), "%#llx bytes at %#llx of a %lu GiB file %d to %s%s%s",
		 a.size, a.offset, f->size / GB, (int)(f - w->files),
		 a.attributes ? "private" : "shared",
		 modes[mode], pinned != -1UL && a.attributes ? ", a page pinned" : "");
	for (i = 0; i < 1000; i++) {
		fi_begin(w);
		r = err_of(ioctl(f->fd, KVM_SET_MEMORY_ATTRIBUTES2, &a));
		fi_end(w);
		if (r != EINTR)
			break;
	}
	if (!r) {
		if (a.attributes && pinned != -1UL)
			fail(w, "convert: %s: converted though offset %#lx is pinned",
			     w->what, pinned);
		set_shared(f, a.offset, a.size, !a.attributes);
		if (mode == 1)
			zeroed_range(f, a.offset, a.size);
	} else if (r == EAGAIN) {
		if (a.error_offset < a.offset || a.error_offset >= a.offset + a.size)
			fail(w, "convert: %s: EAGAIN with error_offset %#llx outside the range",
			     w->what, a.error_offset);
		if (pinned != -1UL && a.attributes && a.error_offset > pinned)
			fail(w, "convert: %s: EAGAIN with error_offset %#llx after the pin at %#lx",
			     w->what, a.error_offset, pinned);
	}
	return r;
}

/* Record an accepted memory failure (pool lock held exclusively). */
static void poison_accepted(unsigned long pfn, int nid)
{
	int i;

	__atomic_store_n(&sh->any_poison, 1, __ATOMIC_RELAXED);
	for (i = 0; i < sh->nr_poisoned; i++)
		if (sh->poisoned[i].pfn == pfn)
			return;
	if (sh->nr_poisoned < MAX_POISON) {
		sh->poisoned[sh->nr_poisoned].pfn = pfn;
		sh->poisoned[sh->nr_poisoned++].nid = nid;
	}
}

static bool was_poisoned(unsigned long pfn)
{
	int i;

	for (i = 0; i < __atomic_load_n(&sh->nr_poisoned, __ATOMIC_RELAXED); i++)
		if (sh->poisoned[i].pfn == pfn)
			return true;
	return false;
}

static int corrupt(unsigned long pfn, int nid)
{
	char v[32];
	int err;

	snprintf(v, sizeof(v), "%#lx", pfn);
	sh->poison_tries++;
	/* 0 for the first failure of a page, EHWPOISON for the next ones. */
	err = write_str(CORRUPT, v);
	if (!err)
		poison_accepted(pfn, nid);
	return err;
}

/*
 * A memory failure in a free folio of a random node's pool (grown by one
 * if it has none), or in a folio in use: a page this worker maps (which
 * then raises SIGBUS with BUS_MCEERR_AR, while the next page still works),
 * or any used folio debugfs lists (private memory, other workers' files).
 */
static int op_poison(struct worker *w, bool used, long max)
{
	struct gfile *f = used && rnd(w, 2) ? pick_faultable(w, 1) : NULL;
	unsigned long folio = 0, pfn;
	char *page = NULL;
	int nid = pick_node(w), r;
	uint64_t val;
	bool odd;
	long n;

	pool_lock(w, LOCK_EX);
	if (sh->poison_tries >= max) {
		pool_lock(w, LOCK_UN);
		return R_BUDGET;
	}
	/*
	 * Each failure retires a 1 GiB page for good: spread them over the
	 * run (the k-th not before k/(max+1) of it), so that the pools are
	 * not used up early.
	 */
	if (elapsed() < (sh->poison_tries + 1) * run_secs / (max + 1)) {
		pool_lock(w, LOCK_UN);
		return R_NONE;
	}
	if (f) {
		page = f->mem + rnd(w, f->size / PAGE) * PAGE;
		snprintf(w->what, sizeof(w->what), "a mapped page of a %lu GiB shared file",
			 f->size / GB);
		r = access_u64((uint64_t *)page, &val, false);
		pfn = r ? 0 : pfn_of(page);
		if (!r && pfn && read_pools())
			nid = walk_folios(pfn & ~(PAGES_PER_GB - 1), 0, NULL, 0, NULL);
		if (!r && (!pfn || nid < 0)) {
			fail(w, "poison-used: page at pfn %#lx is not in a pool's folio", pfn);
			r = R_NONE;
		}
		if (!r)
			r = corrupt(pfn, nid);
		pool_lock(w, LOCK_UN);
		if (r)
			return r;
		/* The page is gone from every mapping: the next access gets SIGBUS. */
		r = access_u64((uint64_t *)page, &val, false);
		if (r != R_SIGBUS_MCE || bus_info.si_addr != page || bus_info.si_addr_lsb != 12)
			fail(w,
			     "poison-used: the poisoned page reads with %s at %p (lsb %d), not SIGBUS(MCEERR_AR) at %p (lsb 12)",
			     result_name(r), r ? bus_info.si_addr : NULL,
			     r ? bus_info.si_addr_lsb : 0, page);
		/* The other page of its 8 KiB keeps working, unless poisoned too. */
		odd = (page - f->mem) / PAGE % 2;
		page += odd ? -(long)PAGE : (long)PAGE;
		r = access_u64((uint64_t *)page, &val, false);
		if (r && !(r == R_SIGBUS_MCE && was_poisoned(odd ? pfn - 1 : pfn + 1)))
			fail(w, "poison-used: the page next to the poisoned one: %s",
			     result_name(r));
		return 0;
	}
	snprintf(w->what, sizeof(w->what), "a %s folio of node %d", used ? "used" : "free", nid);
	r = read_pools() ? 0 : ENOENT;
	n = r ? 0 : walk_folios(0, nid, used ? "used" : "free", -1, NULL);
	if (!r && !n && !used) {
		char path[96], v[24];

		/* An empty pool: grow it by one for a free folio. */
		snprintf(path, sizeof(path), GMEM_CMA_SYSFS "/node%d/nr_pages", nid);
		snprintf(v, sizeof(v), "%ld", node_long(nid, "nr_pages") + 1);
		if (!write_str(path, v) && read_pools())
			n = walk_folios(0, nid, "free", -1, NULL);
	}
	if (!r && n)
		walk_folios(0, nid, used ? "used" : "free", rnd(w, n), &folio);
	if (!r && !folio)
		r = R_NONE;
	if (!r)
		r = corrupt(folio + rnd(w, PAGES_PER_GB), nid);
	pool_lock(w, LOCK_UN);
	return r;
}

static int run_op(struct worker *w, int op, long max_poison)
{
	switch (op) {
	case OP_GROW:
		return op_resize(w, true);
	case OP_SHRINK:
		return op_resize(w, false);
	case OP_CREATE:
		return op_create(w);
	case OP_FALLOCATE:
		return op_fallocate(w, false);
	case OP_PUNCH:
		return op_fallocate(w, true);
	case OP_CLOSE:
		return op_close(w);
	case OP_TOUCH:
		return op_touch(w);
	case OP_PIN:
		return op_pin(w);
	case OP_UNPIN:
		return op_unpin(w);
	case OP_MADVISE:
		return op_madvise(w);
	case OP_PREFAULT_PRIVATE:
		return op_prefault(w, true);
	case OP_PREFAULT_SHARED:
		return op_prefault(w, false);
	case OP_CONVERT:
		return op_convert(w);
	case OP_POISON_FREE:
		return op_poison(w, false, max_poison);
	case OP_POISON_USED:
		return op_poison(w, true, max_poison);
	case OP_ZEROER:
		return op_zeroer(w);
	}
	return R_NONE;
}

static int pick_op(struct worker *w)
{
	int total = 0, op;
	long r;

	for (op = 0; op < NR_OPS; op++)
		total += ops[op].weight;
	r = rnd(w, total);
	for (op = 0; op < NR_OPS; op++) {
		r -= ops[op].weight;
		if (r < 0)
			break;
	}
	return op;
}

/*
 * Fault in @depth pages of stack below the caller's frame, one frame each
 * (the call is no tail call), for mlockall() to keep present.
 */
static void prefault_stack(int depth)
{
	char page[PAGE];

	memset(page, 0, sizeof(page));
	if (depth > 1)
		prefault_stack(depth - 1);
	/* Keep the stores: nothing reads them. */
	asm volatile("" : : "r" (page) : "memory");
}

/* Operations whose system call runs with allocation failures injected. */
static const int inject_ops[] = {
	OP_GROW, OP_SHRINK, OP_CREATE, OP_FALLOCATE, OP_PUNCH, OP_PIN,
	OP_PREFAULT_PRIVATE, OP_PREFAULT_SHARED, OP_CONVERT,
};

static void worker_main(int id, long max_poison)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };
	struct worker w = { .id = id };
	int i, op, kind, r;

	w.rng = seed ^ (0x9e3779b97f4a7c15ULL * (id + 1));
	for (i = 0; i < MAX_FILES; i++) {
		w.files[i].vm = -1;
		w.files[i].vcpu = -1;
		w.files[i].fd = -1;
	}
	for (i = 0; i < MAX_PINS; i++)
		w.pins[i].ring = -1;
	w.kvm = open("/dev/kvm", O_RDWR);
	w.gup = open(GUP_TEST, O_RDWR);
	w.lock = open(LOCK_FILE, O_RDWR | O_CREAT, 0600);
	w.self_fail = open("/proc/self/make-it-fail", O_WRONLY);
	if (w.kvm < 0 || w.gup < 0 || w.lock < 0 || w.self_fail < 0) {
		fail(&w, "setup: cannot open /dev/kvm, %s, %s or make-it-fail",
		     GUP_TEST, LOCK_FILE);
		_exit(1);
	}
	sigaction(SIGBUS, &sa, NULL);
	/*
	 * Every page this process runs on is present before allocations may
	 * fail: a user fault that cannot allocate a page table would return
	 * VM_FAULT_OOM, which the kernel reports and retries.
	 */
	prefault_stack(64);
	if (mlockall(MCL_CURRENT))
		fail(&w, "setup: mlockall: %s", strerror(errno));

	while (time_left()) {
		op = pick_op(&w);
		kind = op;
		if (op == OP_INJECT)
			kind = inject_ops[rnd(&w, ARRAY_SIZE(inject_ops))];
		w.injecting = op == OP_INJECT;
		w.raced = false;
		w.task_work = false;
		w.what[0] = '\0';
		r = run_op(&w, kind, max_poison);
		if (verbose && r != R_NONE)
			dprintf(STDOUT_FILENO, "gmem_cma_stress: worker %d: %s%s: %s: %s\n", w.id,
				w.injecting ? "fault-inject: " : "", ops[kind].name, w.what,
				result_name(r));
		account(&w, op, kind, r);
		w.injecting = false;
	}
	/* Close files and pins in a random order: either may go last. */
	if (rnd(&w, 2))
		for (i = 0; i < MAX_PINS; i++)
			if (w.pins[i].ring >= 0)
				unpin(&w, &w.pins[i], false);
	for (i = 0; i < MAX_FILES; i++)
		if (w.files[i].open)
			close_file(&w, &w.files[i]);
	for (i = 0; i < MAX_PINS; i++)
		if (w.pins[i].ring >= 0)
			unpin(&w, &w.pins[i], false);
	_exit(0);
}

/* Fault injection settings: written at the start, put back at the end. */
static const char * const fi_knobs[][2] = {
	{ FPA "/verbose", "0" }, { FPA "/ignore-gfp-wait", "N" },
	{ FPA "/ignore-gfp-highmem", "N" }, { FPA "/min-order", "0" },
	{ FPA "/task-filter", "Y" }, { FPA "/interval", "1" }, { FPA "/times", "-1" },
	{ FPA "/probability", "10" },
	{ FSLAB "/verbose", "0" }, { FSLAB "/ignore-gfp-wait", "N" },
	{ FSLAB "/task-filter", "Y" }, { FSLAB "/interval", "1" }, { FSLAB "/times", "-1" },
	{ FSLAB "/probability", "10" },
};

static char fi_saved[ARRAY_SIZE(fi_knobs)][32];

static int fault_injection(bool on)
{
	int i, err;

	for (i = 0; i < (int)ARRAY_SIZE(fi_knobs); i++) {
		if (on) {
			if (read_text(fi_knobs[i][0], fi_saved[i], sizeof(fi_saved[i])))
				return -1;
			fi_saved[i][strcspn(fi_saved[i], "\n")] = '\0';
		}
		err = write_str(fi_knobs[i][0], on ? fi_knobs[i][1] : fi_saved[i]);
		if (err) {
			printf("gmem_cma_stress: cannot write '%s' to %s: %s\n",
			       on ? fi_knobs[i][1] : fi_saved[i], fi_knobs[i][0], strerror(err));
			return -1;
		}
	}
	return 0;
}

static long meminfo_kb(const char *key)
{
	static char text[8192];

	if (read_text("/proc/meminfo", text, sizeof(text)))
		return -1;
	return text_field(text, key);
}

static void read_counters(struct counters *c)
{
	int nid;

	for (nid = 0; nid < nr_nodes; nid++) {
		c->nr[nid] = node_long(nid, "nr_pages");
		c->free[nid] = node_long(nid, "free_pages");
		c->resv[nid] = node_long(nid, "resv_pages");
		c->used[nid] = node_long(nid, "used_pages");
		c->saved[nid] = node_long(nid, "vmemmap_saved_pages");
		c->poisoned[nid] = pool_field(nid, "poisoned");
		c->resv_short[nid] = pool_field(nid, "resv_short");
	}
	c->g_nr = read_long(GMEM_CMA_SYSFS "/nr_pages");
	c->g_free = read_long(GMEM_CMA_SYSFS "/free_pages");
	c->g_resv = read_long(GMEM_CMA_SYSFS "/resv_pages");
	c->g_used = read_long(GMEM_CMA_SYSFS "/used_pages");
	c->mi_total = meminfo_kb("GmemCmaTotal:");
	c->mi_free = meminfo_kb("GmemCmaFree:");
	c->mi_rsvd = meminfo_kb("GmemCmaRsvd:");
	c->hw_corrupted = meminfo_kb("HardwareCorrupted:");
}

/* Wait up to SETTLE_S for no page in use or reserved beyond the baseline. */
static bool settled(const struct counters *base)
{
	struct counters now;
	int i, nid;
	bool same = false;

	for (i = 0; i < SETTLE_S * 10 && !same; i++) {
		if (i)
			usleep(100000);
		read_counters(&now);
		same = true;
		for (nid = 0; nid < nr_nodes; nid++)
			same &= now.used[nid] == base->used[nid] &&
				now.resv[nid] == base->resv[nid];
	}
	return same;
}

/* Put every pool back at its size; a shrink may need the last unpins. */
static bool restore_pools(const struct counters *base)
{
	char path[96], v[24];
	int i, nid, err = 0;
	bool done = false;

	for (i = 0; i < SETTLE_S && !done; i++) {
		if (i)
			sleep(1);
		done = true;
		for (nid = 0; nid < nr_nodes; nid++) {
			if (!has_area[nid] || node_long(nid, "nr_pages") == base->nr[nid])
				continue;
			snprintf(path, sizeof(path), GMEM_CMA_SYSFS "/node%d/nr_pages", nid);
			snprintf(v, sizeof(v), "%ld", base->nr[nid]);
			err = write_str(path, v);
			done &= !err;
			if (err && err != EBUSY && err != ENOMEM)
				i = SETTLE_S;	/* no point in retrying */
		}
	}
	if (!done)
		fail(NULL, "end: cannot put the pools back to their sizes: %s", strerror(err));
	return done;
}

#define CHECK(cond, ...) do { if (!(cond)) fail(NULL, "end: " __VA_ARGS__); } while (0)

static char prezero_was[8];	/* "on\n" or "off\n" before the run */

/*
 * Put pre-zeroing back as it was, with no folio held, and wait up to
 * SETTLE_S for the zeroer to be done: every free page cleared if it is on,
 * none counted if it is off.
 */
static void zeroer_settle(void)
{
	bool on = !strcmp(prezero_was, "on\n");
	long zeroed = 0, free = 0;
	int i, nid;

	CHECK(!write_str(HOLD, "0"), "cannot write 0 to %s", HOLD);
	CHECK(!write_str(PREZERO, on ? "on" : "off"), "cannot put %s back", PREZERO);
	for (i = 0; i < SETTLE_S * 10; i++) {
		if (i)
			usleep(100000);
		for (zeroed = free = 0, nid = 0; nid < nr_nodes; nid++) {
			zeroed += node_long(nid, "zeroed_pages");
			free += node_long(nid, "free_pages");
		}
		if (zeroed == (on ? free : 0))
			break;
	}
	CHECK(zeroed == (on ? free : 0),
	      "pre-zeroing %s: %ld pages cleared ahead of %ld free %d s after the end",
	      on ? "on" : "off", zeroed, free, SETTLE_S);
	CHECK(read_long(GMEM_CMA_SYSFS "/zeroed_pages") == zeroed,
	      "zeroed_pages %ld, the nodes add up to %ld",
	      read_long(GMEM_CMA_SYSFS "/zeroed_pages"), zeroed);
}

/* Every counter at its baseline, poisoned pages accounted. */
static void final_checks(const struct counters *base)
{
	long want_poisoned[MAX_NODES] = { 0 }, nr = 0, fr = 0, rs = 0, us = 0;
	char text[16384], *line;
	unsigned long folios[MAX_POISON];
	struct counters now;
	int i, j, nid, nfolios = 0;

	for (i = 0; i < sh->nr_poisoned; i++) {
		unsigned long folio = sh->poisoned[i].pfn & ~(PAGES_PER_GB - 1);

		for (j = 0; j < nfolios && folios[j] != folio; j++)
			;
		if (j == nfolios) {
			folios[nfolios++] = folio;
			want_poisoned[sh->poisoned[i].nid]++;
		}
	}
	read_counters(&now);
	for (nid = 0; nid < nr_nodes; nid++) {
		CHECK(now.nr[nid] == base->nr[nid] && now.free[nid] == base->free[nid] &&
		      now.resv[nid] == base->resv[nid] && now.used[nid] == base->used[nid],
		      "node %d: nr_pages %ld free %ld resv %ld used %ld, baseline %ld %ld %ld %ld",
		      nid, now.nr[nid], now.free[nid], now.resv[nid], now.used[nid],
		      base->nr[nid], base->free[nid], base->resv[nid], base->used[nid]);
		CHECK(now.poisoned[nid] - base->poisoned[nid] == want_poisoned[nid],
		      "node %d: %ld folios poisoned, %ld accepted memory failures hit",
		      nid, now.poisoned[nid] - base->poisoned[nid], want_poisoned[nid]);
		CHECK(now.resv_short[nid] == base->resv_short[nid],
		      "node %d: resv_short %ld, baseline %ld", nid, now.resv_short[nid],
		      base->resv_short[nid]);
		CHECK(nfolios || now.saved[nid] == base->saved[nid],
		      "node %d: vmemmap_saved_pages %ld, baseline %ld", nid,
		      now.saved[nid], base->saved[nid]);
		nr += now.nr[nid];
		fr += now.free[nid];
		rs += now.resv[nid];
		us += now.used[nid];
	}
	CHECK(now.g_nr == nr && now.g_free == fr && now.g_resv == rs && now.g_used == us,
	      "totals nr_pages %ld free %ld resv %ld used %ld, the nodes add up to %ld %ld %ld %ld",
	      now.g_nr, now.g_free, now.g_resv, now.g_used, nr, fr, rs, us);
	CHECK(now.mi_total == base->mi_total && now.mi_free == base->mi_free &&
	      now.mi_rsvd == base->mi_rsvd,
	      "GmemCmaTotal/Free/Rsvd %ld/%ld/%ld kB, baseline %ld/%ld/%ld kB",
	      now.mi_total, now.mi_free, now.mi_rsvd, base->mi_total, base->mi_free,
	      base->mi_rsvd);
	CHECK(now.hw_corrupted - base->hw_corrupted == 4L * sh->nr_poisoned,
	      "HardwareCorrupted grew by %ld kB for %d poisoned pages",
	      now.hw_corrupted - base->hw_corrupted, sh->nr_poisoned);
	if (read_text(FILES, text, sizeof(text))) {
		fail(NULL, "end: cannot read %s", FILES);
		return;
	}
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		CHECK(line[0] == '#' || !strstr(line, " gmem_cma_stress "),
		      "a file is still listed in %s: %s", FILES, line);
}

/* The setup the stress needs; a missing piece is a failure, not a skip. */
static const char *check_setup(void)
{
	static const char * const paths[] = {
		"/dev/kvm", GMEM_CMA_SYSFS "/nr_pages", POOLS, FILES, CORRUPT, GUP_TEST,
		FPA "/probability", FSLAB "/probability", "/proc/self/make-it-fail",
		PREZERO, HOLD,
	};
	static char why[160];
	int i, kvm, vm, n = 0;

	for (i = 0; i < (int)ARRAY_SIZE(paths); i++) {
		if (access(paths[i], F_OK)) {
			snprintf(why, sizeof(why), "setup: no %s", paths[i]);
			return why;
		}
	}
	for (nr_nodes = 0; nr_nodes < MAX_NODES; nr_nodes++) {
		long cap = node_long(nr_nodes, "capacity_pages");

		if (cap < 0)
			break;
		has_area[nr_nodes] = cap > 0;
		n += cap > 0;
	}
	if (!n)
		return "setup: no node has a gmem_cma area (gmem_cma=)";
	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0)
		return "setup: cannot open /dev/kvm";
	if (!(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS) &
	      GUEST_MEMFD_FLAG_HUGE_PAGES))
		return "setup: no GUEST_MEMFD_FLAG_HUGE_PAGES";
	if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_PRE_FAULT_MEMORY) <= 0)
		return "setup: no KVM_CAP_PRE_FAULT_MEMORY";
	if (!(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_VM_TYPES) & (1 << KVM_X86_SW_PROTECTED_VM)))
		return "setup: no KVM_X86_SW_PROTECTED_VM";
	/* "Y" or "N"; absent (an error) on a kernel without the parameter. */
	inplace = !read_text(INPLACE, why, sizeof(why)) && why[0] == 'Y';
	vm = ioctl(kvm, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (vm < 0)
		return "setup: cannot create a KVM_X86_SW_PROTECTED_VM";
	if (inplace && ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES) <= 0)
		return "setup: in-place conversion on, no KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES";
	if (!inplace && !(ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_MEMORY_ATTRIBUTES) &
			  KVM_MEMORY_ATTRIBUTE_PRIVATE))
		return "setup: no KVM_MEMORY_ATTRIBUTE_PRIVATE";
	close(vm);
	cpuid = calloc(1, sizeof(*cpuid) + 256 * sizeof(cpuid->entries[0]));
	if (!cpuid)
		return "setup: out of memory";
	cpuid->nent = 256;
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid))
		return "setup: KVM_GET_SUPPORTED_CPUID failed";
	close(kvm);
	return NULL;
}

static void print_counts(void)
{
	long total = 0;
	int op, r;

	for (op = 0; op < NR_OPS; op++) {
		char line[512];
		long n = 0;
		int len;

		for (r = 0; r < NR_RESULTS; r++)
			n += sh->count[op][r];
		total += n;
		len = snprintf(line, sizeof(line), "gmem_cma_stress: %-17s %6ld:", ops[op].name, n);
		for (r = 0; r < NR_RESULTS && len < (int)sizeof(line); r++)
			if (sh->count[op][r])
				len += snprintf(line + len, sizeof(line) - len, " %s %ld",
						result_name(r), sh->count[op][r]);
		printf("%s\n", line);
	}
	printf("gmem_cma_stress: %ld operations, %d memory failures (%d taken), %ld failures\n",
	       total, sh->poison_tries, sh->nr_poisoned, sh->failures);
}

static void print_usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-s seconds] [-S seed] [-j workers] [-P poisons] [-v]\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	long secs = 600, jobs = 4, max_poison = 2, i;
	pid_t pids[MAX_WORKERS];
	struct counters base;
	struct timespec now;
	const char *why;
	bool seeded = false;
	int opt, status, left, k;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "s:S:j:P:vh")) != -1) {
		switch (opt) {
		case 's':
			secs = strtol(optarg, NULL, 0);
			break;
		case 'S':
			seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 'j':
			jobs = strtol(optarg, NULL, 0);
			break;
		case 'v':
			verbose = true;
			break;
		case 'P':
			max_poison = strtol(optarg, NULL, 0);
			break;
		default:
			print_usage(argv[0]);
		}
	}
	if (secs <= 0 || jobs <= 0 || jobs > MAX_WORKERS || max_poison < 0 ||
	    max_poison > MAX_POISON || optind != argc)
		print_usage(argv[0]);
	clock_gettime(CLOCK_REALTIME, &now);
	if (!seeded)
		seed = splitmix(&(uint64_t){ now.tv_sec * 1000000000ULL + now.tv_nsec + getpid() });
	printf("gmem_cma_stress: seed %#llx (replay: -S %#llx -s %ld -j %ld -P %ld)\n",
	       (unsigned long long)seed, (unsigned long long)seed, secs, jobs, max_poison);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		printf("gmem_cma_stress: FAIL: setup: mmap: %s (seed %#llx)\n", strerror(errno),
		       (unsigned long long)seed);
		return 1;
	}
	why = check_setup();
	if (why) {
		printf("gmem_cma_stress: FAIL: %s (seed %#llx)\n", why, (unsigned long long)seed);
		return 1;
	}
	printf("gmem_cma_stress: in-place conversion %s\n",
	       inplace ? "on: private files are converted in ranges" : "off: nothing to convert");
	read_counters(&base);
	for (i = 0; i < nr_nodes; i++) {
		if (base.nr[i] < 0 || base.poisoned[i] < 0) {
			printf("gmem_cma_stress: FAIL: setup: node %ld: no %s (seed %#llx)\n",
			       i, POOLS, (unsigned long long)seed);
			return 1;
		}
	}
	if (read_text(PREZERO, prezero_was, sizeof(prezero_was))) {
		printf("gmem_cma_stress: FAIL: setup: cannot read %s (seed %#llx)\n", PREZERO,
		       (unsigned long long)seed);
		return 1;
	}
	if (fault_injection(true)) {
		printf("gmem_cma_stress: FAIL: setup: fault injection (seed %#llx)\n",
		       (unsigned long long)seed);
		return 1;
	}

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += secs;
	run_secs = secs;
	for (i = 0; i < jobs; i++) {
		pids[i] = fork();
		if (!pids[i])
			worker_main(i, max_poison);
		if (pids[i] < 0)
			fail(NULL, "fork: %s", strerror(errno));
	}
	/* Give the operations in flight at the deadline some time to end. */
	for (left = jobs, i = 0; left && i < (secs + SETTLE_S + 300) * 10; i++) {
		for (k = 0; k < jobs; k++) {
			if (pids[k] <= 0 || !waitpid(pids[k], &status, WNOHANG))
				continue;
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				fail(NULL, "worker %d ended with status %#x", k, status);
			pids[k] = 0;
			left--;
		}
		if (left)
			usleep(100000);
	}
	for (k = 0; k < jobs; k++) {
		if (pids[k] <= 0)
			continue;
		fail(NULL, "worker %d still running %d s after the deadline: killed", k,
		     SETTLE_S + 300);
		kill(pids[k], SIGKILL);
		waitpid(pids[k], &status, 0);
	}
	if (fault_injection(false))
		fail(NULL, "end: cannot put the fault injection settings back");
	if (!settled(&base))
		fail(NULL, "end: pages still reserved or in use %d s after the end", SETTLE_S);
	if (restore_pools(&base))
		final_checks(&base);
	zeroer_settle();

	print_counts();
	for (i = 0; i < sh->failures && i < MAX_MSGS; i++)
		printf("gmem_cma_stress: failure: %s\n", sh->msgs[i]);
	if (sh->failures) {
		printf("gmem_cma_stress: FAIL: %ld failures, the first: %s (seed %#llx)\n",
		       sh->failures, sh->msgs[0], (unsigned long long)seed);
		return 1;
	}
	printf("gmem_cma_stress: PASS (seed %#llx)\n", (unsigned long long)seed);
	return 0;
}
