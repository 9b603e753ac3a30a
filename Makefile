# gmem_cma: 1 GiB guest_memfd pages from per-node CMA areas.
# "make run" shows the system working, "make check" runs every test;
# see README.md for the rest.

KERNEL_SERIES ?= 7.2
CACHE ?= $(HOME)/.cache/gmem_cma
BUILD ?= $(CURDIR)/build

TREE := $(BUILD)/linux
FRAGMENTS := configs/slim-x86_64.config configs/gmem_cma.config
KERNEL := $(TREE)/arch/x86/boot/bzImage
# The debug kernel of "make stress": the same commits, in a worktree of
# their own, with configs/debug.config on top.
DEBUG_TREE := $(BUILD)/linux-debug
STRESS_S ?= 600
KSFT := $(BUILD)/kselftest
INITRD := $(BUILD)/initramfs.cpio
QEMU_TREE := $(BUILD)/qemu
# Restrict "make check" to the boots whose name contains ONLY=...
ONLY ?=

.PHONY: all deps fetch assemble kernel selftests qemu initramfs check check-self-test run \
	bench series refresh checkpatch clean debug-kernel stress

all: initramfs

deps:
	@scripts/deps.sh

fetch: deps
	@scripts/fetch-kernel.sh $(KERNEL_SERIES) $(CACHE) $(BUILD)

assemble: fetch
	@scripts/assemble.sh "$$(cat $(BUILD)/base-tree)" \
		"$$(cat $(BUILD)/base-version)" $(TREE)

kernel: assemble
	@scripts/build-kernel.sh $(TREE) $(FRAGMENTS)

selftests: kernel
	@scripts/build-selftests.sh $(TREE) $(KSFT)

# Debian's QEMU 11, which gmem_cma_qemu.sh runs inside the test VM.
qemu: deps
	@scripts/fetch-qemu.sh $(CACHE) $(QEMU_TREE)

initramfs: kernel selftests qemu
	@scripts/mkinitramfs.sh $(KSFT) $(INITRD) $(KERNEL) $(QEMU_TREE)

# The harness's own test (no boot) runs first: each detector must fail.
check-self-test: assemble
	@scripts/check.py --self-test --tree $(TREE)

check: check-self-test initramfs
	@scripts/check.py --tree $(TREE) --kernel $(KERNEL) --initrd $(INITRD) \
		--logs $(BUILD)/logs $(if $(ONLY),--only $(ONLY))

run: initramfs
	@scripts/run.sh $(KERNEL) $(INITRD) $(BUILD)/logs

bench: initramfs
	@scripts/bench.sh $(KERNEL) $(INITRD) $(BUILD)/logs

debug-kernel: assemble
	@scripts/debug-tree.sh $(TREE) $(DEBUG_TREE)
	@scripts/build-kernel.sh $(DEBUG_TREE) $(FRAGMENTS) configs/debug.config

# Not part of CI (hours): make check's boots and STRESS_S seconds of
# randomized stress on the debug kernel; see README.md.
stress: check-self-test initramfs debug-kernel
	@STRESS_S=$(STRESS_S) scripts/stress.sh $(TREE) $(DEBUG_TREE) $(INITRD) $(BUILD)/logs/debug

series: assemble
	@scripts/series.sh $(TREE) $(BUILD)/series

checkpatch: assemble
	@scripts/series.sh --files-only $(TREE) $(BUILD)/series

refresh:
	@scripts/refresh.sh $(TREE)

clean:
	rm -rf $(BUILD)
