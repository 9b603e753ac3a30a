// SPDX-License-Identifier: GPL-2.0-only
/*
 * An LD_PRELOAD library that gives an unmodified QEMU what its experimental
 * "-object memory-backend-memfd,x-guest-memfd=on,share=on" does, for QEMU
 * builds that do not have that option yet (Debian's 11.1.x): the RAM of a
 * memory-backend-memfd becomes a shared, mmap()-able guest_memfd file of
 * the VM, and every KVM memory slot of it is bound to that file.
 *
 *   memfd_create("memory-backend-memfd") -> remembered
 *   ftruncate() of it                     -> KVM_CREATE_GUEST_MEMFD of that
 *                                            size (MMAP | INIT_SHARED), put
 *                                            in place of the memfd with dup2()
 *   mmap() of that file                   -> remembered
 *   KVM_SET_USER_MEMORY_REGION(2) inside such a mapping
 *                                         -> KVM_SET_USER_MEMORY_REGION2 with
 *                                            KVM_MEM_GUEST_MEMFD, at the
 *                                            mapping's offset in the file
 *
 * The file asks for no huge pages: gmem_cma's guest_memfd_enabled policy
 * decides, as it would for QEMU's own option.  Use the backend with
 * seal=off (guest_memfd files take no seals) and the machine with smm=off
 * (the SMM address space would bind the same file range a second time).
 * Every action is logged to stderr with a "gmem_cma_qemu:" prefix.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#define MAX_TRACKED	16
#define BACKEND_NAME	"memory-backend-memfd"

struct gmem_map {
	uintptr_t addr;
	size_t len;
	off_t off;
};

static int vm_fd = -1;
static int pending_fd[MAX_TRACKED];	/* memfds waiting for their size */
static int nr_pending;
static int gmem_fd[MAX_TRACKED];	/* fds that are guest_memfd files now */
static off_t gmem_size[MAX_TRACKED];
static int nr_gmem;
static struct gmem_map maps[MAX_TRACKED];
static int map_fd[MAX_TRACKED];
static int nr_maps;

/* The C library's function that @fn stands in front of. */
#define REAL(fn) ((__typeof__(fn) *)dlsym(RTLD_NEXT, #fn))

static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("gmem_cma_qemu: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int find(const int *fds, int n, int fd)
{
	int i;

	for (i = 0; i < n; i++)
		if (fds[i] == fd)
			return i;
	return -1;
}

int memfd_create(const char *name, unsigned int flags)
{
	int fd = REAL(memfd_create)(name, flags);

	if (fd >= 0 && !strcmp(name, BACKEND_NAME) && nr_pending < MAX_TRACKED)
		pending_fd[nr_pending++] = fd;
	return fd;
}

static int gmem_ftruncate(int fd, off_t len, int (*real)(int, off_t))
{
	struct kvm_create_guest_memfd args = {
		.size = len,
		.flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED,
	};
	int i = find(gmem_fd, nr_gmem, fd), gfd;

	/* QEMU sizes the file again: a guest_memfd file cannot be resized. */
	if (i >= 0)
		return len == gmem_size[i] ? 0 : (errno = EINVAL, -1);
	i = find(pending_fd, nr_pending, fd);
	if (i < 0)
		return real(fd, len);
	pending_fd[i] = pending_fd[--nr_pending];
	if (vm_fd < 0 || nr_gmem == MAX_TRACKED) {
		note("no KVM VM yet for the %lld-byte " BACKEND_NAME, (long long)len);
		errno = ENODEV;
		return -1;
	}
	gfd = REAL(ioctl)(vm_fd, KVM_CREATE_GUEST_MEMFD, &args);
	if (gfd < 0) {
		note("KVM_CREATE_GUEST_MEMFD of %lld bytes: %s", (long long)len,
		     strerror(errno));
		return -1;
	}
	if (dup2(gfd, fd) < 0) {
		note("dup2: %s", strerror(errno));
		close(gfd);
		return -1;
	}
	close(gfd);
	gmem_fd[nr_gmem] = fd;
	gmem_size[nr_gmem++] = len;
	note("fd %d: guest_memfd of %lld bytes (MMAP | INIT_SHARED) for " BACKEND_NAME,
	     fd, (long long)len);
	return 0;
}

int ftruncate(int fd, off_t len)
{
	return gmem_ftruncate(fd, len, REAL(ftruncate));
}

/* What QEMU calls: it is built with 64-bit file offsets. */
int ftruncate64(int fd, off64_t len)
{
	return gmem_ftruncate(fd, len, REAL(ftruncate64));
}

static void *gmem_mmap(void *p, size_t len, int fd, off_t off)
{
	if (p != MAP_FAILED && fd >= 0 && find(gmem_fd, nr_gmem, fd) >= 0 &&
	    nr_maps < MAX_TRACKED) {
		maps[nr_maps] = (struct gmem_map){ (uintptr_t)p, len, off };
		map_fd[nr_maps++] = fd;
		note("fd %d: mapped at %p, %zu bytes", fd, p, len);
	}
	return p;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return gmem_mmap(REAL(mmap)(addr, len, prot, flags, fd, off), len, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	return gmem_mmap(REAL(mmap64)(addr, len, prot, flags, fd, off), len, fd, off);
}

/* The guest_memfd mapping that holds [ua, ua + size), or -1. */
static int map_of(uint64_t ua, uint64_t size)
{
	int i;

	for (i = 0; i < nr_maps; i++)
		if (ua >= maps[i].addr && ua + size <= maps[i].addr + maps[i].len)
			return i;
	return -1;
}

static int set_region(int fd, struct kvm_userspace_memory_region2 *r)
{
	int i = r->memory_size ? map_of(r->userspace_addr, r->memory_size) : -1;

	if (i >= 0) {
		r->flags |= KVM_MEM_GUEST_MEMFD;
		r->guest_memfd = map_fd[i];
		r->guest_memfd_offset = maps[i].off + r->userspace_addr - maps[i].addr;
		note("slot %#x: GPA %#llx + %#llx bound to fd %d at offset %#llx",
		     r->slot, (unsigned long long)r->guest_phys_addr,
		     (unsigned long long)r->memory_size, r->guest_memfd,
		     (unsigned long long)r->guest_memfd_offset);
	}
	return REAL(ioctl)(fd, KVM_SET_USER_MEMORY_REGION2, r);
}

int ioctl(int fd, unsigned long req, ...)
{
	struct kvm_userspace_memory_region *r1;
	struct kvm_userspace_memory_region2 r2;
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);

	switch (req) {
	case KVM_CREATE_VM:
		ret = REAL(ioctl)(fd, req, arg);
		if (ret >= 0)
			vm_fd = ret;
		return ret;
	case KVM_SET_USER_MEMORY_REGION2:
		if (fd == vm_fd)
			return set_region(fd, arg);
		break;
	case KVM_SET_USER_MEMORY_REGION:
		if (fd != vm_fd)
			break;
		r1 = arg;
		memset(&r2, 0, sizeof(r2));
		r2.slot = r1->slot;
		r2.flags = r1->flags;
		r2.guest_phys_addr = r1->guest_phys_addr;
		r2.memory_size = r1->memory_size;
		r2.userspace_addr = r1->userspace_addr;
		return set_region(fd, &r2);
	}
	return REAL(ioctl)(fd, req, arg);
}
