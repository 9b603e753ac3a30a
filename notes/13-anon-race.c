// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stock paths only: a nested guest reads 2 GiB of anonymous memory (THP)
 * while the VMM zaps random parts (MADV_DONTNEED) between runs, a thread
 * spins and a thread wakes every 2 ms.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/sizes.h>
#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

#define GPA	SZ_4G
#define SIZE	(2ULL * SZ_1G)

static void guest_code(void)
{
	u64 gpa;

	for (;;) {
		for (gpa = GPA; gpa < GPA + SIZE; gpa += PAGE_SIZE)
			READ_ONCE(*(u64 *)gpa);
		GUEST_SYNC(1);
	}
}

static int stop;

static void *spinner(void *arg)
{
	static char buf[1 << 20];
	unsigned int seed = 1;
	long n = 0;

	while (!READ_ONCE(stop))
		n += buf[rand_r(&seed) % sizeof(buf)];
	return (void *)n;
}

static void *waker(void *arg)
{
	while (!READ_ONCE(stop))
		usleep(2000);
	return NULL;
}

int main(int argc, char **argv)
{
	int loops = argc > 1 ? atoi(argv[1]) : 200;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	pthread_t a, b;
	unsigned int seed = 3;
	struct ucall uc;
	char *mem;
	int i, j;

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	mem = mmap(NULL, SIZE + SZ_1G, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(mem != MAP_FAILED, "mmap");
	mem = (char *)(((unsigned long)mem + SZ_1G - 1) & ~(SZ_1G - 1UL));
	madvise(mem, SIZE, MADV_HUGEPAGE);
	for (i = 0; i < SIZE; i += PAGE_SIZE)
		mem[i] = 1;
	vm_set_user_memory_region(vm, 1, 0, GPA, SIZE, mem);
	virt_map_level(vm, GPA, GPA, SIZE, PG_LEVEL_2M);
	pthread_create(&a, NULL, spinner, NULL);
	pthread_create(&b, NULL, waker, NULL);
	for (i = 0; i < loops; i++) {
		/* Zap random 4 KiB..2 MiB pieces, as conversions do. */
		for (j = 0; j < 20; j++) {
			u64 off = (u64)(rand_r(&seed) % (SIZE / PAGE_SIZE)) * PAGE_SIZE;
			u64 len = rand_r(&seed) % 4 == 3 ? SZ_2M :
				  PAGE_SIZE * (1 + rand_r(&seed) % 8);

			if (len == SZ_2M)
				off &= ~(SZ_2M - 1ULL);
			if (off + len > SIZE)
				len = SIZE - off;
			madvise(mem + off, len, MADV_DONTNEED);
		}
		vcpu_run(vcpu);
		TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_SYNC, "round %d: exit reason %s", i,
			    exit_reason_str(vcpu->run->exit_reason));
		if (!(i % 20))
			printf("round %d ok\n", i);
	}
	WRITE_ONCE(stop, 1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	kvm_vm_free(vm);
	printf("ANON PASS %d rounds\n", loops);
	return 0;
}
