#!/bin/bash
# "make bench": time taking 1 GiB pages out of CMA for a gmem_cma pool, side
# by side with allocating 1 GiB hugetlb pages from hugetlb_cma= and with
# memset() of the same memory (gmem_cma_bench), with idle areas and with
# areas lent out to movable pages.  QEMU's memory map leaves no room for both
# areas on one node, so it boots twice with the two areas swapped between the
# nodes, and compares gmem_cma with hugetlb on the same node.  It also
# reports the vmemmap per GiB (trimmed, untrimmed, hugetlb with HVO) and the
# cost of trimming, from a third boot with gmem_cma_vmemmap=off.  A fourth
# boot, with kvm.gmem_in_place_conversion=1, times in-place conversion of
# 4 KiB, 2 MiB and 1 GiB ranges on 4 KiB-page and 1 GiB-page files
# (gmem_cma_convert_bench), and the split and merge of a 1 GiB page under a
# running guest: their latency, the vmemmap a split page keeps, and the
# guest's memory access time whole, split and merged (guest_memfd_split_bench).
# A fifth boot runs Debian's QEMU 11 nested and times its guest's boot and
# memory loops on a 1 GiB and a 4 KiB guest_memfd and on hugetlbfs 1 GiB pages
# (gmem_cma_qemu.sh bench).
#
# usage: bench.sh <bzImage> <initramfs> <log-dir>
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$3"
pages=${BENCH_PAGES:-2}
rounds=${BENCH_ROUNDS:-3}
out=$3/bench.txt
: > "$out"
# Boots 1 and 2 swap the areas; boot 3 repeats the pool grows of boot 2 with
# vmemmap trimming off.  hugetlb runs with HVO, as a host would.
for g in 0 1 off; do
	case $g in
	off) g=1; extra=gmem_cma_vmemmap=off; mode=,off; n=3 ;;
	*) extra=; mode=; n=$((g + 1)) ;;
	esac
	h=$((1 - g))
	log=$3/bench-gmem$g${mode:+-off}.log
	echo "bench: boot $n/5: gmem_cma=$g:${pages}G hugetlb_cma=$h:${pages}G $extra ..."
	"$here/vm.sh" "$1" "$2" "$log" kunit.enable=0 "gmem_cma=$g:${pages}G" \
		"hugetlb_cma=$h:${pages}G" hugetlb_free_vmemmap=on $extra -- gmem_test=bench \
		"gmem_bench=$g,$h,$pages,$rounds$mode" || true
	grep -q 'GMEM_TEST_END rc=0' "$log" || { echo "bench: failed, see $log" >&2; exit 1; }
	grep '^BENCH ' "$log" | tr -d '\r' >> "$out"
done
log=$3/bench-convert.log
echo "bench: boot 4/5: gmem_cma=0:2G,1:2G kvm.gmem_in_place_conversion=1 ..."
"$here/vm.sh" "$1" "$2" "$log" kunit.enable=0 gmem_cma=0:2G,1:2G \
	kvm.gmem_in_place_conversion=1 -- gmem_test=convert-bench "gmem_bench=$rounds" || true
grep -q 'GMEM_TEST_END rc=0' "$log" || { echo "bench: failed, see $log" >&2; exit 1; }
grep '^BENCH ' "$log" | tr -d '\r' >> "$out"
# QEMU nested: one CPU (README, "Known problems"), up to an hour (its 4 KiB
# guest boots for over ten minutes); hugetlb_cma on the
# other node, as in boots 1-3.
log=$3/bench-qemu.log
echo "bench: boot 5/5: gmem_cma=0:2G hugetlb_cma=1:2G, QEMU 11 nested ..."
VM_SMP=1 VM_TIMEOUT=3600 "$here/vm.sh" "$1" "$2" "$log" kunit.enable=0 gmem_cma=0:2G hugetlb_cma=1:2G \
	-- gmem_test=qemu-bench || true
grep -q 'GMEM_TEST_END rc=0' "$log" || { echo "bench: failed, see $log" >&2; exit 1; }
grep '^BENCH ' "$log" | tr -d '\r' >> "$out"
"$here/bench-table.py" "$out" "$pages" "$rounds"
