// SPDX-License-Identifier: GPL-2.0-only
/*
 * gmem_cma reporting: /sys/kernel/mm/gmem_cma/ (ABI, see
 * Documentation/ABI/testing/sysfs-kernel-mm-gmem_cma) and
 * /sys/kernel/debug/gmem_cma/ (not ABI).
 */

#define pr_fmt(fmt) "gmem_cma: " fmt

#include <linux/cma.h>
#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/kobject.h>
#include <linux/kstrtox.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string_choices.h>
#include <linux/sysfs.h>

#include "cma.h"
#include "gmem_cma_internal.h"

/**
 * struct gmem_cma_node_kobj - the node<N> directory of one node
 * @kobj: the directory
 * @nid: the node it reports on
 */
struct gmem_cma_node_kobj {
	struct kobject kobj;
	int nid;
};

/* The node directories, kept to unwind a failed init. */
static struct gmem_cma_node_kobj *gmem_cma_nodes[MAX_NUMNODES] __initdata;

/* /sys/kernel/mm/gmem_cma, set once at init. */
static struct kobject *gmem_cma_kobj __ro_after_init;

/* Sum a counter over every node with memory, or read one node's. */
static unsigned long gmem_cma_stat(int nid, size_t offset)
{
	struct gmem_cma_pool_stats st;
	unsigned long sum = 0;

	if (nid != NUMA_NO_NODE) {
		gmem_cma_pool_stats(nid, &st);
		return *(unsigned long *)((char *)&st + offset);
	}
	for_each_node_state(nid, N_MEMORY) {
		gmem_cma_pool_stats(nid, &st);
		sum += *(unsigned long *)((char *)&st + offset);
	}
	return sum;
}

/* The node a file reports on: NUMA_NO_NODE for the files of the root. */
static int gmem_cma_kobj_nid(struct kobject *kobj)
{
	if (kobj == gmem_cma_kobj)
		return NUMA_NO_NODE;
	return container_of(kobj, struct gmem_cma_node_kobj, kobj)->nid;
}

#define GMEM_CMA_STAT_ATTR(_name, _field)				\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%lu\n",					\
			  gmem_cma_stat(gmem_cma_kobj_nid(kobj),	\
					offsetof(struct gmem_cma_pool_stats, _field))); \
}									\
static struct kobj_attribute _name##_attr = __ATTR_RO(_name)

GMEM_CMA_STAT_ATTR(capacity_pages, capacity);
GMEM_CMA_STAT_ATTR(free_pages, free);
GMEM_CMA_STAT_ATTR(resv_pages, resv);
GMEM_CMA_STAT_ATTR(used_pages, used);
GMEM_CMA_STAT_ATTR(alloc_fail, alloc_fail);
GMEM_CMA_STAT_ATTR(vmemmap_saved_pages, vmemmap_saved);
GMEM_CMA_STAT_ATTR(zeroed_pages, zeroed);

/* Root only: whether the pools' folios are trimmed (gmem_cma_vmemmap=). */
static ssize_t vmemmap_trim_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", str_on_off(gmem_cma_vmemmap_enabled()));
}

static struct kobj_attribute vmemmap_trim_attr = __ATTR_RO(vmemmap_trim);

/* Root only: whether free pages are cleared ahead of time (gmem_cma_prezero=). */
static ssize_t prezero_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%s\n", str_on_off(gmem_cma_prezero_enabled()));
}

static ssize_t prezero_store(struct kobject *kobj, struct kobj_attribute *attr,
			     const char *buf, size_t count)
{
	bool on;
	int ret;

	ret = kstrtobool(buf, &on);
	if (ret) {
		pr_warn_ratelimited("prezero: '%.*s' is not on or off\n",
				    (int)min_t(size_t, strcspn(buf, "\n"), 32), buf);
		return ret;
	}
	ret = gmem_cma_prezero_set(on);
	return ret ? ret : count;
}

static struct kobj_attribute prezero_attr = __ATTR_RW_MODE(prezero, 0644);

/* Root only: which guest_memfd files get 1 GiB pages (gmem_cma_guest_memfd=). */
static ssize_t guest_memfd_enabled_show(struct kobject *kobj,
					struct kobj_attribute *attr, char *buf)
{
	return gmem_cma_guest_memfd_policy_show(buf);
}

static ssize_t guest_memfd_enabled_store(struct kobject *kobj,
					 struct kobj_attribute *attr,
					 const char *buf, size_t count)
{
	int ret = gmem_cma_guest_memfd_policy_set(buf);

	if (ret) {
		pr_warn_ratelimited("guest_memfd_enabled: '%.*s' is not never, advise, within_size or always\n",
				    (int)min_t(size_t, strcspn(buf, "\n"), 32), buf);
		return ret;
	}
	return count;
}

static struct kobj_attribute guest_memfd_enabled_attr =
	__ATTR_RW_MODE(guest_memfd_enabled, 0644);

/* Files the policy wanted on 1 GiB pages that got 4 KiB pages instead. */
static ssize_t guest_memfd_fallback_show(struct kobject *kobj,
					 struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", gmem_cma_guest_memfd_fallbacks());
}

static struct kobj_attribute guest_memfd_fallback_attr =
	__ATTR_RO(guest_memfd_fallback);

static ssize_t nr_pages_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%lu\n",
			  gmem_cma_stat(gmem_cma_kobj_nid(kobj),
					offsetof(struct gmem_cma_pool_stats, nr_pages)));
}

/*
 * Writing nr_pages sets the pool size.  The write succeeds only if the pool
 * then holds that many pages; see gmem_cma_set_pool_pages() for the errors.
 */
static ssize_t nr_pages_store(struct kobject *kobj, struct kobj_attribute *attr,
			      const char *buf, size_t count)
{
	int nid = gmem_cma_kobj_nid(kobj);
	unsigned long target;
	char where[16] = "all nodes";
	int ret;

	if (nid != NUMA_NO_NODE)
		snprintf(where, sizeof(where), "node %d", nid);
	ret = kstrtoul(buf, 10, &target);
	if (ret) {
		pr_warn_ratelimited("%s: nr_pages: '%.*s' is not a number of pages\n",
				    where, (int)min_t(size_t, strcspn(buf, "\n"), 32), buf);
		return ret;
	}

	ret = gmem_cma_set_pool_pages(nid, target);
	switch (ret) {
	case 0:
		return count;
	case -EINVAL:
		pr_warn_ratelimited("%s: nr_pages: %lu is above the capacity of %lu pages\n",
				    where, target,
				    gmem_cma_stat(nid, offsetof(struct gmem_cma_pool_stats,
								capacity)));
		break;
	case -EBUSY:
		pr_warn_ratelimited("%s: nr_pages: cannot set %lu: another resize is running, or pages are reserved or in use\n",
				    where, target);
		break;
	case -ENOMEM:
		pr_warn_ratelimited("%s: nr_pages: reached %lu of %lu pages: CMA could not provide the rest\n",
				    where,
				    gmem_cma_stat(nid, offsetof(struct gmem_cma_pool_stats,
								nr_pages)), target);
		break;
	}
	return ret;
}

static struct kobj_attribute nr_pages_attr = __ATTR_RW_MODE(nr_pages, 0644);

static struct attribute *gmem_cma_attrs[] = {
	&capacity_pages_attr.attr,
	&nr_pages_attr.attr,
	&free_pages_attr.attr,
	&resv_pages_attr.attr,
	&used_pages_attr.attr,
	&alloc_fail_attr.attr,
	&vmemmap_saved_pages_attr.attr,
	&zeroed_pages_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(gmem_cma);

static void gmem_cma_node_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct gmem_cma_node_kobj, kobj));
}

/* The files of a node<N> directory are those of the root, for one node. */
static const struct kobj_type gmem_cma_node_ktype = {
	.release = gmem_cma_node_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = gmem_cma_groups,
};

/**
 * gmem_cma_report_meminfo() - print the gmem_cma lines of /proc/meminfo
 * @m: the seq_file of /proc/meminfo
 *
 * The pools' pages, in kB: all that they hold, the free ones (not promised
 * to anyone) and the reserved ones.  The pages are neither hugetlb nor file
 * pages and are counted nowhere else.
 */
void gmem_cma_report_meminfo(struct seq_file *m)
{
	const unsigned long kb = GMEM_CMA_PAGE_SIZE / SZ_1K;

	seq_printf(m, "GmemCmaTotal:   %8lu kB\n",
		   gmem_cma_stat(NUMA_NO_NODE,
				 offsetof(struct gmem_cma_pool_stats, nr_pages)) * kb);
	seq_printf(m, "GmemCmaFree:    %8lu kB\n",
		   gmem_cma_stat(NUMA_NO_NODE,
				 offsetof(struct gmem_cma_pool_stats, free)) * kb);
	seq_printf(m, "GmemCmaRsvd:    %8lu kB\n",
		   gmem_cma_stat(NUMA_NO_NODE,
				 offsetof(struct gmem_cma_pool_stats, resv)) * kb);
}

/*
 * /sys/kernel/mm/gmem_cma/ with the totals, and a node<N> directory for
 * every node with memory, whether or not it has an area (capacity 0).
 */
static int __init gmem_cma_sysfs_init(void)
{
	struct gmem_cma_node_kobj *node;
	struct kobject *root;
	int nid, ret;

	root = kobject_create_and_add("gmem_cma", mm_kobj);
	if (!root)
		return -ENOMEM;
	gmem_cma_kobj = root;
	ret = sysfs_create_groups(root, gmem_cma_groups);
	if (!ret)
		ret = sysfs_create_file(root, &vmemmap_trim_attr.attr);
	if (!ret)
		ret = sysfs_create_file(root, &prezero_attr.attr);
	if (!ret)
		ret = sysfs_create_file(root, &guest_memfd_enabled_attr.attr);
	if (!ret)
		ret = sysfs_create_file(root, &guest_memfd_fallback_attr.attr);
	if (ret)
		goto err_put_root;

	for_each_node_state(nid, N_MEMORY) {
		node = kzalloc_obj(*node);
		if (!node) {
			ret = -ENOMEM;
			goto err_put_nodes;
		}
		node->nid = nid;
		ret = kobject_init_and_add(&node->kobj, &gmem_cma_node_ktype,
					   root, "node%d", nid);
		if (ret) {
			kobject_put(&node->kobj);
			goto err_put_nodes;
		}
		gmem_cma_nodes[nid] = node;
	}
	return 0;

err_put_nodes:
	for (nid = 0; nid < MAX_NUMNODES; nid++)
		if (gmem_cma_nodes[nid])
			kobject_put(&gmem_cma_nodes[nid]->kobj);
err_put_root:
	pr_warn("cannot create /sys/kernel/mm/gmem_cma (error %d)\n", ret);
	gmem_cma_kobj = NULL;
	kobject_put(root);
	return ret;
}
subsys_initcall(gmem_cma_sysfs_init);

/*
 * debugfs "areas": one line per memory range of every node's area, with
 * the pfns it covers and how many 1 GiB pages fit in it.
 */
static int gmem_cma_areas_show(struct seq_file *m, void *v)
{
	struct cma_memrange *cmr;
	struct cma *cma;
	int nid, r;

	seq_puts(m, "node area     range base_pfn   end_pfn    pages_1g\n");
	for_each_node_state(nid, N_MEMORY) {
		cma = gmem_cma_area(nid);
		if (!cma)
			continue;
		for (r = 0; r < cma->nranges; r++) {
			cmr = &cma->ranges[r];
			seq_printf(m, "%-4d %-8s %-5d 0x%-8lx 0x%-8lx %lu\n",
				   nid, cma->name, r, cmr->base_pfn,
				   cmr->base_pfn + cmr->count,
				   cmr->count >> GMEM_CMA_PAGE_ORDER);
		}
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(gmem_cma_areas);

static void gmem_cma_show_folio(struct folio *folio, const char *state,
				void *data)
{
	seq_printf(data, "  0x%-8lx %s vmemmap_shared %lu/%lu\n", folio_pfn(folio),
		   state, gmem_cma_vmemmap_shared(folio),
		   (unsigned long)GMEM_CMA_VMEMMAP_CHUNKS);
}

/*
 * debugfs "pools": every node's counters, the events of its grows and
 * shrinks, its vmemmap trimming, and the folios it holds with their pfn,
 * state ("free" covers reserved pages too: a reservation is a count, not a
 * folio) and how many of their 2 MiB chunks have a trimmed vmemmap.
 */
static int gmem_cma_pools_show(struct seq_file *m, void *v)
{
	struct gmem_cma_vmemmap_stats vst;
	struct gmem_cma_pool_stats st;
	int nid;

	for_each_node_state(nid, N_MEMORY) {
		gmem_cma_pool_stats(nid, &st);
		gmem_cma_vmemmap_stats(nid, &vst);
		seq_printf(m, "node %d: capacity %lu nr_pages %lu free %lu resv %lu used %lu alloc_fail %lu grow_attempts %lu shrinks %lu poisoned %lu resv_short %lu\n",
			   nid, st.capacity, st.nr_pages, st.free, st.resv,
			   st.used, st.alloc_fail, st.grow_attempts, st.shrinks,
			   st.poisoned, st.resv_short);
		seq_printf(m, "node %d: vmemmap_saved %lu trims %lu trim_ns %llu restores %lu restore_ns %llu restore_fail %lu\n",
			   nid, vst.saved, vst.trims, vst.trim_ns, vst.restores,
			   vst.restore_ns, vst.restore_fail);
		if (st.capacity)
			gmem_cma_pool_for_each(nid, gmem_cma_show_folio, m);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(gmem_cma_pools);

static int __init gmem_cma_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("gmem_cma", NULL);

	debugfs_create_file("areas", 0444, dir, NULL, &gmem_cma_areas_fops);
	debugfs_create_file("pools", 0444, dir, NULL, &gmem_cma_pools_fops);
	return 0;
}
late_initcall(gmem_cma_debugfs_init);
