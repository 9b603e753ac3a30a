#!/bin/bash
# Build and install the kselftests the test VM runs: ours (gmem_cma) and
# the upstream KVM guest_memfd regression guards, with the kernel's own
# "make -C tools/testing/selftests install".
#
# usage: build-selftests.sh <tree> <install-dir>
#   also builds tools/mm/gmemctl and tools/kvm/gmem_vm into <install-dir>/..
set -euo pipefail

tree=$(cd "$1" && pwd)
mkdir -p "$(dirname "$2")"
top=$(cd "$(dirname "$2")" && pwd)
out=$top/$(basename "$2")
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}

# Install into an empty directory, moved into place only once everything is
# built: a failed build must not leave an older binary behind to be run.
new=$out.new
rm -rf "$out" "$new" "$top/gmemctl" "$top/gmem_vm"
mkdir -p "$new"

# Only the KVM tests we run: building all of them would triple the time.
kvm_tests="guest_memfd_test set_memory_region_test pre_fault_memory_test"
kvm_tests="$kvm_tests x86/private_mem_conversions_test x86/guest_memfd_1g_test"
kvm_tests="$kvm_tests x86/guest_memfd_1g_poison_test x86/guest_memfd_conversion_test"
kvm_tests="$kvm_tests x86/guest_memfd_split_test x86/guest_memfd_policy_test"

make -s -C "$tree" ARCH=x86_64 headers
# FORCE_TARGETS=1: fail if any target fails to build (by default the
# kselftest Makefile succeeds as soon as one target builds).
make -s -C "$tree/tools/testing/selftests" -j"$(nproc)" \
	CC="ccache gcc" TARGETS="kvm gmem_cma" FORCE_TARGETS=1 \
	TEST_GEN_PROGS_x86="$kvm_tests" TEST_PROGS_x86= \
	TEST_GEN_PROGS_EXTENDED_x86=x86/guest_memfd_split_bench \
	INSTALL_PATH="$new" install >/dev/null
# hugetlb's vmemmap tests from the mm kselftests (HVO shares its remapping
# engine with gmem_cma): only these three, added to the list run_kselftest.sh
# reads, since building all of mm's would take long.
mm_tests="hugetlb-vmemmap hugetlb-soft-offline hugetlb-read-hwpoison"
mkdir -p "$new/mm"
make -s -C "$tree/tools/testing/selftests/mm" CC="ccache gcc" OUTPUT="$new/mm" \
	$(for t in $mm_tests; do echo "$new/mm/$t"; done) >/dev/null
for t in $mm_tests; do
	grep -qx "mm:$t" "$new/kselftest-list.txt" || echo "mm:$t" >> "$new/kselftest-list.txt"
done
# gmemctl, with the kernel's tools/mm Makefile.
make -s -C "$tree/tools/mm" CC="ccache gcc" gmemctl
install -D -m 755 "$tree/tools/mm/gmemctl" "$top/gmemctl"
# The VMM demo "make run" runs, with its own Makefile.
make -s -C "$tree/tools/kvm/gmem_vm" CC="ccache gcc"
install -D -m 755 "$tree/tools/kvm/gmem_vm/gmem_vm" "$top/gmem_vm"
mv "$new" "$out"
echo "build-selftests: installed $(grep -c . "$out/kselftest-list.txt") tests in $out"
