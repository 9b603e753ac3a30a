#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# gmemctl end to end: show, set a node, set the total, and every refusal
# with its message and exit status.  Leaves the pools as it found them.

. "$(dirname "$0")/../kselftest/ktap_helpers.sh"

sysfs=/sys/kernel/mm/gmem_cma

ok() {	# <description> <condition...>: one KTAP result
	desc=$1
	shift
	if "$@"; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
	fi
}

contains() {	# <text> <pattern>
	echo "$1" | grep -q "$2"
}

command -v gmemctl >/dev/null || { echo "gmemctl not installed"; exit $KSFT_SKIP; }
[ "$(id -u)" = 0 ] || { echo "needs root"; exit $KSFT_SKIP; }
[ "$(cat $sysfs/capacity_pages 2>/dev/null || echo 0)" -gt 0 ] ||
	{ echo "no gmem_cma areas"; exit $KSFT_SKIP; }

nodes=$(ls -d $sysfs/node* | sed 's|.*node||')
saved=""
for nid in $nodes; do saved="$saved $nid:$(cat $sysfs/node$nid/nr_pages)"; done
cap0=$(cat $sysfs/node0/capacity_pages)
total=$(cat $sysfs/capacity_pages)
ktap_print_header
ktap_set_plan 13

out=$(gmemctl show); rc=$?
ok "show exits 0" [ $rc = 0 ]
ok "show lists every node and the total" \
	[ "$(echo "$out" | grep -cE '^([0-9]+|total) ')" = $(($(echo $nodes | wc -w) + 1)) ]
ok "show reports the capacity of node 0" \
	[ "$(echo "$out" | awk '$1 == "0" {print $2}')" = "$cap0" ]

gmemctl set 0:1 >/dev/null; rc=$?
ok "set 0:1 exits 0 and node 0 holds 1 page" [ $rc = 0 -a "$(cat $sysfs/node0/nr_pages)" = 1 ]
out=$(gmemctl show)
ok "show reports the new pool and free pages" \
	[ "$(echo "$out" | awk '$1 == "0" {print $3 " " $4}')" = "1 1" ]

gmemctl set "$total" >/dev/null; rc=$?
ok "set <total> fills every area" [ $rc = 0 -a "$(cat $sysfs/nr_pages)" = "$total" ]

err=$(gmemctl set 0:$((cap0 + 1)) 2>&1 >/dev/null); rc=$?
ok "set above the capacity exits 1" [ $rc = 1 ]
ok "and says so" contains "$err" "more than the capacity of $cap0"
ok "and changed nothing" [ "$(cat $sysfs/nr_pages)" = "$total" ]

err=$(gmemctl set 0:abc 2>&1); rc=$?
ok "a bad size is a usage error (exit 2)" [ $rc = 2 ]
err=$(gmemctl frobnicate 2>&1); rc=$?
ok "an unknown command is a usage error (exit 2)" [ $rc = 2 ]
err=$(gmemctl set 1000:1 2>&1 >/dev/null); rc=$?
ok "a node without memory is refused (exit 1)" [ $rc = 1 ]

for s in $saved; do gmemctl set "$s" >/dev/null; done
restored=1
for s in $saved; do
	[ "$(cat $sysfs/node${s%%:*}/nr_pages)" = "${s#*:}" ] || restored=0
done
ok "the pools are back to their sizes" [ $restored = 1 ]

ktap_finished
