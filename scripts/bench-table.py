#!/usr/bin/env python3
# The table "make bench" prints, from the BENCH lines of its four boots.
# usage: bench-table.py <bench.txt> <pages> <rounds>
import sys
rows = {}
qemu = {}
for line in open(sys.argv[1]):
    if line.startswith("BENCH qemu "):
        # BENCH qemu <backing> wall_ms=<n> boot_ms=<n> ... (gmem_cma_qemu.sh bench)
        f = line.split()
        qemu[f[2]] = {k: float(v) for k, v in (kv.split("=") for kv in f[3:])}
        continue
    _, what, state, nid, ms, lent = line.split()
    rows[(what, state, int(nid))] = (float(ms), float(lent))
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
row("guest_memfd 1 GiB, pool pre-zeroed (gmem_cma)", ("populate", "gmem_1g"))
row("guest_memfd 1 GiB, pre-zeroing off", ("populate", "gmem_1g_nozero"))
row("guest_memfd, 4 KiB pages", ("populate", "gmem_4k"))
row("hugetlb 1 GiB memfd (hugetlb_cma)", ("populate", "hugetlb_1g"))
row("memset of populated memory", ("memset", "populated"))
print(f"{'  ratio hugetlb 1 GiB / pre-zeroed 1 GiB':44s} " + " ".join(
    f"{rows[('populate', 'hugetlb_1g', 1 - n)][0] / rows[('populate', 'gmem_1g', n)][0]:10.1f}"
    for n in (0, 1)))
ratio("  ratio pre-zeroing off / pre-zeroed", ("populate", "gmem_1g_nozero"),
      ("populate", "gmem_1g"))
ratio("  ratio pre-zeroing off / memset", ("populate", "gmem_1g_nozero"), ("memset", "populated"))
ratio("  ratio pre-zeroing off / 4 KiB guest_memfd", ("populate", "gmem_1g_nozero"),
      ("populate", "gmem_4k"))
print("\nCreate VM -> its guest runs on N GiB populated (create VM + memory, bind, "
      "fallocate, HLT on a vCPU), ms per GiB")
row("guest_memfd 1 GiB, pool pre-zeroed (gmem_cma)", ("vmlife", "gmem_1g"))
row("guest_memfd 1 GiB, pre-zeroing off", ("vmlife", "gmem_1g_nozero"))
row("guest_memfd, 4 KiB pages", ("vmlife", "gmem_4k"))
row("hugetlb 1 GiB memfd (hugetlb_cma, other node)", ("vmlife", "hugetlb_1g"))
print(f"{'  ratio hugetlb 1 GiB / pre-zeroed 1 GiB':44s} " + " ".join(
    f"{rows[('vmlife', 'hugetlb_1g', 1 - n)][0] / rows[('vmlife', 'gmem_1g', n)][0]:10.1f}"
    for n in (0, 1)))
ratio("  ratio 4 KiB / pre-zeroed 1 GiB", ("vmlife", "gmem_4k"), ("vmlife", "gmem_1g"))
print(f"{'zeroer CPU time per GiB it cleared, ms':44s} " + " ".join(
    f"{rows[('zeroer', 'cpu_ms_per_gib', n)][0]:10.1f}" for n in (0, 1)) +
    "  (" + ", ".join(f"node {n}: {rows[('zeroer', 'cpu_ms_per_gib', n)][1]:.0f} GiB"
                      for n in (0, 1)) + ")")
print("MiB of the area lent out before the busy runs: " + ", ".join(
    f"{w} node {n}: {rows[(w, 'busy', n)][1]:.0f}" for w in ("gmem_cma", "hugetlb") for n in (0, 1)))
print("\nVmemmap (struct pages) per GiB held, KiB, mean of the grows; hugetlb 1 GiB "
      "with HVO on the other node")
row("gmem_cma pool, trimmed (gmem_cma_vmemmap=on)", ("vmemmap_kib", "gmem"))
row("hugetlb 1 GiB pages, HVO", ("vmemmap_kib", "hugetlb"))
print(f"{'gmem_cma pool, gmem_cma_vmemmap=off':44s} {'':>10s} "
      f"{rows[('vmemmap_kib', 'gmem_off', 1)][0]:10.1f}")
print("Trimming cost, ms per 1 GiB folio (gmem_cma debugfs counters)")
row("trim (at pool grow)", ("vmemmap_ms", "trim"))
row("restore (at pool shrink)", ("vmemmap_ms", "restore"))
print("Pool grow, idle area, ms per GiB, node 1, same kernel")
print(f"{'trimming on (boot 2) / off (boot 3)':44s} {'':>10s} "
      f"{rows[('gmem_cma', 'idle', 1)][0]:10.1f}")
print(f"{'':44s} {'':>10s} {rows[('gmem_cma', 'idle_off', 1)][0]:10.1f}")
print(f"{'  ratio on / off':44s} {'':>10s} "
      f"{rows[('gmem_cma', 'idle', 1)][0] / rows[('gmem_cma', 'idle_off', 1)][0]:10.2f}")
print(f"\nIn-place conversion (KVM_SET_MEMORY_ATTRIBUTES2), us, median of {rounds} rounds, "
      "every page host-mapped before each round")
print(f"{'':44s} {'to private':>10s} {'to shared':>10s}")
for f, fname in (("file4k", "4 KiB-page file"), ("file1g", "1 GiB-page file")):
    for r, rname in (("4k", "4 KiB"), ("2m", "2 MiB"), ("1g", "1 GiB")):
        key = ("convert", f"{f}_{r}", 0)
        if key in rows:
            p, s = rows[key]
            print(f"{fname + ', ' + rname + ' range':44s} {p:10.0f} {s:10.0f}")
        else:
            sys.exit(f"bench-table: no conversion row for {fname}, {rname} range")
a, b = rows[("convert", "file4k_1g", 0)], rows[("convert", "file1g_1g", 0)]
print(f"{'  ratio 1 GiB range, 4 KiB-page / 1 GiB-page':44s} {a[0] / b[0]:10.1f} {a[1] / b[1]:10.1f}")
print("\nSplit and merge of a 1 GiB page (guest_memfd_split_bench: a guest on 2 private "
      "1 GiB pages, one 4 KiB page of each shared and back)")
sp, mg = rows[("split", "convert", 0)], rows[("split", "merge", 0)]
print(f"{'share one 4 KiB page of a whole 1 GiB page':44s} {sp[0]:10.0f} us (split)")
print(f"{'the same page back to private':44s} {sp[1]:10.0f} us")
print(f"{'  until the 1 GiB page is whole again':44s} {mg[0]:10.0f} us (merge, by a worker)")
print(f"{'vmemmap pages per 1 GiB page, one page shared':44s} {mg[1]:10.0f} "
      "(whole and trimmed: 1, untrimmed: 4096)")
t, tf, tm = (rows[("split", k, 0)] for k in ("touch", "touch_first", "touch_merged"))
print(f"Guest pass over its 2 GiB, ms{'':28s} {'whole':>10s} {'split':>10s} {'merged':>10s}")
print(f"{'  first pass after the change (maps again)':44s} {tf[0]:10.0f} {tf[1]:10.0f} {tm[1]:10.0f}")
print(f"{'  steady (median)':44s} {t[0]:10.0f} {t[1]:10.0f} {tm[0]:10.0f}")
print(f"{'  ratio split / whole, steady':44s} {t[1] / t[0]:10.2f}")
backings = [("gmem-1g", "gmem 1 GiB"), ("gmem-4k", "gmem 4 KiB"), ("hugetlb-1g", "hugetlb 1G")]
print("\nQEMU 11 (Debian) booting a 2 GiB Linux guest nested in the TCG VM (gmem_cma_qemu.sh "
      "bench), ms,\none run each; guest_memfd through libgmem_cma_qemu.so, 1 GiB by the "
      "\"always\" policy")
print(f"{'':34s} " + " ".join(f"{label:>11s}" for _, label in backings) +
      f" {'4K / 1G':>8s} {'huge / 1G':>9s}")
for key, label in (("wall_ms", "QEMU start to exit (wall)"),
                   ("boot_ms", "guest clock: boot, to its /init"),
                   ("write_ms", "guest clock: writes its memory"),
                   ("verify_ms", "guest clock: reads it back"),
                   ("touch_ms", "guest clock: touch loop")):
    v = [qemu[b][key] for b, _ in backings]
    print(f"{label:34s} " + " ".join(f"{x:11.0f}" for x in v) +
          f" {v[1] / v[0]:8.2f} {v[2] / v[0]:9.2f}")
print(f"{'MiB the guest wrote':34s} " + " ".join(f"{qemu[b]['mib']:11.0f}" for b, _ in backings))
print("(The nested guest's own clock falls far behind the wall clock when it exits often,\n"
      "as the 4 KiB guest does on every first touch: compare 4 KiB pages by wall time.)")
