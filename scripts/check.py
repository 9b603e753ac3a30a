#!/usr/bin/env python3
"""Boot the test VM as often as needed, run every test, report.

Each boot writes its serial console to <build>/logs/<name>.log.  A result is
one line, PASS or FAIL; the last line is "N passed, N failed" and the exit
status is 1 if anything failed or a result is missing.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

# Anything of this kind in a guest's console fails the boot.
BAD_LOG = re.compile(r"WARNING:|BUG:|Oops|KASAN|Call Trace")

KVM_TESTS = [
    "kvm:guest_memfd_test",
    "kvm:private_mem_conversions_test",
    "kvm:set_memory_region_test",
    "kvm:pre_fault_memory_test",
    "kvm:guest_memfd_1g_test",
]
OUR_TESTS = ["gmem_cma:gmem_cma_areas", "gmem_cma:gmem_cma_pool", "gmem_cma:gmemctl.sh",
             "gmem_cma:gmem_cma_vmemmap.sh"]
# hugetlb's own vmemmap (HVO) tests: the remapping engine is shared.
MM_TESTS = ["mm:hugetlb-vmemmap", "mm:hugetlb-soft-offline", "mm:hugetlb-read-hwpoison"]
HWPOISON_CASES = ["free_folio", "private_file_folio", "mapped_file_folio"]
KUNIT_SUITES = {"gmem_cma_cmdline": 20, "gmem_cma_pool": 3, "gmem_cma_vmemmap": 3}  # suite -> minimum number of cases

# The boot matrix: kernel arguments, the expected GiB per node, and the
# warnings (regular expressions) that must each appear exactly once.
# Any other "gmem_cma:" line, except the "reserved" report, is a failure.
# ALSO: other lines that must be in the log of a boot.
ALSO = {
    "with-hugetlb-cma": [r"hugetlb_cma: reserved 1024 MiB on node 0",
                         r"hugetlb_cma: reserved 1024 MiB on node 1"],
}
# Boots where gmem_cma_areas is given a wrong expectation on purpose and must
# fail: proof that the kselftest can fail.
MUST_FAIL = {"selftest-catches-mismatch"}
MATRIX = [
    ("valid-total", "gmem_cma=4G", {0: 2, 1: 2}, []),
    ("valid-total-uneven", "gmem_cma=3G", {0: 2, 1: 1}, []),
    ("with-hugetlb-cma", "gmem_cma=0:1G,1:1G hugetlb_cma=0:1G,1:1G",
     {0: 1, 1: 1}, []),
    ("garbage", "gmem_cma=abc", {}, [r"cannot parse 'abc': skipped"]),
    ("garbage-entry", "gmem_cma=0:1G,x:1G,1:zz",
     {0: 1}, [r"cannot parse 'x:1G': skipped", r"cannot parse '1:zz': skipped"]),
    ("no-such-node", "gmem_cma=0:1G,5:1G", {0: 1},
     [r"node 5 does not exist or has no memory: 1G skipped"]),
    ("node-out-of-range", "gmem_cma=1:1G,4096:1G", {1: 1},
     [r"node 4096 does not exist or has no memory: '4096:1G' skipped"]),
    ("unaligned", "gmem_cma=0:1536M,1:512M", {0: 1},
     [r"'0:1536M' is not a multiple of 1G: rounded down to 1G",
      r"'1:512M' is less than 1G: skipped"]),
    ("larger-than-node", "gmem_cma=0:1G,1:4G", {0: 1},
     [r"node 1: 4G asked for but the node has only \d+M: skipped"]),
    ("repeated-node", "gmem_cma=0:1G,0:2G,1:1G", {0: 1, 1: 1},
     [r"node 0 given more than once: '0:2G' ignored"]),
    ("empty", "gmem_cma=", {}, [r"empty value: no area reserved"]),
    ("empty-entry", "gmem_cma=0:1G,,1:1G", {0: 1, 1: 1},
     [r"empty entry in '0:1G,,1:1G' ignored"]),
    ("overflow", "gmem_cma=0:99999999999999999999G,1:1G", {1: 1},
     [r"number too large in '0:99999999999999999999G': skipped"]),
    ("total-too-big", "gmem_cma=16G", {},
     [r"node 0: 8G asked for but the node has only \d+M: skipped",
      r"node 1: 8G asked for but the node has only \d+M: skipped"]),
    ("no-aligned-room", "gmem_cma=0:5G,1:1G", {1: 1},
     [r"node 0: cannot reserve 5G: the node has [0-4]G of free 1G-aligned memory "
      r"in runs of up to [0-4]G \(error -\d+\): skipped"]),
    ("selftest-catches-mismatch", "gmem_cma=0:1G,1:1G", {0: 1, 1: 2}, []),
    ("vmemmap-bad-value", "gmem_cma=0:1G,1:1G gmem_cma_vmemmap=maybe", {0: 1, 1: 1},
     [r"gmem_cma_vmemmap: cannot parse 'maybe': left on"]),
    ("pool-prefill", "gmem_cma=0:2G,1:2G gmem_cma_pool=0:1G,1:2G", {0: 2, 1: 2}, []),
    ("pool-prefill-total", "gmem_cma=0:2G,1:2G gmem_cma_pool=3G", {0: 2, 1: 2}, []),
    ("pool-prefill-too-big", "gmem_cma=0:1G,1:1G gmem_cma_pool=0:2G,1:1G,x",
     {0: 1, 1: 1},
     [r"gmem_cma_pool: node 0: 2G asked for but its area holds 1G: skipped",
      r"gmem_cma_pool: 'x' has no node but other entries do: skipped"]),
]
# Pool pages each boot expects after gmem_cma_pool=, and the log lines
# that must say so (the "filled" lines are also allowed gmem_cma messages).
POOL = {
    "pool-prefill": ({0: 1, 1: 2}, [r"gmem_cma_pool: node 0: filled 1 pages",
                                     r"gmem_cma_pool: node 1: filled 2 pages"]),
    "pool-prefill-total": ({0: 2, 1: 1}, [r"gmem_cma_pool: filled 3 pages"]),
    "pool-prefill-too-big": ({0: 0, 1: 1}, [r"gmem_cma_pool: node 1: filled 1 pages"]),
}


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def add(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}{': ' + detail if detail else ''}", flush=True)


def boot(args, name, kargs, iargs):
    """Boot once; return the console log as text."""
    log = os.path.join(args.logs, f"{name}.log")
    start = time.time()
    cmd = [os.path.join(args.scripts, "vm.sh"), args.kernel, args.initrd, log]
    cmd += kargs.split() + ["--"] + iargs.split()
    rc = subprocess.call(cmd)
    print(f"---- boot {name}: {time.time() - start:.0f} s (qemu exit {rc}), log {log}",
          flush=True)
    with open(log, errors="replace") as f:
        return f.read()


def check_log_clean(res, name, text):
    bad = [line.strip() for line in text.splitlines() if BAD_LOG.search(line)]
    res.add(f"{name}: console free of WARNING/BUG/Oops/KASAN/Call Trace",
            not bad, "; ".join(bad[:3]))


def check_finished(res, name, text):
    m = re.search(r"GMEM_TEST_END rc=(\d+)", text)
    res.add(f"{name}: guest ran to the end", m is not None,
            "no GMEM_TEST_END line (timeout, panic or hang)")


def kselftest_results(res, name, text, expected):
    """Top-level run_kselftest.sh results, plus the subtests of ours."""
    seen = {}
    sub = []
    current = ""
    for line in text.splitlines():
        m = re.match(r"\s*(not )?ok \d+ selftests: (\S+): (\S+)(.*)", line)
        if m:
            seen[f"{m.group(2)}:{m.group(3)}"] = (m.group(1) is None and
                                                  "SKIP" not in m.group(4), line)
            continue
        m = re.match(r"\s*# (not )?ok \d+ ((areas|pool)\.\S+|[a-z].*)$", line)
        if m and current.startswith("gmem_cma:"):
            ok = m.group(1) is None and "# SKIP" not in m.group(2)
            sub.append((current, m.group(2).split(" # ")[0].strip(), ok, line.strip()))
            continue
        m = re.match(r"# selftests: (\S+): (\S+)$", line.strip())
        if m:
            current = f"{m.group(1)}:{m.group(2)}"
    for test, sname, ok, line in sub:
        res.add(f"{name}: {test} {sname}", ok, line)
    for test in expected:
        if test not in seen:
            res.add(f"{name}: {test}", False, "no result")
        else:
            ok, line = seen[test]
            res.add(f"{name}: {test}", ok, line.strip())


def no_skips(res, name, text, tests):
    """Every subtest of these tests ran: a skipped one proves nothing."""
    for test in tests:
        coll, prog = test.split(":")
        m = re.search(rf"^# selftests: {re.escape(coll)}: {re.escape(prog)}$(.*?)"
                      rf"^(not )?ok \d+ selftests: {re.escape(coll)}: {re.escape(prog)}",
                      text, re.M | re.S)
        body = m.group(1) if m else ""
        res.add(f"{name}: {test} ran every subtest (no SKIP)",
                bool(m) and "# SKIP" not in body and re.search(r"^# ok \d+", body, re.M),
                "no output" if not m else "skipped subtests")


def kunit_results(res, args, name, text):
    """Parse KUnit's KTAP from the boot log with the kernel's kunit.py."""
    ktap = text.split("GMEM_TEST_BEGIN")[0]
    with tempfile.TemporaryDirectory() as tmp:
        logf = os.path.join(tmp, "kunit.log")
        jsonf = os.path.join(tmp, "kunit.json")
        with open(logf, "w") as f:
            f.write(ktap)
        kunit = os.path.join(args.tree, "tools/testing/kunit/kunit.py")
        subprocess.run([sys.executable, kunit, "parse", logf, f"--json={jsonf}"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with open(jsonf) as f:
                data = json.load(f)
        except (OSError, ValueError):
            data = {}

    def leaves(group, prefix):
        for case in group.get("test_cases", []):
            yield f"{prefix}.{case['name']}", case.get("status", "")
        for sub in group.get("sub_groups", []):
            yield from leaves(sub, f"{prefix}.{sub['name']}")

    suites = {g["name"]: list(leaves(g, g["name"])) for g in data.get("sub_groups", [])}
    for suite, minimum in KUNIT_SUITES.items():
        cases = suites.get(suite, [])
        if len(cases) < minimum:
            res.add(f"{name}: kunit {suite}", False,
                    f"{len(cases)} results, expected at least {minimum}")
            continue
        for case, status in cases:
            res.add(f"{name}: kunit {case}", status == "PASS", status)


def gmem_lines(text):
    """Kernel messages of gmem_cma (printk timestamps are on)."""
    return [line.strip() for line in text.splitlines()
            if re.search(r"^\[\s*\d+\.\d+\] gmem_cma: ", line)]


def check_matrix_messages(res, name, text, expect, warnings, infos=()):
    # Only the boot's own messages: the tests later log refusals on purpose.
    lines = gmem_lines(text.split("GMEM_TEST_BEGIN")[0])
    for nid, gb in sorted(expect.items()):
        pat = re.compile(rf"gmem_cma: node {nid}: reserved {gb}G in \d+ range\(s\) "
                         rf"as CMA area gmem{nid}")
        n = sum(1 for line in lines if pat.search(line))
        res.add(f"{name}: node {nid} reserved {gb}G reported once", n == 1, f"seen {n} times")
    left = [line for line in lines if not re.search(r": reserved \d+G in ", line)]
    for i in infos:
        pat = re.compile(i)
        hits = [line for line in left if pat.search(line)]
        res.add(f"{name}: message /{i}/ once", len(hits) == 1, f"seen {len(hits)} times")
        left = [line for line in left if not pat.search(line)]
    for w in warnings:
        pat = re.compile(w)
        hits = [line for line in left if pat.search(line)]
        res.add(f"{name}: warning /{w}/ once", len(hits) == 1, f"seen {len(hits)} times")
        left = [line for line in left if not pat.search(line)]
    res.add(f"{name}: no other gmem_cma messages", not left, "; ".join(left[:3]))


def expect_arg(expect):
    return "gmem_expect=" + ",".join(f"{n}:{g}" for n, g in sorted(expect.items())) \
        if expect else "gmem_expect=0:0"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tree", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--logs", required=True)
    ap.add_argument("--only", help="run only boots whose name contains this")
    args = ap.parse_args()
    args.scripts = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(args.logs, exist_ok=True)
    res = Results()
    start = time.time()

    boots = [("main", None), ("vmm-demo", None), ("gmem-node0-only", None),
             ("gmem-hwpoison", None), ("gmem-vmemmap-off", None)]
    boots += [(m[0], m) for m in MATRIX]
    for name, case in boots:
        if args.only and args.only not in name:
            continue
        if name == "vmm-demo":
            # What "make run" shows: a VM on 1 GiB pages of node 1.
            text = boot(args, name, "kunit.enable=0 gmem_cma=0:2G,1:2G", "gmem_test=run")
            m = re.search(r"GMEM_TEST_END rc=(\d+)", text)
            res.add(f"{name}: make run's report exits 0", bool(m and m.group(1) == "0"),
                    m.group(0) if m else "no end")
            for pat in (r"gmem_vm: PASS", r"pages_1g\D+1\b"):
                res.add(f"{name}: report has /{pat}/", re.search(pat, text) is not None)
        elif name == "gmem-node0-only":
            # Node 1 has no area: a 1 GiB guest_memfd bound there gets ENODEV.
            text = boot(args, name, "kunit.enable=0 gmem_cma=0:2G",
                        "gmem_test=kselftest gmem_tests=kvm:guest_memfd_1g_test")
            kselftest_results(res, name, text, ["kvm:guest_memfd_1g_test"])
            res.add(f"{name}: no_pool_on_allowed_node ran (not skipped) and passed",
                    re.search(r"^# ok \d+ global\.no_pool_on_allowed_node\s*$", text, re.M)
                    is not None)
        elif name == "gmem-hwpoison":
            # Poisoned pages never come back: a boot of its own.
            tests = ["gmem_cma:gmem_cma_hwpoison"]
            text = boot(args, name, "kunit.enable=0 gmem_cma=0:2G,1:2G",
                        f"gmem_test=kselftest gmem_tests={tests[0]} gmem_hwpoison_test")
            kselftest_results(res, name, text, tests)
            for c in HWPOISON_CASES:
                res.add(f"{name}: {c} ran (not skipped) and passed",
                        re.search(rf"^# ok \d+ global\.{c}\s*$", text, re.M) is not None)
            res.add(f"{name}: the kernel logged the contained failures",
                    len(re.findall(r"gmem_cma: memory failure at pfn", text)) >= 4)
        elif name == "gmem-vmemmap-off":
            # Nothing trimmed; everything else passes as in the main boot.
            tests = OUR_TESTS + ["kvm:guest_memfd_1g_test"]
            text = boot(args, name, "kunit.enable=0 gmem_cma=0:2G,1:2G gmem_cma_vmemmap=off",
                        f"gmem_test=kselftest gmem_tests={','.join(tests)}")
            kselftest_results(res, name, text, tests)
        elif case is None:
            tests = OUR_TESTS + KVM_TESTS + MM_TESTS
            text = boot(args, name, "gmem_cma=0:2G,1:2G hugetlb_free_vmemmap=on hugepages=32",
                        f"gmem_test=kselftest gmem_tests={','.join(tests)}")
            no_skips(res, name, text, MM_TESTS)
            kunit_results(res, args, name, text)
            kselftest_results(res, name, text, tests)
            # gmem_cma_vmemmap_refuses_changed provokes this one on purpose.
            check_matrix_messages(res, name, text, {0: 2, 1: 2}, [
                r"node \d: cannot trim the vmemmap of 1 GiB page at pfn 0x[0-9a-f]+ "
                r"again \(error -16\)"])
        else:
            _, kargs, expect, warnings = case
            pool, infos = POOL.get(name, ({}, []))
            pool_arg = ("gmem_pool_expect=" + ",".join(f"{n}:{p}" for n, p in
                                                        sorted(pool.items()))) if pool else ""
            text = boot(args, name, f"kunit.enable=0 {kargs}",
                        f"gmem_test=kselftest gmem_tests={OUR_TESTS[0]} "
                        f"{expect_arg(expect)} {pool_arg}")
            if name in MUST_FAIL:
                m = re.search(r"^(not )?ok \d+ selftests: gmem_cma: gmem_cma_areas",
                              text, re.M)
                res.add(f"{name}: gmem_cma_areas fails on a wrong expectation",
                        bool(m and m.group(1)), m.group(0) if m else "no result")
                check_finished(res, name, text)
                check_log_clean(res, name, text)
                continue
            kselftest_results(res, name, text, OUR_TESTS[:1])
            check_matrix_messages(res, name, text, expect, warnings, infos)
            for pat in ALSO.get(name, []):
                res.add(f"{name}: log has /{pat}/", re.search(pat, text) is not None)
        check_finished(res, name, text)
        check_log_clean(res, name, text)

    print(f"---- make check: {time.time() - start:.0f} s")
    print(f"{res.passed} passed, {res.failed} failed")
    return 1 if res.failed or not res.passed else 0


if __name__ == "__main__":
    sys.exit(main())
