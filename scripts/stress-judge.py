#!/usr/bin/env python3
"""Judge the console of the stress boot of "make stress".

The boot passes if gmem_cma_stress printed PASS and the guest ended with
rc=0, the console has nothing check.py's BAD_LOG finds (KASAN, WARNING,
BUG, lockdep splats, hung tasks, lockups...), and kmemleak's report after
the stress is empty (--kmemleak any, the default) or names nothing of ours
(--kmemleak ours: gmem_cma, guest_memfd, KVM, the vmemmap remapping, the
pins the stress takes).  A leak of ours already there before the stress
(the boot) fails too.

"stress-judge.py --self-test" judges consoles built here, one passing and
others each broken in one way, without booting.
"""

import argparse
import importlib.util
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ for check.py next to it
_spec = importlib.util.spec_from_file_location("check", os.path.join(HERE, "check.py"))
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

# A kmemleak report that names one of these is ours.
OURS = re.compile(r"gmem|guest_memfd|kvm|hugetlb_vmemmap|io_uring|gup_test|cma")
STRESS = "gmem_cma_stress: "
# The allocator's report of an allocation that failed (warn_alloc()): the
# stress injects such failures (failslab, fail_page_alloc) into its own
# system calls, so one naming gmem_cma_stress is expected; its stack dump
# ends with "</TASK>".
ALLOC_FAILURE = re.compile(r"\] (\S+): (vmalloc error|page allocation failure): ")
TASK_END = re.compile(r"\]\s+</TASK>")


def injected_failure_reports(lines):
    """The indices of the lines of allocation-failure reports of the
    stress's own tasks, and how many reports there are."""
    skip, n, i = set(), 0, 0
    while i < len(lines):
        m = ALLOC_FAILURE.search(lines[i])
        if not m or m.group(1) != "gmem_cma_stress":
            i += 1
            continue
        n += 1
        j = i
        while j < len(lines) and j < i + 200 and not TASK_END.search(lines[j]):
            j += 1
        skip.update(range(i, j + 1))
        i = j + 1
    return skip, n


def kmemleak(user, which):
    """The objects of the kmemleak report between KMEMLEAK_BEGIN <which>
    and KMEMLEAK_END <which>, each as its lines; None if it is missing."""
    objs, inside, done = [], False, False
    for line in user:
        if line.strip() == f"KMEMLEAK_BEGIN {which}":
            inside = True
        elif line.strip() == f"KMEMLEAK_END {which}":
            done = inside
            inside = False
        elif inside and line.startswith("unreferenced object"):
            objs.append([line])
        elif inside and objs:
            objs[-1].append(line)
    return objs if done else None


def judge(text, strict=True):
    """Every result of the stress boot as (name, ok, detail), and the
    stress program's own lines."""
    results = []

    def add(what, ok, detail=""):
        results.append((f"stress: {what}", bool(ok), detail))

    user, _ = check.split_console(text)
    lines = [line[len(STRESS):] for line in user if line.startswith(STRESS)]
    final = [line for line in lines if re.match(r"(PASS|FAIL)\b", line)]
    add("gmem_cma_stress passed", final and final[-1].startswith("PASS"),
        final[-1] if final else "no PASS or FAIL line")

    for which in ("before", "after"):
        objs = kmemleak(user, which)
        if objs is None:
            add(f"kmemleak report {which} the stress", False, "missing")
            continue
        ours = [o for o in objs if any(OURS.search(line) for line in o)]
        bad = objs if which == "after" and strict else ours
        add(f"kmemleak {which} the stress: no leak" + ("" if bad is objs else " of ours"),
            not bad, f"{len(bad)} objects, the first: " + " | ".join(
                line.strip() for line in bad[0][:12]) if bad else "")

    ends = [m for m in (re.match(r"GMEM_TEST_END rc=(\d+)$", line) for line in user) if m]
    add("guest ran to the end with rc=0", ends and ends[-1].group(1) == "0",
        ends[-1].group(0) if ends else "no GMEM_TEST_END line (timeout, panic or hang)")
    console = text.splitlines()
    injected, n = injected_failure_reports(console)
    lines.append(f"{n} allocation-failure reports of injected failures (expected)")
    bad = [line.strip() for i, line in enumerate(console)
           if i not in injected and check.BAD_LOG.search(line)]
    add("console free of KASAN, warnings, lockdep, oopses, hangs, lockups and dropped "
        "messages", not bad, "; ".join(bad[:3]))
    return results, lines


def synthetic(after_leak="", stress_end="gmem_cma_stress: PASS (seed 0x2a)", kmsg=""):
    """A console of the stress boot; the arguments break it."""
    leak = ("unreferenced object 0xffff888101234500 (size 64):\r\n"
            '  comm "{}", pid 97, jiffies 4294937296\r\n'
            "  backtrace (crc 5b1c3a2d):\r\n"
            "    kmemleak_alloc+0x4e/0x90\r\n"
            "    __kmalloc_cache_noprof+0x2a1/0x3f0\r\n"
            "    {}+0x4f/0x1a0\r\n")
    lines = [
        "[    0.000000] Linux version 7.2.13 (stress-judge.py --self-test)",
        "[    0.100000] kasan: KernelAddressSanitizer initialized (generic)",
        "[    1.000000] kmemleak: Kernel memory leak detector initialized (mem pool available: 39000)",
        "GMEM_TEST_BEGIN mode=stress",
        "KMEMLEAK_BEGIN before",
        leak.format("swapper/0", "acpi_os_allocate").rstrip(),
        "KMEMLEAK_END before",
        "gmem_cma_stress: seed 0x2a (replay: -S 0x2a -s 600 -j 4 -P 2)",
        "[  300.000000] gmem_cma: node 1: nr_pages: cannot set 0: another resize is running, "
        "or pages are reserved or in use",
    ]
    if kmsg:
        lines.append(kmsg)
    lines += [
        "gmem_cma_stress: pool-grow            120: done 80 EBUSY 30 ENOMEM 10",
        "gmem_cma_stress: 1234 operations, 2 memory failures (2 taken), "
        "0 failures",
        stress_end,
        "KMEMLEAK_BEGIN after",
    ]
    if after_leak:
        lines.append(leak.format("kworker/u8:2", after_leak).rstrip())
    lines += ["KMEMLEAK_END after", "GMEM_TEST_END rc=0", "[  900.000000] reboot: Power down"]
    return "\r\n".join(lines) + "\r\n"


def alloc_failure(comm, inside=""):
    """An allocator's report of a failed allocation by task @comm."""
    lines = [f"[  400.000000] {comm}: vmalloc error: size 2048, vm_struct allocation failed, "
             "mode:0x400dc0(GFP_KERNEL_ACCOUNT|__GFP_ZERO), nodemask=(null)",
             "[  400.000100] CPU: 1 UID: 0 PID: 80 Comm: gmem_cma_stress Not tainted 7.2.13+ #1",
             "[  400.000200] Call Trace:", "[  400.000300]  <TASK>",
             "[  400.000400]  warn_alloc+0x15f/0x197",
             "[  400.000500]  kvm_arch_prepare_memory_region+0x208/0x510"]
    if inside:
        lines.append(inside)
    return "\r\n".join(lines + ["[  400.000600]  </TASK>"])


def self_test():
    """Each broken console must fail, on the result that looks at it."""
    good = synthetic()
    cases = [
        ("passing console", good, True, None),
        ("a leak of ours after the stress", synthetic(after_leak="gmem_cma_file_create"), False,
         r"kmemleak after"),
        ("a leak of someone else's after the stress", synthetic(after_leak="acpi_ns_walk"),
         True, r"kmemleak after"),
        ("... which --kmemleak ours lets through", synthetic(after_leak="acpi_ns_walk"), False,
         None),
        ("a leak of ours before the stress",
         good.replace("acpi_os_allocate", "gmem_cma_reserve"), True, r"kmemleak before"),
        ("no kmemleak report after the stress", good.replace("KMEMLEAK_END after\r\n", ""),
         True, r"kmemleak report after"),
        ("the stress failed",
         synthetic(stress_end="gmem_cma_stress: FAIL: 1 failures, the first: worker 0: "
                              "punch: fallocate(0x3, 0, 0x40000000): EIO (seed 0x2a)"),
         True, r"gmem_cma_stress passed"),
        ("no PASS line", synthetic(stress_end=""), True, r"gmem_cma_stress passed"),
        ("KASAN report",
         synthetic(kmsg="[  400.000000] BUG: KASAN: slab-use-after-free in "
                        "gmem_cma_return_folio+0x1c/0x2a0"), True, r"console free"),
        ("lockdep splat",
         synthetic(kmsg="[  400.000000] WARNING: possible circular locking dependency detected"),
         True, r"console free"),
        ("hung task",
         synthetic(kmsg="[  400.000000] INFO: task gmem_cma_stress:99 blocked for more than "
                        "120 seconds."), True, r"console free"),
        ("no GMEM_TEST_END", good.replace("GMEM_TEST_END rc=0\r\n", ""), True,
         r"ran to the end"),
        ("an injected allocation failure's report", synthetic(kmsg=alloc_failure(
            "gmem_cma_stress")), True, None),
        ("an allocation failure of another task", synthetic(kmsg=alloc_failure("kworker/0:1")),
         True, r"console free"),
        ("a WARNING after an injected allocation failure's report", synthetic(
            kmsg=alloc_failure("gmem_cma_stress") + "\r\n[  401.000000] WARNING: "
            "mm/gmem_cma_pool.c:100 at gmem_cma_pool_alloc+0x1/0x2"), True, r"console free"),
    ]
    wrong = 0
    for what, text, strict, want in cases:
        results, _ = judge(text, strict)
        right, why, failed = check.self_test_verdict(results, want)
        wrong += not right
        print(f"self-test {'ok ' if right else 'BAD'}  {what}: "
              f"{'FAILED' if failed else 'PASSED'} ({why[:110]})")
    print(f"stress-judge.py --self-test: {len(cases) - wrong} of {len(cases)} consoles "
          "judged right")
    return 1 if wrong else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", nargs="?", help="the console log of the stress boot")
    ap.add_argument("--kmemleak", choices=("any", "ours"), default="any",
                    help="which leaks after the stress fail it (default: any)")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if not args.log:
        ap.error("the log of the stress boot is required (or --self-test)")
    try:
        with open(args.log, errors="replace") as f:
            results, lines = judge(f.read(), args.kmemleak == "any")
    except OSError as e:
        print(f"FAIL stress: console log: {e}")
        return 1
    for line in lines:
        print(f"{STRESS}{line}")
    failed = 0
    for name, ok, detail in results:
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
