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
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
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

static int gmem_cma_kobj_nid(struct kobject *kobj)
{
	return container_of(kobj, struct gmem_cma_node_kobj, kobj)->nid;
}

static ssize_t node_capacity_pages_show(struct kobject *kobj,
					struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n",
			  gmem_cma_capacity_pages(gmem_cma_kobj_nid(kobj)));
}

static struct kobj_attribute node_capacity_pages_attr =
	__ATTR(capacity_pages, 0444, node_capacity_pages_show, NULL);

static struct attribute *gmem_cma_node_attrs[] = {
	&node_capacity_pages_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(gmem_cma_node);

static void gmem_cma_node_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct gmem_cma_node_kobj, kobj));
}

static const struct kobj_type gmem_cma_node_ktype = {
	.release = gmem_cma_node_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = gmem_cma_node_groups,
};

static ssize_t capacity_pages_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	unsigned long sum = 0;
	int nid;

	for_each_node_state(nid, N_MEMORY)
		sum += gmem_cma_capacity_pages(nid);
	return sysfs_emit(buf, "%lu\n", sum);
}

static struct kobj_attribute capacity_pages_attr = __ATTR_RO(capacity_pages);

static struct attribute *gmem_cma_attrs[] = {
	&capacity_pages_attr.attr,
	NULL,
};

static const struct attribute_group gmem_cma_group = {
	.attrs = gmem_cma_attrs,
};

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
	ret = sysfs_create_group(root, &gmem_cma_group);
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

static int __init gmem_cma_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("gmem_cma", NULL);

	debugfs_create_file("areas", 0444, dir, NULL, &gmem_cma_areas_fops);
	return 0;
}
late_initcall(gmem_cma_debugfs_init);
