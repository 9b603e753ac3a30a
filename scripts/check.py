#!/usr/bin/env python3
"""Boot the test VM as often as needed, run every test, report.

Each boot writes its serial console to <build>/logs/<name>.log.  A result is
one line, PASS or FAIL; the last line is "N passed, N failed" and the exit
status is 1 if anything failed or a result is missing.

judge() decides every result of a boot from its configuration (all_boots())
and its console text alone.  "check.py --self-test" feeds it consoles built
here, one passing and others each broken in one way, without booting.
"""

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
import time

# Anything of this kind in a guest's console fails the boot: warnings, oopses
# and BUGs, panics, hung tasks, lockups and RCU stalls, sanitizers, list
# corruption, and kernel messages lost on their way to the console.
BAD_LOG = re.compile(r"WARNING:|BUG:|kernel BUG at|Oops|KASAN|UBSAN|Call Trace|Kernel panic"
                     r"|general protection fault|blocked for more than|hung_task"
                     r"|soft lockup|hard LOCKUP|rcu: INFO:|self-detected stall"
                     r"|detected stalls? on CPU|list_(add|del) corruption"
                     r"|\*\* \d+ printk messages dropped \*\*"
                     r"|VM_FAULT_OOM leaked out|Out of memory: Killed")
# A kernel message on the console (printk timestamps are on); it may start in
# the middle of a line of the tests, which share the serial port.
KMSG = re.compile(r"\[\s*\d+\.\d+\](\[\s*[CT]\d+\])? ")
# Kernel messages of gmem_cma and of its guest_memfd glue.
GMEM_MSG = re.compile(r"^(gmem_cma|kvm: guest_memfd): |\bgmem_cma\s")
RESERVED = r"gmem_cma: node \d+: reserved \d+G in \d+ range\(s\) as CMA area gmem\d+"

KVM_TESTS = [
    "kvm:guest_memfd_test",
    "kvm:private_mem_conversions_test",
    "kvm:set_memory_region_test",
    "kvm:pre_fault_memory_test",
    "kvm:guest_memfd_1g_test",
]
# Single-test programs that print no TAP: judged on their exit status only.
# Every other test must print a plan and as many results.
NO_TAP_TESTS = set(KVM_TESTS[:4])
OUR_TESTS = ["gmem_cma:gmem_cma_areas", "gmem_cma:gmem_cma_pool", "gmem_cma:gmemctl.sh",
             "gmem_cma:gmem_cma_vmemmap.sh", "gmem_cma:gmem_cma_prezero"]
# guest_memfd_1g_test cases the gmem-vmemmap-off boot leaves to main: no
# host mapping, pin or host fault in them, or (the last six) KVM's mapping
# levels for slots placed in other ways, which the vmemmap does not change.
VMEMMAP_OFF_SKIP = ["rejects_bad_arguments", "memory_policies", "kvm_faults_follow_mbind",
                    "placement_follows_policy", "creates_race_for_last_pages",
                    "faults_race_on_one_page", "vm_types", "dmem_cgroup_limit",
                    "shared_vm_misaligned_gpa", "shared_vm_misaligned_offset",
                    "shared_vm_offset_64k", "shared_vm_offset_4m",
                    "private_1g_with_vmm_shared_address",
                    "private_1g_with_4k_skewed_shared_address"]
# hugetlb's own vmemmap (HVO) tests: the remapping engine is shared.
MM_TESTS = ["mm:hugetlb-vmemmap", "mm:hugetlb-soft-offline", "mm:hugetlb-read-hwpoison"]
# Poisoned folios never come back and gmem_cma=0:2G,1:2G holds four, fewer
# than the memory-failure tests poison: two boots.  gmem-hwpoison: these
# gmem_cma_hwpoison cases (node 0: 2 folios, node 1: 2).  gmem-hwpoison-kvm:
# the pool races (node 1: 2, in this order) and guest_memfd_1g_poison_test
# (node 0: 2).  Each boot's other cases skip (SKIPS_ALLOWED).
HWPOISON_CASES = ["free_folio", "folio_being_zeroed", "private_file_folio", "mapped_file_folio"]
HWPOISON_RACE_CASES = ["reserved_folio_replaced", "reserved_folio_no_free_block"]
KVM_POISON_CASES = ["shared_gmem_only_slot", "private_slot"]
HWPOISON_KVM_TESTS = ["gmem_cma:gmem_cma_hwpoison", "kvm:guest_memfd_1g_poison_test"]
# In-place conversion (kvm.gmem_in_place_conversion=1): a boot of its own,
# since VMs then take private/shared from their files, not from the VM.
# The upstream guest_memfd_test runs there too: it must pass unchanged with
# in-place conversion on.  (private_mem_conversions_test is written for the
# VM-level attributes, which such VMs do not have: it runs in the main boot.)
CONVERSION_TESTS = ["kvm:guest_memfd_test", "kvm:guest_memfd_conversion_test",
                    "kvm:guest_memfd_split_test"]
CONVERSION_CASES = ["single_unit_both_ways", "range_across_units",
                    "init_private_and_before_allocation", "punch_keeps_attributes",
                    "zero_content_mode", "elevated_reference_eagain", "longterm_pin_eagain",
                    "forked_child_sees_conversion", "bad_inputs", "conversions_race_host_faults",
                    "guest_and_vmm_exchange_data", "default_vm_private_is_guest_only",
                    "conversions_race_guest_and_punch"]
# 1 GiB pages split where a conversion needs it, merged back (#13).
SPLIT_CASES = ["one_page_shared_and_back", "pinned_page_refuses_only_itself",
               "pinned_2m_folio_refuses_only_itself", "punch_4k_inside_1g", "enomem_changes_nothing",
               "conversions_faults_punches_race", "memory_failure_in_split_gib"]
# suite -> (minimum number of cases, the status each must have).  The
# memory-failure suite poisons pages for good: it skips unless
# gmem_cma_kunit.poison=1, which only its own boot (gmem-hwpoison-kunit) gives.
QEMU_TESTS = ["kvm:guest_memfd_policy_test", "gmem_cma:gmem_cma_qemu.sh"]
POLICY_CASES = ["sysfs_sets_and_rejects", "advise_leaves_plain_files_alone",
                "within_size_gives_whole_gib_files_1g_pages",
                "always_gives_whole_gib_files_1g_pages", "other_sizes_fall_back",
                "empty_pools_fall_back", "every_vm_type", "dmem_limit_falls_back",
                "explicit_flag_keeps_its_rules",
                "never_turns_the_flag_off"]
KUNIT_SUITES = {"gmem_cma_cmdline": (20, "PASS"), "gmem_cma_pool": (3, "PASS"),
                "gmem_cma_vmemmap": (3, "PASS"), "gmem_cma_split": (4, "PASS"),
                "gmem_cma_memory_failure": (3, "SKIP"), "gmem_cma_zero": (2, "PASS")}
KUNIT_POISON_SUITES = {"gmem_cma_memory_failure": (3, "PASS")}

# Skips that do not fail a boot, each with the reason it is legitimate:
# (boot or "*", test, regex) -> reason.  The regex must match the whole of a
# subtest's result after its number, e.g. "fixture.name # SKIP why" (or
# "# SKIP why" from tests that give no name); None stands for the whole test
# exiting 4 (KSFT_SKIP).  Every other skip fails.  Add entries here once a
# boot has shown a skip (its FAIL line quotes the result) and why it is right.
SKIPS_ALLOWED = {
    # PLACEHOLDER until a boot confirms the exact line: both nodes have an
    # area in these boots; gmem-node0-only runs it (and must not skip it).
    ("main", "kvm:guest_memfd_1g_test",
     r"global\.no_pool_on_allowed_node # SKIP every node has a gmem_cma area"):
        "ENODEV case: needs a node without an area, runs in gmem-node0-only",
    ("gmem-vmemmap-off", "kvm:guest_memfd_1g_test",
     r"global\.no_pool_on_allowed_node # SKIP every node has a gmem_cma area"):
        "ENODEV case: needs a node without an area, runs in gmem-node0-only",
    ("gmem-node0-only", "kvm:guest_memfd_1g_test",
     r"gmem_1g\.\w+ # SKIP needs gmem_cma=0:2G,1:2G"):
        "node 1 has no area, which the gmem_1g fixture needs; they run in main",
    ("gmem-hwpoison", "gmem_cma:gmem_cma_hwpoison",
     r"hwpoison\.(reserved_folio_replaced|reserved_folio_no_free_block) "
     r"# SKIP poison budget: runs in the boot with gmem_hwpoison_test=2"):
        "the pool races poison node 1's two folios; they run in gmem-hwpoison-kvm",
    ("gmem-hwpoison-kvm", "gmem_cma:gmem_cma_hwpoison",
     r"hwpoison\.(free_folio|folio_being_zeroed|private_file_folio|mapped_file_folio) "
     r"# SKIP poison budget: runs in the boot with gmem_hwpoison_test"):
        "they poison four folios; they run in gmem-hwpoison",
}

# Kernel messages of gmem_cma (GMEM_MSG) that the tests provoke on purpose:
# (boot or "*", test or None for the boot itself, regex) -> reason.  The
# entry applies to a boot that runs the test; the regex must match the whole
# message after its timestamp.  Any other gmem_cma message fails the boot,
# except the "reserved" reports and the boot's own expected lines (below).
# The vmm-poison boot's gmem_vm poisons its default page, GPA 0x20005000 of
# a guest of 1 GiB: page 0x20005 of that 1 GiB page.
VMM_POISON_GPA = 0x20005000
VMM_POISON_PAGE = VMM_POISON_GPA % (1 << 30) >> 12
LOG_ALLOWED = {
    ("qemu", "kvm:guest_memfd_policy_test",
     r"kvm: guest_memfd: guest_memfd_pol\[\d+\]: 0x[0-9a-f]+-byte file on 4 KiB pages, not "
     r"1 GiB \(guest_memfd_enabled policy\): (size not a multiple of 1 GiB|"
     r"not enough free gmem_cma pages|this VM type takes no huge pages|"
     r"the dmem cgroup limit)"):
        "other_sizes_fall_back, empty_pools_fall_back, every_vm_type, dmem_limit_falls_back: "
        "each fallback, one line",
    ("qemu", "kvm:guest_memfd_policy_test",
     r"gmem_cma: guest_memfd_pol\[\d+\]: \d 1 GiB pages on node \d would exceed the dmem "
     r"cgroup limit of gmem_cma/node\d"):
        "dmem_limit_falls_back: the 2 GiB file of the tenant limited to 1 GiB",
    ("qemu", "kvm:guest_memfd_policy_test",
     r"gmem_cma: guest_memfd_enabled: '(bogus|alwaysx)' is not never, advise, within_size "
     r"or always"):
        "sysfs_sets_and_rejects: each bad word",
    ("qemu", "kvm:guest_memfd_policy_test",
     r"kvm: guest_memfd: guest_memfd_pol\[\d+\]: GUEST_MEMFD_FLAG_HUGE_PAGES is not supported "
     r"while gmem_cma's guest_memfd_enabled is never"):
        "never_turns_the_flag_off: the flag is refused",
    ("qemu", "kvm:guest_memfd_policy_test",
     r"kvm: guest_memfd: size 0x40001000 is not a multiple of the 2\^30-byte page size"):
        "explicit_flag_keeps_its_rules: asked for, an odd size is refused",
    ("qemu", "gmem_cma:gmem_cma_qemu.sh",
     r"kvm: guest_memfd: ld-linux-x86-64\[\d+\]: 0x80000000-byte file on 4 KiB pages, not "
     r"1 GiB \(guest_memfd_enabled policy\): not enough free gmem_cma pages"):
        "the fallback boot: QEMU's file finds the pools empty",
    ("gmem-conversion", "kvm:guest_memfd_conversion_test",
     r"kvm: guest_memfd: guest_memfd_con\[\d+\]: KVM_SET_MEMORY_ATTRIBUTES2 offset 0x[0-9a-f]+ "
     r"size 0x[0-9a-f]+ attributes 0x[0-9a-f]+ flags 0x[0-9a-f]+: (range not page aligned|"
     r"empty or overflowing range|range beyond the end of the file|unknown attribute|"
     r"unknown flags or both content modes|reserved words must be zero)"):
        "bad_inputs: each bad input is refused with one line",
    ("gmem-conversion", "kvm:guest_memfd_test",
     r"kvm: guest_memfd: huge page size 2\^0 is not supported for this VM "
     r"\(KVM_CAP_GUEST_MEMFD_HUGE_PAGE_SIZES: 0x40000000\)"):
        "guest_memfd_test creates a file with each supported flag, "
        "GUEST_MEMFD_FLAG_HUGE_PAGES without a page size among them",
    ("gmem-conversion", "kvm:guest_memfd_split_test",
     r"gmem_cma: node \d+: cannot restore the vmemmap of (1 GiB|2 MiB) page at pfn 0x[0-9a-f]+ "
     r"\(error -12\): it stays trimmed"):
        "enomem_changes_nothing: a split whose vmemmap pages fail one by one (fail-nth): "
        "the GiB's, then the chunk's that is split to 4 KiB",
    ("gmem-conversion", "kvm:guest_memfd_split_test",
     r"gmem_cma: memory failure at pfn 0x[0-9a-f]+, page \d+ of the 1 GiB page at pfn "
     r"0x[0-9a-f]+ \(node [01], in use: mappings dropped, retired when freed\)"):
        "memory_failure_in_split_gib: a private and a shared page of a split 1 GiB page",
    ("gmem-conversion", "kvm:guest_memfd_split_test",
     r"gmem_cma: node [01]: 1 GiB page at pfn 0x[0-9a-f]+ has a poisoned page: retired"):
        "memory_failure_in_split_gib: the split GiB leaves its pool when the file goes",
    ("main", None,
     r"gmem_cma: node \d+: cannot restore the vmemmap of 2 MiB page at pfn 0x[0-9a-f]+ "
     r"\(error -12\): it stays trimmed"):
        "KUnit gmem_cma_split_nomem: a chunk split and a merge of the GiB without memory",
    ("gmem-hwpoison-kunit", None,
     r"gmem_cma: memory failure at pfn 0x[0-9a-f]+(: already poisoned|, page \d+ of the 1 GiB "
     r"page at pfn 0x[0-9a-f]+ \(node \d, (not on the free list: retired by whoever holds it|"
     r"reserved: retired, a replacement is taken from the CMA area)\))"):
        "KUnit gmem_cma_memory_failure poisons three pool pages and one twice",
    ("gmem-hwpoison-kunit", None,
     r"gmem_cma: unpoison of pfn 0x[0-9a-f]+ refused: its 1 GiB page is held by a pool, "
     r"and poisoned gmem_cma pages are never unpoisoned"):
        "KUnit gmem_cma_mf_shrink_window checks that unpoison is refused",
    ("gmem-hwpoison-kunit", None,
     r"gmem_cma: node \d: no replacement for a poisoned reserved 1 GiB page \(error -28\): "
     r"the file that reserved it gets ENOMEM for its last page until the pool grows"):
        "KUnit gmem_cma_mf_reserved_short: the area has no block left",
    ("*", "gmem_cma:gmem_cma_pool",
     r"gmem_cma: (node \d+|all nodes): nr_pages: "
     r"'(abc|-1||1x|1\.5| 1|99999999999999999999)' is not a number of pages"):
        "bad_writes: each bad value, to a node's and the global nr_pages",
    ("*", "gmem_cma:gmem_cma_pool",
     r"gmem_cma: (node \d+|all nodes): nr_pages: \d+ is above the capacity of \d+ pages"):
        "bad_writes: capacity + 1 and ULONG_MAX",
    ("*", "gmem_cma:gmem_cma_prezero", r"gmem_cma: prezero: '(maybe|2|o|-1|)' is not on or off"):
        "prezero.bad_writes: each bad value of the switch",
    ("*", "gmem_cma:gmem_cma_prezero",
     r"gmem_cma: node \d+: nr_pages: cannot set \d+: another resize is running, or pages are "
     r"reserved or in use"):
        "prezero.stress: its shrink races the file that reserves the page",
    ("*", "gmem_cma:gmem_cma_prezero",
     r"kvm: guest_memfd: gmem_cma_prezer\[\d+\]: cannot reserve 1 1 GiB pages: "
     r"not enough free gmem_cma pages"):
        "prezero.stress: the file races the shrink of its page (counted as ENOMEM)",
    ("*", "gmem_cma:gmem_cma_pool",
     r"gmem_cma: (node \d+|all nodes): nr_pages: cannot set \d+: "
     r"another resize is running, or pages are reserved or in use"):
        "concurrent_writers: two writers collide (EBUSY)",
    ("*", "gmem_cma:gmem_cma_pool",
     r"gmem_cma: node \d+: cannot take a 1G page out of CMA area gmem\d+: "
     r"its free blocks hold pages that cannot be migrated"):
        "pinned_block_fails_only_that_block: a pinned page in one block",
    ("*", "gmem_cma:gmem_cma_pool",
     r"gmem_cma: node \d+: nr_pages: reached \d+ of \d+ pages: CMA could not provide the rest"):
        "pinned_block_fails_only_that_block: the grow stops one page short (ENOMEM)",
    ("*", "gmem_cma:gmemctl.sh",
     r"gmem_cma: node 0: nr_pages: \d+ is above the capacity of \d+ pages"):
        "gmemctl.sh: set 0:<capacity + 1> is refused",
    ("main", "gmem_cma:gmem_cma_vmemmap.sh",
     r"gmem_cma: node \d+: cannot restore the vmemmap of 1 GiB page at pfn 0x[0-9a-f]+ "
     r"\(error -12\): it stays trimmed"):
        "a shrink under fail_page_alloc: the restore cannot allocate",
    ("main", "gmem_cma:gmem_cma_vmemmap.sh",
     r"gmem_cma: node \d+: nr_pages: reached \d+ of \d+ pages: CMA could not provide the rest"):
        "that shrink fails with ENOMEM, reported so by nr_pages",
    ("vmemmap-bad-value", "gmem_cma:gmem_cma_vmemmap.sh",
     r"gmem_cma: node \d+: cannot restore the vmemmap of 1 GiB page at pfn 0x[0-9a-f]+ "
     r"\(error -12\): it stays trimmed"):
        "trimming stayed on after gmem_cma_vmemmap=maybe: the same shrink as in main",
    ("vmemmap-bad-value", "gmem_cma:gmem_cma_vmemmap.sh",
     r"gmem_cma: node \d+: nr_pages: reached \d+ of \d+ pages: CMA could not provide the rest"):
        "that shrink fails with ENOMEM, reported so by nr_pages",
    ("*", "kvm:guest_memfd_1g_test",
     r"kvm: guest_memfd: huge page size 2\^(0|12|21|255) is not supported for this VM "
     r"\(KVM_CAP_GUEST_MEMFD_HUGE_PAGE_SIZES: 0x40000000\)"):
        "rejects_bad_arguments: unsupported page sizes",
    ("*", "kvm:guest_memfd_1g_test",
     r"kvm: guest_memfd: huge_page_size_log2 30 without GUEST_MEMFD_FLAG_HUGE_PAGES"):
        "rejects_bad_arguments: a size without the flag",
    ("*", "kvm:guest_memfd_1g_test",
     r"kvm: guest_memfd: size 0x(40200000|200000) is not a multiple of the 2\^30-byte page size"):
        "rejects_bad_arguments: sizes that are not a multiple of 1 GiB",
    ("*", "kvm:guest_memfd_1g_test",
     r"kvm: guest_memfd: padding after huge_page_size_log2 must be zero"):
        "rejects_bad_arguments: non-zero padding and reserved bytes",
    ("*", "kvm:guest_memfd_1g_test",
     r"kvm: guest_memfd: guest_memfd_1g_\[\d+\]: cannot reserve [235] 1 GiB pages: "
     r"not enough free gmem_cma pages"):
        "ENOMEM: rejects_bad_arguments (5, 3 pages), creates_race_for_last_pages (2)",
    ("*", "kvm:guest_memfd_1g_test",
     r"gmem_cma: guest_memfd_1g_\[\d+\]: [12] 1 GiB pages on node 0 would exceed "
     r"the dmem cgroup limit of gmem_cma/node0"):
        "dmem_cgroup_limit: a tenant limited to 1 GiB of node 0 asks for 2, then 1 more",
    ("*", "kvm:guest_memfd_1g_test",
     r"gmem_cma: node 0: nr_pages: cannot set 0: another resize is running, "
     r"or pages are reserved or in use"):
        "longterm_pin_gup_test: node 0 cannot shrink below a pinned folio (EBUSY)",
    ("main", "kvm:guest_memfd_1g_test",
     r"kvm: guest_memfd: guest_memfd_1g_\[\d+\]: cannot map offset 0x1000: "
     r"restoring its struct pages failed \(-12\)"):
        "host_fault_restore_failure_sigbus: the fault raises SIGBUS",
    ("main", "kvm:guest_memfd_1g_test",
     r"gmem_cma: node \d+: cannot restore the vmemmap of 1 GiB page at pfn 0x[0-9a-f]+ "
     r"\(error -12\): it stays trimmed"):
        "host_fault_restore_failure_sigbus: a host fault under fail_page_alloc",
    ("gmem-node0-only", "kvm:guest_memfd_1g_test",
     r"kvm: guest_memfd: guest_memfd_1g_\[\d+\]: cannot reserve 1 1 GiB pages: "
     r"no gmem_cma pool on an allowed node"):
        "no_pool_on_allowed_node: a file bound to node 1, which has no area (ENODEV)",
    # gmem_cma_hwpoison runs only in gmem-hwpoison and gmem-hwpoison-kvm.
    ("*", "gmem_cma:gmem_cma_hwpoison",
     r"gmem_cma: memory failure at pfn 0x[0-9a-f]+, page \d+ of the 1 GiB page at pfn "
     r"0x[0-9a-f]+ \(node [01], (free: retired|in use: mappings dropped, retired when freed|"
     r"reserved: retired, a replacement is taken from the CMA area)\)"):
        "free (node 0), private and mapped (node 1) folios; the reserved ones of the races",
    ("*", "gmem_cma:gmem_cma_hwpoison",
     r"gmem_cma: memory failure at pfn 0x[0-9a-f]+: already poisoned"):
        "free_folio and private_file_folio inject the same pfn twice (EHWPOISON)",
    ("*", "gmem_cma:gmem_cma_hwpoison",
     r"gmem_cma: unpoison of pfn 0x[0-9a-f]+ refused: its 1 GiB page is held by a pool, "
     r"and poisoned gmem_cma pages are never unpoisoned"):
        "free_folio and private_file_folio: unpoison-pfn is refused (EBUSY)",
    ("*", "gmem_cma:gmem_cma_hwpoison",
     r"gmem_cma: node 1: 1 GiB page at pfn 0x[0-9a-f]+ has a poisoned page: retired"):
        "the poisoned folios in use leave the pool at their last put",
    ("gmem-hwpoison-kvm", "gmem_cma:gmem_cma_hwpoison",
     r"gmem_cma: node 1: no replacement for a poisoned reserved 1 GiB page \(error -28\): "
     r"the file that reserved it gets ENOMEM for its last page until the pool grows"):
        "reserved_folio_no_free_block: node 1's area has no block left",
    ("gmem-hwpoison-kvm", "gmem_cma:gmem_cma_hwpoison",
     r"gmem_cma: gmem_cma_hwpois\[\d+\]: guest_memfd inode \d+: "
     r"no reserved 1 GiB page left for offset (0|0x0)"):
        "reserved_folio_no_free_block: its fallocate (ENOMEM) and host fault (SIGBUS)",
    ("gmem-hwpoison-kvm", "kvm:guest_memfd_1g_poison_test",
     r"gmem_cma: memory failure at pfn 0x[0-9a-f]+, page 153637 of the 1 GiB page at pfn "
     r"0x[0-9a-f]+ \(node 0, in use: mappings dropped, retired when freed\)"):
        "a page of a folio KVM maps, in the shared and in the private case (page 300 * 512 + 37)",
    ("gmem-hwpoison-kvm", "kvm:guest_memfd_1g_poison_test",
     r"gmem_cma: node 0: 1 GiB page at pfn 0x[0-9a-f]+ has a poisoned page: retired"):
        "the two poisoned folios leave the pool when their VMs and files are gone",
    ("gmem-hwpoison", "gmem_cma:gmem_cma_hwpoison",
     r"Soft offline: 0x[0-9a-f]+: page of a gmem_cma 1 GiB page, cannot be migrated"):
        "mapped_file_folio: MADV_SOFT_OFFLINE is refused",
    ("vmm-demo", None, RESERVED):
        "make run's report prints the kernel's gmem_cma lines again (dmesg)",
    ("vmm-poison", None,
     rf"gmem_cma: memory failure at pfn 0x[0-9a-f]+, page {VMM_POISON_PAGE} of the 1 GiB page "
     r"at pfn 0x[0-9a-f]+ \(node 1, in use: mappings dropped, retired when freed\)"):
        "gmem_vm --poison: MADV_HWPOISON of one page of its guest's memory, once",
    ("vmm-poison", None,
     r"gmem_cma: node 1: 1 GiB page at pfn 0x[0-9a-f]+ has a poisoned page: retired"):
        "gmem_vm --poison: that 1 GiB page leaves the pool at its last put",
}


def vmm_vcpu(i, start, end):
    """gmem_vm's placement line of its vCPU i, whose share of the guest's
    memory is [start, end), all on node 1 (-n 1): hwloc must give node 1's
    only CPU, 1 (scripts/vm.sh: cpus=1), and the vCPU's thread must be on
    it (a thread left where it was would also be on CPU 0)."""
    return (rf"gmem_vm: vcpu {i}: memory node 1, cpus 1 \(hwloc\), running on cpu 1; "
            rf"GPA \[{start:#x}, {end:#x}\), node from move_pages\(\)")


# gmem_vm -n 1 -g 1 --vcpus 2 (make run): the test area [2 MiB, 1 GiB) in
# two shares of whole 2 MiB pieces (255 and 256), one per vCPU.
VMM_DEMO_VCPUS = [vmm_vcpu(0, 0x200000, 0x20000000), vmm_vcpu(1, 0x20000000, 0x40000000)]


# The boot matrix: kernel arguments, the expected GiB per node, and the
# warnings (regular expressions) that must each appear exactly once before
# the tests start.  Any other gmem_cma message, except the "reserved"
# reports, is a failure.
# ALSO: other lines that must be in the log of a boot.
ALSO = {
    "with-hugetlb-cma": [r"hugetlb_cma: reserved 1024 MiB on node 0",
                         r"hugetlb_cma: reserved 1024 MiB on node 1"],
}
# Boots where gmem_cma_areas is given a wrong expectation on purpose and must
# fail (proof that the kselftest can fail), with what the kernel reserves.
MUST_FAIL = {"selftest-catches-mismatch": {0: 1, 1: 1}}
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
    ("vmemmap-bad-value", "gmem_cma=0:2G,1:2G gmem_cma_vmemmap=maybe", {0: 2, 1: 2},
     [r"gmem_cma_vmemmap: cannot parse 'maybe': left on"]),
    # Two bad values of the guest_memfd policy: one line each, the policy
    # stays advise.
    ("guest-memfd-bad-value", "gmem_cma=0:2G,1:2G gmem_cma_guest_memfd=bogus "
     "gmem_cma_guest_memfd=", {0: 2, 1: 2},
     [r"gmem_cma_guest_memfd=bogus: not never, advise, within_size or always: "
      r"the policy stays advise",
      r"gmem_cma_guest_memfd=: not never, advise, within_size or always: "
      r"the policy stays advise"]),
    ("pool-prefill", "gmem_cma=0:2G,1:2G gmem_cma_pool=0:1G,1:2G", {0: 2, 1: 2}, []),
    ("pool-prefill-total", "gmem_cma=0:2G,1:2G gmem_cma_pool=3G", {0: 2, 1: 2}, []),
    ("pool-prefill-too-big", "gmem_cma=0:1G,1:1G gmem_cma_pool=0:2G,1:1G,x",
     {0: 1, 1: 1},
     [r"gmem_cma_pool: node 0: 2G asked for but its area holds 1G: skipped",
      r"gmem_cma_pool: 'x' has no node but other entries do: skipped"]),
]
# Matrix boots that run more kselftests than gmem_cma_areas.
MATRIX_TESTS = {
    # Trimming must stay on after a value it cannot parse: gmem_cma_vmemmap.sh
    # reads gmem_cma_vmemmap=maybe from /proc/cmdline, requires vmemmap_trim
    # "on" and every folio trimmed (it needs a node with 2 free GiB of area).
    "vmemmap-bad-value": ["gmem_cma:gmem_cma_vmemmap.sh"],
}
# Pool pages each boot expects after gmem_cma_pool=, and the log lines
# that must say so (the "filled" lines are also allowed gmem_cma messages).
POOL = {
    "pool-prefill": ({0: 1, 1: 2}, [r"gmem_cma_pool: node 0: filled 1 pages",
                                     r"gmem_cma_pool: node 1: filled 2 pages"]),
    "pool-prefill-total": ({0: 2, 1: 1}, [r"gmem_cma_pool: filled 3 pages"]),
    "pool-prefill-too-big": ({0: 0, 1: 1}, [r"gmem_cma_pool: node 1: filled 1 pages"]),
}


def expect_arg(expect):
    return "gmem_expect=" + ",".join(f"{n}:{g}" for n, g in sorted(expect.items())) \
        if expect else "gmem_expect=0:0"


def kselftests(tests, more=""):
    """The init arguments that run these kselftests."""
    return f"gmem_test=kselftest gmem_tests={','.join(tests)} {more}".strip()


def make_boot(name, kargs, iargs, **conf):
    """One boot and what judge() requires of it:
    tests: the kselftests it runs, each of which must pass;
    kunit: whether the KUnit suites run (and must pass);
    reserved: node -> GiB whose "reserved" report must appear once;
    warnings, infos: other boot-time gmem_cma lines that must appear once;
    also: (regex, n): lines the console must have at least n of;
    subtests: subtests that must have passed (not skipped);
    must_fail: tests that must fail, on their own assertions;
    rc: the exit status the guest must report;
    smp: the VM's CPUs (scripts/vm.sh's VM_SMP);
    background: boot it beside the boots after it (main() says when)."""
    boot = {"name": name, "kargs": kargs, "iargs": iargs, "tests": [], "kunit": False,
            "reserved": {}, "warnings": [], "infos": [], "also": [], "subtests": [],
            "must_fail": [], "rc": 0, "smp": 2, "background": False}
    boot.update(conf)
    return boot


def all_boots():
    tests = OUR_TESTS + KVM_TESTS + MM_TESTS
    boots = [
        make_boot("main", "gmem_cma=0:2G,1:2G hugetlb_free_vmemmap=on hugepages=32",
                  kselftests(tests, "gmem_timeout=1500"), tests=tests, kunit=True,
                  reserved={0: 2, 1: 2},
                  # gmem_cma_vmemmap_refuses_changed provokes this one on purpose.
                  warnings=[r"node \d: cannot trim the vmemmap of 1 GiB page at pfn "
                            r"0x[0-9a-f]+ again \(error -16\)"]),
        # What "make run" shows: a VM on 1 GiB pages of node 1 whose two
        # vCPUs (gmem_vm --vcpus 2) each run on node 1's CPU.
        make_boot("vmm-demo", "kunit.enable=0 gmem_cma=0:2G,1:2G", "gmem_test=run",
                  reserved={0: 2, 1: 2},
                  also=[(r"gmem_vm: PASS", 1), (r"pages_1g\D+1\b", 1),
                        (r"gmem_vm: guest: 32-bit, code at GPA 0x1000, writing "
                         r"\[0x200000, 0x40000000\) with 2 vCPUs", 1)] +
                       [(pat, 1) for pat in VMM_DEMO_VCPUS]),
        # gmem_vm --poison --vcpus 2: a page of the running guest's memory
        # fails; the vCPU whose share holds it (1) faults on that page only,
        # and both verify the rest.  Its pool loses the 1 GiB page for
        # good: a boot of its own.
        make_boot("vmm-poison", "kunit.enable=0 gmem_cma=0:2G,1:2G", "gmem_test=run-poison",
                  reserved={0: 2, 1: 2},
                  also=[(r"gmem_vm: PASS", 1),
                        (r"gmem_vm: guest: 32-bit, code at GPA 0x1000, writing "
                         r"\[0x200000, 0x40000000\) with 2 vCPUs", 1)] +
                       [(pat, 1) for pat in VMM_DEMO_VCPUS] +
                       [(rf"gmem_vm: vcpu 1: guest memory error at GPA {VMM_POISON_GPA:#x}: page lost "
                         r"\(EHWPOISON, 0x1000\)", 1),
                        (rf"gmem_cma: memory failure at pfn 0x[0-9a-f]+, page {VMM_POISON_PAGE} ",
                         1),
                        (r"VM stats: pages_4k 511, pages_2m 511, pages_1g 0\b", 1),
                        (r"host: reading GPA 0x[0-9a-f]+ raised SIGBUS BUS_MCEERR_AR", 1)]),
        # Node 1 has no area: a 1 GiB guest_memfd bound there gets ENODEV.
        make_boot("gmem-node0-only", "kunit.enable=0 gmem_cma=0:2G",
                  kselftests(["kvm:guest_memfd_1g_test"]), tests=["kvm:guest_memfd_1g_test"],
                  reserved={0: 2}, subtests=["global.no_pool_on_allowed_node"]),
        # The KUnit memory-failure suite poisons three pages for good.
        make_boot("gmem-hwpoison-kunit",
                  "gmem_cma=0:2G,1:2G kunit.filter_glob=gmem_cma_memory_failure "
                  "gmem_cma_kunit.poison=1", "gmem_test=none",
                  reserved={0: 2, 1: 2}, kunit=KUNIT_POISON_SUITES,
                  also=[(r"gmem_cma: memory failure at pfn 0x[0-9a-f]+, page \d+ of the 1 GiB "
                         r"page at pfn 0x[0-9a-f]+ \(node \d, not on the free list", 1),
                        (r"gmem_cma: memory failure at pfn 0x[0-9a-f]+, page 100 of the 1 GiB "
                         r"page at pfn 0x[0-9a-f]+ \(node \d, reserved: retired, a replacement", 2),
                        (r"gmem_cma: node \d: no replacement for a poisoned reserved 1 GiB page "
                         r"\(error -28\)", 1),
                        (r"gmem_cma: unpoison of pfn 0x[0-9a-f]+ refused", 1)]),
        # Poisoned pages never come back: a boot of its own.
        make_boot("gmem-hwpoison", "kunit.enable=0 gmem_cma=0:2G,1:2G",
                  kselftests(["gmem_cma:gmem_cma_hwpoison"], "gmem_hwpoison_test"),
                  tests=["gmem_cma:gmem_cma_hwpoison"], reserved={0: 2, 1: 2},
                  subtests=[f"hwpoison.{c}" for c in HWPOISON_CASES],
                  # One line per first failure of a page; free_folio and
                  # private_file_folio each inject twice and try an unpoison.
                  also=[(r"gmem_cma: memory failure at pfn 0x[0-9a-f]+, page ", 4),
                        (r"gmem_cma: memory failure at pfn 0x[0-9a-f]+: already poisoned", 2),
                        (r"gmem_cma: unpoison of pfn 0x[0-9a-f]+ refused: ", 2)]),
        # In-place conversion on 4 KiB and 1 GiB files.  One CPU: with two,
        # QEMU's multi-threaded TCG corrupts the VM's memory when a nested
        # guest refaults NPT entries its KVM zapped while the other CPU was
        # busy, which the conversion races do all the time (README, "Known
        # problems"; it needs no code of ours).  Preemption still
        # interleaves the races' threads; gmem_cma_stress (make stress)
        # races conversions, punches and pre-faults on two CPUs.
        make_boot("gmem-conversion",
                  "kunit.enable=0 gmem_cma=0:2G,1:2G kvm.gmem_in_place_conversion=1",
                  kselftests(CONVERSION_TESTS, "gmem_timeout=1200"), tests=CONVERSION_TESTS, reserved={0: 2, 1: 2},
                  subtests=[f"conv.{v}.{c}" for v in ("page_4k", "page_1g")
                            for c in CONVERSION_CASES] +
                           [f"split.{c}" for c in SPLIT_CASES],
                  # memory_failure_in_split_gib: two pages, then the GiB.
                  also=[(r"gmem_cma: memory failure at pfn 0x[0-9a-f]+, page \d+ of the 1 GiB "
                         r"page at pfn 0x[0-9a-f]+ \(node [01], in use", 2),
                        (r"gmem_cma: node [01]: 1 GiB page at pfn 0x[0-9a-f]+ has a poisoned "
                         r"page: retired", 1)],
                  smp=1, background=True),
        # The second race and KVM's view of a memory failure: four more
        # folios poisoned, hence a boot of their own (see HWPOISON_CASES).
        make_boot("gmem-hwpoison-kvm", "kunit.enable=0 gmem_cma=0:2G,1:2G",
                  kselftests(HWPOISON_KVM_TESTS, "gmem_hwpoison_test=2 gmem_timeout=1500"),
                  tests=HWPOISON_KVM_TESTS, reserved={0: 2, 1: 2},
                  subtests=[f"hwpoison.{c}" for c in HWPOISON_RACE_CASES] +
                  [f"poison.{c}" for c in KVM_POISON_CASES],
                  also=[(r"gmem_cma: memory failure at pfn 0x[0-9a-f]+, page \d+ of the 1 GiB page "
                         r"at pfn 0x[0-9a-f]+ \(node 1, reserved: retired, a replacement", 2),
                        (r"gmem_cma: node 1: no replacement for a poisoned reserved 1 GiB page", 1),
                        (r"gmem_cma: memory failure at pfn 0x[0-9a-f]+, page 153637 of the 1 GiB "
                         r"page at pfn 0x[0-9a-f]+ \(node 0, in use", 2)]),
        # Debian's QEMU 11 boots a Linux guest on a guest_memfd that the
        # gmem_cma_guest_memfd=always policy gives 1 GiB pages, then with
        # empty pools on 4 KiB pages (gmem_cma_qemu.sh); and the policy's
        # own cases (guest_memfd_policy_test).  One CPU: the nested guest
        # runs while QEMU's KVM zaps and refaults its NPT entries, which
        # multi-threaded TCG gets wrong (README, "Known problems").
        make_boot("qemu", "kunit.enable=0 gmem_cma=0:2G,1:2G gmem_cma_guest_memfd=always",
                  kselftests(QEMU_TESTS, "gmem_timeout=900"), tests=QEMU_TESTS,
                  reserved={0: 2, 1: 2}, subtests=[f"policy.{c}" for c in POLICY_CASES],
                  also=[(r"kvm: guest_memfd: guest_memfd_pol\[\d+\]: 0x[0-9a-f]+-byte file on "
                         r"4 KiB pages, not 1 GiB \(guest_memfd_enabled policy\): "
                         r"size not a multiple of 1 GiB", 3),
                        (r"kvm: guest_memfd: guest_memfd_pol\[\d+\]: 0x40000000-byte file on "
                         r"4 KiB pages, not 1 GiB \(guest_memfd_enabled policy\): "
                         r"not enough free gmem_cma pages", 1),
                        (r"kvm: guest_memfd: ld-linux-x86-64\[\d+\]: 0x80000000-byte file on "
                         r"4 KiB pages, not 1 GiB \(guest_memfd_enabled policy\): "
                         r"not enough free gmem_cma pages", 1),
                        (r"# QEMU 11\.1\.\d+\S*, nested guest of 2 GiB", 1),
                        (r"gmem_nested: PASS uptime_ms=\d+ mib=\d+ ", 1)],
                  smp=1),
    ]
    # Nothing trimmed and nothing cleared ahead of time (gmem_cma_prezero=off:
    # areas.prezero_as_booted checks it took); everything else passes as in
    # the main boot, which runs the pre-zeroing test.  guest_memfd_1g_test
    # runs without the cases where the vmemmap cannot matter
    # (VMEMMAP_OFF_SKIP: argument checks, NUMA policies, VM types, the
    # cgroup limit, the allocation races, KVM's mapping levels for skewed
    # slots), which the main boot runs.  The per-test limit is main's: the
    # test faults GiBs in page by page and takes 250-800 s under TCG,
    # depending on the host.
    tests = [t for t in OUR_TESTS if t != "gmem_cma:gmem_cma_prezero"] + \
        ["kvm:guest_memfd_1g_test"]
    skip = ",".join(f"-T,{t}" for t in VMEMMAP_OFF_SKIP)
    boots.append(make_boot("gmem-vmemmap-off",
                           "kunit.enable=0 gmem_cma=0:2G,1:2G gmem_cma_vmemmap=off "
                           "gmem_cma_prezero=off",
                           kselftests(tests, f"gmem_timeout=1500 "
                                      f"gmem_ksft_args=guest_memfd_1g_test:{skip}"),
                           tests=tests, reserved={0: 2, 1: 2}))
    for name, kargs, expect, warnings in MATRIX:
        pool, infos = POOL.get(name, ({}, []))
        pool_arg = ("gmem_pool_expect=" + ",".join(f"{n}:{p}" for n, p in
                                                    sorted(pool.items()))) if pool else ""
        tests = OUR_TESTS[:1] + MATRIX_TESTS.get(name, [])
        boots.append(make_boot(
            name, f"kunit.enable=0 {kargs}",
            kselftests(tests, f"{expect_arg(expect)} {pool_arg}"),
            tests=tests, reserved=MUST_FAIL.get(name, expect), warnings=warnings,
            infos=infos, also=[(pat, 1) for pat in ALSO.get(name, [])],
            must_fail=OUR_TESTS[:1] if name in MUST_FAIL else [],
            rc=1 if name in MUST_FAIL else 0))
    # gmem-conversion needs one CPU of the two: it runs beside the short
    # boots, after the ones that keep both CPUs busy for long.
    first = ["main", "gmem-hwpoison", "gmem-hwpoison-kvm", "gmem-vmemmap-off",
             "gmem-conversion"]
    return sorted(boots, key=lambda b: first.index(b["name"]) if b["name"] in first
                  else len(first))


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


def scale_timeouts(iargs, scale):
    """iargs with the per-test kselftest timeout (gmem_timeout=, 600 s if
    not given: run_kselftest.sh -o in the guest's init) multiplied by scale,
    for slower kernels (make stress: KASAN under TCG)."""
    if scale == 1 or "gmem_test=kselftest" not in iargs.split():
        return iargs
    m = re.search(r"\bgmem_timeout=(\d+)", iargs)
    t = f"gmem_timeout={int(int(m.group(1) if m else 600) * scale)}"
    return iargs.replace(m.group(0), t) if m else f"{iargs} {t}"


def boot(args, name, kargs, iargs, smp=2):
    """Boot once with @smp CPUs; return the console log as text."""
    log = os.path.join(args.logs, f"{name}.log")
    start = time.time()
    cmd = [os.path.join(args.scripts, "vm.sh"), args.kernel, args.initrd, log]
    cmd += (kargs + " " + args.kargs).split() + ["--"]
    cmd += scale_timeouts(iargs, args.timeout_scale).split()
    # The main boot runs for about ten minutes under TCG: leave room.
    vm_timeout = float(os.environ.get("VM_TIMEOUT", "2400")) * args.timeout_scale
    rc = subprocess.call(cmd, env=dict(os.environ, VM_TIMEOUT=str(int(vm_timeout)),
                                       VM_SMP=str(smp)))
    print(f"---- boot {name}: {time.time() - start:.0f} s (qemu exit {rc}), log {log}",
          flush=True)
    with open(log, errors="replace") as f:
        return f.read()


def split_console(text):
    """The console's userspace lines, and its kernel messages as (after
    GMEM_TEST_BEGIN, message).  A kernel message that cut a line of the
    tests in two is taken out and the two halves are joined again."""
    user, kernel = [], []
    begun = False
    cut = ""
    for line in text.splitlines():
        m = KMSG.search(line)
        if m:
            kernel.append((begun, line[m.end():].strip()))
            cut += line[:m.start()]
            continue
        line = (cut + line).rstrip()
        cut = ""
        user.append(line)
        begun = begun or line.startswith("GMEM_TEST_BEGIN")
    if cut:
        user.append(cut.rstrip())
    return user, kernel


def check_log_clean(add, text):
    bad = [line.strip() for line in text.splitlines() if BAD_LOG.search(line)]
    add("console free of warnings, oopses, panics, hangs, stalls and dropped messages",
        not bad, "; ".join(bad[:3]))


def check_finished(add, boot, user):
    ends = [m for m in (re.match(r"GMEM_TEST_END rc=(\d+)$", line) for line in user) if m]
    if not ends:
        add("guest ran to the end", False, "no GMEM_TEST_END line (timeout, panic or hang)")
    else:
        add(f"guest ran to the end with rc={boot['rc']}",
            int(ends[-1].group(1)) == boot["rc"], ends[-1].group(0))


def skip_reason(boot, test, result):
    """The allow-list's reason for a skip (result None: the whole test)."""
    for (where, suite, pat), reason in SKIPS_ALLOWED.items():
        if where not in ("*", boot["name"]) or suite != test:
            continue
        if pat is None if result is None else pat is not None and re.fullmatch(pat, result):
            return reason
    return None


def run_kselftest_tap(user):
    """run_kselftest.sh's TAP: its plan, each test's result as
    (ok, directive, line), and each test's own output with its "# " prefix."""
    plan, results, bodies = None, {}, {}
    current = None
    for line in user[next((i for i, line in enumerate(user)
                           if line.startswith("GMEM_TEST_BEGIN")), len(user)):]:
        m = re.match(r"\s*(not )?ok \d+ selftests: (\S+): (\S+)(.*)$", line)
        if m:
            results[f"{m.group(2)}:{m.group(3)}"] = (m.group(1) is None,
                                                     m.group(4).strip(), line.strip())
            current = None
            continue
        m = re.match(r"# selftests: (\S+): (\S+)$", line)
        if m:
            current = f"{m.group(1)}:{m.group(2)}"
            bodies[current] = []
        elif current:
            bodies[current].append(line)
        elif plan is None and re.match(r"1\.\.\d+$", line):
            plan = int(line[3:])
    return plan, results, bodies


def test_tap(body):
    """A test's own TAP: its plan, its results as (ok, number, name,
    directive, text after the number, line), and any "Bail out!" lines."""
    plan, subs, bail = None, [], []
    for line in body:
        if not line.startswith("#"):
            continue
        line = line[2:] if line.startswith("# ") else line[1:]
        m = re.match(r"1\.\.(\d+)\b", line)
        if m and plan is None:
            plan = int(m.group(1))
        if line.startswith("Bail out!"):
            bail.append(line)
        m = re.match(r"(not )?ok (\d+)\b ?(.*)$", line)
        if m:
            text = m.group(3).strip()
            name, _, directive = (" " + text).partition(" # ")
            d = re.match(r"(SKIP|XFAIL|XPASS|TODO)\b", directive, re.I)
            subs.append((m.group(1) is None, m.group(2), name.strip(),
                         d.group(1).upper() if d else None, text, line))
    return plan, subs, bail


def kselftest_results(add, allowed, boot, user):
    """Every kselftest of the boot, its plan and each of its subtests.  A
    test passes if it exits 0; a skip (exit 4, or a subtest's SKIP) only if
    SKIPS_ALLOWED lists it; anything else (XFAIL, a missing result) fails."""
    plan, results, bodies = run_kselftest_tap(user)
    add(f"run_kselftest.sh ran {len(boot['tests'])} tests, one result each",
        plan == len(boot["tests"]) == len(results),
        f"plan {plan}, {len(results)} results")
    for test in boot["tests"] + [t for t in results if t not in boot["tests"]]:
        ok, directive, line = results.get(test, (False, "", "no result"))
        whole_skip = ok and directive == "# SKIP" and skip_reason(boot, test, None)
        if test in boot["must_fail"]:
            add(f"{test} fails on a wrong expectation",
                not ok and directive == "# exit=1", line)
        elif whole_skip:
            add(f"{test} (skipped, allowed)", True)
            allowed.append((f"{boot['name']}: {test}", whole_skip))
        else:
            add(test, ok and not directive, line)

        tplan, subs, bail = test_tap(bodies.get(test, []))
        if tplan is not None or subs or (test not in NO_TAP_TESTS and not whole_skip):
            add(f"{test} planned and reported every subtest", tplan == len(subs),
                f"plan 1..{tplan}, {len(subs)} results" if tplan is not None
                else f"no plan, {len(subs)} results")
        for line in bail:
            add(f"{test} ran to its end", False, line)
        if test in boot["must_fail"]:
            add(f"{test} has a failed subtest", any(not s[0] for s in subs))
            continue
        for sok, num, name, sdir, text, line in subs:
            what = f"{test} {name or '#' + num}"
            if not sok or sdir not in (None, "SKIP"):
                add(what, False, line)
            elif sdir is None:
                add(what, True)
            elif skip_reason(boot, test, text):
                add(f"{what} (skipped, allowed)", True)
                allowed.append((f"{boot['name']}: {test} {text}",
                                skip_reason(boot, test, text)))
            else:
                add(what, False, f"skipped, not in SKIPS_ALLOWED: {line}")


def kunit_results(add, kunit, text, expect=None):
    """Parse KUnit's KTAP from the boot log with the kernel's kunit.py;
    expect: suite -> (minimum cases, status), KUNIT_SUITES by default."""
    ktap = text.split("GMEM_TEST_BEGIN")[0]
    with tempfile.TemporaryDirectory() as tmp:
        logf = os.path.join(tmp, "kunit.log")
        jsonf = os.path.join(tmp, "kunit.json")
        with open(logf, "w") as f:
            f.write(ktap)
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
    expect = expect or KUNIT_SUITES
    for suite, (minimum, want) in expect.items():
        cases = suites.get(suite, [])
        if len(cases) < minimum:
            add(f"kunit {suite}", False, f"{len(cases)} results, expected at least {minimum}")
            continue
        for case, status in cases:
            add(f"kunit {case}" + (f" ({want})" if want != "PASS" else ""),
                status == want, status)


def gmem_messages(add, boot, kernel):
    """The kernel messages of gmem_cma: the boot's reports and expected
    warnings once each before the tests, and nothing else but what the
    boot's tests provoke on purpose (LOG_ALLOWED)."""
    msgs = [(begun, m) for begun, m in kernel if GMEM_MSG.search(m)]
    at_boot = [m for begun, m in msgs if not begun]
    expected = []  # the boot-time lines counted here
    for nid, gb in sorted(boot["reserved"].items()):
        pat = re.compile(rf"gmem_cma: node {nid}: reserved {gb}G in \d+ range\(s\) "
                         rf"as CMA area gmem{nid}")
        n = sum(1 for m in at_boot if pat.fullmatch(m))
        add(f"node {nid} reserved {gb}G reported once", n == 1, f"seen {n} times")
        expected.append(pat.fullmatch)
    for kind, pats in (("message", boot["infos"]), ("warning", boot["warnings"])):
        for p in pats:
            pat = re.compile(p)
            n = sum(1 for m in at_boot if pat.search(m))
            add(f"{kind} /{p}/ once", n == 1, f"seen {n} times")
            expected.append(pat.search)
    allow = [re.compile(pat).fullmatch for (where, test, pat) in LOG_ALLOWED
             if where in ("*", boot["name"]) and (test is None or test in boot["tests"])]
    bad = [m for begun, m in msgs
           if not any(match(m) for match in (allow if begun else expected + allow))]
    add("no unexpected gmem_cma kernel messages", not bad, "; ".join(bad[:3]))


def judge(boot, text, kunit=None):
    """Every result of one boot, as (name, ok, detail), and the skips that
    SKIPS_ALLOWED let through, as (what, reason): from the boot's
    configuration and its console text only (kunit: the kernel's kunit.py,
    which parses the KUnit results; needed if boot["kunit"])."""
    results, allowed = [], []

    def add(what, ok, detail=""):
        results.append((f"{boot['name']}: {what}", bool(ok), detail))

    user, kernel = split_console(text)
    if boot["kunit"]:
        kunit_results(add, kunit, text,
                      boot["kunit"] if isinstance(boot["kunit"], dict) else None)
    if boot["tests"]:
        kselftest_results(add, allowed, boot, user)
    for sub in boot["subtests"]:
        add(f"{sub} ran (not skipped) and passed",
            any(re.match(rf"# ok \d+ {re.escape(sub)}$", line) for line in user))
    gmem_messages(add, boot, kernel)
    for pat, n in boot["also"]:
        seen = sum(1 for line in text.splitlines() if re.search(pat, line))
        add(f"log has /{pat}/" + (f" {n} times or more" if n > 1 else ""), seen >= n,
            f"seen {seen} times")
    check_finished(add, boot, user)
    check_log_clean(add, text)
    return results, allowed


# --self-test: consoles as a boot writes them, built from these subtests
# (the other tests get two) and kernel messages printed while a test runs.
SELF_TEST_SUBTESTS = {
    "gmem_cma:gmem_cma_areas": ["areas.node_capacity_pages", "areas.total_capacity_pages",
                                "areas.cma_sysfs_total_pages", "areas.meminfo_cma_total",
                                "areas.debugfs_ranges_on_node", "areas.boot_pool_pages",
                                "areas.prezero_as_booted", "areas.capacity_read_only"],
    "gmem_cma:gmem_cma_vmemmap.sh": ["vmemmap_trim reads 'on'", "vmemmap_trim is read-only",
                                     "node 0 grows by 2 pages",
                                     "node 0 saves 4095 vmemmap pages per folio",
                                     "the total saving moves by as much"],
    "kvm:guest_memfd_1g_test": ["gmem_1g.capabilities", "gmem_1g.rejects_bad_arguments",
                                "global.no_pool_on_allowed_node # SKIP every node has a "
                                "gmem_cma area", "gmem_1g.reserve_allocate_punch_close"],
    "mm:hugetlb-vmemmap": ["HugeTLB vmemmap page flags"],
}
SELF_TEST_KMSGS = {
    "gmem_cma:gmem_cma_pool": [
        "gmem_cma: node 1: nr_pages: 'abc' is not a number of pages",
        "gmem_cma: all nodes: nr_pages: 18446744073709551615 is above the capacity of 4 pages"],
    "gmem_cma:gmem_cma_vmemmap.sh": [
        "gmem_cma: node 0: cannot restore the vmemmap of 1 GiB page at pfn 0x140000 "
        "(error -12): it stays trimmed",
        "gmem_cma: node 0: nr_pages: reached 2 of 1 pages: CMA could not provide the rest"],
    "kvm:guest_memfd_1g_test": [
        "kvm: guest_memfd: guest_memfd_1g_[271]: cannot reserve 5 1 GiB pages: "
        "not enough free gmem_cma pages",
        "gmem_cma: guest_memfd_1g_[271]: 2 1 GiB pages on node 0 would exceed the dmem "
        "cgroup limit of gmem_cma/node0"],
}
SELF_TEST_KUNIT = [
    ("gmem_cma_cmdline", [("gmem_cma_parse_and_plan", [f"case {i}" for i in range(1, 20)]),
                          ("gmem_cma_many_entries", [])]),
    ("gmem_cma_pool", [("gmem_cma_pool_grow_shrink", []), ("gmem_cma_pool_reserve_alloc_free", []),
                       ("gmem_cma_pool_bad_targets", [])]),
    ("gmem_cma_vmemmap", [("gmem_cma_vmemmap_chunks", []),
                          ("gmem_cma_vmemmap_refuses_changed", []),
                          ("gmem_cma_vmemmap_bad_ranges", [])]),
    ("gmem_cma_split", [("gmem_cma_split_merge_twice", []),
                        ("gmem_cma_split_pieces_outlive_file", []),
                        ("gmem_cma_split_refused_referenced", []),
                        ("gmem_cma_split_nomem", [])]),
    ("gmem_cma_memory_failure", [("gmem_cma_mf_shrink_window", []),
                                 ("gmem_cma_mf_reserved_replaced", []),
                                 ("gmem_cma_mf_reserved_short", [])]),
    ("gmem_cma_zero", [("gmem_cma_zero_grow_alloc_free", []),
                       ("gmem_cma_zero_switch_off", [])]),
]


def synthetic_console(boot, boot_msgs=()):
    """A console of this boot in which everything passes."""
    lines, clock = [], [0.0]

    def kmsg(msg):
        clock[0] += 0.01
        lines.append(f"[{clock[0]:12.6f}] {msg}")

    kmsg("Linux version 7.2.13 (check.py --self-test)")
    kmsg(f"Kernel command line: console=ttyS0,115200 {boot['kargs']} -- {boot['iargs']}")
    for nid, gb in sorted(boot["reserved"].items()):
        kmsg(f"gmem_cma: node {nid}: reserved {gb}G in 1 range(s) as CMA area gmem{nid}")
    for msg in boot_msgs:
        kmsg(msg)
    if boot["kunit"]:
        expect = boot["kunit"] if isinstance(boot["kunit"], dict) else KUNIT_SUITES
        suites = [(s, c) for s, c in SELF_TEST_KUNIT if s in expect]
        kmsg("KTAP version 1")
        kmsg(f"1..{len(suites)}")
        for i, (suite, cases) in enumerate(suites, 1):
            skip = " # SKIP needs gmem_cma_kunit.poison=1" \
                if expect[suite][1] == "SKIP" else ""
            kmsg("    KTAP version 1")
            kmsg(f"    # Subtest: {suite}")
            kmsg(f"    1..{len(cases)}")
            for j, (case, params) in enumerate(cases, 1):
                if params:
                    kmsg("        KTAP version 1")
                    kmsg(f"        # Subtest: {case}")
                    for k, param in enumerate(params, 1):
                        kmsg(f"        ok {k} {param}")
                    kmsg(f"    # {case}: pass:{len(params)} fail:0 skip:0 total:{len(params)}")
                if case == "gmem_cma_vmemmap_refuses_changed":
                    kmsg("gmem_cma: node 0: cannot trim the vmemmap of 1 GiB page at pfn "
                         "0x140000 again (error -16)")
                kmsg(f"    ok {j} {case}{skip}")
            if skip:
                kmsg(f"# {suite}: pass:0 fail:0 skip:{len(cases)} total:{len(cases)}")
            else:
                kmsg(f"# {suite}: pass:{len(cases)} fail:0 skip:0 total:{len(cases)}")
            kmsg(f"ok {i} {suite}{skip}")
    kmsg("Run /init as init process")
    lines.append("GMEM_TEST_BEGIN mode=kselftest")
    lines += ["TAP version 13", f"1..{len(boot['tests'])}"]
    for i, test in enumerate(boot["tests"], 1):
        coll, prog = test.split(":")
        lines += ["# overriding timeout to 600", f"# selftests: {coll}: {prog}"]
        if test in NO_TAP_TESTS:
            lines.append("# Random seed: 0x6b8b4567")
        else:
            subs = SELF_TEST_SUBTESTS.get(test, [f"{prog}.first", f"{prog}.second"])
            lines += ["# TAP version 13", f"# 1..{len(subs)}"]
            lines += [f"# ok {j} {sub}" for j, sub in enumerate(subs, 1)]
            lines.append(f"# # Totals: pass:{len(subs)} fail:0 xfail:0 xpass:0 skip:0 error:0")
        for msg in SELF_TEST_KMSGS.get(test, []):
            kmsg(msg)
        lines.append(f"ok {i} selftests: {coll}: {prog}")
    n = len(boot["tests"])
    lines.append(f"# Totals: pass:{n} fail:0 xfail:0 xpass:0 skip:0 error:0")
    lines.append(f"GMEM_TEST_END rc={boot['rc']}")
    kmsg("reboot: Power down")
    return "\r\n".join(lines) + "\r\n"


# gmem_vm's lines in the vmm-demo boot (scripts/guest/report.sh), between
# the report's other lines, which the judge does not look at.
SELF_TEST_VMM_DEMO = """# gmem_vm -n 1 -g 1 --vcpus 2
gmem_vm: pools before (1 GiB pages):
    node  nr_pages  free  resv  used
       0         1     1     0     0
       1         2     2     0     0
gmem_vm: VM created; guest_memfd flags 0x7, huge page sizes 0x40000000
gmem_vm: guest_memfd created (1 GiB, MPOL_BIND to node 1, 1 GiB pages) in 0.092 ms
gmem_vm: mapped at 0x7f8c40000000
gmem_vm: host: wrote markers at GPA 0x3000 and at the middle and end of every GiB
gmem_vm: guest: 32-bit, code at GPA 0x1000, writing [0x200000, 0x40000000) with 2 vCPUs
gmem_vm: vcpu 0: memory node 1, cpus 1 (hwloc), running on cpu 1; GPA [0x200000, 0x20000000), \
node from move_pages()
gmem_vm: vcpu 1: memory node 1, cpus 1 (hwloc), running on cpu 1; GPA [0x20000000, 0x40000000), \
node from move_pages()
gmem_vm: guest: markers OK
gmem_vm: guest: wrote 1022 MiB in 1.043 s (979.9 MiB/s)
gmem_vm: guest: verified 1022 MiB in 0.958 s (1066.8 MiB/s), run took 2.004 s
gmem_vm: host: read 1022 guest-written words through the mapping: OK
gmem_vm: guest memory on node 1: 1024 MiB
gmem_vm: VM stats: pages_4k 0, pages_2m 0, pages_1g 1
gmem_vm: teardown (munmap, close) took 0.812 ms
gmem_vm: pools back to their values 0 ms after teardown
gmem_vm: PASS""".replace("\\\n", "").split("\n")

# ... and in the vmm-poison boot (scripts/guest/init, run-poison), with the
# kernel's lines about the page.
SELF_TEST_VMM_POISON = f"""# gmemctl set 1:1
# gmem_vm --poison -n 1 -g 1 --vcpus 2
gmem_vm: host: wrote markers at GPA 0x3000 and at the middle and end of every GiB
gmem_vm: poison: GPA {VMM_POISON_GPA:#x}, between the guest's write and read-back
gmem_vm: guest: 32-bit, code at GPA 0x1000, writing [0x200000, 0x40000000) with 2 vCPUs
gmem_vm: vcpu 0: memory node 1, cpus 1 (hwloc), running on cpu 1; GPA [0x200000, 0x20000000), \
node from move_pages()
gmem_vm: vcpu 1: memory node 1, cpus 1 (hwloc), running on cpu 1; GPA [0x20000000, 0x40000000), \
node from move_pages()
gmem_vm: guest: markers OK
gmem_vm: guest: wrote 1022 MiB in 1.962 s (520.9 MiB/s)
gmem_vm: poison: GPA {VMM_POISON_GPA:#x} is pfn 0x2a0020005, page {VMM_POISON_PAGE} of its 1 GiB \
page, node 1
[  100.000000] gmem_cma: memory failure at pfn 0x2a0020005, page {VMM_POISON_PAGE} of the 1 GiB \
page at pfn 0x2a0000000 (node 1, in use: mappings dropped, retired when freed)
gmem_vm: vcpu 1: guest memory error at GPA {VMM_POISON_GPA:#x}: page lost (EHWPOISON, 0x1000)
gmem_vm: guest: verified 1022 MiB but the lost 4 KiB in 1.788 s (571.6 MiB/s), run took 3.750 s
gmem_vm: host: reading GPA {VMM_POISON_GPA:#x} raised SIGBUS BUS_MCEERR_AR at 0x7f8c60005000, lsb 12
gmem_vm: VM stats: pages_4k 511, pages_2m 511, pages_1g 0
[  101.000000] gmem_cma: node 1: 1 GiB page at pfn 0x2a0000000 has a poisoned page: retired
gmem_vm: PASS""".replace("\\\n", "").split("\n")


def synthetic_vmm_console(boot, lines):
    """A console of a boot without kselftests (gmem_test=run...): lines
    between GMEM_TEST_BEGIN and GMEM_TEST_END."""
    text = synthetic_console(boot)
    mode = boot["iargs"].split("=", 1)[1]
    return (text[:text.index("GMEM_TEST_BEGIN")] + f"GMEM_TEST_BEGIN mode={mode}\r\n" +
            "".join(line + "\r\n" for line in lines) + text[text.index("GMEM_TEST_END"):])


def edit(text, old, new):
    """text with its first old replaced by new (None if old is not there)."""
    return text.replace(old, new, 1) if text is not None and old in text else None


def self_test_verdict(results, want):
    """Whether a synthetic console was judged right: no failed result if
    want is None, else a failed result whose name matches want.  Returns
    (right, why, the failed results); stress-judge.py uses it too."""
    failed = [(n, d) for n, ok, d in results if not ok]
    if want is None:
        why = f"{failed[0][0]}: {failed[0][1]}" if failed else f"{len(results)} results"
        return not failed, why, failed
    hits = [(n, d) for n, d in failed if re.search(want, n)]
    why = f"{hits[0][0]}: {hits[0][1]}" if hits else f"no failed result /{want}/"
    return bool(hits), why, failed


def self_test(kunit):
    """Judge built-in consoles: the passing ones must pass, and each broken
    one must fail, on the result that looks at what was broken."""
    boots = {b["name"]: b for b in all_boots()}
    good = synthetic_console(boots["main"])
    hang = ("[  240.000000] INFO: task kworker/u4:1:57 blocked for more than 122 seconds.\r\n"
            "[  240.000001]       Not tainted 7.2.13 #1")

    def before(anchor, line):
        return edit(good, anchor, f"{line}\r\n{anchor}")

    vm_ok = "ok 4 selftests: gmem_cma: gmem_cma_vmemmap.sh"
    mismatch = synthetic_console(boots["selftest-catches-mismatch"])
    mismatch = edit(edit(mismatch, "# ok 1 areas.node_capacity_pages",
                         "# not ok 1 areas.node_capacity_pages"),
                    "ok 1 selftests: gmem_cma: gmem_cma_areas",
                    "not ok 1 selftests: gmem_cma: gmem_cma_areas # exit=1")
    demo = synthetic_vmm_console(boots["vmm-demo"], SELF_TEST_VMM_DEMO)
    poison = synthetic_vmm_console(boots["vmm-poison"], SELF_TEST_VMM_POISON)
    # gmem_vm without --vcpus 2: one vCPU, the whole area.
    one_vcpu = synthetic_vmm_console(boots["vmm-demo"], [
        line.replace(" with 2 vCPUs", "").replace(", 0x20000000)", ", 0x40000000)")
        for line in SELF_TEST_VMM_DEMO if not line.startswith("gmem_vm: vcpu 1:")])
    too_big = synthetic_console(boots["pool-prefill-too-big"], [
        "gmem_cma: gmem_cma_pool: node 0: 2G asked for but its area holds 1G: skipped",
        "gmem_cma: gmem_cma_pool: 'x' has no node but other entries do: skipped",
        "gmem_cma: gmem_cma_pool: node 1: filled 1 pages"])
    # (what, boot, console, None if it must pass, else a regex that one of
    # the failed results must match)
    cases = [
        ("passing console", "main", good, None),
        ("passing console, a TAP line cut by a kernel message", "main",
         edit(good, "# ok 2 areas.total_capacity_pages",
              "# ok 2 areas.total_[   51.000000] gmem_cma: node 1: nr_pages: 'abc' is not a "
              "number of pages\r\ncapacity_pages"), None),
        ("passing matrix boot (pool-prefill-too-big)", "pool-prefill-too-big", too_big, None),
        ("kselftest that must fail fails (selftest-catches-mismatch)",
         "selftest-catches-mismatch", mismatch, None),
        ("WARNING: line", "main",
         before(vm_ok, "[  120.000000] WARNING: CPU: 1 PID: 300 at mm/gmem_cma_pool.c:118 "
                       "gmem_cma_pool_free+0x5a/0x90"), r"console free of"),
        ("kselftest exiting 2 (XFAIL)", "main",
         edit(good, "ok 3 selftests: gmem_cma: gmemctl.sh",
              "ok 3 selftests: gmem_cma: gmemctl.sh # XFAIL"), r": gmem_cma:gmemctl\.sh$"),
        ("kselftest exiting 4 (SKIP), not in SKIPS_ALLOWED", "main",
         edit(good, "ok 3 selftests: gmem_cma: gmemctl.sh",
              "ok 3 selftests: gmem_cma: gmemctl.sh # SKIP"), r": gmem_cma:gmemctl\.sh$"),
        ("skipped subtest not in SKIPS_ALLOWED", "main",
         edit(good, "# ok 2 areas.total_capacity_pages",
              "# ok 2 areas.total_capacity_pages # SKIP debugfs not mounted"),
         r"areas\.total_capacity_pages$"),
        # SELF_TEST_SUBTESTS skip no_pool_on_allowed_node, as in the main boot.
        ("skip allowed in main, in a boot that needs that subtest", "gmem-node0-only",
         synthetic_console(boots["gmem-node0-only"]), r"no_pool_on_allowed_node"),
        ("plan 1..5 but 4 results", "main",
         edit(good, "# ok 5 the total saving moves by as much\r\n", ""),
         r"gmem_cma_vmemmap\.sh planned"),
        ("subtest results without a plan", "main",
         edit(good, "# 1..5\r\n", ""), r"gmem_cma_vmemmap\.sh planned"),
        ("a kselftest result missing from run_kselftest.sh's plan", "main",
         edit(good, "ok 13 selftests: mm: hugetlb-read-hwpoison\r\n", ""),
         r"run_kselftest\.sh ran"),
        ("missing GMEM_TEST_END", "main", edit(good, "GMEM_TEST_END rc=0\r\n", ""),
         r"guest ran to the end"),
        ("GMEM_TEST_END rc=1", "main", edit(good, "GMEM_TEST_END rc=0", "GMEM_TEST_END rc=1"),
         r"guest ran to the end"),
        ("failing KUnit case", "main",
         edit(good, "    ok 3 gmem_cma_pool_bad_targets",
              "    not ok 3 gmem_cma_pool_bad_targets"), r"kunit .*gmem_cma_pool_bad_targets"),
        ("unexpected gmem_cma warning", "main",
         before(vm_ok, "[  130.000000] gmem_cma: node 0: cannot trim the vmemmap of 1 GiB page "
                       "at pfn 0x140000 (error -12)"), r"no unexpected gmem_cma"),
        ("gmem_cma warning expected in another boot only", "main",
         before(vm_ok, "[  131.000000] kvm: guest_memfd: guest_memfd_1g_[300]: cannot reserve "
                       "1 1 GiB pages: no gmem_cma pool on an allowed node"),
         r"no unexpected gmem_cma"),
        ("expected boot-time warning missing", "main",
         edit(good, "gmem_cma: node 0: cannot trim the vmemmap of 1 GiB page at pfn 0x140000 "
                    "again (error -16)", "gmem_cma_vmemmap: nothing to trim"),
         r"warning /.*/ once"),
        ("** 3 printk messages dropped **", "main",
         before(vm_ok, "** 3 printk messages dropped **"), r"console free of"),
        ("hung task report", "main", before(vm_ok, hang), r"console free of"),
        ("soft lockup", "main",
         before(vm_ok, "[  250.000000] watchdog: BUG: soft lockup - CPU#1 stuck for 26s! "
                       "[gmem_cma_pool:301]"), r"console free of"),
        ("passing console (vmm-demo: gmem_vm --vcpus 2)", "vmm-demo", demo, None),
        ("gmem_vm: one vCPU (no --vcpus 2)", "vmm-demo", one_vcpu, r"log has /gmem_vm: vcpu 1: "),
        ("gmem_vm: a vCPU on node 0's CPU, not next to its memory", "vmm-demo",
         edit(demo, "vcpu 1: memory node 1, cpus 1 (hwloc), running on cpu 1",
              "vcpu 1: memory node 1, cpus 0 (hwloc), running on cpu 0"),
         r"log has /gmem_vm: vcpu 1: "),
        ("passing console (vmm-poison: gmem_vm --poison, one vCPU)", "vmm-poison", poison,
         None),
        ("gmem_vm --poison: its vCPU not placed (where it started, CPU 0)", "vmm-poison",
         edit(poison, "cpus 1 (hwloc), running on cpu 1", "cpus 0-1 (hwloc), running on cpu 0"),
         r"log has /gmem_vm: vcpu 0: "),
        ("gmem_vm fails its placement check", "vmm-demo",
         edit(edit(demo, "gmem_vm: PASS", "gmem_vm: FAIL: placement: vcpu 1 on cpu 0 (node 0) "
                   "once bound, not on node 1's cpus 1"),
              "GMEM_TEST_END rc=0", "GMEM_TEST_END rc=1"),
         r"log has /gmem_vm: PASS/"),
        ("RCU stall", "main",
         before(vm_ok, "[  260.000000] rcu: INFO: rcu_preempt self-detected stall on CPU"),
         r"console free of"),
    ]
    wrong = 0
    for what, name, text, want in cases:
        if text is None:
            wrong += 1
            print(f"self-test BAD  {what}: the console to break lacks the line to change")
            continue
        results, allowed = judge(boots[name], text, kunit)
        right, why, failed = self_test_verdict(results, want)
        if want is None:
            right = right and (name != "main" or len(allowed) == 1)
            if not failed:
                why += f", {len(allowed)} allowed skip(s)"
        wrong += not right
        print(f"self-test {'ok ' if right else 'BAD'}  {what}: "
              f"{'FAILED' if failed else 'PASSED'} ({why[:120]})", flush=True)
    print(f"check.py --self-test: {len(cases) - wrong} of {len(cases)} consoles judged right")
    return 1 if wrong else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tree", help="the kernel tree (default for --self-test: build/linux)")
    ap.add_argument("--kernel")
    ap.add_argument("--initrd")
    ap.add_argument("--logs")
    ap.add_argument("--only", help="run only boots whose name contains this")
    ap.add_argument("--kargs", default="",
                    help="kernel arguments added to every boot (make stress: the debug kernel's)")
    ap.add_argument("--timeout-scale", type=float, default=1,
                    help="multiply the boot and kselftest timeouts (make stress: KASAN is slower)")
    ap.add_argument("--serial", action="store_true",
                    help="one boot at a time (by default gmem-conversion, on one CPU, runs "
                         "beside the short boots)")
    ap.add_argument("--self-test", action="store_true",
                    help="judge built-in consoles (no boot): each detector must fail")
    args = ap.parse_args()
    args.scripts = os.path.dirname(os.path.abspath(__file__))
    tree = args.tree or os.path.join(os.path.dirname(args.scripts), "build", "linux")
    kunit = os.path.join(tree, "tools/testing/kunit/kunit.py")
    if args.self_test:
        if not os.path.isfile(kunit):
            print(f"check.py --self-test: no {kunit}: the KUnit results are parsed with the "
                  "kernel's kunit.py; run 'make assemble' or give --tree", file=sys.stderr)
            return 2
        return self_test(kunit)
    if not (args.tree and args.kernel and args.initrd and args.logs):
        ap.error("--tree, --kernel, --initrd and --logs are required (or --self-test)")
    os.makedirs(args.logs, exist_ok=True)
    res = Results()
    allowed = []
    start = time.time()

    def judged(b, text):
        results, skips = judge(b, text, kunit)
        for name, ok, detail in results:
            res.add(name, ok, detail)
        allowed.extend(skips)

    # A boot marked "background" (one CPU) starts when its turn comes and
    # runs beside the boots after it; it is judged after them.
    later = []
    with concurrent.futures.ThreadPoolExecutor() as pool:
        for b in all_boots():
            if args.only and args.only not in b["name"]:
                continue
            run = (boot, args, b["name"], b["kargs"], b["iargs"], b["smp"])
            if b["background"] and not args.serial:
                later.append((b, pool.submit(*run)))
            else:
                judged(b, run[0](*run[1:]))
        for b, fut in later:
            judged(b, fut.result())

    if allowed:
        print("---- skips allowed by SKIPS_ALLOWED in scripts/check.py:")
        for what, why in allowed:
            print(f"SKIP {what}  (allowed: {why})")
    print(f"---- make check: {time.time() - start:.0f} s")
    print(f"{res.passed} passed, {res.failed} failed")
    return 1 if res.failed or not res.passed else 0


if __name__ == "__main__":
    sys.exit(main())
