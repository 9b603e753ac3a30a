#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Vmemmap trimming of the pools' 1 GiB folios: the savings reported per node
# and in total, the memmap counters of /proc/vmstat moving by the same
# amount, the per-folio state in debugfs, a restore that fails under
# fail_page_alloc (the folio stays whole and trimmed), and everything back
# to the baseline after shrinking.  Whether trimming is on comes from
# gmem_cma_vmemmap= on the kernel command line, read as the kernel reads it
# (on by default; a value it cannot parse, such as "maybe", leaves it on);
# with it off the test checks that nothing is trimmed.
#
# Then hugetlb's own vmemmap optimization (HVO), whose remapping engine
# gmem_cma shares: a 1 GiB hugetlb page allocated at runtime saves exactly
# 4095 vmemmap pages while it exists (none with hugetlb_free_vmemmap=off),
# and freeing it puts every counter back.  Without hugetlb_free_vmemmap= on
# the command line the test turns HVO on for that page and back afterwards.

. "$(dirname "$0")/../kselftest/ktap_helpers.sh"

sysfs=/sys/kernel/mm/gmem_cma
dbg=/sys/kernel/debug/gmem_cma/pools
fpa=/sys/kernel/debug/fail_page_alloc
hp=/sys/kernel/mm/hugepages/hugepages-1048576kB
hvo_sysctl=/proc/sys/vm/hugetlb_optimize_vmemmap
per_folio=4095		# 4096 vmemmap pages per GiB, one kept for the head
kargs=$(sed 's/ -- .*//' /proc/cmdline)	# the kernel's part of the command line

ok() {	# <description> <condition...>: one KTAP result
	desc=$1
	shift
	if "$@"; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
	fi
}

need_count() {	# <what> <value>: bail out unless the value is a count
	case $2 in
	''|*[!0-9]*) ktap_exit_fail_msg "$1 reads '$2': missing or not a number" ;;
	esac
}

# Where the kernel parameter $1 leaves a switch whose default is $2: every
# value is read in turn with kstrtobool()'s rules, and one it cannot parse
# changes nothing.
kbool() {
	state=$2
	for a in $kargs; do
		case $a in
		"$1="*) ;;
		*) continue ;;
		esac
		case ${a#*=} in
		[eEyYtT1]*|[oO][nN]*) state=on ;;
		[dDnNfF0]*|[oO][fF]*) state=off ;;
		esac
	done
	echo "$state"
}

kbad() {	# the values of kernel parameter $1 that kstrtobool() cannot parse
	for a in $kargs; do
		case $a in
		"$1="*) ;;
		*) continue ;;
		esac
		case ${a#*=} in
		[eEyYtT1]*|[oO][nN]*|[dDnNfF0]*|[oO][fF]*) ;;
		*) echo "${a#*=}" ;;
		esac
	done
}

# nr_memmap_pages + nr_memmap_boot_pages; nothing unless both are there.
memmap() {
	awk '$1 == "nr_memmap_pages" {a = $2; na++}
	     $1 == "nr_memmap_boot_pages" {b = $2; nb++}
	     END {if (na == 1 && nb == 1) print a + b}' /proc/vmstat
}

saved() {	# [node]
	cat $sysfs/${1:+node$1/}vmemmap_saved_pages
}

# Field $2 of the "vmemmap_saved" line of node $1 in debugfs; nothing unless
# it is there exactly once.
dstat() {
	awk -v node="node $1:" -v f="$2" '
		index($0, node " vmemmap_saved") == 1 {
			for (i = 3; i < NF; i += 2) if ($i == f) {v = $(i + 1); n++}
		}
		END {if (n == 1) print v}' $dbg
}

# Node $1 lists exactly $2 folios in debugfs, each with $3 chunks of its
# vmemmap shared ("512/512": trimmed, "0/512": not); says what it saw if not.
folios_are() {
	awk -v node="node $1:" -v n="$2" -v want="$3" '
		/^node / {cur = $1 " " $2; next}
		cur == node && /^  0x/ {
			seen++
			if ($3 != "vmemmap_shared" || $4 != want)
				bad++
		}
		END {
			if (seen == n && !bad)
				exit 0
			printf "# %s %d folios listed, %d expected, %d of them not %s\n",
			       node, seen, n, bad, want
			exit 1
		}' $dbg
}

pool_holds() {	# <pages> <chunks>: node $nid's nr_pages and debugfs listing
	[ "$(cat $sysfs/node$nid/nr_pages)" = "$1" ] && folios_are "$nid" "$1" "$2"
}

# Node $nid saves $1, every other node what it saved at the start, and the
# total is their sum.
savings_are() {
	sum=0
	for e in $node_saved; do
		n=${e%%:*}
		v=${e#*:}
		[ "$n" = "$nid" ] && v=$1
		[ "$(saved "$n")" = "$v" ] || return 1
		sum=$((sum + v))
	done
	[ "$(saved)" = "$sum" ]
}

hugetlb_kb() {	# the Hugetlb: line of /proc/meminfo (kB); nothing if missing
	awk '$1 == "Hugetlb:" {v = $2; n++} END {if (n == 1) print v}' /proc/meminfo
}

# The 1 GiB hugetlb pool holds $1 pages, $2 of them free, and Hugetlb: in
# /proc/meminfo reads $3 kB.
hugetlb_is() {
	[ "$(cat $hp/nr_hugepages)" = "$1" ] && [ "$(cat $hp/free_hugepages)" = "$2" ] &&
		[ "$(hugetlb_kb)" = "$3" ]
}

[ "$(id -u)" = 0 ] || { echo "needs root"; exit $KSFT_SKIP; }
[ -d $sysfs ] || { echo "no $sysfs: kernel without CONFIG_GMEM_CMA"; exit $KSFT_SKIP; }
nid=""
for d in $sysfs/node*; do
	cap=$(cat "$d/capacity_pages")
	pages=$(cat "$d/nr_pages")
	case "$cap" in ''|*[!0-9]*) continue ;; esac
	case "$pages" in ''|*[!0-9]*) continue ;; esac
	[ $((cap - pages)) -ge 2 ] && nid=${d##*node} && break
done
[ -n "$nid" ] || { echo "no node with 2 free 1 GiB blocks in its area"; exit $KSFT_SKIP; }

want=$(kbool gmem_cma_vmemmap on)
why=""
bad=$(kbad gmem_cma_vmemmap)
[ -n "$bad" ] && why=" (gmem_cma_vmemmap=$(echo $bad) cannot be parsed: left $want)"
each=0
[ $want = on ] && each=$per_folio
expect=0/512
[ $want = on ] && expect=512/512

ktap_print_header
ktap_set_plan 23

# Baselines, each a count: a missing file or field must not compare equal
# to the empty output of a later read that fails the same way.
[ -r $sysfs/vmemmap_trim ] || ktap_exit_fail_msg "no $sysfs/vmemmap_trim"
base_pages=$(cat $sysfs/node$nid/nr_pages)
need_count "node $nid nr_pages" "$base_pages"
base_saved=$(saved "$nid")
need_count "node $nid vmemmap_saved_pages" "$base_saved"
base_total=$(saved)
need_count "vmemmap_saved_pages" "$base_total"
base_memmap=$(memmap)
need_count "nr_memmap_pages + nr_memmap_boot_pages in /proc/vmstat" "$base_memmap"
node_saved=""	# "<node>:<vmemmap_saved_pages>" of every node at the start
for d in $sysfs/node*; do
	v=$(cat "$d/vmemmap_saved_pages")
	need_count "${d#$sysfs/} vmemmap_saved_pages" "$v"
	node_saved="$node_saved ${d##*node}:$v"
done

ok "vmemmap_trim reads '$want'$why" [ "$(cat $sysfs/vmemmap_trim)" = "$want" ]
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
ok "the other nodes' savings are unchanged and the total is the sum of the nodes" \
	savings_are $((base_saved + 2 * each))
ok "debugfs lists the $((base_pages + 2)) folios of node $nid, each with $expect chunks shared" \
	folios_are "$nid" $((base_pages + 2)) $expect

# Shrink by one page with every page allocation of the writer failing: a
# restore that cannot get its pages fails the shrink with ENOMEM and the folio
# stays in the pool, whole and trimmed; with trimming off there is nothing to
# restore and the shrink succeeds.
[ -d $fpa ] || ktap_exit_fail_msg "no fail_page_alloc in debugfs"
fail0=$(dstat "$nid" restore_fail)
need_count "node $nid restore_fail in $dbg" "$fail0"
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
	ok "and all $((base_pages + 2)) folios are still listed, trimmed" \
		folios_are "$nid" $((base_pages + 2)) 512/512
else
	ok "a shrink under fail_page_alloc succeeds: nothing to restore" [ "$err" = 0 ]
	ok "no restore was tried" [ "$(dstat "$nid" restore_fail)" = "$fail0" ]
	ok "the pool holds one page less, listed untrimmed" \
		pool_holds $((base_pages + 1)) 0/512
	ok "nothing is saved" [ "$(saved "$nid")" = "$base_saved" ]
	ok "/proc/vmstat memmap pages are unchanged" [ "$(memmap)" = "$base_memmap" ]
fi

echo "$base_pages" > $sysfs/node$nid/nr_pages
ok "node $nid shrinks back to $base_pages pages, as debugfs lists" \
	pool_holds "$base_pages" $expect
ok "its saving is back to the baseline" [ "$(saved "$nid")" = "$base_saved" ]
ok "the total saving is back to the baseline" [ "$(saved)" = "$base_total" ]
ok "/proc/vmstat memmap pages are back to the baseline" [ "$(memmap)" = "$base_memmap" ]

# hugetlb's HVO of a 1 GiB page, through the engine gmem_cma now shares.
# The VM has 10 GiB: not finding one free 1 GiB block is a failure.
[ -d $hp ] || ktap_exit_fail_msg "no $hp: no 1 GiB hugetlb pages (GBPAGES)"
[ -w $hvo_sysctl ] || ktap_exit_fail_msg "no $hvo_sysctl"
hp_pages=$(cat $hp/nr_hugepages)
need_count "1 GiB nr_hugepages" "$hp_pages"
hp_free=$(cat $hp/free_hugepages)
need_count "1 GiB free_hugepages" "$hp_free"
hp_kb=$(hugetlb_kb)
need_count "Hugetlb: in /proc/meminfo" "$hp_kb"
hvo_was=$(cat $hvo_sysctl)
need_count "$hvo_sysctl" "$hvo_was"
hvo=$(kbool hugetlb_free_vmemmap "")
case $hvo in
on)
	hvo_each=$per_folio
	ok "$hvo_sysctl reads 1 (hugetlb_free_vmemmap=on)" [ "$hvo_was" = 1 ]
	;;
off)
	hvo_each=0
	ok "$hvo_sysctl reads 0 (hugetlb_free_vmemmap=off)" [ "$hvo_was" = 0 ]
	;;
*)
	hvo_each=$per_folio
	echo 1 > $hvo_sysctl
	ok "$hvo_sysctl turns HVO on (no hugetlb_free_vmemmap=)" \
		[ "$(cat $hvo_sysctl)" = 1 ]
	;;
esac
hp_memmap=$(memmap)
need_count "nr_memmap_pages + nr_memmap_boot_pages in /proc/vmstat" "$hp_memmap"

echo $((hp_pages + 1)) > $hp/nr_hugepages
ok "a 1 GiB hugetlb page is allocated at runtime" \
	[ "$(cat $hp/nr_hugepages)" = $((hp_pages + 1)) ]
ok "the HugePages counters show it" \
	hugetlb_is $((hp_pages + 1)) $((hp_free + 1)) $((hp_kb + 1048576))
ok "hugetlb's HVO saves exactly $hvo_each vmemmap pages for it" \
	[ "$(memmap)" = $((hp_memmap - hvo_each)) ]
echo "$hp_pages" > $hp/nr_hugepages
ok "freed, the HugePages counters are back to the baseline" \
	hugetlb_is "$hp_pages" "$hp_free" "$hp_kb"
ok "and /proc/vmstat memmap pages too" [ "$(memmap)" = "$hp_memmap" ]
[ -n "$hvo" ] || echo "$hvo_was" > $hvo_sysctl

ktap_finished
