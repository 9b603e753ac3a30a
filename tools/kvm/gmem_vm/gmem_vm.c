// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_vm: a tiny VMM that runs a guest in guest_memfd memory made of
 * 1 GiB gmem_cma pages, and shows where the pages come from.
 *
 * usage: gmem_vm [-n NODE] [-g GIB] [--vcpus N] [--poison[=GPA]]
 *
 *   -n NODE  create the guest_memfd under MPOL_BIND to NODE, so that its
 *            pages are reserved from that node's pool (default: the
 *            task's default policy)
 *   -g GIB   guest memory size in GiB, 1 to 3 (default 1); the guest
 *            runs in 32-bit mode, so its memory must end below 4 GiB
 *   --vcpus N
 *            run the guest on N vCPUs, 1 to 64 (default 1): see below
 *   --poison[=GPA]
 *            a memory failure in the running guest's memory: see below
 *            (GPA: a 4 KiB aligned page of the test area, default
 *            0x20005000)
 *
 * It prints the gmem_cma pools, creates a VM and a guest_memfd with
 * GUEST_MEMFD_FLAG_HUGE_PAGES (huge_page_size_log2 = 30), maps it at a
 * 1 GiB aligned host address and makes it the VM's memory at GPA 0.  The
 * host writes markers into guest memory; a hand-assembled 32-bit guest
 * checks them, writes every 32-bit word from 2 MiB to the end of its
 * memory with (address ^ 0x5a5a5a5a), reads everything back and reports
 * through I/O ports.  While the VM exists, the host checks a sample of
 * the guest's words through its mapping, prints the pools, the debugfs
 * line of the file and the nodes of the pages (move_pages()), and
 * requires the VM stat pages_1g to equal GIB.  After teardown the pools
 * must be back to where they were.
 *
 * Each vCPU is a thread of its own and runs next to its memory.  With
 * --vcpus N the test area is split by address into N shares, 2 MiB
 * aligned; each vCPU checks the markers in its share (and the one below the
 * area), writes and reads back its share only.  The vCPUs wait for each
 * other after the markers and after the write.  The node of a share is
 * found with move_pages() on the host-written marker in the middle of each
 * GiB (a 1 GiB page is on one node; a share across GiBs of two nodes goes
 * with the node of most of it); with -n it must be NODE.  The CPUs of that
 * node come from hwloc (hwloc_get_numanode_obj_by_os_index(), its cpuset);
 * the vCPU's thread binds itself to them (hwloc_set_cpubind(), THREAD),
 * and before and after the guest runs, getcpu() must put it on one of them
 * and on that node, or the program fails.  It prints one line per vCPU,
 * here in two:
 *
 *   gmem_vm: vcpu I: memory node N, cpus LIST (hwloc), running on cpu C;
 *     GPA [START, END), node from move_pages()[, X of its Y MiB there]
 *
 * (the last part if not all of the share is on node N).  With --poison,
 * every vCPU waits after its write until the page is poisoned.
 *
 * With --poison, the VMM stops the guest after it wrote its memory, reads
 * the word at GPA through its mapping (the host pfn from /proc/self/pagemap)
 * and poisons the page with madvise(MADV_HWPOISON) (CAP_SYS_ADMIN).  The
 * guest's read-back of that page makes KVM_RUN fail with EHWPOISON and a
 * KVM_EXIT_MEMORY_FAULT: the VMM reports "guest memory error at GPA ...:
 * page lost", requires it to be exactly once and exactly that page, and
 * resumes the guest after the page, which verifies every other word.  The
 * host's sample skips the page; reading it raises SIGBUS BUS_MCEERR_AR.
 * The stats must show the GiB remapped around the page (2 MiB pieces, 4 KiB
 * in the page's 2 MiB), and after teardown the pools must be back where
 * they were but for that 1 GiB page, retired ("poisoned" one higher).
 *
 * Every step prints what it did; the last line is "gmem_vm: PASS" (exit
 * status 0), or "gmem_vm: FAIL: <step>: <reason>" on stderr with exit
 * status 1 (2 for a usage error).  Needs root, /dev/kvm and a kernel with
 * gmem_cma pools (and CONFIG_MEMORY_FAILURE for --poison).
 *
 * Build: make (after "make headers" in the kernel tree); needs libhwloc-dev.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <hwloc.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/kvm.h>
#include <linux/mempolicy.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define GIB		0x40000000ULL
#define MIB		0x100000ULL
#define MAX_GIB		3
#define MAX_NODES	64
#define MAX_VCPUS	64
#define POOLS_DIR	"/sys/kernel/mm/gmem_cma"
#define FILES_PATH	"/sys/kernel/debug/gmem_cma/files"
#define DEBUG_POOLS	"/sys/kernel/debug/gmem_cma/pools"
#define PAGE_4K		0x1000ULL
#define CHUNK_PAGES	512		/* 4 KiB pages in 2 MiB */
#define GIB_CHUNKS	512		/* 2 MiB pieces in 1 GiB */
#define PM_PFN		0x007fffffffffffffULL	/* /proc/self/pagemap */
#define PM_PRESENT	0x8000000000000000ULL
#define KPF_HWPOISON	19		/* /proc/kpageflags */
#ifndef MADV_HWPOISON
#define MADV_HWPOISON	100
#endif

/* Guest physical layout and the guest's I/O ports. */
#define CODE_GPA	0x1000ULL	/* guest code, also the top of its stack */
#define TABLE_GPA	0x2000ULL	/* per vCPU a 0-terminated u32 list of marker GPAs */
#define MARK0_GPA	0x3000ULL	/* a marker below the test area */
#define TEST_START	0x200000ULL	/* test area [TEST_START, size) */
#define PORT_RESULT	0x3f0		/* 0: pass, 1: bad marker, 2: bad word */
#define PORT_ADDR	0x3f1		/* the failing address, before a failure */
#define PORT_VALUE	0x3f2		/* the word found there (low 32 bits) */
#define PORT_PROGRESS	0x3f3		/* 1: markers checked, 2: area written */
#define MARKER_HI	0x676d656dU	/* high half of a marker: "gmem" */
#define MARKER_XOR	0x1badb002U	/* low half of a marker: gpa ^ this */
#define PATTERN		0x5a5a5a5aU	/* word at address a: a ^ PATTERN */
#define POISON_GPA	0x20005000ULL	/* --poison without a GPA */
#define READ_CMP	0x49		/* guest code: the read-back's load */
#define READ_NEXT	0x50		/* guest code: the read-back's bound check */

/*
 * The guest, at CODE_GPA, in 32-bit protected mode without paging.
 * In: [ebx, ecx) = the vCPU's share of the test area (one vCPU: TEST_START
 * to the end of memory), esi = its marker list in the table, DF = 0.
 * Offsets are from CODE_GPA; edi holds the address being checked.
 * The immediates are MARKER_XOR, MARKER_HI, PATTERN and the ports.
 * After the read-back's load (READ_CMP) faults on a lost page, the VMM
 * sets edi past the page and resumes at the bound check (READ_NEXT).
 */
static const unsigned char guest_code[] = {
	0xad,				/* 00 mark:  lodsd  (eax = next GPA) */
	0x85, 0xc0,			/* 01 test eax, eax */
	0x74, 0x19,			/* 03 jz 1e  (end of the table) */
	0x89, 0xc7,			/* 05 mov edi, eax */
	0x8b, 0x17,			/* 07 mov edx, [edi] */
	0x81, 0xf2, 0x02, 0xb0, 0xad, 0x1b, /* 09 xor edx, MARKER_XOR */
	0x39, 0xc2,			/* 0f cmp edx, eax  (gives the GPA?) */
	0x75, 0x4b,			/* 11 jne 5e (bad marker) */
	0x81, 0x7f, 0x04,		/* 13 cmp dword [edi + 4], MARKER_HI */
	0x6d, 0x65, 0x6d, 0x67,
	0x75, 0x42,			/* 1a jne 5e (bad marker) */
	0xeb, 0xe2,			/* 1c jmp 00 */
	0x66, 0xba, 0xf3, 0x03,		/* 1e mov dx, PORT_PROGRESS */
	0xb8, 0x01, 0x00, 0x00, 0x00,	/* 22 mov eax, 1 */
	0xef,				/* 27 out dx, eax */
	0x89, 0xdf,			/* 28 mov edi, ebx */
	0x89, 0xf8,			/* 2a write: mov eax, edi */
	0x35, 0x5a, 0x5a, 0x5a, 0x5a,	/* 2c xor eax, PATTERN */
	0xab,				/* 31 stosd  ([edi] = eax, edi += 4) */
	0x39, 0xcf,			/* 32 cmp edi, ecx */
	0x72, 0xf4,			/* 34 jb 2a */
	0x66, 0xba, 0xf3, 0x03,		/* 36 mov dx, PORT_PROGRESS */
	0xb8, 0x02, 0x00, 0x00, 0x00,	/* 3a mov eax, 2 */
	0xef,				/* 3f out dx, eax */
	0x89, 0xdf,			/* 40 mov edi, ebx */
	0x89, 0xf8,			/* 42 read: mov eax, edi */
	0x35, 0x5a, 0x5a, 0x5a, 0x5a,	/* 44 xor eax, PATTERN */
	0x3b, 0x07,			/* 49 cmp eax, [edi] */
	0x75, 0x18,			/* 4b jne 65 (bad word) */
	0x83, 0xc7, 0x04,		/* 4d add edi, 4 */
	0x39, 0xcf,			/* 50 cmp edi, ecx */
	0x72, 0xee,			/* 52 jb 42 */
	0x31, 0xc0,			/* 54 xor eax, eax  (result 0: pass) */
	0x66, 0xba, 0xf0, 0x03,		/* 56 mov dx, PORT_RESULT */
	0xef,				/* 5a out dx, eax */
	0xf4,				/* 5b halt: hlt */
	0xeb, 0xfd,			/* 5c jmp 5b */
	0xb8, 0x01, 0x00, 0x00, 0x00,	/* 5e mov eax, 1  (bad marker) */
	0xeb, 0x05,			/* 63 jmp 6a */
	0xb8, 0x02, 0x00, 0x00, 0x00,	/* 65 mov eax, 2  (bad word) */
	0x89, 0xc5,			/* 6a fail: mov ebp, eax */
	0x66, 0xba, 0xf1, 0x03,		/* 6c mov dx, PORT_ADDR */
	0x89, 0xf8,			/* 70 mov eax, edi */
	0xef,				/* 72 out dx, eax */
	0x66, 0xba, 0xf2, 0x03,		/* 73 mov dx, PORT_VALUE */
	0x8b, 0x07,			/* 77 mov eax, [edi] */
	0xef,				/* 79 out dx, eax */
	0x66, 0xba, 0xf0, 0x03,		/* 7a mov dx, PORT_RESULT */
	0x89, 0xe8,			/* 7e mov eax, ebp */
	0xef,				/* 80 out dx, eax */
	0xeb, 0xd8,			/* 81 jmp 5b */
};

static const char *const pool_fields[] = {
	"nr_pages", "free_pages", "resv_pages", "used_pages",
};

#define NR_POOL_FIELDS	ARRAY_SIZE(pool_fields)

struct pools {
	int nr;
	int node[MAX_NODES];
	long val[MAX_NODES][NR_POOL_FIELDS];
};

/* --poison: the page, and what injecting into it found. */
struct poison {
	unsigned long long gpa;	/* the 4 KiB page to poison; 0: no --poison */
	unsigned long pfn;	/* its host pfn */
	int node;		/* its node */
	long poisoned;		/* debugfs "poisoned" of the node before */
	int injected;		/* MADV_HWPOISON succeeded */
	int faults;		/* KVM_EXIT_MEMORY_FAULT exits for it */
};

/* The guest's run, shared by its vCPU threads. */
struct guest {
	char *mem;
	unsigned long long size;
	struct poison *poison;
	hwloc_topology_t topo;
	pthread_barrier_t all;		/* the vCPU threads and main */
	pthread_barrier_t vcpus;	/* the vCPU threads, at the guest's steps */
	double t1, t2;			/* markers checked, memory written */
};

/* A vCPU: its thread, its share of the test area and where it runs. */
struct vcpu {
	struct guest *g;
	int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	unsigned long long start, end;	/* its share [start, end) */
	unsigned long long table;	/* GPA of its marker list */
	int node;			/* the node of (most of) its share */
	unsigned long long on_node;	/* bytes of its share there */
	hwloc_const_cpuset_t cpuset;	/* the CPUs of that node */
	char cpus[128];			/* ... as a list */
	int cpu;			/* the CPU it found itself on */
};

/* The marker lists must fit between TABLE_GPA and the marker at MARK0_GPA. */
static_assert((MAX_VCPUS * 2 + MAX_GIB * 2) * 4 <= MARK0_GPA - TABLE_GPA,
	      "marker lists overflow the table");

static pthread_mutex_t die_lock = PTHREAD_MUTEX_INITIALIZER;

static noreturn void die(int err, const char *fmt, ...)
{
	va_list ap;

	/* The first thread to fail reports and exits; others wait for that. */
	pthread_mutex_lock(&die_lock);
	fflush(stdout);
	fputs("gmem_vm: FAIL: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long read_long(const char *path)
{
	char buf[32], *end;
	ssize_t n;
	long v;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		die(errno, "pools: open %s", path);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		die(errno, "pools: read %s", path);
	close(fd);
	buf[n] = '\0';
	v = strtol(buf, &end, 10);
	if (end == buf || v < 0)
		die(0, "pools: %s: bad value \"%s\"", path, buf);
	return v;
}

static void read_pools(struct pools *p)
{
	char path[128];
	size_t i;
	int nid;

	p->nr = 0;
	for (nid = 0; nid < MAX_NODES; nid++) {
		snprintf(path, sizeof(path), POOLS_DIR "/node%d", nid);
		if (access(path, F_OK))
			continue;
		for (i = 0; i < NR_POOL_FIELDS; i++) {
			snprintf(path, sizeof(path), POOLS_DIR "/node%d/%s",
				 nid, pool_fields[i]);
			p->val[p->nr][i] = read_long(path);
		}
		p->node[p->nr++] = nid;
	}
	if (!p->nr)
		die(0, "pools: no node<N> in " POOLS_DIR " (no gmem_cma?)");
}

static void print_pools(const char *when, const struct pools *p)
{
	int i;

	printf("gmem_vm: pools %s (1 GiB pages):\n", when);
	printf("    node  nr_pages  free  resv  used\n");
	for (i = 0; i < p->nr; i++)
		printf("    %4d  %8ld  %4ld  %4ld  %4ld\n", p->node[i],
		       p->val[i][0], p->val[i][1], p->val[i][2], p->val[i][3]);
}

/* Do free, resv and used of @a and @b agree on every node? */
static int pools_equal(const struct pools *a, const struct pools *b)
{
	int i;

	if (a->nr != b->nr)
		return 0;
	for (i = 0; i < a->nr; i++)
		if (a->node[i] != b->node[i] ||
		    memcmp(&a->val[i][1], &b->val[i][1], 3 * sizeof(long)))
			return 0;
	return 1;
}

/*
 * Is @b @a but for a 1 GiB page of @node retired (taken from the free pages
 * by a file, poisoned, gone at its last put): nr_pages and free one lower?
 */
static int pools_retired(const struct pools *a, const struct pools *b, int node)
{
	size_t f;
	int i;

	if (a->nr != b->nr)
		return 0;
	for (i = 0; i < a->nr; i++) {
		if (a->node[i] != b->node[i])
			return 0;
		for (f = 0; f < NR_POOL_FIELDS; f++)
			if (b->val[i][f] != a->val[i][f] -
			    (a->node[i] == node && f < 2))
				return 0;
	}
	return 1;
}

static void set_policy(int mode, int node)
{
	unsigned long mask[2] = { 0 };

	if (mode == MPOL_BIND)
		mask[node / 64] = 1UL << (node % 64);
	if (syscall(SYS_set_mempolicy, mode, mode == MPOL_BIND ? mask : NULL,
		    mode == MPOL_BIND ? sizeof(mask) * 8 : 0))
		die(errno, "set_mempolicy(%s)",
		    mode == MPOL_BIND ? "MPOL_BIND" : "MPOL_DEFAULT");
}

/* Map @fd at a 1 GiB aligned address: KVM maps 1 GiB only if congruent. */
static void *map_aligned(int fd, size_t size)
{
	char *resv, *addr;
	size_t head;

	resv = mmap(NULL, size + GIB, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (resv == MAP_FAILED)
		die(errno, "mmap: reserve %llu bytes", size + GIB);
	head = -(unsigned long)resv & (GIB - 1);
	addr = mmap(resv + head, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED, fd, 0);
	if (addr == MAP_FAILED)
		die(errno, "mmap: guest_memfd at %p", resv + head);
	if (head && munmap(resv, head))
		die(errno, "munmap: head of the reservation");
	if (munmap(addr + size, GIB - head))
		die(errno, "munmap: tail of the reservation");
	return addr;
}

static const char *const exit_names[] = {
	[KVM_EXIT_IO] = "KVM_EXIT_IO",
	[KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
	[KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN (triple fault)",
	[KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
	[KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
	[KVM_EXIT_MEMORY_FAULT] = "KVM_EXIT_MEMORY_FAULT",
};

static void dump_vcpu(int vcpu_fd, struct kvm_run *run)
{
	struct kvm_regs r;

	if (run->exit_reason == KVM_EXIT_MEMORY_FAULT)
		fprintf(stderr, "gmem_vm: memory fault: gpa %#llx size %#llx flags %#llx\n",
			run->memory_fault.gpa, run->memory_fault.size,
			run->memory_fault.flags);
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		fprintf(stderr, "gmem_vm: internal error: suberror %u\n",
			run->internal.suberror);
	if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
		fprintf(stderr, "gmem_vm: entry failure reason %#llx\n",
			run->fail_entry.hardware_entry_failure_reason);
	if (ioctl(vcpu_fd, KVM_GET_REGS, &r))
		return;
	fprintf(stderr, "gmem_vm: rip %#llx eax %#llx ebx %#llx ecx %#llx esi %#llx edi %#llx\n",
		r.rip, r.rax, r.rbx, r.rcx, r.rsi, r.rdi);
}

/* Protected mode, at the guest code, for the share and markers of @v. */
static void setup_vcpu(struct vcpu *v)
{
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 8, .type = 11,
		.present = 1, .db = 1, .s = 1, .g = 1,
	};
	struct kvm_segment data = code;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs))
		die(errno, "KVM_GET_SREGS");
	data.selector = 16;
	data.type = 3;
	sregs.cs = code;
	sregs.ds = data;
	sregs.es = data;
	sregs.ss = data;
	sregs.fs = data;
	sregs.gs = data;
	sregs.cr0 = 0x11;		/* PE | ET: protected mode, caches on */
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs))
		die(errno, "KVM_SET_SREGS");

	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rflags = 2;
	regs.rsp = CODE_GPA;
	regs.rbx = v->start;
	regs.rcx = v->end;
	regs.rsi = v->table;
	if (ioctl(v->fd, KVM_SET_REGS, &regs))
		die(errno, "KVM_SET_REGS");
}

static void check_word(char *mem, unsigned long long gpa)
{
	unsigned int w = *(unsigned int *)(mem + gpa);

	if (w != (gpa ^ PATTERN))
		die(0, "host check: word at GPA %#llx is %#x, expected %#llx",
		    gpa, w, gpa ^ PATTERN);
}

/* Open a debugfs file, mounting debugfs if it is not. */
static FILE *open_debugfs(const char *path)
{
	FILE *f = fopen(path, "r");

	if (!f && errno == ENOENT &&
	    !mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL))
		f = fopen(path, "r");
	if (!f)
		die(errno, "debugfs: open %s", path);
	return f;
}

/*
 * The "poisoned" count of @node in debugfs gmem_cma/pools; its line goes to
 * @line (if not NULL, @size bytes).
 */
static long pool_poisoned(int node, char *line, size_t size)
{
	char buf[512], head[32], *p;
	FILE *f = open_debugfs(DEBUG_POOLS);
	long v = -1;

	snprintf(head, sizeof(head), "node %d: capacity ", node);
	while (fgets(buf, sizeof(buf), f)) {
		if (strncmp(buf, head, strlen(head)))
			continue;
		p = strstr(buf, " poisoned ");
		if (p)
			v = strtol(p + strlen(" poisoned "), NULL, 10);
		if (line)
			snprintf(line, size, "%s", buf);
		break;
	}
	fclose(f);
	if (v < 0)
		die(0, "debugfs: no \"poisoned\" for node %d in " DEBUG_POOLS, node);
	return v;
}

/* The host pfn mapped at @addr, from /proc/self/pagemap (CAP_SYS_ADMIN). */
static unsigned long host_pfn(void *addr)
{
	unsigned long long e = 0;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		die(errno, "poison: open /proc/self/pagemap");
	if (pread(fd, &e, sizeof(e), (unsigned long)addr / PAGE_4K * sizeof(e)) !=
	    sizeof(e))
		die(errno, "poison: read /proc/self/pagemap");
	close(fd);
	if (!(e & PM_PRESENT) || !(e & PM_PFN))
		die(0, "poison: pagemap entry of %p is %#llx: not present, or no pfn",
		    addr, e);
	return e & PM_PFN;
}

/* Does /proc/kpageflags give @pfn KPF_HWPOISON? */
static int pfn_hwpoison(unsigned long pfn)
{
	unsigned long long flags = 0;
	int fd;

	fd = open("/proc/kpageflags", O_RDONLY);
	if (fd < 0)
		die(errno, "poison: open /proc/kpageflags");
	if (pread(fd, &flags, sizeof(flags), pfn * sizeof(flags)) != sizeof(flags))
		die(errno, "poison: read /proc/kpageflags of pfn %#lx", pfn);
	close(fd);
	return !!(flags & 1ULL << KPF_HWPOISON);
}

/* The node of the page mapped at @addr (move_pages() without moving). */
static int page_node(void *addr)
{
	int status = -1;

	if (syscall(SYS_move_pages, 0, 1UL, &addr, NULL, &status, 0))
		die(errno, "move_pages");
	if (status < 0 || status >= MAX_NODES)
		die(status < 0 ? -status : 0, "move_pages: status %d for %p",
		    status, addr);
	return status;
}

/*
 * The guest has written its memory and waits at its PORT_PROGRESS 2 exit:
 * poison the page at p->gpa, from the host, before the read-back.
 */
static void inject_poison(char *mem, struct poison *p)
{
	char *page = mem + p->gpa;
	unsigned long idx;

	/* Reading the guest's word also makes the host map the page. */
	check_word(mem, p->gpa);
	p->pfn = host_pfn(page);
	p->node = page_node(page);
	p->poisoned = pool_poisoned(p->node, NULL, 0);
	idx = p->pfn % (GIB / PAGE_4K);
	printf("gmem_vm: poison: GPA %#llx is pfn %#lx, page %lu of its 1 GiB page, node %d\n",
	       p->gpa, p->pfn, idx, p->node);
	if (idx != p->gpa % GIB / PAGE_4K)
		die(0, "poison: pfn %#lx is not at the offset of GPA %#llx in its 1 GiB page",
		    p->pfn, p->gpa);
	if (pfn_hwpoison(p->pfn))
		die(0, "poison: pfn %#lx is poisoned already", p->pfn);
	if (madvise(page, PAGE_4K, MADV_HWPOISON))
		die(errno, "poison: madvise(%p, 4 KiB, MADV_HWPOISON)", page);
	p->injected = 1;
	/* pfn ^ 1: the other page of an aligned pair, in the same 1 GiB */
	if (!pfn_hwpoison(p->pfn) || pfn_hwpoison(p->pfn ^ 1))
		die(0, "poison: kpageflags: HWPOISON of pfn %#lx %d, of pfn %#lx %d (want 1, 0)",
		    p->pfn, pfn_hwpoison(p->pfn), p->pfn ^ 1, pfn_hwpoison(p->pfn ^ 1));
	printf("gmem_vm: poison: MADV_HWPOISON done: pfn %#lx has KPF_HWPOISON, pfn %#lx not\n",
	       p->pfn, p->pfn ^ 1);
}

/*
 * KVM_RUN failed with EHWPOISON and a KVM_EXIT_MEMORY_FAULT: the guest's
 * read-back loaded the first word of the lost page.  It must be the
 * injected page, once; the guest skips the page and reads on.
 */
static void skip_lost_page(int vcpu_fd, int vcpu_id, struct kvm_run *run,
			   struct poison *p)
{
	unsigned long long gpa = run->memory_fault.gpa;
	struct kvm_regs r;

	printf("gmem_vm: vcpu %d: guest memory error at GPA %#llx: page lost (EHWPOISON, %#llx)\n",
	       vcpu_id, gpa, run->memory_fault.size);
	if (gpa != p->gpa || run->memory_fault.size != PAGE_4K) {
		dump_vcpu(vcpu_fd, run);
		die(0, "poison: fault at GPA %#llx size %#llx, expected GPA %#llx size 0x1000",
		    gpa, run->memory_fault.size, p->gpa);
	}
	if (++p->faults > 1) {
		dump_vcpu(vcpu_fd, run);
		die(0, "poison: GPA %#llx faulted again after the guest skipped it", gpa);
	}
	if (ioctl(vcpu_fd, KVM_GET_REGS, &r))
		die(errno, "KVM_GET_REGS");
	if (r.rip != CODE_GPA + READ_CMP || r.rdi != gpa) {
		dump_vcpu(vcpu_fd, run);
		die(0, "poison: fault at rip %#llx, edi %#llx; expected rip %#llx, edi %#llx",
		    r.rip, r.rdi, CODE_GPA + READ_CMP, gpa);
	}
	r.rdi = gpa + PAGE_4K;
	r.rip = CODE_GPA + READ_NEXT;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &r))
		die(errno, "KVM_SET_REGS");
	printf("gmem_vm: VMM: the injected page exactly; the guest reads on from %#llx\n",
	       gpa + PAGE_4K);
}

/* Wait for the others; true in one of the threads (the "serial" one). */
static int barrier(pthread_barrier_t *b)
{
	int err = pthread_barrier_wait(b);

	if (err && err != PTHREAD_BARRIER_SERIAL_THREAD)
		die(err, "pthread_barrier_wait");
	return err == PTHREAD_BARRIER_SERIAL_THREAD;
}

/*
 * Run vCPU @v until it halts; fail unless it reported a pass.  The vCPUs
 * wait for each other after their markers and after their write; then one
 * of them reports the step (and with --poison, p->gpa, poisons the page
 * before any read-back).
 */
static void run_vcpu(struct vcpu *v)
{
	struct guest *g = v->g;
	struct poison *p = g->poison;
	struct kvm_run *run = v->run;
	double mib = (g->size - TEST_START) / (double)MIB;
	unsigned int addr = 0, value = 0, val, step = 0;
	long result = -1;
	int err;

	for (;;) {
		if (ioctl(v->fd, KVM_RUN, NULL)) {
			if (errno == EINTR)
				continue;
			if (errno == EHWPOISON && p->injected &&
			    run->exit_reason == KVM_EXIT_MEMORY_FAULT) {
				skip_lost_page(v->fd, v->id, run, p);
				continue;
			}
			err = errno;
			if (err == EHWPOISON)
				dump_vcpu(v->fd, run);
			die(err, "KVM_RUN");
		}
		if (run->exit_reason == KVM_EXIT_HLT)
			break;
		if (run->exit_reason != KVM_EXIT_IO ||
		    run->io.direction != KVM_EXIT_IO_OUT ||
		    run->io.size != 4 || run->io.count != 1) {
			dump_vcpu(v->fd, run);
			if (run->exit_reason == KVM_EXIT_IO)
				die(0, "KVM_RUN: unexpected I/O to port %#x",
				    run->io.port);
			die(0, "KVM_RUN: exit reason %u (%s)", run->exit_reason,
			    run->exit_reason < ARRAY_SIZE(exit_names) &&
			    exit_names[run->exit_reason] ?
			    exit_names[run->exit_reason] : "unexpected");
		}
		memcpy(&val, (char *)run + run->io.data_offset, sizeof(val));
		switch (run->io.port) {
		case PORT_PROGRESS:
			if (val != step + 1) {
				dump_vcpu(v->fd, run);
				die(0, "guest: vcpu %d reported step %u after %u",
				    v->id, val, step);
			}
			step = val;
			if (step == 1) {
				if (barrier(&g->vcpus)) {
					g->t1 = now_ms();
					printf("gmem_vm: guest: markers OK\n");
				}
				break;
			}
			if (barrier(&g->vcpus)) {
				g->t2 = now_ms();
				printf("gmem_vm: guest: wrote %.0f MiB in %.3f s (%.1f MiB/s)\n",
				       mib, (g->t2 - g->t1) / 1e3,
				       mib * 1e3 / (g->t2 - g->t1));
				if (p->gpa) {
					inject_poison(g->mem, p);
					g->t2 = now_ms();
				}
			}
			/* No read-back before the injection. */
			barrier(&g->vcpus);
			break;
		case PORT_ADDR:
			addr = val;
			break;
		case PORT_VALUE:
			value = val;
			break;
		case PORT_RESULT:
			result = val;
			break;
		default:
			dump_vcpu(v->fd, run);
			die(0, "KVM_RUN: unexpected I/O to port %#x", run->io.port);
		}
	}
	if (result == 1)
		die(0, "guest: bad marker at GPA %#x: low half %#x, expected %#x",
		    addr, value, addr ^ MARKER_XOR);
	if (result == 2)
		die(0, "guest: word at GPA %#x is %#x, expected %#x", addr,
		    value, addr ^ PATTERN);
	if (result || step != 2) {
		dump_vcpu(v->fd, run);
		die(0, "guest: halted without a result (%ld, step %u)", result,
		    step);
	}
}

/* The marker at @gpa: "gmem" and @gpa ^ MARKER_XOR. */
static void write_marker(char *mem, unsigned long long gpa)
{
	*(unsigned long long *)(mem + gpa) =
		(unsigned long long)MARKER_HI << 32 | (gpa ^ MARKER_XOR);
}

/*
 * The host writes the markers and the tables the vCPUs check them with:
 * each vCPU's list has the marker below the test area and those in its
 * share, which no other vCPU writes.
 */
static void write_markers(char *mem, unsigned long long size, struct vcpu *v,
			  int nr)
{
	unsigned int *table = (unsigned int *)(mem + TABLE_GPA);
	unsigned long long gpa, m;
	int n = 0, i, j;

	/* From the end, as ever: the first write faults in the last GiB. */
	for (gpa = size; gpa; gpa -= GIB) {
		write_marker(mem, gpa - 8);
		write_marker(mem, gpa - GIB / 2);
	}
	write_marker(mem, MARK0_GPA);
	for (i = 0; i < nr; i++) {
		v[i].table = TABLE_GPA + n * sizeof(*table);
		table[n++] = MARK0_GPA;
		for (gpa = 0; gpa < size; gpa += GIB) {
			for (j = 0; j < 2; j++) {
				m = gpa + (j ? GIB - 8 : GIB / 2);
				if (m >= v[i].start && m < v[i].end)
					table[n++] = m;
			}
		}
		table[n++] = 0;
	}
	printf("gmem_vm: host: wrote markers at GPA %#llx and at the middle and end of every GiB\n",
	       MARK0_GPA);
}

/*
 * Split the test area into the vCPUs' shares, 2 MiB aligned (a marker, the
 * lost page and every 2 MiB piece is in one share); one vCPU: all of it.
 */
static void split_shares(unsigned long long size, struct vcpu *v, int nr)
{
	unsigned long long chunks = (size - TEST_START) / (2 * MIB);
	int i;

	for (i = 0; i < nr; i++) {
		v[i].start = TEST_START + chunks * i / nr * 2 * MIB;
		v[i].end = TEST_START + chunks * (i + 1) / nr * 2 * MIB;
	}
}

/*
 * The node of each vCPU's share, from move_pages() on the middle marker of
 * each GiB (written by the host, so mapped; a 1 GiB page is on one node):
 * the node that holds most of the share.  With -n (@bind) every GiB must
 * be on that node.
 */
static void share_nodes(char *mem, unsigned long long size, int bind,
			struct vcpu *v, int nr)
{
	unsigned long long bytes[MAX_NODES], lo, hi;
	int gib_node[MAX_GIB], gibs = size / GIB, g, i, n;

	for (g = 0; g < gibs; g++) {
		gib_node[g] = page_node(mem + g * GIB + GIB / 2);
		if (bind >= 0 && gib_node[g] != bind)
			die(0, "move_pages: GPA %#llx is on node %d, not %d",
			    g * GIB + GIB / 2, gib_node[g], bind);
	}
	for (i = 0; i < nr; i++) {
		memset(bytes, 0, sizeof(bytes));
		for (g = 0; g < gibs; g++) {
			lo = v[i].start > g * GIB ? v[i].start : g * GIB;
			hi = v[i].end < (g + 1) * GIB ? v[i].end : (g + 1) * GIB;
			if (lo < hi)
				bytes[gib_node[g]] += hi - lo;
		}
		v[i].node = 0;
		for (n = 1; n < MAX_NODES; n++)
			if (bytes[n] > bytes[v[i].node])
				v[i].node = n;
		v[i].on_node = bytes[v[i].node];
	}
}

/* The CPUs of the node of @v's memory, from hwloc. */
static void find_cpus(hwloc_topology_t topo, struct vcpu *v)
{
	hwloc_obj_t obj = hwloc_get_numanode_obj_by_os_index(topo, v->node);

	if (!obj)
		die(0, "hwloc: no NUMA node %d in the topology (vcpu %d's memory)",
		    v->node, v->id);
	if (hwloc_bitmap_list_snprintf(v->cpus, sizeof(v->cpus),
				       obj->cpuset) < 0)
		die(errno, "hwloc_bitmap_list_snprintf");
	if (hwloc_bitmap_iszero(obj->cpuset))
		die(0, "hwloc: node %d has no CPUs: vcpu %d cannot run next to its memory",
		    v->node, v->id);
	v->cpuset = obj->cpuset;
}

/*
 * Is the calling thread, vCPU @v's, on a CPU of its memory's node: in
 * hwloc's cpuset of the node, and on that node for the kernel (getcpu())?
 */
static void check_cpu(struct vcpu *v, const char *when)
{
	unsigned int cpu, node;

	if (getcpu(&cpu, &node))
		die(errno, "placement: getcpu");
	if (!hwloc_bitmap_isset(v->cpuset, cpu) || (int)node != v->node)
		die(0, "placement: vcpu %d on cpu %u (node %u) %s, not on node %d's cpus %s",
		    v->id, cpu, node, when, v->node, v->cpus);
	v->cpu = cpu;
}

/* Bind the calling thread, vCPU @v's, to the CPUs of its memory's node. */
static void bind_vcpu(struct vcpu *v)
{
	hwloc_topology_t topo = v->g->topo;
	hwloc_cpuset_t set = hwloc_bitmap_alloc();
	char cpus[128];

	if (!set)
		die(ENOMEM, "hwloc_bitmap_alloc");
	if (hwloc_set_cpubind(topo, v->cpuset, HWLOC_CPUBIND_THREAD))
		die(errno, "placement: vcpu %d: hwloc_set_cpubind(cpus %s of node %d)",
		    v->id, v->cpus, v->node);
	if (hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_THREAD))
		die(errno, "placement: vcpu %d: hwloc_get_cpubind", v->id);
	if (hwloc_bitmap_iszero(set) || !hwloc_bitmap_isincluded(set, v->cpuset)) {
		hwloc_bitmap_list_snprintf(cpus, sizeof(cpus), set);
		die(0, "placement: vcpu %d is bound to cpus %s, not to cpus %s of node %d",
		    v->id, cpus, v->cpus, v->node);
	}
	hwloc_bitmap_free(set);
	check_cpu(v, "once bound");
}

/*
 * A vCPU's thread: bind to the node of its memory, wait for main to print
 * where it runs and to start all vCPUs, run the guest.
 */
static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;

	bind_vcpu(v);
	barrier(&v->g->all);
	barrier(&v->g->all);
	run_vcpu(v);
	check_cpu(v, "after the guest ran");
	return NULL;
}

/*
 * Guest words seen by the host: first and last of every 2 MiB, but not in
 * the lost page @lost (0: none); and the words on either side of @lost.
 */
static void check_from_host(char *mem, unsigned long long size,
			    unsigned long long lost)
{
	unsigned long long gpa, w[2];
	unsigned long n = 0;
	int i;

	for (gpa = TEST_START; gpa < size; gpa += 2 * MIB) {
		w[0] = gpa;
		w[1] = gpa + 2 * MIB - 4;
		for (i = 0; i < 2; i++) {
			if (lost && w[i] / PAGE_4K == lost / PAGE_4K)
				continue;
			check_word(mem, w[i]);
			n++;
		}
	}
	/* Unless the sample has them: @lost starts or ends a 2 MiB piece. */
	if (lost && lost % (2 * MIB)) {
		check_word(mem, lost - 4);
		n++;
	}
	if (lost && (lost + PAGE_4K) % (2 * MIB)) {
		check_word(mem, lost + PAGE_4K);
		n++;
	}
	printf("gmem_vm: host: read %lu guest-written words through the mapping%s: OK\n",
	       n, lost ? " (the lost page's neighbours, not it)" : "");
}

/* SIGBUS from reading the lost page on purpose: where and why. */
static sigjmp_buf sigbus_jmp;
static char *sigbus_page;	/* the page being read, NULL: not expected */
static siginfo_t sigbus_info;

static void on_sigbus(int sig, siginfo_t *si, void *ucontext)
{
	(void)sig;
	(void)ucontext;
	if (!sigbus_page)
		die(0, "unexpected SIGBUS: si_code %d at %p", si->si_code,
		    si->si_addr);
	sigbus_info = *si;
	siglongjmp(sigbus_jmp, 1);
}

/* Reading the lost page through the host mapping must raise SIGBUS. */
static void touch_lost_page(char *mem, unsigned long long lost)
{
	char *page = mem + lost;
	unsigned int v;

	/* Stored before sigsetjmp(), a call: the handler sees it. */
	sigbus_page = page;
	if (!sigsetjmp(sigbus_jmp, 1)) {
		v = *(unsigned int *)page;
		die(0, "host: reading the lost page at GPA %#llx gave %#x, no SIGBUS",
		    lost, v);
	}
	sigbus_page = NULL;
	if (sigbus_info.si_code != BUS_MCEERR_AR ||
	    sigbus_info.si_addr != page || sigbus_info.si_addr_lsb != 12)
		die(0, "host: SIGBUS si_code %d, si_addr %p, si_addr_lsb %d; expected %d, %p, 12",
		    sigbus_info.si_code, sigbus_info.si_addr,
		    sigbus_info.si_addr_lsb, BUS_MCEERR_AR, page);
	printf("gmem_vm: host: reading GPA %#llx raised SIGBUS BUS_MCEERR_AR at %p, lsb 12\n",
	       lost, page);
}

/*
 * The nodes of the pages, from one address per 2 MiB (all touched), the
 * page after it if that is the lost page @lost.
 */
static void print_nodes(char *mem, unsigned long long size, int bind,
			unsigned long long lost)
{
	unsigned long n = size / (2 * MIB), i;
	unsigned long mib[MAX_NODES] = { 0 };
	void **pages = calloc(n, sizeof(*pages));
	int *status = calloc(n, sizeof(*status));

	if (!pages || !status)
		die(ENOMEM, "move_pages");
	for (i = 0; i < n; i++) {
		pages[i] = mem + i * 2 * MIB + (i ? 0 : CODE_GPA);
		if (lost && i * 2 * MIB == lost)
			pages[i] = mem + lost + PAGE_4K;
	}
	if (syscall(SYS_move_pages, 0, n, pages, NULL, status, 0))
		die(errno, "move_pages");
	for (i = 0; i < n; i++) {
		if (status[i] < 0 || status[i] >= MAX_NODES)
			die(status[i] < 0 ? -status[i] : 0,
			    "move_pages: status %d for GPA %#llx", status[i],
			    (unsigned long long)i * 2 * MIB);
		if (bind >= 0 && status[i] != bind)
			die(0, "move_pages: GPA %#llx is on node %d, not %d",
			    (unsigned long long)i * 2 * MIB, status[i], bind);
		mib[status[i]] += 2;
	}
	for (i = 0; i < MAX_NODES; i++)
		if (mib[i])
			printf("gmem_vm: guest memory on node %lu: %lu MiB\n",
			       i, mib[i]);
	free(pages);
	free(status);
}

/* Print the debugfs line of the file, check its size and state. */
static void print_file_line(int gmem_fd, int gib)
{
	unsigned long ino, pages;
	char line[512], state[16];
	struct stat st;
	FILE *f;

	if (fstat(gmem_fd, &st))
		die(errno, "fstat guest_memfd");
	f = open_debugfs(FILES_PATH);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lu %*d %*s %lu %*u %*u %15s", &ino, &pages,
			   state) != 3 || ino != st.st_ino)
			continue;
		fclose(f);
		printf("gmem_vm: debugfs: %s", line);
		if (pages != (unsigned long)gib || strcmp(state, "open"))
			die(0, "debugfs: expected %d pages, open", gib);
		return;
	}
	fclose(f);
	die(0, "debugfs: inode %lu not in " FILES_PATH,
	    (unsigned long)st.st_ino);
}

/* Read the VM stats pages_4k, pages_2m and pages_1g from the stats fd. */
static void read_stats(int vm_fd, unsigned long long *val)
{
	static const char *const names[] = { "pages_4k", "pages_2m", "pages_1g" };
	struct kvm_stats_header hdr;
	struct kvm_stats_desc *d;
	size_t dsz;
	char *descs;
	int fd, i, j, found = 0;

	fd = ioctl(vm_fd, KVM_GET_STATS_FD, NULL);
	if (fd < 0)
		die(errno, "KVM_GET_STATS_FD");
	if (pread(fd, &hdr, sizeof(hdr), 0) != sizeof(hdr))
		die(errno, "stats: read header");
	dsz = sizeof(*d) + hdr.name_size;
	descs = malloc(dsz * hdr.num_desc);
	if (!descs)
		die(ENOMEM, "stats");
	if (pread(fd, descs, dsz * hdr.num_desc, hdr.desc_offset) !=
	    (ssize_t)(dsz * hdr.num_desc))
		die(errno, "stats: read descriptors");
	for (i = 0; i < (int)hdr.num_desc; i++) {
		d = (struct kvm_stats_desc *)(descs + i * dsz);
		for (j = 0; j < 3; j++) {
			if (strcmp(d->name, names[j]))
				continue;
			if (pread(fd, &val[j], sizeof(val[j]),
				  hdr.data_offset + d->offset) != sizeof(val[j]))
				die(errno, "stats: read %s", names[j]);
			found++;
		}
	}
	free(descs);
	close(fd);
	if (found != 3)
		die(0, "stats: pages_4k, pages_2m or pages_1g missing");
}

static const char usage_text[] =
"usage: gmem_vm [-n NODE] [-g GIB] [--vcpus N] [--poison[=GPA]]\n"
"  -n NODE  bind the guest_memfd's pages to NODE (default: no binding)\n"
"  -g GIB   guest memory in GiB, 1 to 3 (the guest is 32-bit; default 1)\n"
"  --vcpus N\n"
"           run the guest on N vCPUs, 1 to 64 (default 1), each a thread\n"
"           that writes and checks its share of guest memory (split by\n"
"           address) on the CPUs of the node of that memory (hwloc); prints\n"
"           \"vcpu I: memory node N, cpus LIST (hwloc), running on cpu C; ...\"\n"
"           and fails unless each vCPU runs on its memory's node\n"
"  --poison[=GPA]\n"
"           poison the 4 KiB page at GPA (default 0x20005000; from 0x200000\n"
"           to the end of guest memory) after the guest wrote its memory:\n"
"           its read-back must fault on that page only\n";

static noreturn void usage(void)
{
	fputs(usage_text, stderr);
	exit(2);
}

/* The number @s of option @opt, from @min to @max; else a usage error. */
static long parse(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "gmem_vm: %s: '%s' is not a number from %ld to %ld\n",
			opt, s, min, max);
		usage();
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "poison", optional_argument, NULL, 'p' },
		{ "vcpus", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct kvm_create_guest_memfd gmem = { 0 };
	struct kvm_userspace_memory_region2 region = { 0 };
	int kvm_fd, vm_fd, gmem_fd, node = -1, gib = 1, nr = 1, opt, err, i;
	unsigned long long size, stats[3], need;
	long caps, flags, run_size, poisoned;
	char what[48], line[512], *end;
	struct pools before, during, after;
	static struct vcpu vcpus[MAX_VCPUS];
	struct poison poison = { 0 };
	struct sigaction sa = { 0 };
	struct guest g = { 0 };
	double t, t0, t3, mib, deadline;
	struct vcpu *v;
	char *mem;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt_long(argc, argv, "n:g:h", longopts, NULL)) != -1) {
		if (opt == 'n') {
			node = parse("-n", optarg, 0, MAX_NODES - 1);
		} else if (opt == 'g') {
			gib = parse("-g", optarg, 1, MAX_GIB);
		} else if (opt == 'v') {
			nr = parse("--vcpus", optarg, 1, MAX_VCPUS);
		} else if (opt == 'p') {
			poison.gpa = POISON_GPA;
			errno = 0;
			if (optarg)
				poison.gpa = strtoull(optarg, &end, 0);
			if (optarg && (errno || end == optarg || *end)) {
				fprintf(stderr, "gmem_vm: --poison: '%s' is not a GPA\n",
					optarg);
				usage();
			}
		} else {
			usage();
		}
	}
	if (optind != argc) {
		fprintf(stderr, "gmem_vm: unexpected argument '%s'\n", argv[optind]);
		usage();
	}
	size = gib * GIB;
	if (poison.gpa && (poison.gpa < TEST_START || poison.gpa >= size ||
			   poison.gpa % PAGE_4K)) {
		fprintf(stderr, "gmem_vm: --poison: %#llx is not a 4 KiB page in [%#llx, %#llx)\n",
			poison.gpa, TEST_START, size);
		usage();
	}

	/* Where the vCPUs can run: hwloc's view of the machine. */
	if (hwloc_topology_init(&g.topo) || hwloc_topology_load(g.topo))
		die(errno, "hwloc: topology");

	/* 1. The pools before. */
	read_pools(&before);
	print_pools("before", &before);

	/* 2. A VM, and the guest_memfd capabilities. */
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		die(errno, "open /dev/kvm");
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_DEFAULT_VM);
	if (vm_fd < 0)
		die(errno, "KVM_CREATE_VM");
	need = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED |
	       GUEST_MEMFD_FLAG_HUGE_PAGES;
	flags = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS);
	if (flags < 0 || (flags & need) != need)
		die(0, "KVM_CAP_GUEST_MEMFD_FLAGS is %#lx, need %#llx", flags, need);
	caps = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_HUGE_PAGE_SIZES);
	if (caps < 0 || !(caps & GIB))
		die(0, "KVM_CAP_GUEST_MEMFD_HUGE_PAGE_SIZES is %#lx, no 1 GiB (bit 30)",
		    caps);
	printf("gmem_vm: VM created; guest_memfd flags %#lx, huge page sizes %#lx\n",
	       flags, caps);

	/* 3, 4. The guest_memfd, under the policy that picks its nodes. */
	gmem.size = size;
	gmem.flags = need;
	gmem.huge_page_size_log2 = 30;
	if (node >= 0)
		set_policy(MPOL_BIND, node);
	t = now_ms();
	gmem_fd = ioctl(vm_fd, KVM_CREATE_GUEST_MEMFD, &gmem);
	t = now_ms() - t;
	err = errno;
	if (node >= 0)
		set_policy(MPOL_DEFAULT, 0);
	if (node >= 0)
		snprintf(what, sizeof(what), "%d GiB, MPOL_BIND to node %d", gib, node);
	else
		snprintf(what, sizeof(what), "%d GiB, default policy", gib);
	if (gmem_fd < 0)
		die(err, "KVM_CREATE_GUEST_MEMFD (%s)%s", what,
		    err == ENODEV ? ": no gmem_cma pool on the allowed nodes" :
		    err == ENOMEM ? ": not enough free pool pages" : "");
	printf("gmem_vm: guest_memfd created (%s, 1 GiB pages) in %.3f ms\n",
	       what, t);

	/* 5, 6. Map it 1 GiB aligned and make it the guest's memory. */
	mem = map_aligned(gmem_fd, size);
	printf("gmem_vm: mapped at %p\n", mem);
	region.slot = 0;
	region.flags = KVM_MEM_GUEST_MEMFD;
	region.guest_phys_addr = 0;
	region.memory_size = size;
	region.userspace_addr = (unsigned long)mem;
	region.guest_memfd = gmem_fd;
	region.guest_memfd_offset = 0;
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &region))
		die(errno, "KVM_SET_USER_MEMORY_REGION2");

	/*
	 * 7, 8. Markers, guest code, the vCPUs, each with its share and the
	 * CPUs of its memory's node; run them.
	 */
	split_shares(size, vcpus, nr);
	write_markers(mem, size, vcpus, nr);
	memcpy(mem + CODE_GPA, guest_code, sizeof(guest_code));
	share_nodes(mem, size, node, vcpus, nr);
	run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (run_size < (long)sizeof(struct kvm_run))
		die(errno, "KVM_GET_VCPU_MMAP_SIZE");
	g.mem = mem;
	g.size = size;
	g.poison = &poison;
	for (i = 0; i < nr; i++) {
		v = &vcpus[i];
		v->g = &g;
		v->id = i;
		v->fd = ioctl(vm_fd, KVM_CREATE_VCPU, i);
		if (v->fd < 0)
			die(errno, "KVM_CREATE_VCPU %d", i);
		v->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED)
			die(errno, "mmap kvm_run");
		setup_vcpu(v);
		find_cpus(g.topo, v);
	}
	if (poison.gpa) {
		sa.sa_sigaction = on_sigbus;
		sa.sa_flags = SA_SIGINFO;
		if (sigaction(SIGBUS, &sa, NULL))
			die(errno, "sigaction(SIGBUS)");
		printf("gmem_vm: poison: GPA %#llx, between the guest's write and read-back\n",
		       poison.gpa);
	}
	printf("gmem_vm: guest: 32-bit, code at GPA %#llx, writing [%#llx, %#llx)",
	       CODE_GPA, TEST_START, size);
	if (nr > 1)
		printf(" with %d vCPUs", nr);
	printf("\n");
	err = pthread_barrier_init(&g.all, NULL, nr + 1);
	if (!err)
		err = pthread_barrier_init(&g.vcpus, NULL, nr);
	if (err)
		die(err, "pthread_barrier_init");
	for (i = 0; i < nr; i++) {
		err = pthread_create(&vcpus[i].thread, NULL, vcpu_thread,
				     &vcpus[i]);
		if (err)
			die(err, "pthread_create");
	}
	/* Every vCPU thread is bound and on its node. */
	barrier(&g.all);
	for (i = 0; i < nr; i++) {
		v = &vcpus[i];
		printf("gmem_vm: vcpu %d: memory node %d, cpus %s (hwloc), running on cpu %d",
		       i, v->node, v->cpus, v->cpu);
		printf("; GPA [%#llx, %#llx), node from move_pages()",
		       v->start, v->end);
		if (v->on_node < v->end - v->start)
			printf(", %llu of its %llu MiB there",
			       v->on_node / MIB, (v->end - v->start) / MIB);
		printf("\n");
	}
	t0 = now_ms();
	barrier(&g.all);
	for (i = 0; i < nr; i++) {
		err = pthread_join(vcpus[i].thread, NULL);
		if (err)
			die(err, "pthread_join");
	}
	t3 = now_ms();
	/* Nothing but the read-back touches the page after the injection. */
	if (poison.gpa && poison.faults != 1)
		die(0, "poison: %d memory-fault exits for GPA %#llx, expected 1 (its read-back)",
		    poison.faults, poison.gpa);
	mib = (size - TEST_START) / (double)MIB;
	printf("gmem_vm: guest: verified %.0f MiB%s in %.3f s (%.1f MiB/s), run took %.3f s\n",
	       mib, poison.gpa ? " but the lost 4 KiB" : "", (t3 - g.t2) / 1e3,
	       mib * 1e3 / (t3 - g.t2), (t3 - t0) / 1e3);

	/* 9. While the VM exists: host check, pools, debugfs, nodes. */
	check_from_host(mem, size, poison.gpa);
	if (poison.gpa)
		touch_lost_page(mem, poison.gpa);
	read_pools(&during);
	print_pools("during", &during);
	print_file_line(gmem_fd, gib);
	print_nodes(mem, size, node, poison.gpa);
	if (poison.gpa) {
		/* The 1 GiB page stays the file's until its last put. */
		poisoned = pool_poisoned(poison.node, line, sizeof(line));
		printf("gmem_vm: debugfs: %s", line);
		if (poisoned != poison.poisoned)
			die(0, "debugfs: node %d: poisoned %ld while in use, expected %ld",
			    poison.node, poisoned, poison.poisoned);
	}

	/* 10. Stage-2 mappings. */
	read_stats(vm_fd, stats);
	printf("gmem_vm: VM stats: pages_4k %llu, pages_2m %llu, pages_1g %llu\n",
	       stats[0], stats[1], stats[2]);
	/*
	 * --poison: the injection zapped the mappings of the poisoned GiB
	 * (the other GiBs keep their 1 GiB ones).  After it (every vCPU waits
	 * for it) the guest fetched code at GPA 0x1000 and read every page of
	 * [TEST_START, size) but the lost one: every 2 MiB of that GiB again, mapped whole but for
	 * the lost page's 2 MiB, whose other 511 pages are mapped one by one.
	 */
	if (poison.gpa && (stats[0] != CHUNK_PAGES - 1 ||
			   stats[1] != GIB_CHUNKS - 1 ||
			   stats[2] != (unsigned long long)gib - 1))
		die(0, "VM stats: expected pages_4k %d, pages_2m %d, pages_1g %d",
		    CHUNK_PAGES - 1, GIB_CHUNKS - 1, gib - 1);
	if (!poison.gpa && stats[2] != (unsigned long long)gib)
		die(0, "VM stats: pages_1g is %llu, expected %d", stats[2], gib);

	/* 11. Teardown; the pools must be back where they were (--poison: but one). */
	t = now_ms();
	if (munmap(mem, size))
		die(errno, "munmap");
	for (i = 0; i < nr; i++)
		if (munmap(vcpus[i].run, run_size) || close(vcpus[i].fd))
			die(errno, "munmap, close: vcpu %d", i);
	if (close(gmem_fd) || close(vm_fd) || close(kvm_fd))
		die(errno, "close");
	printf("gmem_vm: teardown (munmap, close) took %.3f ms\n", now_ms() - t);
	deadline = now_ms() + 2000;
	do {
		read_pools(&after);
		if (poison.gpa ? pools_retired(&before, &after, poison.node) :
		    pools_equal(&before, &after))
			break;
		usleep(50000);
	} while (now_ms() < deadline);
	print_pools("after", &after);
	if (!poison.gpa) {
		if (!pools_equal(&before, &after))
			die(0, "pools: free/resv/used not back to their values after 2 s");
		printf("gmem_vm: pools back to their values %.0f ms after teardown\n",
		       now_ms() - deadline + 2000);
	} else {
		/* The poisoned 1 GiB page is retired for good. */
		t = now_ms() - deadline + 2000;
		poisoned = pool_poisoned(poison.node, line, sizeof(line));
		printf("gmem_vm: debugfs: %s", line);
		if (!pools_retired(&before, &after, poison.node))
			die(0, "pools: not as before with node %d's nr_pages and free -1 after 2 s",
			    poison.node);
		if (poisoned != poison.poisoned + 1)
			die(0, "debugfs: node %d: poisoned %ld, expected %ld",
			    poison.node, poisoned, poison.poisoned + 1);
		printf("gmem_vm: pools: node %d retired the poisoned page %.0f ms after teardown\n",
		       poison.node, t);
	}

	/* 12. */
	pthread_barrier_destroy(&g.all);
	pthread_barrier_destroy(&g.vcpus);
	hwloc_topology_destroy(g.topo);
	printf("gmem_vm: PASS\n");
	return 0;
}
