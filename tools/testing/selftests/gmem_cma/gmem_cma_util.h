/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the gmem_cma kselftests and benchmark: reading and
 * writing sysfs-style files, per-node memory counters, NUMA binding.
 */
#ifndef _GMEM_CMA_UTIL_H
#define _GMEM_CMA_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GMEM_CMA_SYSFS	"/sys/kernel/mm/gmem_cma"
#define PAGES_PER_GB	262144L		/* 4 KiB pages in 1 GiB */
#define MPOL_BIND	2

/* Read a whole (small) file into @buf; 0 or -errno. */
static inline int read_text(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* A file holding one decimal number: the number, -1 if missing, -2 if bad. */
static inline long read_long(const char *path)
{
	char buf[64], *end;
	long v;

	if (read_text(path, buf, sizeof(buf)))
		return -1;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n'))
		return -2;
	return v;
}

/* read_long() of a path built from @fmt and a node id. */
static inline long read_long_fmt(const char *fmt, int nid)
{
	char path[160];

	snprintf(path, sizeof(path), fmt, nid);
	return read_long(path);
}

/* Write @val to a sysfs file in one write(); 0 or the errno. */
static inline int write_str(const char *path, const char *val)
{
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		err = errno;
	close(fd);
	return err;
}

/*
 * The number after @key in @text (as in /proc/meminfo), or -1 if no line
 * has @key (at its start or after a space: "CmaTotal:" does not match
 * "GmemCmaTotal:") followed by a number.
 */
static inline long text_field(const char *text, const char *key)
{
	const char *p;
	char *end;
	long v;

	for (p = strstr(text, key); p; p = strstr(p + 1, key)) {
		if (p != text && p[-1] != '\n' && p[-1] != ' ')
			continue;
		errno = 0;
		v = strtol(p + strlen(key), &end, 10);
		if (errno || end == p + strlen(key) || v < 0)
			return -1;
		return v;
	}
	return -1;
}

/* A field of /sys/devices/system/node/node<N>/meminfo, in kB. */
static inline long node_meminfo_kb(int nid, const char *key)
{
	char path[96], text[4096];

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", nid);
	if (read_text(path, text, sizeof(text)))
		return -1;
	return text_field(text, key);
}

/*
 * Free CMA pages in the zones of node @nid, from /proc/zoneinfo; -1 if no
 * zone of the node reports nr_free_cma.
 */
static inline long node_free_cma(int nid)
{
	static char text[1 << 20];
	char hdr[32], *z, *p, *next;
	long sum = 0;
	int found = 0;

	if (read_text("/proc/zoneinfo", text, sizeof(text)))
		return -1;
	snprintf(hdr, sizeof(hdr), "Node %d, zone", nid);
	for (z = strstr(text, hdr); z; z = strstr(z + 1, hdr)) {
		p = strstr(z, "nr_free_cma");
		next = strstr(z + 1, "Node ");
		if (p && (!next || p < next)) {
			sum += strtol(p + strlen("nr_free_cma"), NULL, 10);
			found = 1;
		}
	}
	return found ? sum : -1;
}

/*
 * @path does not exist.  Unlike read_long() returning -1, an unreadable
 * file does not count.
 */
static inline int path_absent(const char *path)
{
	return access(path, F_OK) && errno == ENOENT;
}

/* "@key=" is a parameter of the kernel command line (before any "--"). */
static inline int cmdline_has(const char *key)
{
	char text[4096], *p, *dashes;
	size_t klen = strlen(key);

	if (read_text("/proc/cmdline", text, sizeof(text)))
		return 0;
	dashes = strstr(text, " -- ");
	if (dashes)
		*dashes = '\0';
	for (p = strstr(text, key); p; p = strstr(p + klen, key))
		if ((p == text || p[-1] == ' ') && p[klen] == '=')
			return 1;
	return 0;
}

/* Bind a mapping to node @nid; 0 or -1. */
static inline int bind_to_node(void *addr, size_t len, int nid)
{
	unsigned long mask = 1UL << nid;

	return syscall(__NR_mbind, addr, len, MPOL_BIND, &mask, sizeof(mask) * 8, 0) ? -1 : 0;
}

#endif /* _GMEM_CMA_UTIL_H */
