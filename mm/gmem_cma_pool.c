// SPDX-License-Identifier: GPL-2.0-only
/*
 * gmem_cma pools: the 1 GiB pages each node holds out of its CMA area.
 *
 * A 1 GiB block of a node's gmem_cma area is in exactly one state:
 *
 *   in CMA    not taken: the page allocator lends it to movable allocations
 *   free      taken out of CMA, held by the pool, promised to nobody
 *   reserved  held by the pool and promised to a guest_memfd file
 *   in use    allocated to a guest_memfd file
 *
 * A free or reserved folio is also either zeroed (cleared since its last
 * use, on the zeroed list), being zeroed (held by the node's zeroer, on no
 * list) or neither (on the free list): see mm/gmem_cma_zero.c.  Every way
 * into the pool (grow, free, shrink rollback) lands on the free list; only
 * the zeroer moves a folio to the zeroed list.
 *
 * The pool holds free, reserved and in-use pages (nr_pages).  Reserved pages
 * are a count, not particular folios: a reservation is a promise that a
 * free folio will be there when the owner asks.  Growing the pool takes
 * blocks out of CMA, migrating the movable pages in them; shrinking it
 * gives free folios back to CMA, whole, to the area they came from.
 *
 * See Documentation/admin-guide/mm/gmem_cma.rst
 */

#define pr_fmt(fmt) "gmem_cma: " fmt

#include <linux/cma.h>
#include <linux/jiffies.h>
#include <linux/gmem_cma.h>
#include <linux/init.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/nospec.h>
#include <linux/printk.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>

#include "gmem_cma_internal.h"

static struct gmem_cma_pool gmem_cma_pools[MAX_NUMNODES];

/*
 * Serializes every change of a pool's size, per node or global.  Growing
 * sleeps for a long time (migration), so writers that find it taken get
 * -EBUSY instead of queueing up behind it.
 */
static DEFINE_MUTEX(gmem_cma_resize_lock);

/* The gmem_cma_pool= request, parsed early, applied by an initcall. */
static struct gmem_cma_request gmem_cma_pool_request __initdata = {
	.prefix = "gmem_cma_pool: ",
};

static bool gmem_cma_pool_requested __initdata;

/**
 * gmem_cma_pool() - the pool of a node
 * @nid: node id
 *
 * Return: the node's pool, or NULL for a node id out of range.
 */
struct gmem_cma_pool *gmem_cma_pool(int nid)
{
	if (nid < 0 || nid >= MAX_NUMNODES)
		return NULL;
	return &gmem_cma_pools[array_index_nospec(nid, MAX_NUMNODES)];
}

/**
 * gmem_cma_pool_stats() - a consistent snapshot of a node's pool counters
 * @nid: node id
 * @stats: filled with the counters
 */
void gmem_cma_pool_stats(int nid, struct gmem_cma_pool_stats *stats)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);

	memset(stats, 0, sizeof(*stats));
	stats->capacity = gmem_cma_capacity_pages(nid);
	if (!pool || !stats->capacity)
		return;
	spin_lock(&pool->lock);
	/* Reservations a retired poisoned folio left without a folio. */
	if (pool->nr_resv > pool->nr_free)
		stats->resv_short = pool->nr_resv - pool->nr_free;
	else
		stats->free = pool->nr_free - pool->nr_resv;
	stats->resv = pool->nr_resv;
	stats->used = pool->nr_used;
	stats->nr_pages = pool->nr_free + pool->nr_used;
	stats->alloc_fail = pool->alloc_fail;
	stats->grow_attempts = pool->grow_attempts;
	stats->shrinks = pool->shrinks;
	stats->poisoned = pool->nr_poisoned;
	stats->zeroed = pool->nr_zeroed;
	spin_unlock(&pool->lock);
	stats->vmemmap_saved = gmem_cma_vmemmap_saved(nid);
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_pool_stats);

/*
 * Take one 1 GiB block out of the node's area.  CMA tries every free block
 * of the area in turn until it can migrate away what occupies one; a
 * second attempt catches pages that were only briefly pinned.  The folio
 * comes back frozen (refcount 0) and stays so while it is in the pool.
 */
static struct folio *gmem_cma_take(int nid)
{
	struct cma *cma = gmem_cma_area(nid);
	struct page *page;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		page = cma_alloc_frozen_compound(cma, GMEM_CMA_PAGE_ORDER);
		if (page)
			return page_folio(page);
		cond_resched();
	}
	return NULL;
}

/* Give a free folio back to the area of the node it belongs to. */
static void gmem_cma_give_back(int nid, struct folio *folio)
{
	WARN_ON_ONCE(!cma_release_frozen(gmem_cma_area(nid), &folio->page,
					 folio_nr_pages(folio)));
}

/* Grow one node's pool by one page taken out of its area. */
static int gmem_cma_pool_grow_one(int nid)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);
	struct folio *folio;

	lockdep_assert_held(&gmem_cma_resize_lock);

	spin_lock(&pool->lock);
	pool->grow_attempts++;
	spin_unlock(&pool->lock);

	folio = gmem_cma_take(nid);
	if (folio && gmem_cma_vmemmap_add(nid, folio)) {
		gmem_cma_give_back(nid, folio);
		folio = NULL;
	}

	spin_lock(&pool->lock);
	if (!folio) {
		pool->alloc_fail++;
		spin_unlock(&pool->lock);
		pr_warn_ratelimited("node %d: cannot take a 1G page out of CMA area gmem%d: its free blocks hold pages that cannot be migrated\n",
				    nid, nid);
		return -ENOMEM;
	}
	list_add_tail(&folio->lru, &pool->free_list);
	pool->nr_free++;
	spin_unlock(&pool->lock);
	gmem_cma_zeroer_wake(nid);
	return 0;
}

/* The first folio of a pool list without a poisoned page, or NULL. */
static struct folio *gmem_cma_first_good(struct gmem_cma_pool *pool,
					 struct list_head *list)
{
	struct folio *folio;

	lockdep_assert_held(&pool->lock);

	list_for_each_entry(folio, list, lru)
		if (!gmem_cma_vmemmap_poisoned(folio))
			return folio;
	return NULL;
}

/* The first free folio without a poisoned page that is not zeroed, or NULL. */
static struct folio *gmem_cma_first_free(struct gmem_cma_pool *pool)
{
	return gmem_cma_first_good(pool, &pool->free_list);
}

/*
 * The first zeroed folio without a poisoned page, or NULL; it is no longer
 * counted as zeroed.
 */
static struct folio *gmem_cma_take_zeroed(struct gmem_cma_pool *pool)
{
	struct folio *folio = gmem_cma_first_good(pool, &pool->zeroed_list);

	if (folio)
		pool->nr_zeroed--;
	return folio;
}

/*
 * Ask the zeroer to give back the folio it holds, and wait until it did:
 * at most one batch.  Return 0, or -EINTR if a fatal signal came.
 */
static int gmem_cma_pool_want_zeroing(int nid, bool killable)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);

	gmem_cma_zeroer_wake(nid);
	if (!killable) {
		wait_event(pool->zero_wait, !READ_ONCE(pool->want));
		return 0;
	}
	return wait_event_killable(pool->zero_wait, !READ_ONCE(pool->want));
}

/**
 * gmem_cma_pool_shrink_window() - a shrink holds @folio off every list
 * @nid: node id
 * @folio: the folio being given back to CMA
 *
 * Nothing to do; KUnit tests redirect it to act inside the window where a
 * shrink holds a folio that is on no list and still tracked (a memory
 * failure there must keep the folio out of CMA).
 */
VISIBLE_IF_KUNIT void gmem_cma_pool_shrink_window(int nid, struct folio *folio)
{
	KUNIT_STATIC_STUB_REDIRECT(gmem_cma_pool_shrink_window, nid, folio);
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_pool_shrink_window);

/*
 * Shrink one node's pool by giving back a page that is neither reserved nor
 * used.  Its vmemmap is restored first; if that fails, the folio stays.  A
 * folio found poisoned meanwhile is retired instead of given back.
 */
static int gmem_cma_pool_shrink_one(int nid)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);
	struct folio *folio;
	int ret;

	lockdep_assert_held(&gmem_cma_resize_lock);

	/* Keep the zeroer's work: give back a folio it has not cleared first. */
	for (;;) {
		spin_lock(&pool->lock);
		folio = NULL;
		if (pool->nr_free > pool->nr_resv) {
			folio = gmem_cma_first_free(pool);
			if (!folio)
				folio = gmem_cma_take_zeroed(pool);
		}
		if (folio || !pool->zeroing || pool->nr_free <= pool->nr_resv)
			break;
		pool->want = true;
		spin_unlock(&pool->lock);
		gmem_cma_pool_want_zeroing(nid, false);
	}
	if (!folio) {
		spin_unlock(&pool->lock);
		return -EBUSY;
	}
	pool->backoff = false;
	list_del(&folio->lru);
	pool->nr_free--;
	spin_unlock(&pool->lock);

	gmem_cma_pool_shrink_window(nid, folio);
	ret = gmem_cma_vmemmap_remove(nid, folio);

	spin_lock(&pool->lock);
	if (ret == -EHWPOISON) {
		list_add_tail(&folio->lru, &pool->poisoned_list);
		pool->nr_poisoned++;
		folio = NULL;
		ret = 0;
	} else if (ret) {
		/* Not known to be zeroed any more: the zeroer may clear it. */
		list_add(&folio->lru, &pool->free_list);
		pool->nr_free++;
	} else {
		pool->shrinks++;
	}
	spin_unlock(&pool->lock);
	if (folio && !ret)
		gmem_cma_give_back(nid, folio);
	return ret;
}

static unsigned long gmem_cma_pool_pages(int nid)
{
	struct gmem_cma_pool_stats st;

	gmem_cma_pool_stats(nid, &st);
	return st.nr_pages;
}

/* Pages of the node's pool that cannot be given back: reserved and in use. */
static unsigned long gmem_cma_pool_pinned(int nid)
{
	struct gmem_cma_pool_stats st;

	gmem_cma_pool_stats(nid, &st);
	return st.resv + st.used;
}

static int gmem_cma_resize_node(int nid, unsigned long target)
{
	int ret = 0;

	lockdep_assert_held(&gmem_cma_resize_lock);

	if (target > gmem_cma_capacity_pages(nid))
		return -EINVAL;
	if (target < gmem_cma_pool_pinned(nid))
		return -EBUSY;

	while (!ret && gmem_cma_pool_pages(nid) < target) {
		ret = gmem_cma_pool_grow_one(nid);
		cond_resched();
	}
	while (!ret && gmem_cma_pool_pages(nid) > target)
		ret = gmem_cma_pool_shrink_one(nid);
	return ret;
}

/*
 * Spread a total over the nodes like hugetlb's nr_hugepages: grow or shrink
 * one page at a time, taking the nodes in turn, skipping a node once it
 * cannot give or take any more.
 */
static int gmem_cma_resize_all(unsigned long target)
{
	unsigned long capacity = 0, pinned = 0, cur = 0;
	nodemask_t stuck = NODE_MASK_NONE;
	bool grow;
	int nid;

	lockdep_assert_held(&gmem_cma_resize_lock);

	for_each_node_state(nid, N_MEMORY) {
		capacity += gmem_cma_capacity_pages(nid);
		pinned += gmem_cma_pool_pinned(nid);
		cur += gmem_cma_pool_pages(nid);
	}
	if (target > capacity)
		return -EINVAL;
	if (target < pinned)
		return -EBUSY;

	grow = target > cur;
	while (cur != target) {
		bool progress = false;

		for_each_node_state(nid, N_MEMORY) {
			if (cur == target)
				break;
			if (node_isset(nid, stuck))
				continue;
			if (grow && gmem_cma_pool_pages(nid) < gmem_cma_capacity_pages(nid) &&
			    !gmem_cma_pool_grow_one(nid)) {
				cur++;
				progress = true;
			} else if (!grow && !gmem_cma_pool_shrink_one(nid)) {
				cur--;
				progress = true;
			} else {
				node_set(nid, stuck);
			}
			cond_resched();
		}
		if (!progress)
			return grow ? -ENOMEM : -EBUSY;
	}
	return 0;
}

/**
 * gmem_cma_set_pool_pages() - set the number of pages a pool holds
 * @nid: node id, or NUMA_NO_NODE to set the total over all nodes
 * @target: the number of 1 GiB pages to hold
 *
 * Grows the pool by taking blocks out of CMA, or shrinks it by giving free
 * pages back.  Nothing changes if @target is above the capacity or below
 * the pages that are reserved or in use.  A grow that CMA cannot complete
 * keeps the pages it got.
 *
 * Return: 0 when the pool holds @target pages; -EINVAL if @target is above
 * the capacity; -EBUSY if it is below the reserved and used pages, or if
 * another resize is running; -ENOMEM if CMA could not provide every page
 * (the pool keeps what it got), or if the vmemmap of a page to give back
 * could not be restored (the pool keeps that page and the ones after it).
 */
int gmem_cma_set_pool_pages(int nid, unsigned long target)
{
	int ret;

	if (nid != NUMA_NO_NODE && !gmem_cma_capacity_pages(nid))
		return target ? -EINVAL : 0;
	if (!mutex_trylock(&gmem_cma_resize_lock))
		return -EBUSY;
	if (nid == NUMA_NO_NODE)
		ret = gmem_cma_resize_all(target);
	else
		ret = gmem_cma_resize_node(nid, target);
	mutex_unlock(&gmem_cma_resize_lock);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_set_pool_pages);

/**
 * gmem_cma_pool_reserve() - promise free pages of a node's pool
 * @nid: node id
 * @nr: number of pages
 *
 * Return: 0 if all @nr pages were reserved, -ENOMEM (and nothing reserved)
 * if the pool does not have that many free pages.
 */
int gmem_cma_pool_reserve(int nid, unsigned long nr)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);
	int ret = -ENOMEM;

	if (!pool)
		return -EINVAL;
	spin_lock(&pool->lock);
	if (pool->nr_free >= pool->nr_resv + nr) {
		pool->nr_resv += nr;
		ret = 0;
	}
	spin_unlock(&pool->lock);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_pool_reserve);

/**
 * gmem_cma_pool_unreserve() - take back a promise made by gmem_cma_pool_reserve()
 * @nid: node id
 * @nr: number of reserved pages that will not be allocated
 */
void gmem_cma_pool_unreserve(int nid, unsigned long nr)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);

	spin_lock(&pool->lock);
	if (WARN_ON_ONCE(nr > pool->nr_resv))
		nr = pool->nr_resv;
	pool->nr_resv -= nr;
	spin_unlock(&pool->lock);
	gmem_cma_zeroer_wake(nid);
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_pool_unreserve);

/**
 * gmem_cma_pool_alloc() - allocate a reserved page of a node's pool
 * @nid: node id
 * @zeroed: set to true if the folio was cleared since its last use
 *
 * Turns one reserved page into a page in use.  Prefers a folio the zeroer
 * cleared ahead of time (only while pre-zeroing is on).  Does not sleep.
 *
 * Return: a 1 GiB folio with a reference count of one, NULL if the node has
 * no reserved page, or only ones with a poisoned page, or ERR_PTR(-EAGAIN)
 * if the only free folio is the one the zeroer is clearing: the zeroer was
 * asked to give it back, gmem_cma_pool_wait_zeroing() waits for that.
 */
struct folio *gmem_cma_pool_alloc(int nid, bool *zeroed)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);
	struct folio *folio = NULL;

	*zeroed = false;
	spin_lock(&pool->lock);
	if (pool->nr_resv) {
		if (gmem_cma_prezero_enabled())
			folio = gmem_cma_take_zeroed(pool);
		*zeroed = folio;
		if (!folio)
			folio = gmem_cma_first_free(pool);
		/* Switched off, zeroed folios not yet forgotten: clear again. */
		if (!folio)
			folio = gmem_cma_take_zeroed(pool);
		if (!folio && pool->zeroing) {
			pool->want = true;
			folio = ERR_PTR(-EAGAIN);
		}
	}
	if (!IS_ERR_OR_NULL(folio)) {
		pool->backoff = false;
		list_move_tail(&folio->lru, &pool->used_list);
		pool->nr_free--;
		pool->nr_resv--;
		pool->nr_used++;
		if (*zeroed)
			pool->zst.alloc_zeroed++;
		else
			pool->zst.alloc_cleared++;
	}
	spin_unlock(&pool->lock);
	if (IS_ERR_OR_NULL(folio)) {
		if (folio)
			gmem_cma_zeroer_wake(nid);
		return folio;
	}
	folio_ref_unfreeze(folio, 1);
	return folio;
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_pool_alloc);

/**
 * gmem_cma_pool_wait_zeroing() - wait for the zeroer to give back its folio
 * @nid: node id
 *
 * For an allocation that got ERR_PTR(-EAGAIN) from gmem_cma_pool_alloc(),
 * with no spinlock held.  The zeroer gives the folio back, unfinished, at
 * the end of its current batch.
 *
 * Return: 0, or -EINTR if a fatal signal came.
 */
int gmem_cma_pool_wait_zeroing(int nid)
{
	return gmem_cma_pool_want_zeroing(nid, true);
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_pool_wait_zeroing);

/**
 * gmem_cma_pool_free() - return a page in use to its pool
 * @nid: node id of the pool the folio was allocated from
 * @folio: the folio; its reference count must have dropped to zero
 * @keep_reserved: true to turn it back into a reserved page, false to free it
 */
void gmem_cma_pool_free(int nid, struct folio *folio, bool keep_reserved)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);

	VM_WARN_ON_ONCE_FOLIO(folio_ref_count(folio), folio);
	spin_lock(&pool->lock);
	list_move_tail(&folio->lru, &pool->free_list);
	pool->nr_used--;
	pool->nr_free++;
	if (keep_reserved)
		pool->nr_resv++;
	spin_unlock(&pool->lock);
	gmem_cma_zeroer_wake(nid);
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_pool_free);

/**
 * gmem_cma_pool_retire() - take a folio in use with a poisoned page out of use
 * @nid: node id of the folio's pool
 * @folio: the folio, whose last reference is gone
 *
 * The folio leaves the pool's pages for good.
 */
void gmem_cma_pool_retire(int nid, struct folio *folio)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);

	VM_WARN_ON_ONCE_FOLIO(folio_ref_count(folio), folio);
	spin_lock(&pool->lock);
	list_move_tail(&folio->lru, &pool->poisoned_list);
	pool->nr_used--;
	pool->nr_poisoned++;
	spin_unlock(&pool->lock);
}

static bool gmem_cma_on_list(struct folio *folio, struct list_head *list)
{
	struct folio *f;

	list_for_each_entry(f, list, lru)
		if (f == folio)
			return true;
	return false;
}

/**
 * gmem_cma_pool_retire_free() - take a free folio with a poisoned page out
 * @nid: node id of the folio's pool
 * @folio: the folio
 *
 * If @folio is free (zeroed or not, or being zeroed) it leaves the pool's
 * pages for good, even if a reservation counted on it: see
 * gmem_cma_pool_refill().  The zeroer stops clearing a folio taken from it
 * at the end of its batch; a poisoned folio is never handed out or given
 * back to CMA, so those stores harm nobody.
 *
 * Return: -ENOENT if @folio is not free (a shrink, an allocation or a free
 * holds it, and deals with its poison), otherwise the number of reserved
 * pages that now have no free folio behind them.
 */
long gmem_cma_pool_retire_free(int nid, struct folio *folio)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);
	long ret = -ENOENT;

	spin_lock(&pool->lock);
	if (pool->zeroing == folio) {
		pool->zeroing = NULL;
		pool->zst.retired++;
		list_add_tail(&folio->lru, &pool->poisoned_list);
	} else if (gmem_cma_on_list(folio, &pool->zeroed_list)) {
		pool->nr_zeroed--;
		list_move_tail(&folio->lru, &pool->poisoned_list);
	} else if (gmem_cma_on_list(folio, &pool->free_list)) {
		list_move_tail(&folio->lru, &pool->poisoned_list);
	} else {
		goto out;
	}
	pool->nr_free--;
	pool->nr_poisoned++;
	ret = pool->nr_resv > pool->nr_free ? pool->nr_resv - pool->nr_free : 0;
out:
	spin_unlock(&pool->lock);
	return ret;
}

/*
 * Take pages out of the node's CMA area until the free folios cover the
 * reservations again, after gmem_cma_pool_retire_free() left some without.
 * Returns 0 when every reservation is backed, -ENOSPC if the area has no
 * block left, -ENOMEM if CMA could not provide one.
 */
static int gmem_cma_pool_refill_node(int nid)
{
	struct gmem_cma_pool_stats st;
	int ret = 0;

	lockdep_assert_held(&gmem_cma_resize_lock);

	for (;;) {
		gmem_cma_pool_stats(nid, &st);
		if (!st.resv_short)
			break;
		if (st.nr_pages + st.poisoned >= st.capacity) {
			ret = -ENOSPC;
			break;
		}
		ret = gmem_cma_pool_grow_one(nid);
		if (ret)
			break;
	}
	return ret;
}

static void gmem_cma_pool_refill_workfn(struct work_struct *work)
{
	int nid, err;

	mutex_lock(&gmem_cma_resize_lock);
	for_each_node_state(nid, N_MEMORY) {
		err = gmem_cma_pool_refill_node(nid);
		if (err)
			pr_warn_ratelimited("node %d: no replacement for a poisoned reserved 1 GiB page (error %d): the file that reserved it gets ENOMEM for its last page until the pool grows\n",
					    nid, err);
	}
	mutex_unlock(&gmem_cma_resize_lock);
}

static DECLARE_WORK(gmem_cma_pool_refill_work, gmem_cma_pool_refill_workfn);

/**
 * gmem_cma_pool_refill() - back every reservation with a folio, soon
 *
 * Asks a worker to take pages out of the CMA areas until the free folios
 * of every pool cover its reservations again.  Growing sleeps for long
 * (migration) under the resize lock, which memory-failure handling, the
 * caller, must not wait for.
 */
void gmem_cma_pool_refill(void)
{
	schedule_work(&gmem_cma_pool_refill_work);
}

/**
 * gmem_cma_pool_refill_flush() - wait for gmem_cma_pool_refill()'s worker
 */
void gmem_cma_pool_refill_flush(void)
{
	flush_work(&gmem_cma_pool_refill_work);
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_pool_refill_flush);

/**
 * gmem_cma_pool_zero_stats() - a snapshot of a node's pre-zeroing counters
 * @nid: node id
 * @zst: filled with the counters, except the zeroer's CPU time
 */
void gmem_cma_pool_zero_stats(int nid, struct gmem_cma_zero_stats *zst)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);

	spin_lock(&pool->lock);
	*zst = pool->zst;
	zst->zeroing_pfn = pool->zeroing ? folio_pfn(pool->zeroing) : 0;
	spin_unlock(&pool->lock);
}
EXPORT_SYMBOL_IF_KUNIT(gmem_cma_pool_zero_stats);

/*
 * May the zeroer start on a folio now?  Only if the other free folios cover
 * every reservation: a folio a file may fault in any moment (a punched page
 * it keeps reserved) is left to be cleared when it is allocated, so that a
 * file's faults do not keep waiting for the zeroer to give a folio back.
 */
static bool gmem_cma_pool_may_zero(struct gmem_cma_pool *pool)
{
	lockdep_assert_held(&pool->lock);

	if (!gmem_cma_prezero_enabled() || pool->zeroing)
		return false;
	if (pool->nr_free <= pool->nr_resv)
		return false;
	if (pool->backoff && time_before(jiffies, pool->backoff_until))
		return false;
	return true;
}

/**
 * gmem_cma_pool_zero_pending() - is there a free folio for the zeroer?
 * @nid: node id
 *
 * Return: true if pre-zeroing is on and the node has a free folio that is
 * not zeroed and has no poisoned page.
 */
bool gmem_cma_pool_zero_pending(int nid)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);
	bool ret;

	spin_lock(&pool->lock);
	ret = gmem_cma_pool_may_zero(pool) && gmem_cma_first_free(pool);
	spin_unlock(&pool->lock);
	return ret;
}

/**
 * gmem_cma_pool_zero_begin() - take a free folio to clear it
 * @nid: node id
 *
 * The folio stays free (and may be reserved) but is on no list: only the
 * zeroer touches it until it gives it back with gmem_cma_pool_zero_end(),
 * or gmem_cma_pool_zero_continue() says it is not the zeroer's any more.
 *
 * Return: the folio, or NULL if there is none to clear.
 */
struct folio *gmem_cma_pool_zero_begin(int nid)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);
	struct folio *folio = NULL;

	spin_lock(&pool->lock);
	if (gmem_cma_pool_may_zero(pool))
		folio = gmem_cma_first_free(pool);
	if (folio) {
		list_del_init(&folio->lru);
		pool->zeroing = folio;
		pool->backoff = false;
	}
	spin_unlock(&pool->lock);
	return folio;
}

/**
 * gmem_cma_pool_zero_continue() - may the zeroer clear the next batch?
 * @nid: node id
 * @folio: the folio gmem_cma_pool_zero_begin() returned
 * @cleared: 4 KiB pages cleared since the last call, for the counters
 * @stop: the zeroer stops: give the folio back
 *
 * Called between batches.  If someone waits for the folio, pre-zeroing was
 * switched off or @stop is true, the folio goes back to the free list
 * unfinished.  If a memory failure took it, the zeroer must let go of it.
 *
 * Return: true to go on, false if @folio is no longer the zeroer's.
 */
bool gmem_cma_pool_zero_continue(int nid, struct folio *folio,
				 unsigned long cleared, bool stop)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);
	bool ret = true;

	spin_lock(&pool->lock);
	pool->zst.pages += cleared;
	if (pool->zeroing != folio) {
		/* Retired by memory failure: nothing to give back. */
		pool->want = false;
		ret = false;
	} else if (stop || pool->want || !gmem_cma_prezero_enabled()) {
		if (pool->want) {
			pool->backoff = true;
			pool->backoff_until = jiffies + HZ;
		}
		pool->zeroing = NULL;
		pool->want = false;
		pool->zst.aborts++;
		list_add(&folio->lru, &pool->free_list);
		ret = false;
	}
	spin_unlock(&pool->lock);
	if (!ret)
		wake_up_all(&pool->zero_wait);
	return ret;
}

/**
 * gmem_cma_pool_zero_end() - the zeroer cleared a whole folio
 * @nid: node id
 * @folio: the folio gmem_cma_pool_zero_begin() returned
 * @cleared: 4 KiB pages cleared since the last gmem_cma_pool_zero_continue()
 *
 * The folio counts as zeroed from now on, unless pre-zeroing was switched
 * off meanwhile (then it goes back to the free list) or a memory failure
 * took it.
 */
void gmem_cma_pool_zero_end(int nid, struct folio *folio,
			    unsigned long cleared)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);

	spin_lock(&pool->lock);
	pool->zst.pages += cleared;
	if (pool->zeroing == folio) {
		pool->zeroing = NULL;
		if (gmem_cma_prezero_enabled()) {
			list_add_tail(&folio->lru, &pool->zeroed_list);
			pool->nr_zeroed++;
			pool->zst.folios++;
		} else {
			list_add(&folio->lru, &pool->free_list);
		}
	}
	pool->want = false;
	spin_unlock(&pool->lock);
	wake_up_all(&pool->zero_wait);
}

/**
 * gmem_cma_pool_drop_zeroed() - forget which free folios of a node are zeroed
 * @nid: node id
 *
 * For pre-zeroing switched off: every zeroed folio goes back to the free
 * list, so that switching it on again starts from scratch.
 */
void gmem_cma_pool_drop_zeroed(int nid)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);

	spin_lock(&pool->lock);
	list_splice_tail_init(&pool->zeroed_list, &pool->free_list);
	pool->nr_zeroed = 0;
	spin_unlock(&pool->lock);
}

/**
 * gmem_cma_pool_for_each() - call @fn for every folio a node's pool holds
 * @nid: node id
 * @fn: called with the pool lock held, so it must not sleep, with the
 *      folio's state: "free" (free or reserved, zeroed or not), "used" or
 *      "poisoned"
 * @data: passed to @fn
 */
void gmem_cma_pool_for_each(int nid,
			    void (*fn)(struct folio *folio, const char *state,
				       void *data),
			    void *data)
{
	struct gmem_cma_pool *pool = gmem_cma_pool(nid);
	struct folio *folio;

	spin_lock(&pool->lock);
	list_for_each_entry(folio, &pool->free_list, lru)
		fn(folio, "free", data);
	if (pool->zeroing)
		fn(pool->zeroing, "free", data);
	list_for_each_entry(folio, &pool->zeroed_list, lru)
		fn(folio, "free", data);
	list_for_each_entry(folio, &pool->used_list, lru)
		fn(folio, "used", data);
	list_for_each_entry(folio, &pool->poisoned_list, lru)
		fn(folio, "poisoned", data);
	spin_unlock(&pool->lock);
}

static int __init gmem_cma_pool_early_param(char *val)
{
	gmem_cma_pool_requested = true;
	gmem_cma_parse(val, &gmem_cma_pool_request);
	return 0;
}
early_param("gmem_cma_pool", gmem_cma_pool_early_param);

/* Fill the pools asked for by gmem_cma_pool= once the areas are active. */
static int __init gmem_cma_pool_init(void)
{
	struct gmem_cma_request *req = &gmem_cma_pool_request;
	unsigned long want, cap;
	int nid, ret;

	for (nid = 0; nid < MAX_NUMNODES; nid++) {
		spin_lock_init(&gmem_cma_pools[nid].lock);
		INIT_LIST_HEAD(&gmem_cma_pools[nid].free_list);
		INIT_LIST_HEAD(&gmem_cma_pools[nid].used_list);
		INIT_LIST_HEAD(&gmem_cma_pools[nid].poisoned_list);
		INIT_LIST_HEAD(&gmem_cma_pools[nid].zeroed_list);
		init_waitqueue_head(&gmem_cma_pools[nid].zeroer_wait);
		init_waitqueue_head(&gmem_cma_pools[nid].zero_wait);
	}
	if (!gmem_cma_pool_requested)
		return 0;

	if (!req->per_node) {
		want = req->total >> 30;
		ret = want ? gmem_cma_set_pool_pages(NUMA_NO_NODE, want) : 0;
		if (ret == -EINVAL)
			pr_warn("gmem_cma_pool: %luG is more than the areas hold: skipped\n",
				want);
		else if (ret)
			pr_warn("gmem_cma_pool: filled %lu of %lu pages (error %d)\n",
				gmem_cma_total_pool_pages(), want, ret);
		else
			pr_info("gmem_cma_pool: filled %lu pages\n", want);
		return 0;
	}

	for (nid = 0; nid < MAX_NUMNODES; nid++) {
		want = req->size[nid] >> 30;
		if (!want)
			continue;
		cap = gmem_cma_capacity_pages(nid);
		if (want > cap) {
			pr_warn("gmem_cma_pool: node %d: %luG asked for but its area holds %luG: skipped\n",
				nid, want, cap);
			continue;
		}
		ret = gmem_cma_set_pool_pages(nid, want);
		if (ret)
			pr_warn("gmem_cma_pool: node %d: filled %lu of %lu pages (error %d)\n",
				nid, gmem_cma_pool_pages(nid), want, ret);
		else
			pr_info("gmem_cma_pool: node %d: filled %lu pages\n", nid, want);
	}
	return 0;
}
subsys_initcall(gmem_cma_pool_init);

/**
 * gmem_cma_total_pool_pages() - pages held by the pools of all nodes
 *
 * Return: the sum of every node's nr_pages.
 */
unsigned long gmem_cma_total_pool_pages(void)
{
	unsigned long sum = 0;
	int nid;

	for_each_node_state(nid, N_MEMORY)
		sum += gmem_cma_pool_pages(nid);
	return sum;
}
