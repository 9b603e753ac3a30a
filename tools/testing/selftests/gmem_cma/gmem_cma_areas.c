// SPDX-License-Identifier: GPL-2.0-only
/*
 * Check the gmem_cma= areas of the running kernel against its command line.
 *
 * The expected size of every node's area comes from "gmem_expect=" after
 * "--" on the command line when the test harness gives it (a comma list of
 * <nid>:<GiB>, for boots with deliberately bad gmem_cma= values), otherwise
 * from the valid forms of gmem_cma= itself.  "gmem_pool_expect=" does the
 * same for the pages the pools hold after gmem_cma_pool=.  Every node's
 * capacity_pages,
 * the global sum, /sys/kernel/mm/cma/gmem<N>/total_pages, CmaTotal in
 * /proc/meminfo and the debugfs ranges must agree with it exactly.
 */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "gmem_cma_util.h"

#define MAX_NODES	64
#define SYSFS		GMEM_CMA_SYSFS

static char cmdline[4096];
static long expect_gb[MAX_NODES];
static long expect_pool[MAX_NODES];
static int have_pool_expect;
static int node_has_memory[MAX_NODES];
static char zoneinfo[1 << 20];

/* Value of "key=" in the command line, or NULL. */
static const char *cmdline_value(const char *key)
{
	size_t klen = strlen(key);
	const char *p = cmdline;

	while ((p = strstr(p, key))) {
		if ((p == cmdline || p[-1] == ' ') && p[klen] == '=')
			return p + klen + 1;
		p += klen;
	}
	return NULL;
}

/* Parse "<size>" with a K/M/G/T suffix into bytes; -1 on bad input. */
static long long parse_size(const char *s, const char **end)
{
	const char *suffixes = "KMGT", *sfx;
	char *e;
	long long v = strtoll(s, &e, 0);

	if (e == s)
		return -1;
	sfx = *e ? strchr(suffixes, toupper(*e)) : NULL;
	if (sfx) {
		v <<= 10 * (sfx - suffixes + 1);
		e++;
	}
	*end = e;
	return v;
}

/* Parse "<nid>:<n>[,<nid>:<n>...]" (up to a space) into @val; 0 or -1. */
static int parse_node_list(const char *p, long *val)
{
	const char *end;
	long nid;

	while (*p && *p != ' ') {
		nid = strtol(p, (char **)&end, 10);
		if (*end != ':' || nid < 0 || nid >= MAX_NODES)
			return -1;
		val[nid] = strtol(end + 1, (char **)&end, 10);
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

/*
 * Fill expect_gb[] from gmem_expect= or from a valid gmem_cma= value.
 * Returns 0, or -1 if there is nothing to check against.
 */
static int load_expectations(void)
{
	const char *p, *end;
	int nid, nr_nodes = 0;
	long long total;
	long per_node;
	char buf[4096];

	if (read_text("/proc/cmdline", cmdline, sizeof(cmdline)))
		return -1;
	cmdline[strcspn(cmdline, "\n")] = '\0';

	/* Nodes with memory, from the kernel's own list ("0-1" or "0,2"). */
	if (read_text("/sys/devices/system/node/has_memory", buf, sizeof(buf)))
		return -1;
	for (p = buf; *p && *p != '\n';) {
		int a = strtol(p, (char **)&end, 10), b = a;

		if (*end == '-')
			b = strtol(end + 1, (char **)&end, 10);
		for (nid = a; nid <= b && nid < MAX_NODES; nid++) {
			node_has_memory[nid] = 1;
			nr_nodes++;
		}
		p = *end == ',' ? end + 1 : end;
	}

	p = cmdline_value("gmem_pool_expect");
	if (p) {
		have_pool_expect = 1;
		if (parse_node_list(p, expect_pool))
			return -1;
	}

	p = cmdline_value("gmem_expect");
	if (p)
		return parse_node_list(p, expect_gb);

	p = cmdline_value("gmem_cma");
	if (!p)
		return 0;	/* no areas expected at all */
	if (!memchr(p, ':', strcspn(p, " "))) {
		/* total form, spread like the kernel does */
		total = parse_size(p, &end) >> 30;
		if (total <= 0 || !nr_nodes)
			return -1;
		per_node = (total + nr_nodes - 1) / nr_nodes;
		for (nid = 0; nid < MAX_NODES && total > 0; nid++) {
			if (!node_has_memory[nid])
				continue;
			expect_gb[nid] = per_node < total ? per_node : total;
			total -= expect_gb[nid];
		}
		return 0;
	}
	while (*p && *p != ' ') {
		nid = strtol(p, (char **)&end, 10);
		if (*end != ':' || nid < 0 || nid >= MAX_NODES)
			return -1;
		total = parse_size(end + 1, &end);
		if (total < 0 || total % (1LL << 30))
			return -1;
		expect_gb[nid] = total >> 30;
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

static long expected_total_gb(void)
{
	long sum = 0;
	int nid;

	for (nid = 0; nid < MAX_NODES; nid++)
		sum += expect_gb[nid];
	return sum;
}

FIXTURE(areas) {
};

FIXTURE_SETUP(areas)
{
	/* Without the feature, gmem_cma= is only a failure if it asks for areas. */
	if (path_absent(SYSFS) && !cmdline_has("gmem_cma"))
		SKIP(return, "no %s: kernel without CONFIG_GMEM_CMA", SYSFS);
	ASSERT_FALSE(path_absent(SYSFS)) TH_LOG("gmem_cma= is on the command line but no %s",
						SYSFS);
	ASSERT_EQ(0, load_expectations())
		TH_LOG("cannot work out the expected areas from '%s'", cmdline);
}

FIXTURE_TEARDOWN(areas)
{
}

/* Every node with memory reports exactly its expected capacity. */
TEST_F(areas, node_capacity_pages)
{
	char path[128];
	int nid;

	for (nid = 0; nid < MAX_NODES; nid++) {
		snprintf(path, sizeof(path), SYSFS "/node%d/capacity_pages", nid);
		if (!node_has_memory[nid]) {
			EXPECT_TRUE(path_absent(path))
				TH_LOG("%s exists for a node without memory", path);
			EXPECT_EQ(0, expect_gb[nid]);
			continue;
		}
		EXPECT_EQ(expect_gb[nid], read_long(path))
			TH_LOG("node %d, cmdline '%s'", nid, cmdline);
	}
}

/* The global file is the sum over nodes. */
TEST_F(areas, total_capacity_pages)
{
	EXPECT_EQ(expected_total_gb(), read_long(SYSFS "/capacity_pages"));
}

/* CMA's own view of each area agrees, and there is no area where none is expected. */
TEST_F(areas, cma_sysfs_total_pages)
{
	char path[128];
	long pool;
	int nid;

	for (nid = 0; nid < MAX_NODES; nid++) {
		snprintf(path, sizeof(path), "/sys/kernel/mm/cma/gmem%d/total_pages", nid);
		if (!expect_gb[nid]) {
			EXPECT_TRUE(path_absent(path)) TH_LOG("unexpected %s", path);
			continue;
		}
		EXPECT_EQ(expect_gb[nid] * PAGES_PER_GB, read_long(path))
			TH_LOG("%s", path);
		snprintf(path, sizeof(path), "/sys/kernel/mm/cma/gmem%d/available_pages", nid);
		/* The pools hold what gmem_cma_pool= filled (boot_pool_pages). */
		pool = have_pool_expect ? expect_pool[nid] : 0;
		EXPECT_EQ((expect_gb[nid] - pool) * PAGES_PER_GB, read_long(path))
			TH_LOG("%s: only the pool's pages may be taken out", path);
	}
}

/* CmaTotal is every CMA area's size: ours plus any other (hugetlb_cma). */
TEST_F(areas, meminfo_cma_total)
{
	long gmem_kb = 0, all_kb = 0, pages, cma_total = -1;
	char buf[8192], path[512];
	struct dirent *de;
	DIR *dir;

	dir = opendir("/sys/kernel/mm/cma");
	if (!dir && !expected_total_gb())
		SKIP(return, "no CMA areas at all");
	ASSERT_NE(NULL, dir);
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/mm/cma/%s/total_pages", de->d_name);
		pages = read_long(path);
		ASSERT_GE(pages, 0) TH_LOG("%s", path);
		all_kb += pages * 4;
		if (!strncmp(de->d_name, "gmem", 4))
			gmem_kb += pages * 4;
	}
	closedir(dir);

	ASSERT_EQ(0, read_text("/proc/meminfo", buf, sizeof(buf)));
	cma_total = text_field(buf, "CmaTotal:");
	ASSERT_GE(cma_total, 0) TH_LOG("no CmaTotal line in /proc/meminfo");
	EXPECT_EQ(all_kb, cma_total);
	EXPECT_EQ(expected_total_gb() << 20, gmem_kb);
}

/*
 * The debugfs ranges add up to each node's capacity, are 1 GiB aligned,
 * and lie in that node's zones.
 */
TEST_F(areas, debugfs_ranges_on_node)
{
	unsigned long base, end, pages, zstart, zspanned;
	long sum[MAX_NODES] = { 0 };
	char buf[65536], name[32];
	int nid, range, n, znid;
	char *line, *z, *save;
	bool inside;

	if (read_text("/sys/kernel/debug/gmem_cma/areas", buf, sizeof(buf))) {
		char mounts[16384];

		/* Only a missing debugfs is a reason; the file is there with it. */
		ASSERT_EQ(0, read_text("/proc/mounts", mounts, sizeof(mounts)));
		if (!strstr(mounts, " /sys/kernel/debug debugfs "))
			SKIP(return, "debugfs not mounted");
		ASSERT_TRUE(0) TH_LOG("debugfs is mounted but has no gmem_cma/areas");
	}

	ASSERT_EQ(0, read_text("/proc/zoneinfo", zoneinfo, sizeof(zoneinfo)));
	line = strtok_r(buf, "\n", &save);	/* header */
	while ((line = strtok_r(NULL, "\n", &save))) {
		n = sscanf(line, "%d %31s %d 0x%lx 0x%lx %lu", &nid, name, &range,
			   &base, &end, &pages);
		ASSERT_EQ(6, n) TH_LOG("bad line '%s'", line);
		ASSERT_LT(nid, MAX_NODES);
		EXPECT_EQ(0, base % PAGES_PER_GB);
		EXPECT_EQ(0, end % PAGES_PER_GB);
		EXPECT_EQ((end - base) / PAGES_PER_GB, pages);
		sum[nid] += pages;

		/* Some zone of the same node spans the whole range. */
		inside = false;
		for (z = strstr(zoneinfo, "Node "); z; z = strstr(z + 1, "Node ")) {
			char *sp = strstr(z, "spanned"), *st = strstr(z, "start_pfn:");

			if (sscanf(z, "Node %d", &znid) != 1 || !sp || !st)
				continue;
			zspanned = strtoul(sp + strlen("spanned"), NULL, 10);
			zstart = strtoul(st + strlen("start_pfn:"), NULL, 10);
			if (znid == nid && base >= zstart && end <= zstart + zspanned)
				inside = true;
		}
		EXPECT_TRUE(inside) TH_LOG("range 0x%lx-0x%lx is not in node %d", base, end, nid);
	}
	for (nid = 0; nid < MAX_NODES; nid++)
		EXPECT_EQ(expect_gb[nid], sum[nid]) TH_LOG("node %d", nid);
}

/* gmem_cma_pool= filled the pools as expected (or left them empty). */
TEST_F(areas, boot_pool_pages)
{
	char path[128];
	int nid;

	for (nid = 0; nid < MAX_NODES; nid++) {
		if (!node_has_memory[nid])
			continue;
		snprintf(path, sizeof(path), SYSFS "/node%d/nr_pages", nid);
		EXPECT_EQ(have_pool_expect ? expect_pool[nid] : 0, read_long(path))
			TH_LOG("node %d", nid);
	}
}

/*
 * Pre-zeroing is as gmem_cma_prezero= set it (default on); off, no free
 * page was cleared ahead of time since boot.
 */
TEST_F(areas, prezero_as_booted)
{
	const char *v = cmdline_value("gmem_cma_prezero");
	bool off = v && (!strncmp(v, "off", 3) || v[0] == '0' || v[0] == 'n');
	char text[16];

	ASSERT_EQ(0, read_text(SYSFS "/prezero", text, sizeof(text)));
	EXPECT_STREQ(off ? "off\n" : "on\n", text);
	if (off)
		EXPECT_EQ(0, read_long(SYSFS "/zeroed_pages"));
}

/* The capacity files are read-only, even for root. */
TEST_F(areas, capacity_read_only)
{
	int fd = open(SYSFS "/capacity_pages", O_WRONLY);

	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EACCES, errno);
	if (fd >= 0)
		close(fd);
	fd = open(SYSFS "/node0/capacity_pages", O_WRONLY);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EACCES, errno);
	if (fd >= 0)
		close(fd);
}

TEST_HARNESS_MAIN
