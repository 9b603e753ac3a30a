// SPDX-License-Identifier: GPL-2.0-only
/*
 * In-place shared/private conversion of guest_memfd pages
 * (KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd, kvm.gmem_in_place_conversion=1).
 *
 * Every case runs on a file of 4 KiB pages and on a file of 1 GiB gmem_cma
 * pages, converting whole pages ("units") of the file: host access follows
 * the attributes (private: SIGBUS, shared: data), only the named range
 * changes, elevated references refuse shared->private with EAGAIN and the
 * exact error_offset, and a guest (SW_PROTECTED or DEFAULT) and the VMM
 * exchange data through a page converted both ways.
 *
 * The 1 GiB variant needs gmem_cma=0:2G,1:2G.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <pthread.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"
#include "kselftest_harness.h"

/*
 * Hang limit of a case: the 1 GiB variants zero GiBs, which takes minutes
 * on the debug kernel (KASAN) on the one CPU of the gmem-conversion boot.
 */
#define CASE_TIMEOUT	300
#define GPA		SZ_4G
#define SLOT		1
#define PRIVATE		KVM_MEMORY_ATTRIBUTE_PRIVATE
#define ZERO		KVM_SET_MEMORY_ATTRIBUTES2_ZERO
#define PRESERVE	KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE
#define POOLS		"/sys/kernel/mm/gmem_cma/node%d/nr_pages"
#define SAVED_PER_GB	4095	/* vmemmap pages a trimmed 1 GiB folio saves */

static int set_pool(int nid, long pages)
{
	char path[96], buf[24];
	int fd, ret = 0;

	snprintf(path, sizeof(path), POOLS, nid);
	snprintf(buf, sizeof(buf), "%ld", pages);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, strlen(buf)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static long node_long(int nid, const char *name)
{
	char path[96], buf[24] = "";
	int fd;
	long n;

	snprintf(path, sizeof(path), "/sys/kernel/mm/gmem_cma/node%d/%s", nid, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n <= 0 ? -1 : strtol(buf, NULL, 10);
}

static long get_pool(int nid)
{
	return node_long(nid, "nr_pages");
}

/* 0 or -errno; *error_offset is what the kernel wrote back. */
static int convert(int fd, u64 offset, u64 size, u64 attributes, u64 flags,
		   u64 *error_offset)
{
	struct kvm_memory_attributes2 a = {
		.offset = offset,
		.size = size,
		.attributes = attributes,
		.flags = flags,
		.error_offset = 0xdead,
	};
	int r = ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &a);

	if (error_offset)
		*error_offset = a.error_offset;
	return r ? -errno : 0;
}

static __thread sigjmp_buf sigbus_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(sigbus_jmp, 1);
}

/* Read the byte at @p: 1 and *@c, or 0 on SIGBUS. */
static int host_read(char *p, char *c)
{
	if (sigsetjmp(sigbus_jmp, 1))
		return 0;
	*c = READ_ONCE(*p);
	return 1;
}

FIXTURE(conv) {
	struct kvm_vm *vm;
	u64 unit;		/* the file's page size */
	int units;		/* pages in the file */
	long saved[2];
	bool pools_set;
	int fd;			/* the case's file (open_file()) */
	char *mem;		/* and its mapping */
};

FIXTURE_VARIANT(conv) {
	bool huge;
};

FIXTURE_VARIANT_ADD(conv, page_4k) {
	.huge = false,
};

FIXTURE_VARIANT_ADD(conv, page_1g) {
	.huge = true,
};

FIXTURE_SETUP(conv)
{
	int nid;

	ASSERT_EQ(PRIVATE, kvm_check_cap(KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES));
	ASSERT_EQ(ZERO | PRESERVE, kvm_check_cap(KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS));
	ASSERT_EQ(0, kvm_check_cap(KVM_CAP_MEMORY_ATTRIBUTES));
	ASSERT_TRUE(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM));
	signal(SIGBUS, on_sigbus);
	self->fd = -1;
	self->unit = variant->huge ? SZ_1G : PAGE_SIZE;
	self->units = variant->huge ? 2 : 4;
	if (variant->huge) {
		for (nid = 0; nid < 2; nid++) {
			self->saved[nid] = get_pool(nid);
			ASSERT_LE(0, self->saved[nid]);
			ASSERT_EQ(0, set_pool(nid, 2));
		}
		self->pools_set = true;
	}
	self->vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
}

FIXTURE_TEARDOWN(conv)
{
	int nid;

	if (self->mem)
		munmap(self->mem, self->unit * self->units);
	if (self->fd >= 0)
		close(self->fd);
	if (self->vm)
		kvm_vm_free(self->vm);
	if (!self->pools_set)
		return;
	/* A closed file's folios return to the pool asynchronously. */
	for (nid = 0; nid < 2; nid++) {
		int tries = 0;

		while ((node_long(nid, "used_pages") || node_long(nid, "resv_pages")) &&
		       ++tries < 100)
			usleep(100 * 1000);
		EXPECT_EQ(0, node_long(nid, "used_pages"));
		EXPECT_EQ(0, node_long(nid, "resv_pages"));
		EXPECT_EQ(0, set_pool(nid, self->saved[nid]));
	}
}

static int gmem(struct kvm_vm *vm, bool huge, u64 size, bool shared)
{
	struct kvm_create_guest_memfd args = {
		.size = size,
		.flags = GUEST_MEMFD_FLAG_MMAP |
			 (shared ? GUEST_MEMFD_FLAG_INIT_SHARED : 0) |
			 (huge ? GUEST_MEMFD_FLAG_HUGE_PAGES : 0),
		.huge_page_size_log2 = huge ? 30 : 0,
	};

	return __vm_ioctl(vm, KVM_CREATE_GUEST_MEMFD, &args);
}

/*
 * The case's file of self->units units, shared (INIT_SHARED) or private,
 * mapped at self->mem; with @data, byte 123 of unit i is data[i].  Teardown
 * unmaps and closes it.
 */
static void open_file(struct __test_metadata *_metadata,
		      struct _test_data_conv *self, bool huge, bool shared,
		      const char *data)
{
	u64 size = self->unit * self->units;
	char *mem;
	int i;

	self->fd = gmem(self->vm, huge, size, shared);
	ASSERT_LE(0, self->fd);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	self->mem = mem;
	for (i = 0; data && i < self->units; i++)
		mem[i * self->unit + 123] = data[i];
}

/* Each unit shared (data readable) or private (SIGBUS) as @private says. */
static bool units_are(char *mem, u64 unit, int units, const bool *private,
		      const char *data)
{
	int i;
	char c;

	for (i = 0; i < units; i++) {
		bool readable = host_read(mem + i * unit + 123, &c);

		if (readable == private[i]) {
			fprintf(stderr, "unit %d: %s, want %s\n", i,
				readable ? "shared" : "private",
				private[i] ? "private" : "shared");
			return false;
		}
		if (readable && data && c != data[i]) {
			fprintf(stderr, "unit %d: byte %#x, want %#x\n", i, c, data[i]);
			return false;
		}
	}
	return true;
}

TEST_F_TIMEOUT(conv, single_unit_both_ways, CASE_TIMEOUT)
{
	bool priv[4] = { false };
	char data[4] = { 'a', 'b', 'c', 'd' };
	char *mem;
	int fd, i;

	open_file(_metadata, self, variant->huge, true, data);
	fd = self->fd;
	mem = self->mem;
	ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, data));
	for (i = 0; i < self->units; i++) {
		ASSERT_EQ(0, convert(fd, i * self->unit, self->unit, PRIVATE, 0, NULL));
		priv[i] = true;
		ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, data));
		/* Converting again changes nothing. */
		ASSERT_EQ(0, convert(fd, i * self->unit, self->unit, PRIVATE, 0, NULL));
		ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, data));
	}
	for (i = self->units - 1; i >= 0; i--) {
		ASSERT_EQ(0, convert(fd, i * self->unit, self->unit, 0, PRESERVE, NULL));
		priv[i] = false;
		ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, data));
	}
}

/* A range of several units converts at once; the units around it do not. */
TEST_F_TIMEOUT(conv, range_across_units, CASE_TIMEOUT)
{
	bool priv[4] = { false };
	char data[4] = { 'a', 'b', 'c', 'd' };
	u64 size = self->unit * self->units;
	char *mem;
	int fd, i;

	open_file(_metadata, self, variant->huge, true, data);
	fd = self->fd;
	mem = self->mem;
	ASSERT_EQ(0, convert(fd, self->unit, size - self->unit, PRIVATE, 0, NULL));
	for (i = 1; i < self->units; i++)
		priv[i] = true;
	ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, data));
	/* Private to shared over a mixed range: the shared unit is kept. */
	ASSERT_EQ(0, convert(fd, 0, size, 0, PRESERVE, NULL));
	for (i = 0; i < self->units; i++)
		priv[i] = false;
	ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, data));
	/* And the whole file private at once, across every folio boundary. */
	ASSERT_EQ(0, convert(fd, 0, size, PRIVATE, 0, NULL));
	for (i = 0; i < self->units; i++)
		priv[i] = true;
	ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, NULL));
}

TEST_F_TIMEOUT(conv, init_private_and_before_allocation, CASE_TIMEOUT)
{
	bool priv[4] = { true, true, true, true };
	char zeros[4] = { 0 };
	char *mem;
	int fd;

	open_file(_metadata, self, variant->huge, false, NULL);
	fd = self->fd;
	mem = self->mem;
	ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, NULL));
	/* Nothing is allocated yet: the attribute is kept all the same. */
	ASSERT_EQ(0, convert(fd, self->unit, self->unit, 0, 0, NULL));
	priv[1] = false;
	ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, zeros));
}

TEST_F_TIMEOUT(conv, punch_keeps_attributes, CASE_TIMEOUT)
{
	bool priv[4] = { false };
	char data[4] = { 'a', 'b', 'c', 'd' }, zeros[4] = { 0 };
	u64 size = self->unit * self->units;
	char *mem;
	int fd;

	open_file(_metadata, self, variant->huge, true, data);
	fd = self->fd;
	mem = self->mem;
	ASSERT_EQ(0, convert(fd, 0, self->unit, PRIVATE, 0, NULL));
	priv[0] = true;
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			       0, size));
	ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, zeros));
}

TEST_F_TIMEOUT(conv, zero_content_mode, CASE_TIMEOUT)
{
	bool priv[4] = { false };
	char data[4] = { 'a', 'b', 'c', 'd' };
	char *mem;
	int fd;

	open_file(_metadata, self, variant->huge, true, data);
	fd = self->fd;
	mem = self->mem;
	ASSERT_EQ(0, convert(fd, self->unit, self->unit, PRIVATE, 0, NULL));
	ASSERT_EQ(0, convert(fd, self->unit, self->unit, 0, ZERO, NULL));
	data[1] = 0;
	ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, data));
}

TEST_F_TIMEOUT(conv, elevated_reference_eagain, CASE_TIMEOUT)
{
	bool priv[4] = { false };
	char data[4] = { 'a', 'b', 'c', 'd' }, buf[64];
	u64 size = self->unit * self->units, eo;
	struct iovec iov;
	char *mem;
	int fd, i, p[2];

	open_file(_metadata, self, variant->huge, true, data);
	fd = self->fd;
	mem = self->mem;
	ASSERT_EQ(0, pipe(p));
	iov.iov_base = mem + self->unit + 64;
	iov.iov_len = 64;
	ASSERT_EQ(64, vmsplice(p[1], &iov, 1, 0));
	ASSERT_EQ(-EAGAIN, convert(fd, 0, size, PRIVATE, 0, &eo));
	ASSERT_EQ(self->unit, eo);
	/* Nothing converted, not even the unit before the busy one. */
	ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, data));
	ASSERT_EQ(-EAGAIN, convert(fd, self->unit, self->unit, PRIVATE, 0, &eo));
	ASSERT_EQ(self->unit, eo);
	ASSERT_EQ(0, convert(fd, 0, self->unit, PRIVATE, 0, NULL));
	priv[0] = true;
	ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, data));
	ASSERT_EQ(64, read(p[0], buf, sizeof(buf)));
	ASSERT_EQ(0, convert(fd, 0, size, PRIVATE, 0, NULL));
	for (i = 0; i < self->units; i++)
		priv[i] = true;
	ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, NULL));
	close(p[0]);
	close(p[1]);
}

#define GUP_TEST_FILE	"/sys/kernel/debug/gup_test"
#include "../../../../../mm/gup_test.h"

/* A long-term pin (FOLL_LONGTERM, as VFIO or iommufd take) refuses it too. */
TEST_F_TIMEOUT(conv, longterm_pin_eagain, CASE_TIMEOUT)
{
	bool priv[4] = { false };
	char data[4] = { 'a', 'b', 'c', 'd' };
	u64 size = self->unit * self->units, eo;
	struct pin_longterm_test pin = { .size = PAGE_SIZE };
	char *mem;
	int fd, gfd, i;

	gfd = open(GUP_TEST_FILE, O_RDWR);
	ASSERT_LE(0, gfd) TH_LOG("no %s (CONFIG_GUP_TEST)", GUP_TEST_FILE);
	open_file(_metadata, self, variant->huge, true, data);
	fd = self->fd;
	mem = self->mem;
	/* The last page of the last unit. */
	pin.addr = (unsigned long)mem + size - PAGE_SIZE;
	pin.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE;
	ASSERT_EQ(0, ioctl(gfd, PIN_LONGTERM_TEST_START, &pin));
	ASSERT_EQ(-EAGAIN, convert(fd, 0, size, PRIVATE, 0, &eo));
	ASSERT_EQ(size - (variant->huge ? self->unit : PAGE_SIZE), eo);
	ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, data));
	ASSERT_EQ(0, ioctl(gfd, PIN_LONGTERM_TEST_STOP));
	ASSERT_EQ(0, convert(fd, 0, size, PRIVATE, 0, NULL));
	for (i = 0; i < self->units; i++)
		priv[i] = true;
	ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, NULL));
	close(gfd);
}

TEST_F_TIMEOUT(conv, forked_child_sees_conversion, CASE_TIMEOUT)
{
	bool priv[4] = { false };
	char data[4] = { 'a', 'b', 'c', 'd' };
	int fd, status, go[2], done[2];
	char *mem, c;
	pid_t pid;

	open_file(_metadata, self, variant->huge, true, data);
	fd = self->fd;
	mem = self->mem;
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* Child: maps the units, then checks after the conversion. */
		priv[0] = false;
		if (!units_are(mem, self->unit, self->units, priv, data))
			_exit(1);
		if (write(done[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		priv[0] = true;
		_exit(units_are(mem, self->unit, self->units, priv, data) ? 0 : 3);
	}
	ASSERT_EQ(1, read(done[0], &c, 1));
	/* The child's mapping counts too: it is unmapped, then converted. */
	ASSERT_EQ(0, convert(fd, 0, self->unit, PRIVATE, 0, NULL));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

TEST_F_TIMEOUT(conv, bad_inputs, CASE_TIMEOUT)
{
	u64 size = self->unit * self->units, eo;
	struct kvm_memory_attributes2 a = { .size = PAGE_SIZE };
	struct kvm_memory_attributes va = { .address = GPA, .size = PAGE_SIZE };
	bool priv[4] = { false };
	char *mem;
	int fd, memfd;

	open_file(_metadata, self, variant->huge, true, NULL);
	fd = self->fd;
	mem = self->mem;
	ASSERT_EQ(-EINVAL, convert(fd, 1, self->unit, PRIVATE, 0, &eo));
	ASSERT_EQ(0xdead, eo);	/* not written for bad input */
	ASSERT_EQ(-EINVAL, convert(fd, 0, self->unit + 1, PRIVATE, 0, NULL));
	ASSERT_EQ(-EINVAL, convert(fd, 0, 0, PRIVATE, 0, NULL));
	ASSERT_EQ(-EINVAL, convert(fd, self->unit, -self->unit, PRIVATE, 0, NULL));
	ASSERT_EQ(-EINVAL, convert(fd, 0, size + self->unit, PRIVATE, 0, NULL));
	ASSERT_EQ(-EINVAL, convert(fd, size, self->unit, PRIVATE, 0, NULL));
	ASSERT_EQ(-EINVAL, convert(fd, 0, self->unit, PRIVATE | 1, 0, NULL));
	ASSERT_EQ(-EINVAL, convert(fd, 0, self->unit, 1ULL << 63, 0, NULL));
	ASSERT_EQ(-EINVAL, convert(fd, 0, self->unit, PRIVATE, 4, NULL));
	ASSERT_EQ(-EINVAL, convert(fd, 0, self->unit, PRIVATE, ZERO | PRESERVE, NULL));
	a.reserved[10] = 1;
	ASSERT_EQ(-1, ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &a));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, (void *)8));
	ASSERT_EQ(EFAULT, errno);
	/* Wrong fd types. */
	memfd = memfd_create("conv", 0);
	ASSERT_LE(0, memfd);
	ASSERT_EQ(-ENOTTY, convert(memfd, 0, PAGE_SIZE, PRIVATE, 0, NULL));
	/* /dev/kvm answers unknown ioctls with EINVAL, a VM with ENOTTY. */
	ASSERT_EQ(-EINVAL, convert(self->vm->kvm_fd, 0, PAGE_SIZE, PRIVATE, 0, NULL));
	ASSERT_EQ(-ENOTTY, convert(self->vm->fd, 0, PAGE_SIZE, PRIVATE, 0, NULL));
	close(memfd);
	/* Such a VM has no VM-level attributes. */
	va.attributes = PRIVATE;
	ASSERT_EQ(-1, ioctl(self->vm->fd, KVM_SET_MEMORY_ATTRIBUTES, &va));
	ASSERT_EQ(EINVAL, errno);
	/* Nothing changed. */
	ASSERT_TRUE(units_are(mem, self->unit, self->units, priv, NULL));
}

struct racer {
	char *page;
	bool stop;
	/* Odd while the page is private: bumped after each conversion. */
	unsigned long seq;
	long reads, sigbus, leaks;
};

/*
 * Read the page over and over.  A read that succeeds while the page was
 * private from before the read until after it is a leak.
 */
static void *fault_racer(void *arg)
{
	struct racer *r = arg;
	unsigned long seq;
	char c;

	while (!READ_ONCE(r->stop)) {
		seq = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
		if (host_read(r->page + 64, &c)) {
			r->reads++;
			if ((seq & 1) &&
			    __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE) == seq)
				r->leaks++;
		} else {
			r->sigbus++;
		}
	}
	return NULL;
}

/* Present in this process's page tables (pagemap bit 63)? */
static bool page_present(void *addr)
{
	u64 e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return true;
	if (pread(fd, &e, sizeof(e), (unsigned long)addr / PAGE_SIZE * 8) != sizeof(e))
		e = 1ULL << 63;
	close(fd);
	return e >> 63;
}

/*
 * Host faults race conversions both ways.  A conversion to private either
 * fails with EAGAIN or leaves the page unmapped for as long as it stays
 * private: a fault that read the attribute before the conversion cannot map
 * the page after it.  The racers see both states, and never data while the
 * page is private.
 */
TEST_F_TIMEOUT(conv, conversions_race_host_faults, CASE_TIMEOUT)
{
	struct racer r = { 0 };
	int fd, i, done = 0, again = 0, late = 0, t;
	pthread_t th[2];
	char *mem;

	fd = gmem(self->vm, variant->huge, self->unit, true);
	ASSERT_LE(0, fd);
	mem = mmap(NULL, self->unit, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	mem[64] = 1;
	r.page = mem;
	for (t = 0; t < 2; t++)
		ASSERT_EQ(0, pthread_create(&th[t], NULL, fault_racer, &r));
	for (i = 0; i < 2000 && done < 200; i++) {
		int ret = convert(fd, 0, self->unit, PRIVATE, 0, NULL);

		if (ret == -EAGAIN) {
			again++;
			continue;
		}
		ASSERT_EQ(0, ret);
		__atomic_add_fetch(&r.seq, 1, __ATOMIC_RELEASE);
		ASSERT_FALSE(page_present(mem + 64));
		/* Let the racers fault on the private page for a while. */
		usleep(2000);
		late += page_present(mem + 64);
		__atomic_add_fetch(&r.seq, 1, __ATOMIC_RELEASE);
		done++;
		ASSERT_EQ(0, convert(fd, 0, self->unit, 0, PRESERVE, NULL));
	}
	WRITE_ONCE(r.stop, true);
	for (t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	TH_LOG("%d conversions, %d EAGAIN, %ld reads, %ld SIGBUS", done, again,
	       r.reads, r.sigbus);
	TH_LOG("while private: %d times mapped, %ld reads", late, r.leaks);
	ASSERT_LT(0, done);
	ASSERT_EQ(0, late);
	ASSERT_EQ(0, r.leaks);
	ASSERT_LT(0, r.reads);
	ASSERT_LT(0, r.sigbus);
	munmap(mem, self->unit);
	close(fd);
}

/* Guest: write a pattern, sync, read what the VMM wrote, twice. */
static void guest_exchange(u64 gpa)
{
	WRITE_ONCE(*(u64 *)gpa, 0x9e57da7aULL);
	GUEST_SYNC(1);
	GUEST_ASSERT_EQ(READ_ONCE(*(u64 *)gpa), 0x7e57da7aULL);
	GUEST_SYNC(2);
	GUEST_ASSERT_EQ(READ_ONCE(*(u64 *)gpa), 0x7e57da7aULL);
	GUEST_DONE();
}

static u64 vm_stat(struct kvm_vm *vm, const char *name)
{
	u64 v = 0;

	kvm_get_stat(&vm->stats, name, &v, 1);
	return v;
}

/* Struct pages saved by trimming, on both nodes. */
static long vmemmap_saved(void)
{
	return node_long(0, "vmemmap_saved_pages") +
	       node_long(1, "vmemmap_saved_pages");
}

/* vmemmap_saved() equals @want, waiting up to 2 s. */
static bool saved_is(long want)
{
	int i;

	for (i = 0; i < 200 && vmemmap_saved() != want; i++)
		usleep(10000);
	if (vmemmap_saved() == want)
		return true;
	fprintf(stderr, "vmemmap_saved_pages %ld, want %ld\n", vmemmap_saved(), want);
	return false;
}

static bool vmemmap_trim_on(void)
{
	char buf[8] = "";
	int fd = open("/sys/kernel/mm/gmem_cma/vmemmap_trim", O_RDONLY);

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = '\0';
		close(fd);
	}
	return !strncmp(buf, "on", 2);
}

static void expect_line(struct kvm_vcpu *vcpu, u64 want)
{
	struct ucall uc;

	vcpu_run(vcpu);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		TEST_ASSERT(want == uc.args[1], "sync %lu, want %lu",
			    (unsigned long)uc.args[1], (unsigned long)want);
		break;
	case UCALL_DONE:
		TEST_ASSERT(!want, "guest done, want sync %lu", (unsigned long)want);
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("exit reason %s", exit_reason_str(vcpu->run->exit_reason));
	}
}

/*
 * The guest writes its page while private, the VMM converts it to shared
 * keeping the data (PRESERVE), reads it and writes its own, the guest reads
 * that, and the page goes private again.  Host reads of the private page
 * get SIGBUS throughout.  A SW_PROTECTED guest faults privately; a DEFAULT
 * VM has no private faults, its guest reaches the page whatever the
 * attribute.  A 1 GiB page is mapped at 1 GiB before and after the round
 * trip, and stays trimmed until the host maps it.
 */
static void exchange(struct __test_metadata *_metadata, u64 size, bool huge,
		     unsigned long type)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = type,
	};
	long saved0 = vmemmap_saved();
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	u64 *mem;
	char c;
	int fd;

	vm = __vm_create_shape_with_one_vcpu(shape, &vcpu, SZ_8M / PAGE_SIZE,
					     guest_exchange);
	ASSERT_EQ(PRIVATE, vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES));
	ASSERT_EQ(0, vm_check_cap(vm, KVM_CAP_MEMORY_ATTRIBUTES));
	fd = gmem(vm, huge, size, false);
	ASSERT_LE(0, fd);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	vm_set_user_memory_region2(vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA, size,
				   mem, fd, 0);
	virt_map_level(vm, GPA, GPA, size, huge ? PG_LEVEL_2M : PG_LEVEL_4K);
	vcpu_args_set(vcpu, 1, GPA);

	expect_line(vcpu, 1);
	ASSERT_EQ(0, host_read((char *)mem, &c));
	if (huge)
		ASSERT_EQ(1, vm_stat(vm, "pages_1g"));
	/* Private to shared, keeping what the guest wrote. */
	ASSERT_EQ(0, convert(fd, 0, size, 0, PRESERVE, NULL));
	/* Still trimmed: only the host mapping restores the struct pages. */
	ASSERT_TRUE(saved_is(saved0));
	ASSERT_EQ(0x9e57da7aULL, READ_ONCE(mem[0]));
	if (huge && vmemmap_trim_on())
		ASSERT_TRUE(saved_is(saved0 - SAVED_PER_GB));
	WRITE_ONCE(mem[0], 0x7e57da7aULL);
	expect_line(vcpu, 2);
	/* And back: private again, mapped at 1 GiB again. */
	ASSERT_EQ(0, convert(fd, 0, size, PRIVATE, PRESERVE, NULL));
	ASSERT_EQ(0, host_read((char *)mem, &c));
	expect_line(vcpu, 0);
	if (huge)
		ASSERT_EQ(1, vm_stat(vm, "pages_1g"));
	munmap(mem, size);
	close(fd);
	kvm_vm_free(vm);
}

TEST_F_TIMEOUT(conv, guest_and_vmm_exchange_data, CASE_TIMEOUT)
{
	exchange(_metadata, self->unit, variant->huge, KVM_X86_SW_PROTECTED_VM);
}

TEST_F_TIMEOUT(conv, default_vm_private_is_guest_only, CASE_TIMEOUT)
{
	exchange(_metadata, self->unit, variant->huge, KVM_X86_DEFAULT_VM);
}

/* Guest: write the page over and over, syncing now and then. */
static void guest_hammer(u64 gpa)
{
	u64 i;

	for (i = 1;; i++) {
		WRITE_ONCE(*(u64 *)(gpa + (i % 512) * 8), i);
		if (!(i % 1024))
			GUEST_SYNC(i);
	}
}

struct hammer {
	struct kvm_vcpu *vcpu;
	int fd;
	u64 size;
	bool stop;
	useconds_t punch_pause;
	long max_punches;
	long syncs, punches, memory_faults, bad;
};

static void *vcpu_hammer(void *arg)
{
	struct hammer *h = arg;
	struct ucall uc;

	while (!READ_ONCE(h->stop)) {
		/*
		 * A conversion between KVM's two looks at the attribute is a
		 * memory fault exit; the page is as the VMM set it: run again.
		 */
		if (_vcpu_run(h->vcpu) && errno == EFAULT &&
		    h->vcpu->run->exit_reason == KVM_EXIT_MEMORY_FAULT) {
			h->memory_faults++;
			continue;
		}
		if (get_ucall(h->vcpu, &uc) != UCALL_SYNC) {
			h->bad++;
			break;
		}
		h->syncs++;
	}
	return NULL;
}

static void *punch_hammer(void *arg)
{
	struct hammer *h = arg;

	while (!READ_ONCE(h->stop) && h->punches < h->max_punches) {
		if (fallocate(h->fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			      0, h->size)) {
			h->bad++;
			break;
		}
		h->punches++;
		usleep(h->punch_pause);
	}
	return NULL;
}

/*
 * A hostile VMM converts the page both ways while its SW_PROTECTED guest
 * writes it and another thread punches it: every conversion succeeds, at
 * worst after EAGAIN retries while a fault or the punch holds the folio, the
 * guest only exits to sync (or on a memory fault a conversion caused), and
 * the pool pages all come back (teardown).  The 1 GiB variant zeroes a
 * GiB after each punch, several seconds under TCG on the one CPU of the
 * gmem-conversion boot: it punches 30 times at most (about as often as it
 * managed on two CPUs), and the time limit only catches a hang.
 */
TEST_F_TIMEOUT(conv, conversions_race_guest_and_punch, 400)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	/* Every punch of a 1 GiB page makes the next fault zero 1 GiB. */
	struct hammer h = {
		.size = self->unit,
		.punch_pause = variant->huge ? 200000 : 1000,
		.max_punches = variant->huge ? 30 : LONG_MAX,
	};
	int i, ret = 0, tries, again = 0, pairs = variant->huge ? 20 : 100;
	useconds_t pause = variant->huge ? 20000 : 1000;
	pthread_t vt, pt;
	struct kvm_vm *vm;
	u64 *mem;

	vm = __vm_create_shape_with_one_vcpu(shape, &h.vcpu, SZ_8M / PAGE_SIZE,
					     guest_hammer);
	h.fd = gmem(vm, variant->huge, h.size, true);
	ASSERT_LE(0, h.fd);
	mem = mmap(NULL, h.size, PROT_READ | PROT_WRITE, MAP_SHARED, h.fd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	vm_set_user_memory_region2(vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA, h.size,
				   mem, h.fd, 0);
	virt_map_level(vm, GPA, GPA, h.size, variant->huge ? PG_LEVEL_2M : PG_LEVEL_4K);
	vcpu_args_set(h.vcpu, 1, GPA);
	ASSERT_EQ(0, pthread_create(&vt, NULL, vcpu_hammer, &h));
	ASSERT_EQ(0, pthread_create(&pt, NULL, punch_hammer, &h));
	for (i = 0; i < pairs && !h.bad; i++) {
		/*
		 * The punch and the faults hold the folio for a moment:
		 * EAGAIN then, as for I/O in flight, and the VMM retries.
		 */
		for (tries = 0; tries < 10000; tries++) {
			ret = convert(h.fd, 0, h.size, PRIVATE, 0, NULL);
			if (ret != -EAGAIN)
				break;
			again++;
			usleep(100);
		}
		ASSERT_EQ(0, ret);
		usleep(pause);
		ASSERT_EQ(0, convert(h.fd, 0, h.size, 0, 0, NULL));
		/*
		 * The host's own accesses, racing the guest's and the punch,
		 * on the last word of the page (the guest writes the first
		 * 4 KiB of it; the file may be just that long).
		 */
		WRITE_ONCE(mem[h.size / sizeof(*mem) - 1], i);
		usleep(pause);
	}
	WRITE_ONCE(h.stop, true);
	pthread_join(pt, NULL);
	/* The vCPU stops at its next sync. */
	pthread_join(vt, NULL);
	TH_LOG("%d conversion pairs, %d EAGAIN, %ld guest syncs", i, again,
	       h.syncs);
	TH_LOG("%ld punches, %ld memory fault exits", h.punches, h.memory_faults);
	ASSERT_EQ(0, h.bad);
	ASSERT_EQ(pairs, i);
	ASSERT_LT(0, h.syncs);
	ASSERT_LT(0, h.punches);
	munmap(mem, h.size);
	close(h.fd);
	kvm_vm_free(vm);
}

TEST_HARNESS_MAIN
