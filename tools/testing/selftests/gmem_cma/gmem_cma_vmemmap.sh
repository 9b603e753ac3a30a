#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Vmemmap trimming of the pools' 1 GiB folios: the savings reported per node
# and in total, the memmap counters of /proc/vmstat moving by the same
# amount, the per-folio state in debugfs, a restore that fails under
# fail_page_alloc (the folio stays whole and trimmed), and everything back
# to the baseline after shrinking.  With gmem_cma_vmemmap=off on the kernel
# command line it checks that nothing is trimmed.

. "$(dirname "$0")/../kselftest/ktap_helpers.sh"

sysfs=/sys/kernel/mm/gmem_cma
dbg=/sys/kernel/debug/gmem_cma/pools
fpa=/sys/kernel/debug/fail_page_alloc
per_folio=4095		# 4096 vmemmap pages per GiB, one kept for the head

ok() {	# <description> <condition...>: one KTAP result
	desc=$1
	shift
	if "$@"; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
	fi
}

memmap() {	# nr_memmap_pages + nr_memmap_boot_pages
	awk '$1 == "nr_memmap_pages" || $1 == "nr_memmap_boot_pages" {s += $2}
	     END {print s}' /proc/vmstat
}

saved() {	# [node]
	cat $sysfs/${1:+node$1/}vmemmap_saved_pages
}

# The "vmemmap_shared" of every folio line of node $1 in debugfs, one per line.
shared_of() {
	awk -v node="node $1:" '
		/^node / {cur = $1 " " $2}
		/^  0x/ && cur == node {print $4}' $dbg
}

dstat() {	# <node> <field of the "vmemmap_saved" line>
	awk -v node="node $1:" -v f="$2" '
		index($0, node " vmemmap_saved") == 1 {
			for (i = 3; i < NF; i += 2) if ($i == f) print $(i + 1)
		}' $dbg
}

[ "$(id -u)" = 0 ] || { echo "needs root"; exit $KSFT_SKIP; }
[ -r $sysfs/vmemmap_trim ] || { echo "no gmem_cma vmemmap reporting"; exit $KSFT_SKIP; }
nid=""
for d in $sysfs/node*; do
	[ "$(cat "$d/capacity_pages")" -ge 2 ] && nid=${d##*node} && break
done
[ -n "$nid" ] || { echo "no node with 2 free 1 GiB blocks in its area"; exit $KSFT_SKIP; }

if grep -qw "gmem_cma_vmemmap=off" /proc/cmdline; then
	want=off
	each=0
else
	want=on
	each=$per_folio
fi

ktap_print_header
ktap_set_plan 17

base_pages=$(cat $sysfs/node$nid/nr_pages)
base_saved=$(saved "$nid")
base_total=$(saved)
base_memmap=$(memmap)

ok "vmemmap_trim reads '$want'" [ "$(cat $sysfs/vmemmap_trim)" = "$want" ]
{ echo on > $sysfs/vmemmap_trim; } 2>/dev/null
rc=$?
ok "vmemmap_trim is read-only" [ $rc != 0 -a "$(cat $sysfs/vmemmap_trim)" = "$want" ]

echo $((base_pages + 2)) > $sysfs/node$nid/nr_pages
ok "node $nid grows by 2 pages" [ "$(cat $sysfs/node$nid/nr_pages)" = $((base_pages + 2)) ]
ok "node $nid saves $each vmemmap pages per folio" \
	[ "$(saved "$nid")" = $((base_saved + 2 * each)) ]
ok "the total saving moves by as much" [ "$(saved)" = $((base_total + 2 * each)) ]
ok "/proc/vmstat memmap pages drop by as much" \
	[ "$(memmap)" = $((base_memmap - 2 * each)) ]
sum=0
for d in $sysfs/node*; do sum=$((sum + $(cat "$d/vmemmap_saved_pages"))); done
ok "the total is the sum of the nodes" [ "$(saved)" = $sum ]
expect=0/512
[ $want = on ] && expect=512/512
ok "debugfs shows every folio of node $nid with $expect chunks shared" \
	[ -z "$(shared_of "$nid" | grep -v "^$expect\$")" ]

# Shrink by one page with every page allocation of the writer failing: a
# restore that cannot get its pages fails the shrink with ENOMEM and the folio
# stays in the pool, whole and trimmed; with trimming off there is nothing to
# restore and the shrink succeeds.
[ -d $fpa ] || { echo "no fail_page_alloc in debugfs"; exit 1; }
fail0=$(dstat "$nid" restore_fail)
echo 0 > $fpa/verbose
echo N > $fpa/ignore-gfp-wait
echo N > $fpa/ignore-gfp-highmem
echo 0 > $fpa/min-order
echo Y > $fpa/task-filter
echo 100 > $fpa/probability
echo 1 > $fpa/interval
echo -1 > $fpa/times
err=$("$(dirname "$0")"/gmem_cma_fail_write $sysfs/node$nid/nr_pages $((base_pages + 1)))
echo 0 > $fpa/probability
if [ $want = on ]; then
	ok "a shrink whose restore cannot allocate fails with ENOMEM" [ "$err" = ENOMEM ]
	ok "and says why in the kernel log" \
		sh -c "dmesg | grep -q 'node $nid: cannot restore the vmemmap of 1 GiB page at pfn'"
	ok "the restore failure is counted once" \
		[ "$(dstat "$nid" restore_fail)" = $((fail0 + 1)) ]
	ok "the pool and the savings are unchanged" \
		[ "$(cat $sysfs/node$nid/nr_pages)" = $((base_pages + 2)) -a \
		  "$(saved "$nid")" = $((base_saved + 2 * each)) -a \
		  "$(memmap)" = $((base_memmap - 2 * each)) ]
	ok "and the folio is still trimmed" \
		[ -z "$(shared_of "$nid" | grep -v "^512/512\$")" ]
else
	ok "a shrink under fail_page_alloc succeeds: nothing to restore" [ "$err" = 0 ]
	ok "no restore was tried" [ "$(dstat "$nid" restore_fail)" = "$fail0" ]
	ok "the pool holds one page less" \
		[ "$(cat $sysfs/node$nid/nr_pages)" = $((base_pages + 1)) ]
	ok "nothing is saved" [ "$(saved "$nid")" = "$base_saved" ]
	ok "/proc/vmstat memmap pages are unchanged" [ "$(memmap)" = "$base_memmap" ]
fi

echo "$base_pages" > $sysfs/node$nid/nr_pages
ok "node $nid shrinks back" [ "$(cat $sysfs/node$nid/nr_pages)" = "$base_pages" ]
ok "its saving is back to the baseline" [ "$(saved "$nid")" = "$base_saved" ]
ok "the total saving is back to the baseline" [ "$(saved)" = "$base_total" ]
ok "/proc/vmstat memmap pages are back to the baseline" [ "$(memmap)" = "$base_memmap" ]

ktap_finished
