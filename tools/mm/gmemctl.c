// SPDX-License-Identifier: GPL-2.0-only
/*
 * gmemctl: show and size the gmem_cma pools of 1 GiB guest_memfd pages.
 *
 * See Documentation/admin-guide/mm/gmem_cma.rst
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SYSFS		"/sys/kernel/mm/gmem_cma"
#define MAX_NODES	1024

enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,	/* the kernel refused or did only part */
	EXIT_USAGE = 2,
	EXIT_NO_POOL = 3,	/* no gmem_cma areas on this kernel */
};

static const char *const usage_text =
"usage: gmemctl [show]\n"
"       gmemctl set <pages>\n"
"       gmemctl set <node>:<pages>[,<node>:<pages>...]\n"
"       gmemctl -h | --help\n"
"\n"
"Show or size the per-node pools of 1 GiB pages that gmem_cma keeps for\n"
"guest_memfd (/sys/kernel/mm/gmem_cma).\n"
"\n"
"  show   print, per node and in total, the capacity of the node's CMA\n"
"         area, the pages its pool holds, and how many of those are free,\n"
"         reserved for guest_memfd files and in use, and how many pages\n"
"         could not be taken out of CMA (alloc_fail), and how many free\n"
"         pages are already cleared (zeroed); all in 1 GiB pages\n"
"  set    make the pools hold that many pages: one number sets the total,\n"
"         spread over the nodes; <node>:<pages> sets one node.  Growing\n"
"         takes pages out of CMA (migrating what is there), shrinking\n"
"         gives free pages back.  The table is printed afterwards.\n"
"\n"
"Exit status: 0 on success, 1 if the kernel refused a size or reached\n"
"only part of it, 2 on a usage error, 3 if the kernel has no gmem_cma\n"
"areas (boot with gmem_cma=, see Documentation/admin-guide/mm/gmem_cma.rst).\n";

static const char *const fields[] = {
	"capacity_pages", "nr_pages", "free_pages", "resv_pages", "used_pages",
	"alloc_fail", "zeroed_pages",
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NR_FIELDS	ARRAY_SIZE(fields)

/* Read one number from <dir>/<name>; -1 with errno set on failure. */
static long read_value(const char *dir, const char *name)
{
	char path[256], buf[32], *end;
	ssize_t n;
	long v;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	v = strtol(buf, &end, 10);
	if (end == buf) {
		errno = EIO;
		return -1;
	}
	return v;
}

static int print_row(const char *label, const char *dir)
{
	long v[NR_FIELDS];
	size_t i;

	for (i = 0; i < NR_FIELDS; i++) {
		v[i] = read_value(dir, fields[i]);
		if (v[i] < 0) {
			fprintf(stderr, "gmemctl: cannot read %s/%s: %s\n", dir,
				fields[i], strerror(errno));
			return -1;
		}
	}
	printf("%-6s %9ld %6ld %6ld %9ld %6ld %11ld %7ld\n", label, v[0], v[1],
	       v[2], v[3], v[4], v[5], v[6]);
	return 0;
}

static int show(void)
{
	char dir[64], label[16];
	int nid, ret = 0;

	printf("%-6s %9s %6s %6s %9s %6s %11s %7s\n", "node", "capacity", "pool",
	       "free", "reserved", "used", "alloc_fail", "zeroed");
	for (nid = 0; nid < MAX_NODES; nid++) {
		snprintf(dir, sizeof(dir), SYSFS "/node%d", nid);
		if (access(dir, F_OK))
			continue;
		snprintf(label, sizeof(label), "%d", nid);
		ret |= print_row(label, dir);
	}
	ret |= print_row("total", SYSFS);
	printf("(1 GiB pages)\n");
	return ret ? EXIT_REFUSED : EXIT_OK;
}

/* Write one pool size and explain a refusal. */
static int set_one(int nid, unsigned long pages)
{
	char dir[64], where[32], path[96], buf[32];
	int fd, len, err;
	long now;

	if (nid < 0) {
		snprintf(dir, sizeof(dir), SYSFS);
		snprintf(where, sizeof(where), "all nodes");
	} else {
		snprintf(dir, sizeof(dir), SYSFS "/node%d", nid);
		snprintf(where, sizeof(where), "node %d", nid);
		if (access(dir, F_OK)) {
			fprintf(stderr, "gmemctl: node %d has no memory or does not exist\n", nid);
			return EXIT_REFUSED;
		}
	}
	snprintf(path, sizeof(path), "%s/nr_pages", dir);
	fd = open(path, O_WRONLY);
	if (fd < 0) {
		err = errno;
		if (err == EACCES || err == EPERM)
			fprintf(stderr, "gmemctl: permission denied: sizing pools needs root\n");
		else
			fprintf(stderr, "gmemctl: cannot open %s: %s\n", path, strerror(err));
		return EXIT_REFUSED;
	}
	len = snprintf(buf, sizeof(buf), "%lu\n", pages);
	err = write(fd, buf, len) == len ? 0 : errno;
	close(fd);
	if (!err)
		return EXIT_OK;

	now = read_value(dir, "nr_pages");
	switch (err) {
	case EINVAL:
		fprintf(stderr, "gmemctl: %s: %lu pages is more than the capacity of %ld\n",
			where, pages, read_value(dir, "capacity_pages"));
		break;
	case EBUSY:
		fprintf(stderr,
			"gmemctl: %s: cannot set %lu pages now: another resize is running, or %ld reserved and %ld used pages cannot be given back\n",
			where, pages, read_value(dir, "resv_pages"),
			read_value(dir, "used_pages"));
		break;
	case ENOMEM:
		fprintf(stderr,
			"gmemctl: %s: reached %ld of %lu pages: CMA could not free the rest (pinned or unmovable pages)\n",
			where, now, pages);
		break;
	default:
		fprintf(stderr, "gmemctl: %s: setting %lu pages failed: %s\n",
			where, pages, strerror(err));
	}
	return EXIT_REFUSED;
}

/* Parse a non-negative decimal number that makes up all of [s, end). */
static int parse_number(const char *s, const char *end, unsigned long *v)
{
	char *e;

	if (s == end || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoul(s, &e, 10);
	return (errno || e != end) ? -1 : 0;
}

static int set(const char *arg)
{
	const char *s = arg, *comma, *colon;
	unsigned long nid, pages;
	int ret = EXIT_OK;

	if (!strchr(arg, ':')) {
		if (parse_number(arg, arg + strlen(arg), &pages))
			goto usage;
		ret = set_one(-1, pages);
		show();
		return ret;
	}
	/* Check every entry before changing anything. */
	for (s = arg; *s; s = *comma ? comma + 1 : comma) {
		comma = strchrnul(s, ',');
		colon = memchr(s, ':', comma - s);
		if (!colon || parse_number(s, colon, &nid) || nid >= MAX_NODES ||
		    parse_number(colon + 1, comma, &pages))
			goto usage;
	}
	for (s = arg; *s; s = *comma ? comma + 1 : comma) {
		comma = strchrnul(s, ',');
		colon = memchr(s, ':', comma - s);
		parse_number(s, colon, &nid);
		parse_number(colon + 1, comma, &pages);
		if (set_one(nid, pages))
			ret = EXIT_REFUSED;
	}
	show();
	return ret;
usage:
	fprintf(stderr, "gmemctl: bad size '%s': give <pages> or <node>:<pages>[,...]\n", arg);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (access(SYSFS, F_OK) || read_value(SYSFS, "capacity_pages") <= 0) {
		fputs("gmemctl: no gmem_cma pool on this kernel: boot with gmem_cma=\n"
		      "(see Documentation/admin-guide/mm/gmem_cma.rst)\n", stderr);
		return EXIT_NO_POOL;
	}
	if (argc == 1 || (argc == 2 && !strcmp(argv[1], "show")))
		return show();
	if (argc == 3 && !strcmp(argv[1], "set"))
		return set(argv[2]);
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}
