#!/bin/bash
# "make bench": time taking 1 GiB pages out of CMA for a gmem_cma pool, side
# by side with allocating 1 GiB hugetlb pages from hugetlb_cma= and with
# memset() of the same memory (gmem_cma_bench), with idle areas and with
# areas lent out to movable pages.  QEMU's memory map leaves no room for both
# areas on one node, so it boots twice with the two areas swapped between the
# nodes, and compares gmem_cma with hugetlb on the same node.
#
# usage: bench.sh <bzImage> <initramfs> <log-dir>
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$3"
pages=${BENCH_PAGES:-2}
rounds=${BENCH_ROUNDS:-3}
out=$3/bench.txt
: > "$out"
for g in 0 1; do
	h=$((1 - g))
	log=$3/bench-gmem$g.log
	echo "bench: boot $((g + 1))/2: gmem_cma=$g:${pages}G hugetlb_cma=$h:${pages}G ..."
	"$here/vm.sh" "$1" "$2" "$log" kunit.enable=0 "gmem_cma=$g:${pages}G" \
		"hugetlb_cma=$h:${pages}G" -- gmem_test=bench \
		"gmem_bench=$g,$h,$pages,$rounds" || true
	grep -q 'GMEM_TEST_END rc=0' "$log" || { echo "bench: failed, see $log" >&2; exit 1; }
	grep '^BENCH ' "$log" | tr -d '\r' >> "$out"
done
python3 - "$out" "$pages" "$rounds" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    _, what, state, nid, ms, lent = line.split()
    rows[(what, state, int(nid))] = (float(ms), int(lent))
pages, rounds = sys.argv[2], sys.argv[3]
print(f"\n{pages} x 1 GiB per measurement, median of {rounds} runs after one untimed "
      "warm-up, TCG guest, ms per GiB")
print(f"{'':44s} {'node 0':>10s} {'node 1':>10s}")
def row(label, key):
    print(f"{label:44s} " + " ".join(f"{rows[key + (n,)][0]:10.1f}" for n in (0, 1)))
def ratio(label, a, b):
    print(f"{label:44s} " + " ".join(f"{rows[a + (n,)][0] / rows[b + (n,)][0]:10.2f}"
                                     for n in (0, 1)))
row("gmem_cma pool grow, idle area", ("gmem_cma", "idle"))
row("hugetlb 1G from hugetlb_cma, idle area", ("hugetlb", "idle"))
ratio("  ratio gmem_cma / hugetlb", ("gmem_cma", "idle"), ("hugetlb", "idle"))
row("gmem_cma pool grow, area lent to movable", ("gmem_cma", "busy"))
row("hugetlb 1G, area lent to movable", ("hugetlb", "busy"))
ratio("  ratio gmem_cma / hugetlb", ("gmem_cma", "busy"), ("hugetlb", "busy"))
row("memset of populated memory", ("memset", "populated"))
ratio("  ratio gmem_cma idle / memset", ("gmem_cma", "idle"), ("memset", "populated"))
ratio("  ratio gmem_cma busy / memset", ("gmem_cma", "busy"), ("memset", "populated"))
print(f"\nPopulating guest memory with fallocate() from filled pools, ms per GiB "
      "(hugetlb on the other node)")
row("guest_memfd, 1 GiB pages (gmem_cma)", ("populate", "gmem_1g"))
row("guest_memfd, 4 KiB pages", ("populate", "gmem_4k"))
row("hugetlb 1 GiB memfd (hugetlb_cma)", ("populate", "hugetlb_1g"))
row("memset of populated memory", ("memset", "populated"))
ratio("  ratio 1 GiB guest_memfd / memset", ("populate", "gmem_1g"), ("memset", "populated"))
ratio("  ratio 1 GiB guest_memfd / hugetlb 1 GiB", ("populate", "gmem_1g"),
      ("populate", "hugetlb_1g"))
ratio("  ratio 1 GiB guest_memfd / 4 KiB guest_memfd", ("populate", "gmem_1g"),
      ("populate", "gmem_4k"))
print("\nVM memory life (create VM + file, bind, populate, close), ms per GiB")
row("guest_memfd, 1 GiB pages (gmem_cma)", ("vmlife", "gmem_1g"))
row("guest_memfd, 4 KiB pages", ("vmlife", "gmem_4k"))
ratio("  ratio 1 GiB / 4 KiB", ("vmlife", "gmem_1g"), ("vmlife", "gmem_4k"))
print("MiB of the area lent out before the busy runs: " + ", ".join(
    f"{w} node {n}: {rows[(w, 'busy', n)][1]}" for w in ("gmem_cma", "hugetlb") for n in (0, 1)))
PY
