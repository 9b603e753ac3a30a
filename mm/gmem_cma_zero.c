// SPDX-License-Identifier: GPL-2.0-only
/*
 * gmem_cma pre-zeroing: clear the pools' free 1 GiB pages ahead of time.
 *
 * A guest_memfd file must never see what an earlier user left in a page,
 * so every 1 GiB folio is cleared before a file gets it.  Done on the fault
 * that allocates it, that costs seconds per GiB on the VMM's critical path.
 * Instead, each node with a gmem_cma area has a zeroer thread that clears
 * the node's free folios in the background, at SCHED_IDLE priority on the
 * node's own CPUs, in batches of GMEM_CMA_ZERO_BATCH pages, as long as the
 * other free folios cover the pool's reservations (a reserved folio is
 * likely to be faulted in soon and is cleared then).  An allocation takes a
 * folio it cleared and skips clearing; otherwise it clears the folio
 * itself, as without pre-zeroing.
 *
 * Whether a free folio is zeroed is gmem_cma's own state (which pool list
 * holds it: see mm/gmem_cma_pool.c), never a page flag.  Every way into the
 * pool puts a folio on the free list, not zeroed, so only the zeroer makes a
 * folio zeroed, and only after clearing all of it since it was last free.
 * The zeroer clears through the direct map: the folio's trimmed vmemmap is
 * neither read nor written.
 *
 * Between batches the zeroer gives its folio back unfinished if an
 * allocation or a shrink wants it, if pre-zeroing is switched off or if it
 * must stop; a memory failure takes the folio from it at once (see
 * gmem_cma_pool_retire_free()).  The zeroer only stores, which does not
 * consume poison.
 *
 * See Documentation/admin-guide/mm/gmem_cma.rst
 */

#define pr_fmt(fmt) "gmem_cma: " fmt

#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/freezer.h>
#include <linux/init.h>
#include <linux/kstrtox.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/sched/cputime.h>
#include <linux/seq_file.h>
#include <linux/string_choices.h>
#include <linux/topology.h>
#include <linux/wait.h>
#include <uapi/linux/sched/types.h>

#include "gmem_cma_internal.h"

/* 32 MiB: the most the zeroer clears before it looks for waiters again. */
#define GMEM_CMA_ZERO_BATCH	(SZ_32M / PAGE_SIZE)

/* gmem_cma_prezero= and /sys/kernel/mm/gmem_cma/prezero; read locklessly. */
static bool gmem_cma_prezero = true;

/*
 * debugfs zero_hold_after: if non-zero, the zeroer stops after that many
 * batches of a folio and holds it, half cleared, until the value changes,
 * the folio is wanted or pre-zeroing is switched off.  For tests only.
 */
static unsigned int gmem_cma_zero_hold;

/**
 * gmem_cma_prezero_enabled() - is pre-zeroing on?
 *
 * Return: true if free folios are cleared ahead of time.
 */
bool gmem_cma_prezero_enabled(void)
{
	return READ_ONCE(gmem_cma_prezero);
}

/**
 * gmem_cma_zeroer_wake() - tell a node's zeroer that there may be work
 * @nid: node id
 */
void gmem_cma_zeroer_wake(int nid)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);

	if (pool && READ_ONCE(pool->zeroer))
		wake_up(&pool->zeroer_wait);
}

/**
 * gmem_cma_prezero_set() - switch pre-zeroing on or off
 * @on: the new state
 *
 * Off: the zeroers stop at the end of their batch, and no free folio counts
 * as zeroed any more, so every allocation clears its folio.  On: the
 * zeroers start over.
 *
 * Return: 0.
 */
int gmem_cma_prezero_set(bool on)
{
	int nid;

	WRITE_ONCE(gmem_cma_prezero, on);
	for_each_node_state(nid, N_MEMORY) {
		if (!gmem_cma_capacity_pages(nid))
			continue;
		if (!on)
			gmem_cma_pool_drop_zeroed(nid);
		gmem_cma_zeroer_wake(nid);
	}
	return 0;
}

static int __init gmem_cma_prezero_param(char *val)
{
	bool on;

	if (!val || kstrtobool(val, &on)) {
		pr_warn("gmem_cma_prezero=%s: not on or off: pre-zeroing stays %s\n",
			val ?: "", str_on_off(gmem_cma_prezero));
		return 0;
	}
	gmem_cma_prezero = on;
	return 0;
}
early_param("gmem_cma_prezero", gmem_cma_prezero_param);

/* Wake up for a new hold value, a waiter, a stop or the switch. */
static bool gmem_cma_zero_hold_over(struct gmem_cma_pool *pool,
				    unsigned int hold)
{
	return READ_ONCE(gmem_cma_zero_hold) != hold || READ_ONCE(pool->want) ||
	       !gmem_cma_prezero_enabled() || kthread_should_stop();
}

/*
 * Clear one folio in batches.  Return with the folio given back: zeroed,
 * back on the free list unfinished, or taken by a memory failure.
 */
static void gmem_cma_zero_one(int nid, struct folio *folio)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);
	unsigned long nr = folio_nr_pages(folio), pfn = folio_pfn(folio);
	unsigned long i, j, batch, cleared = 0, batches = 0;
	unsigned int hold;

	for (i = 0; i < nr; i += batch) {
		if (!gmem_cma_pool_zero_continue(nid, folio, cleared,
						 kthread_should_stop()))
			return;
		cleared = 0;
		/* Tests: hold the folio half cleared. */
		while ((hold = READ_ONCE(gmem_cma_zero_hold)) && batches >= hold) {
			wait_event_interruptible_timeout(pool->zeroer_wait,
							 gmem_cma_zero_hold_over(pool, hold),
							 HZ / 10);
			if (!gmem_cma_pool_zero_continue(nid, folio, 0,
							 kthread_should_stop()))
				return;
		}
		batch = min_t(unsigned long, nr - i, GMEM_CMA_ZERO_BATCH);
		for (j = 0; j < batch; j += PROCESS_PAGES_NON_PREEMPT_BATCH) {
			clear_pages(pfn_to_kaddr(pfn + i + j),
				    min_t(unsigned long, batch - j,
					  PROCESS_PAGES_NON_PREEMPT_BATCH));
			cond_resched();
		}
		cleared = batch;
		batches++;
	}
	gmem_cma_pool_zero_end(nid, folio, cleared);
}

static int gmem_cma_zeroer(void *data)
{
	int nid = (long)data;
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);
	struct folio *folio;

	set_freezable();
	while (!kthread_should_stop()) {
		folio = gmem_cma_pool_zero_begin(nid);
		if (folio) {
			gmem_cma_zero_one(nid, folio);
			continue;
		}
		/* The timeout ends a backoff after a folio was wanted. */
		wait_event_freezable_timeout(pool->zeroer_wait,
					     kthread_should_stop() ||
					     gmem_cma_pool_zero_pending(nid), HZ);
	}
	return 0;
}

/* Start a zeroer on every node with an area, on the node's CPUs. */
static int __init gmem_cma_zero_init(void)
{
	struct sched_param param = { .sched_priority = 0 };
	struct task_struct *t;
	int nid;

	for_each_node_state(nid, N_MEMORY) {
		if (!gmem_cma_capacity_pages(nid))
			continue;
		t = kthread_create_on_node(gmem_cma_zeroer, (void *)(long)nid,
					   nid, "gmem_cma_zero/%d", nid);
		if (IS_ERR(t)) {
			pr_warn("node %d: no zeroer thread (error %ld): free pages are cleared when allocated\n",
				nid, PTR_ERR(t));
			continue;
		}
		if (cpumask_intersects(cpumask_of_node(nid), cpu_online_mask))
			set_cpus_allowed_ptr(t, cpumask_of_node(nid));
		sched_setscheduler_nocheck(t, SCHED_IDLE, &param);
		WRITE_ONCE(gmem_cma_pool(nid)->zeroer, t);
		wake_up_process(t);
	}
	return 0;
}
late_initcall(gmem_cma_zero_init);

/*
 * debugfs "zeroer": every node's zeroed pages, the zeroer's counters, its
 * CPU time and the folio it is clearing.
 */
static int gmem_cma_zeroer_show(struct seq_file *m, void *v)
{
	struct gmem_cma_zero_stats zst;
	struct gmem_cma_pool_stats st;
	struct task_struct *t;
	int nid;

	seq_printf(m, "prezero %s hold_after %u\n",
		   str_on_off(gmem_cma_prezero_enabled()),
		   READ_ONCE(gmem_cma_zero_hold));
	for_each_node_state(nid, N_MEMORY) {
		if (!gmem_cma_capacity_pages(nid))
			continue;
		gmem_cma_pool_stats(nid, &st);
		gmem_cma_pool_zero_stats(nid, &zst);
		t = READ_ONCE(gmem_cma_pool(nid)->zeroer);
		seq_printf(m, "node %d: zeroed %lu folios %lu pages %lu aborts %lu retired %lu alloc_zeroed %lu alloc_cleared %lu cpu_ns %llu zeroing 0x%lx\n",
			   nid, st.zeroed, zst.folios, zst.pages, zst.aborts,
			   zst.retired, zst.alloc_zeroed, zst.alloc_cleared,
			   t ? (unsigned long long)task_sched_runtime(t) : 0ULL,
			   zst.zeroing_pfn);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(gmem_cma_zeroer);

static int gmem_cma_zero_hold_get(void *data, u64 *val)
{
	*val = READ_ONCE(gmem_cma_zero_hold);
	return 0;
}

static int gmem_cma_zero_hold_set(void *data, u64 val)
{
	int nid;

	if (val > UINT_MAX)
		return -EINVAL;
	WRITE_ONCE(gmem_cma_zero_hold, val);
	for_each_node_state(nid, N_MEMORY)
		gmem_cma_zeroer_wake(nid);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(gmem_cma_zero_hold_fops, gmem_cma_zero_hold_get,
			 gmem_cma_zero_hold_set, "%llu\n");

static int __init gmem_cma_zero_debugfs_init(void)
{
	struct dentry *dir = debugfs_lookup("gmem_cma", NULL);

	if (IS_ERR_OR_NULL(dir))
		return 0;
	debugfs_create_file("zeroer", 0444, dir, NULL, &gmem_cma_zeroer_fops);
	debugfs_create_file_unsafe("zero_hold_after", 0600, dir, NULL,
				   &gmem_cma_zero_hold_fops);
	dput(dir);
	return 0;
}
late_initcall_sync(gmem_cma_zero_debugfs_init);
