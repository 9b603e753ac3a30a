// SPDX-License-Identifier: GPL-2.0-only
/*
 * /init of the nested guest that gmem_cma_qemu.sh boots under QEMU: it
 * writes a pattern to nearly all of the guest's free memory (at most
 * gmem_nested_mib=<n> MiB if the command line says so), reads it back,
 * repeats the touch loop for the benchmark, prints one result line and
 * reboots (QEMU runs with -no-reboot, so it exits).
 *
 * The result line, parsed by gmem_cma_qemu.sh:
 *   gmem_nested: PASS uptime_ms=<boot> mib=<written> write_ms=<t> verify_ms=<t> touch_ms=<t>
 * or "gmem_nested: FAIL <reason>".  Built static: the nested guest's
 * initramfs holds nothing else.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

#define KEEP_FREE_MIB	96	/* left to the guest kernel */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* A "<key>: <n> kB" line of /proc/meminfo, in MiB; 0 if missing. */
static unsigned long meminfo_mib(const char *key)
{
	char line[128];
	unsigned long kb = 0;
	size_t len = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':')
			kb = strtoul(line + len + 1, NULL, 10);
	fclose(f);
	return kb / 1024;
}

/* gmem_nested_mib=<n> on the command line: write at most n MiB. */
static unsigned long cmdline_mib(void)
{
	char line[1024], *p;
	unsigned long mib = 0;
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f)) {
		p = strstr(line, "gmem_nested_mib=");
		if (p)
			mib = strtoul(p + strlen("gmem_nested_mib="), NULL, 10);
	}
	fclose(f);
	return mib;
}

static void finish(void)
{
	fflush(stdout);
	sync();
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

int main(void)
{
	unsigned long total, avail, mib, i, n, bad = 0;
	uint64_t t0, t1, t2, t3, uptime_ms;
	double up = 0;
	uint64_t *mem;
	FILE *f;

	if (mount("proc", "/proc", "proc", 0, NULL) && errno != EBUSY) {
		printf("gmem_nested: FAIL mount /proc: %s\n", strerror(errno));
		finish();
	}
	f = fopen("/proc/uptime", "r");
	if (!f || fscanf(f, "%lf", &up) != 1)
		up = 0;
	if (f)
		fclose(f);
	uptime_ms = (uint64_t)(up * 1000);
	total = meminfo_mib("MemTotal");
	avail = meminfo_mib("MemAvailable");
	if (avail <= KEEP_FREE_MIB) {
		printf("gmem_nested: FAIL only %lu MiB available\n", avail);
		finish();
	}
	mib = avail - KEEP_FREE_MIB;
	if (cmdline_mib() && cmdline_mib() < mib)
		mib = cmdline_mib();
	n = (mib << 20) / sizeof(*mem);
	printf("gmem_nested: booted in %llu ms, MemTotal %lu MiB, writing %lu MiB\n",
	       (unsigned long long)uptime_ms, total, mib);
	fflush(stdout);

	mem = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED) {
		printf("gmem_nested: FAIL mmap %lu MiB: %s\n", mib, strerror(errno));
		finish();
	}
	/* Every word gets its index mixed with a seed: no page reads back as another. */
	t0 = now_ms();
	for (i = 0; i < n; i++)
		mem[i] = i ^ 0x5eed0f6d0c3a1ULL;
	t1 = now_ms();
	for (i = 0; i < n; i++)
		bad += mem[i] != (i ^ 0x5eed0f6d0c3a1ULL);
	t2 = now_ms();
	/* The benchmark's touch loop: one write per 4 KiB page, twice over. */
	for (i = 0; i < 2 * n; i += 512)
		mem[i % n] += 1;
	t3 = now_ms();
	if (bad) {
		printf("gmem_nested: FAIL %lu of %lu words read back wrong\n", bad, n);
		finish();
	}
	printf("gmem_nested: PASS uptime_ms=%llu mib=%lu write_ms=%llu verify_ms=%llu",
	       (unsigned long long)uptime_ms, mib, (unsigned long long)(t1 - t0),
	       (unsigned long long)(t2 - t1));
	printf(" touch_ms=%llu\n", (unsigned long long)(t3 - t2));
	finish();
	return 0;
}
