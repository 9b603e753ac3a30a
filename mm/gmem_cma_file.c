// SPDX-License-Identifier: GPL-2.0-only
/*
 * gmem_cma subpools: the 1 GiB pages one guest_memfd file reserves and uses.
 *
 * A guest_memfd file that asks for 1 GiB pages reserves all of them from the
 * node pools when it is created, so that a fault can never find the pools
 * empty.  The subpool remembers how many pages it holds on each node, in two
 * states: reserved (a promise made by the pool) and used (a folio allocated
 * from that promise, in the file's page cache or still referenced).
 *
 * Folios can outlive the file: an in-flight reference (KVM's page fault, a
 * GUP pin of the host mapping) may drop the last reference after the inode
 * is gone.  So the subpool is reference counted, one reference for the file
 * and one per folio in use, and every folio records its subpool in
 * folio->private.  When the last reference to a folio is dropped,
 * __folio_put() hands it to gmem_cma_free_folio(): it becomes a reserved
 * page of its file again, or a free page of its pool if the file is gone.
 *
 * Every reserved or used page is charged to the dmem cgroup of the task
 * that created the file, in the region of its node ("gmem_cma/node<N>"), so
 * that an administrator can limit what one tenant takes from the pools.
 * The charge goes when the page goes back to its pool.
 *
 * See Documentation/admin-guide/mm/gmem_cma.rst
 */

#define pr_fmt(fmt) "gmem_cma: " fmt

#include <linux/cgroup_dmem.h>
#include <linux/cma.h>
#include <linux/debugfs.h>
#include <linux/gmem_cma.h>
#include <linux/hash.h>
#include <linux/kref.h>
#include <linux/llist.h>
#include <linux/mempolicy.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/pagemap.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/topology.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <kunit/visibility.h>

#include "gmem_cma_internal.h"

#define GMEM_CMA_NR_PAGES	BIT(GMEM_CMA_PAGE_ORDER)

/**
 * struct gmem_cma_node_count - one node's pages in a subpool
 * @resv: reserved in the node's pool, not allocated yet
 * @used: allocated and not yet returned
 * @dmem: the dmem cgroup pool charged 1 GiB for each of @resv + @used
 */
struct gmem_cma_node_count {
	unsigned long resv;
	unsigned long used;
	struct dmem_cgroup_pool_state *dmem;
};

/**
 * struct gmem_cma_subpool - the pages of one guest_memfd file
 * @lock: protects @dead, @returned and @count
 * @dead: the file is gone; returned folios go back to the pool as free
 * @returned: folios returned so far, to tell a waiting fault that one came
 * @wait: faults waiting for a punched folio to come back
 * @ref: one reference for the file, one per folio in use
 * @entry: on gmem_cma_subpools, under gmem_cma_subpools_lock
 * @nr_pages: pages reserved at creation
 * @ino: inode number of the file, for the debugfs listing
 * @pid: thread group of the creator, for the debugfs listing
 * @comm: command name of the creator, for the debugfs listing
 * @interleave: the creator's policy interleaves pages over @order
 * @nr_order: number of entries in @order
 * @order: nodes the creator's policy allows, most wanted first
 * @count: pages per node, nr_node_ids entries
 */
struct gmem_cma_subpool {
	spinlock_t lock;		/* protects dead, returned and count[] */
	bool dead;
	unsigned long returned;
	wait_queue_head_t wait;
	struct kref ref;
	struct list_head entry;
	unsigned long nr_pages;
	unsigned long ino;
	pid_t pid;
	char comm[TASK_COMM_LEN];
	bool interleave;
	int nr_order;
	int order[MAX_NUMNODES];
	struct gmem_cma_node_count count[];
};

/* Every live subpool, for the debugfs listing. */
static LIST_HEAD(gmem_cma_subpools);
static DEFINE_SPINLOCK(gmem_cma_subpools_lock);	/* protects gmem_cma_subpools */

/*
 * Serializes reservations made at file creation, so that files racing for
 * the last pages of the pools are served one after the other: each either
 * gets all it asks for or nothing, and none fails because another holds a
 * part of the pages it would have got.
 */
static DEFINE_MUTEX(gmem_cma_reserve_lock);

#define GMEM_CMA_FAULT_MUTEX_BITS	6
/*
 * Faults on the same 1 GiB page of a file are serialized by one of these,
 * chosen by hashing the mapping and the page, so that two threads never
 * both allocate (and zero) a page for the same index.
 */
static struct mutex gmem_cma_fault_mutex[1 << GMEM_CMA_FAULT_MUTEX_BITS];

/* Folios whose last reference was dropped outside task context. */
static LLIST_HEAD(gmem_cma_free_llist);

/* The dmem cgroup region of each node's pool; NULL: not accounted. */
static struct dmem_cgroup_region *gmem_cma_dmem_region[MAX_NUMNODES];

/* Uncharge @nr pages of node @nid from the subpool's dmem cgroup. */
static void gmem_cma_uncharge(struct gmem_cma_subpool *sp, int nid,
			      unsigned long nr)
{
	while (nr--)
		dmem_cgroup_uncharge(sp->count[nid].dmem, GMEM_CMA_PAGE_SIZE);
}

/*
 * Charge the pages planned in count[].resv to the calling task's dmem
 * cgroup, one 1 GiB page at a time so that each page can be uncharged on
 * its own.  All or nothing: -EDQUOT if a limit is in the way.
 */
static int gmem_cma_charge(struct gmem_cma_subpool *sp)
{
	struct dmem_cgroup_pool_state *pool;
	unsigned long done;
	int nid, err;

	for_each_node(nid) {
		if (!gmem_cma_dmem_region[nid])
			continue;
		for (done = 0; done < sp->count[nid].resv; done++) {
			err = dmem_cgroup_try_charge(gmem_cma_dmem_region[nid],
						     GMEM_CMA_PAGE_SIZE, &pool,
						     NULL);
			if (err) {
				gmem_cma_uncharge(sp, nid, done);
				goto err_undo;
			}
			sp->count[nid].dmem = pool;
		}
	}
	return 0;

err_undo:
	pr_warn_ratelimited("%s[%d]: %lu 1 GiB pages on node %d would exceed the dmem cgroup limit of gmem_cma/node%d\n",
			    current->comm, task_pid_nr(current),
			    sp->count[nid].resv, nid, nid);
	while (--nid >= 0)
		if (gmem_cma_dmem_region[nid])
			gmem_cma_uncharge(sp, nid, sp->count[nid].resv);
	return err == -EAGAIN ? -EDQUOT : err;
}

static void gmem_cma_subpool_release(struct kref *ref)
{
	struct gmem_cma_subpool *sp = container_of(ref, struct gmem_cma_subpool, ref);

	spin_lock(&gmem_cma_subpools_lock);
	list_del(&sp->entry);
	spin_unlock(&gmem_cma_subpools_lock);
	kfree(sp);
}

/* Nodes in @mask, nearest to @from first, appended to @sp->order. */
static void gmem_cma_add_nodes(struct gmem_cma_subpool *sp,
			       const nodemask_t *mask, int from)
{
	nodemask_t left = *mask;
	int i, nid, best;

	for (i = 0; i < sp->nr_order; i++)
		node_clear(sp->order[i], left);
	while (!nodes_empty(left)) {
		best = first_node(left);
		for_each_node_mask(nid, left)
			if (node_distance(from, nid) < node_distance(from, best))
				best = nid;
		node_clear(best, left);
		sp->order[sp->nr_order++] = best;
	}
}

/*
 * Turn the creator's memory policy into the nodes the file may use, most
 * wanted first: the local node for the default policy, the preferred
 * node(s) for MPOL_PREFERRED*, then every other node with memory by
 * distance; only the policy's nodes for MPOL_BIND and the interleave
 * policies, which also spread the pages round-robin.
 */
static void gmem_cma_policy_order(struct gmem_cma_subpool *sp,
				  const struct mempolicy *pol)
{
	nodemask_t memory = node_states[N_MEMORY];
	int local = numa_node_id();
	nodemask_t mask;
	int nid;

	sp->nr_order = 0;
	sp->interleave = false;
	switch (pol ? pol->mode : MPOL_DEFAULT) {
	case MPOL_PREFERRED:
	case MPOL_PREFERRED_MANY:
		nodes_and(mask, pol->nodes, memory);
		gmem_cma_add_nodes(sp, &mask, local);
		gmem_cma_add_nodes(sp, &memory, local);
		break;
	case MPOL_BIND:
		nodes_and(mask, pol->nodes, memory);
		gmem_cma_add_nodes(sp, &mask, local);
		break;
	case MPOL_INTERLEAVE:
	case MPOL_WEIGHTED_INTERLEAVE:
		sp->interleave = true;
		nodes_and(mask, pol->nodes, memory);
		for_each_node_mask(nid, mask)
			sp->order[sp->nr_order++] = nid;
		break;
	default:
		nodes_clear(mask);
		if (node_isset(local, memory))
			node_set(local, mask);
		gmem_cma_add_nodes(sp, &mask, local);
		gmem_cma_add_nodes(sp, &memory, local);
		break;
	}
}

/*
 * Decide how many pages each node gives: greedily in order of preference,
 * or one at a time round-robin for interleaving.  Returns the number of
 * pages planned.
 */
static unsigned long gmem_cma_subpool_plan(struct gmem_cma_subpool *sp,
					   unsigned long *avail,
					   unsigned long nr)
{
	unsigned long planned = 0, take;
	bool progress = true;
	int i, nid;

	if (!sp->interleave) {
		for (i = 0; i < sp->nr_order && planned < nr; i++) {
			nid = sp->order[i];
			take = min(avail[nid], nr - planned);
			sp->count[nid].resv = take;
			planned += take;
		}
		return planned;
	}
	while (planned < nr && progress) {
		progress = false;
		for (i = 0; i < sp->nr_order && planned < nr; i++) {
			nid = sp->order[i];
			if (sp->count[nid].resv >= avail[nid])
				continue;
			sp->count[nid].resv++;
			planned++;
			progress = true;
		}
	}
	return planned;
}

/**
 * gmem_cma_subpool_create() - reserve the 1 GiB pages of a new file
 * @nr_pages: number of 1 GiB pages the file holds
 * @ino: inode number of the file, shown in debugfs
 *
 * The nodes come from the calling task's memory policy.  Either all pages
 * are reserved or none.
 *
 * The pages are charged to the calling task's dmem cgroup.
 *
 * Return: the subpool, ERR_PTR(-ENODEV) if no node the policy allows has a
 * gmem_cma area, ERR_PTR(-ENOMEM) if the pools of those nodes do not have
 * @nr_pages free pages (or no memory for the subpool itself),
 * ERR_PTR(-EDQUOT) if the pages would exceed a dmem cgroup limit.
 */
struct gmem_cma_subpool *gmem_cma_subpool_create(unsigned long nr_pages,
						 unsigned long ino)
{
	struct gmem_cma_pool_stats stats;
	struct gmem_cma_subpool *sp;
	unsigned long *avail;
	bool have_area = false;
	int i, nid, err;

	sp = kzalloc_flex(*sp, count, nr_node_ids);
	avail = kcalloc(nr_node_ids, sizeof(*avail), GFP_KERNEL);
	if (!sp || !avail) {
		err = -ENOMEM;
		goto err_free;
	}
	spin_lock_init(&sp->lock);
	init_waitqueue_head(&sp->wait);
	kref_init(&sp->ref);
	INIT_LIST_HEAD(&sp->entry);
	sp->nr_pages = nr_pages;
	sp->ino = ino;
	sp->pid = task_tgid_nr(current);
	get_task_comm(sp->comm, current);
	gmem_cma_policy_order(sp, get_task_policy(current));

	mutex_lock(&gmem_cma_reserve_lock);
	for (i = 0; i < sp->nr_order; i++) {
		nid = sp->order[i];
		gmem_cma_pool_stats(nid, &stats);
		have_area |= stats.capacity > 0;
		avail[nid] = stats.free;
	}
	err = -ENODEV;
	if (!have_area)
		goto err_unlock;
	err = -ENOMEM;
	if (gmem_cma_subpool_plan(sp, avail, nr_pages) < nr_pages)
		goto err_unlock;
	err = gmem_cma_charge(sp);
	if (err)
		goto err_unlock;
	for (i = 0; i < sp->nr_order; i++) {
		nid = sp->order[i];
		if (sp->count[nid].resv &&
		    gmem_cma_pool_reserve(nid, sp->count[nid].resv))
			goto err_unreserve;
	}
	mutex_unlock(&gmem_cma_reserve_lock);
	kfree(avail);

	spin_lock(&gmem_cma_subpools_lock);
	list_add_tail(&sp->entry, &gmem_cma_subpools);
	spin_unlock(&gmem_cma_subpools_lock);
	return sp;

err_unreserve:
	/* A pool shrank under us: give back what was taken so far. */
	while (--i >= 0) {
		nid = sp->order[i];
		if (sp->count[nid].resv)
			gmem_cma_pool_unreserve(nid, sp->count[nid].resv);
	}
	for_each_node(nid)
		gmem_cma_uncharge(sp, nid, sp->count[nid].resv);
	err = -ENOMEM;
err_unlock:
	mutex_unlock(&gmem_cma_reserve_lock);
err_free:
	kfree(avail);
	kfree(sp);
	return ERR_PTR(err);
}
EXPORT_SYMBOL_FOR_MODULES(gmem_cma_subpool_create, "kvm");

/**
 * gmem_cma_subpool_destroy() - the file is gone: give back its reservation
 * @sp: the file's subpool
 *
 * Reserved pages go back to their pools at once.  Folios still referenced
 * go back when their last reference is dropped.
 */
void gmem_cma_subpool_destroy(struct gmem_cma_subpool *sp)
{
	int nid;

	spin_lock(&sp->lock);
	sp->dead = true;
	for_each_node(nid) {
		if (!sp->count[nid].resv)
			continue;
		gmem_cma_pool_unreserve(nid, sp->count[nid].resv);
		gmem_cma_uncharge(sp, nid, sp->count[nid].resv);
		sp->count[nid].resv = 0;
	}
	spin_unlock(&sp->lock);
	kref_put(&sp->ref, gmem_cma_subpool_release);
}
EXPORT_SYMBOL_FOR_MODULES(gmem_cma_subpool_destroy, "kvm");

/* The @n-th node of @mask, counting from zero and wrapping around. */
static int gmem_cma_nth_node(const nodemask_t *mask, unsigned long n)
{
	int nid;

	n %= nodes_weight(*mask);
	for_each_node_mask(nid, *mask)
		if (!n--)
			return nid;
	return NUMA_NO_NODE;
}

/*
 * The node the next page at 1 GiB page number @pg comes from: the one the
 * file's shared policy @pol asks for if it has a reserved page, else the
 * one the creator's policy wanted, else any node with a reserved page.
 */
static int gmem_cma_pick_node(struct gmem_cma_subpool *sp, unsigned long pg,
			      const struct mempolicy *pol)
{
	int i, nid = NUMA_NO_NODE;

	lockdep_assert_held(&sp->lock);

	if (pol && !nodes_empty(pol->nodes)) {
		switch (pol->mode) {
		case MPOL_INTERLEAVE:
		case MPOL_WEIGHTED_INTERLEAVE:
			nid = gmem_cma_nth_node(&pol->nodes, pg);
			if (nid < nr_node_ids && sp->count[nid].resv)
				return nid;
			break;
		case MPOL_BIND:
		case MPOL_PREFERRED:
		case MPOL_PREFERRED_MANY:
			for_each_node_mask(nid, pol->nodes)
				if (nid < nr_node_ids && sp->count[nid].resv)
					return nid;
			break;
		}
	}
	if (sp->interleave && sp->nr_order) {
		nid = sp->order[pg % sp->nr_order];
		if (sp->count[nid].resv)
			return nid;
	}
	for (i = 0; i < sp->nr_order; i++) {
		nid = sp->order[i];
		if (sp->count[nid].resv)
			return nid;
	}
	return NUMA_NO_NODE;
}

/*
 * Turn one reserved page of @sp into a folio in use, with one reference;
 * *@zeroed says whether it was cleared ahead of time.  ERR_PTR(-EAGAIN): the
 * only free folio of node *@nid is being zeroed, see
 * gmem_cma_pool_wait_zeroing().
 */
static struct folio *gmem_cma_subpool_alloc(struct gmem_cma_subpool *sp,
					    unsigned long pg,
					    const struct mempolicy *pol,
					    int *nid_out, bool *zeroed)
{
	struct folio *folio = NULL;
	int nid;

	spin_lock(&sp->lock);
	nid = gmem_cma_pick_node(sp, pg, pol);
	*nid_out = nid;
	if (nid != NUMA_NO_NODE)
		folio = gmem_cma_pool_alloc(nid, zeroed);
	if (!IS_ERR_OR_NULL(folio)) {
		sp->count[nid].resv--;
		sp->count[nid].used++;
		kref_get(&sp->ref);
		folio->private = sp;
	}
	spin_unlock(&sp->lock);
	return folio;
}

/* Zero a whole 1 GiB folio in batches that do not hold off preemption. */
static void gmem_cma_zero_folio(struct folio *folio)
{
	unsigned long nr = folio_nr_pages(folio), i, batch;
	bool poisoned = gmem_cma_vmemmap_poisoned(folio);

	for (i = 0; i < nr; i += batch) {
		batch = min_t(unsigned long, nr - i,
			      PROCESS_PAGES_NON_PREEMPT_BATCH);
		/*
		 * Poisoned while the pool handed it out: never touch a bad
		 * page (no guest or host mapping will reach it).
		 */
		if (unlikely(poisoned)) {
			batch = 1;
			if (gmem_cma_vmemmap_poison_near(folio, i) ==
			    GMEM_CMA_POISON_PAGE)
				continue;
		}
		clear_pages(page_address(folio_page(folio, i)), batch);
		if (!poisoned || !(i % PROCESS_PAGES_NON_PREEMPT_BATCH))
			cond_resched();
	}
}

/*
 * True if some of the file's pages in use are no longer in its page cache:
 * a hole was punched while something still referenced the folio, which
 * comes back to the reservation when that reference is dropped.
 */
static bool gmem_cma_in_flight(struct gmem_cma_subpool *sp,
			       struct address_space *mapping)
{
	unsigned long used = 0;
	int nid;

	spin_lock(&sp->lock);
	for_each_node(nid)
		used += sp->count[nid].used;
	spin_unlock(&sp->lock);
	return used * GMEM_CMA_NR_PAGES > READ_ONCE(mapping->nrpages);
}

/*
 * Wait, with no lock held, until a folio of @sp comes back (its
 * returned count moves past @seen) or nothing is in flight any more.  The
 * wait wakes every second so that a long one (a long-term pin of the
 * punched folio) is not reported as a hung task.
 *
 * Any signal ends the wait, task work included: the last reference to the
 * punched folio may be dropped only by this task's own task work (an
 * io_uring instance closed with the folio still registered is freed after
 * each of its tasks ran its exit work), which runs only once this task
 * returns to user space.
 *
 * Return: 0, or -EINTR if a signal or task work is pending.
 */
static int gmem_cma_wait_in_flight(struct gmem_cma_subpool *sp,
				   struct address_space *mapping,
				   unsigned long seen)
{
	long ret;

	do {
		ret = wait_event_interruptible_timeout(sp->wait,
						       READ_ONCE(sp->returned) != seen ||
						       !gmem_cma_in_flight(sp, mapping),
						       HZ);
	} while (!ret);
	return ret < 0 ? -EINTR : 0;
}

static struct mutex *gmem_cma_fault_lock(struct address_space *mapping,
					 unsigned long pg)
{
	unsigned long key = (unsigned long)mapping ^ hash_long(pg, BITS_PER_LONG);

	return &gmem_cma_fault_mutex[hash_long(key, GMEM_CMA_FAULT_MUTEX_BITS)];
}

/**
 * gmem_cma_get_folio() - find or allocate the 1 GiB folio of a file index
 * @sp: the file's subpool
 * @mapping: the file's page cache
 * @index: any page index inside the 1 GiB page
 * @pol: the file's shared policy at @index, or NULL
 *
 * For callers whose own page cache lookup found nothing.  Callers for the
 * same 1 GiB page are serialized and look again; the first one allocates
 * the folio from the file's reservation, zeroes it (unless the pool's
 * zeroer did, see mm/gmem_cma_zero.c), marks it up to date and adds it to
 * the page cache, the others find it there.  If the only free folio is the
 * one the zeroer is clearing, it waits for the zeroer to give it back.
 *
 * If the file has no reserved page left because a punched folio is still
 * referenced, wait for that folio to come back, with no lock held, until
 * it does or a signal (or task work) is pending.
 *
 * Return: the folio, locked and with a reference, ERR_PTR(-ENOMEM) if the
 * file has no reserved page left, ERR_PTR(-EINTR) if a signal or task work
 * came while waiting (the caller returns to user space, which handles it,
 * and may try again), or another error from adding the folio to the page
 * cache.
 */
struct folio *gmem_cma_get_folio(struct gmem_cma_subpool *sp,
				 struct address_space *mapping, pgoff_t index,
				 const struct mempolicy *pol)
{
	unsigned long pg = index >> GMEM_CMA_PAGE_ORDER;
	struct mutex *lock;	/* serializes faults on this 1 GiB page */
	struct folio *folio;
	unsigned long seen;
	bool zeroed;
	int err, nid;

	lock = gmem_cma_fault_lock(mapping, pg);
	for (;;) {
		if (mutex_lock_killable(lock))
			return ERR_PTR(-EINTR);
		folio = filemap_lock_folio(mapping, index);
		if (!IS_ERR(folio))
			goto out;

		seen = READ_ONCE(sp->returned);
		folio = gmem_cma_subpool_alloc(sp, pg, pol, &nid, &zeroed);
		if (folio == ERR_PTR(-EAGAIN)) {
			/* Being zeroed: the zeroer gives it back within a batch. */
			mutex_unlock(lock);
			if (gmem_cma_pool_wait_zeroing(nid))
				return ERR_PTR(-EINTR);
			continue;
		}
		if (folio || !gmem_cma_in_flight(sp, mapping))
			break;
		/* Never sleep on a folio's return with the hashed lock held. */
		mutex_unlock(lock);
		if (gmem_cma_wait_in_flight(sp, mapping, seen))
			return ERR_PTR(-EINTR);
	}
	if (!folio) {
		pr_warn_ratelimited("%s[%d]: guest_memfd inode %lu: no reserved 1 GiB page left for offset %#llx\n",
				    current->comm, task_pid_nr(current), sp->ino,
				    (u64)pg << 30);
		folio = ERR_PTR(-ENOMEM);
		goto out;
	}
	/* Cleared since its last use by the pool's zeroer, or now. */
	if (!zeroed)
		gmem_cma_zero_folio(folio);
	folio_mark_uptodate(folio);
	folio_set_large_rmappable(folio);
	__folio_set_locked(folio);
	err = __filemap_add_folio(mapping, folio, pg << GMEM_CMA_PAGE_ORDER,
				  GFP_KERNEL, NULL);
	if (err) {
		folio_unlock(folio);
		folio_put(folio);
		folio = ERR_PTR(err);
	}
out:
	mutex_unlock(lock);
	return folio;
}
EXPORT_SYMBOL_FOR_MODULES(gmem_cma_get_folio, "kvm");

/* Give a folio whose last reference is gone back to its subpool or pool. */
static void gmem_cma_return_folio(struct folio *folio)
{
	struct gmem_cma_subpool *sp = folio->private;
	int nid = folio_nid(folio);
	bool keep, poisoned;

	if (WARN_ON_ONCE(!sp))
		return;
	folio->private = NULL;
	folio->index = 0;
	VM_WARN_ON_ONCE_FOLIO(folio->mapping, folio);
	VM_WARN_ON_ONCE_FOLIO(folio_test_locked(folio) || folio_test_lru(folio) ||
			      folio_test_mlocked(folio), folio);
	folio_clear_uptodate(folio);
	folio_clear_dirty(folio);
	folio_clear_referenced(folio);
	folio_clear_workingset(folio);
	folio_clear_large_rmappable(folio);

	spin_lock(&sp->lock);
	sp->count[nid].used--;
	/* Read without the lock by gmem_cma_wait_in_flight(). */
	WRITE_ONCE(sp->returned, sp->returned + 1);
	poisoned = gmem_cma_vmemmap_poisoned(folio);
	/* Back to the file's reservation, or out of it (and uncharged). */
	keep = !sp->dead && !poisoned;
	if (poisoned) {
		/* Never hand out a poisoned page again: it leaves the pool. */
		pr_warn_ratelimited("node %d: 1 GiB page at pfn %#lx has a poisoned page: retired\n",
				    nid, folio_pfn(folio));
		gmem_cma_pool_retire(nid, folio);
	} else {
		gmem_cma_pool_free(nid, folio, keep);
	}
	if (keep)
		sp->count[nid].resv++;
	else
		gmem_cma_uncharge(sp, nid, 1);
	spin_unlock(&sp->lock);
	wake_up_all(&sp->wait);
	kref_put(&sp->ref, gmem_cma_subpool_release);
}

static void gmem_cma_free_workfn(struct work_struct *work)
{
	struct llist_node *node = llist_del_all(&gmem_cma_free_llist);

	while (node) {
		struct folio *folio = container_of((struct address_space **)node,
						   struct folio, mapping);

		node = node->next;
		folio->mapping = NULL;
		/* Nothing maps it any more: share its struct pages again. */
		if (gmem_cma_vmemmap_needs_trim(folio))
			gmem_cma_vmemmap_trim(folio, 0, GMEM_CMA_VMEMMAP_CHUNKS);
		gmem_cma_return_folio(folio);
		cond_resched();
	}
}

static DECLARE_WORK(gmem_cma_free_work, gmem_cma_free_workfn);

/**
 * __gmem_cma_folio_owned() - does a 1 GiB folio come from a gmem_cma area?
 * @folio: an order GMEM_CMA_PAGE_ORDER folio that is not a hugetlb folio
 *
 * Only gmem_cma allocates from its areas, and only whole 1 GiB folios, so
 * a folio of that order inside an area is one of its pool's folios in use.
 *
 * Return: true if @folio lies in the gmem_cma area of its node.
 */
bool __gmem_cma_folio_owned(struct folio *folio)
{
	phys_addr_t start = PFN_PHYS(folio_pfn(folio));
	struct cma *cma = gmem_cma_area(folio_nid(folio));

	return cma && cma_intersects(cma, start, start + GMEM_CMA_PAGE_SIZE - 1);
}

/**
 * gmem_cma_folio_pinnable() - may this folio in a CMA pageblock be pinned?
 * @folio: a folio in a MIGRATE_CMA pageblock
 *
 * Called by folio_is_longterm_pinnable().  A 1 GiB folio of a pool never
 * migrates: it stays where it is while it is referenced and goes back to
 * its CMA area only from the pool's free list, which a pinned folio (a
 * referenced one) is never on.  So a long-term pin (io_uring fixed buffers,
 * VFIO or iommufd DMA mappings) may keep it, and must, since GUP could not
 * migrate it out of CMA and would retry for ever.
 *
 * The same holds for the 2 MiB and 4 KiB folios a 1 GiB folio is split
 * into: they stay in their block until it is whole again.
 *
 * Return: true if @folio is one of the pools' folios.
 */
bool gmem_cma_folio_pinnable(struct folio *folio)
{
	return gmem_cma_pfn_held(folio_pfn(folio));
}

/**
 * gmem_cma_free_folio() - take back a gmem_cma folio whose last reference went
 * @folio: a folio gmem_cma_folio_owned() accepted, reference count zero
 *
 * Called by __folio_put() and folios_put_refs().  Outside task context the
 * folio is queued for a worker, so the subpool and pool locks are only ever
 * taken in task context.  So is a folio whose vmemmap was restored (it was
 * mapped by host page tables): trimming it again sleeps, and it must be
 * trimmed before it is on a free list again.
 */
void gmem_cma_free_folio(struct folio *folio)
{
	if (!in_task() || gmem_cma_vmemmap_needs_trim(folio)) {
		/* folio->mapping is NULL and unused until the worker runs. */
		if (llist_add((struct llist_node *)&folio->mapping,
			      &gmem_cma_free_llist))
			schedule_work(&gmem_cma_free_work);
		return;
	}
	gmem_cma_return_folio(folio);
}

/*
 * The operator's policy: which guest_memfd files get 1 GiB pages without
 * asking (gmem_cma_guest_memfd=, /sys/kernel/mm/gmem_cma/guest_memfd_enabled),
 * and how many files it wanted to give them to but could not.
 */
static const char * const gmem_cma_gmem_policy_names[] = {
	[GMEM_CMA_GMEM_NEVER]		= "never",
	[GMEM_CMA_GMEM_ADVISE]		= "advise",
	[GMEM_CMA_GMEM_WITHIN_SIZE]	= "within_size",
	[GMEM_CMA_GMEM_ALWAYS]		= "always",
};

static enum gmem_cma_gmem_policy gmem_cma_gmem_policy __read_mostly =
	GMEM_CMA_GMEM_ADVISE;
static atomic_long_t gmem_cma_gmem_fallbacks = ATOMIC_LONG_INIT(0);

/**
 * gmem_cma_guest_memfd_policy() - which guest_memfd files get 1 GiB pages
 *
 * Return: the policy the operator set; KVM applies it to each new file.
 */
enum gmem_cma_gmem_policy gmem_cma_guest_memfd_policy(void)
{
	return READ_ONCE(gmem_cma_gmem_policy);
}
EXPORT_SYMBOL_FOR_MODULES(gmem_cma_guest_memfd_policy, "kvm");

/**
 * gmem_cma_guest_memfd_fallback() - count a file the policy left on 4 KiB
 *
 * KVM calls it once for each guest_memfd file the policy would have given
 * 1 GiB pages that got 4 KiB pages instead; the count is guest_memfd_fallback
 * in sysfs.
 */
void gmem_cma_guest_memfd_fallback(void)
{
	atomic_long_inc(&gmem_cma_gmem_fallbacks);
}
EXPORT_SYMBOL_FOR_MODULES(gmem_cma_guest_memfd_fallback, "kvm");

/**
 * gmem_cma_guest_memfd_fallbacks() - the guest_memfd_fallback count
 *
 * Return: how many times gmem_cma_guest_memfd_fallback() was called.
 */
unsigned long gmem_cma_guest_memfd_fallbacks(void)
{
	return atomic_long_read(&gmem_cma_gmem_fallbacks);
}

/**
 * gmem_cma_guest_memfd_policy_show() - guest_memfd_enabled, as sysfs shows it
 * @buf: the sysfs page to print into
 *
 * Prints every policy, the current one in brackets, as THP's files do.
 *
 * Return: the number of bytes printed.
 */
ssize_t gmem_cma_guest_memfd_policy_show(char *buf)
{
	enum gmem_cma_gmem_policy cur = gmem_cma_guest_memfd_policy();
	int i, len = 0;

	for (i = 0; i < ARRAY_SIZE(gmem_cma_gmem_policy_names); i++)
		len += sysfs_emit_at(buf, len, i == cur ? "%s[%s]" : "%s%s",
				     i ? " " : "", gmem_cma_gmem_policy_names[i]);
	len += sysfs_emit_at(buf, len, "\n");
	return len;
}

/**
 * gmem_cma_guest_memfd_policy_set() - set the guest_memfd policy by name
 * @name: "never", "advise", "within_size" or "always", with or without a
 *	trailing newline
 *
 * Return: 0, or -EINVAL (and the policy unchanged) for another word.
 */
int gmem_cma_guest_memfd_policy_set(const char *name)
{
	int i = sysfs_match_string(gmem_cma_gmem_policy_names, name);

	if (i < 0)
		return -EINVAL;
	WRITE_ONCE(gmem_cma_gmem_policy, i);
	return 0;
}

static int __init gmem_cma_guest_memfd_param(char *val)
{
	if (!val || gmem_cma_guest_memfd_policy_set(val))
		pr_warn("gmem_cma_guest_memfd=%s: not never, advise, within_size or always: the policy stays %s\n",
			val ?: "",
			gmem_cma_gmem_policy_names[gmem_cma_guest_memfd_policy()]);
	return 0;
}
early_param("gmem_cma_guest_memfd", gmem_cma_guest_memfd_param);

static int gmem_cma_files_show(struct seq_file *m, void *v)
{
	struct gmem_cma_subpool *sp;
	unsigned long resv, used;
	int nid;

	seq_puts(m, "# inode pid comm pages resv used state nodes(node:resv/used)\n");
	spin_lock(&gmem_cma_subpools_lock);
	list_for_each_entry(sp, &gmem_cma_subpools, entry) {
		spin_lock(&sp->lock);
		resv = 0;
		used = 0;
		for_each_node(nid) {
			resv += sp->count[nid].resv;
			used += sp->count[nid].used;
		}
		seq_printf(m, "%lu %d %s %lu %lu %lu %s", sp->ino, sp->pid,
			   sp->comm, sp->nr_pages, resv, used,
			   sp->dead ? "closed" : "open");
		for_each_node(nid)
			if (sp->count[nid].resv || sp->count[nid].used)
				seq_printf(m, " %d:%lu/%lu", nid,
					   sp->count[nid].resv,
					   sp->count[nid].used);
		seq_putc(m, '\n');
		spin_unlock(&sp->lock);
	}
	spin_unlock(&gmem_cma_subpools_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(gmem_cma_files);

static int __init gmem_cma_file_init(void)
{
	struct dentry *dir;
	int i;

	for (i = 0; i < ARRAY_SIZE(gmem_cma_fault_mutex); i++)
		mutex_init(&gmem_cma_fault_mutex[i]);

	for_each_node(i) {
		struct dmem_cgroup_region *region;
		u64 size = (u64)gmem_cma_capacity_pages(i) * GMEM_CMA_PAGE_SIZE;

		if (!size)
			continue;
		region = dmem_cgroup_register_region(size, "gmem_cma/node%d", i);
		if (IS_ERR(region)) {
			pr_warn("node %d: no dmem cgroup region (error %ld): pages not accounted\n",
				i, PTR_ERR(region));
			continue;
		}
		gmem_cma_dmem_region[i] = region;
	}

	dir = debugfs_lookup("gmem_cma", NULL);
	if (!IS_ERR_OR_NULL(dir)) {
		debugfs_create_file("files", 0444, dir, NULL,
				    &gmem_cma_files_fops);
		dput(dir);
	}
	return 0;
}
late_initcall(gmem_cma_file_init);
