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

need_count() {	# <what> <value>: bail out unless the value is a count
	case $2 in
	''|*[!0-9]*) ktap_exit_fail_msg "$1 reads '$2': missing or not a number" ;;
	esac
}

mem_nodes() {	# the nodes with memory, from the kernel's list ("0-1,3")
	tr ',' '\n' < /sys/devices/system/node/has_memory |
		awk -F- 'NF {last = NF > 1 ? $2 : $1; for (i = $1; i <= last; i++) print i}'
}

command -v gmemctl >/dev/null || { echo "gmemctl not installed"; exit $KSFT_SKIP; }
[ "$(id -u)" = 0 ] || { echo "needs root"; exit $KSFT_SKIP; }
[ -d $sysfs ] || { echo "no $sysfs: kernel without CONFIG_GMEM_CMA"; exit $KSFT_SKIP; }
if [ "$(cat $sysfs/capacity_pages)" = 0 ]; then
	# Only a reason to skip if nothing asked for areas.
	if sed 's/ -- .*//' /proc/cmdline | grep -qE '(^| )gmem_cma='; then
		echo "gmem_cma= is on the command line but there is no area"
		exit $KSFT_FAIL
	fi
	echo "no gmem_cma areas"
	exit $KSFT_SKIP
fi

ktap_print_header
ktap_set_plan 15

# Baselines, each a count: a missing file must not compare equal to the
# empty output of a command that failed too.
nodes=$(mem_nodes)
[ -n "$nodes" ] || ktap_exit_fail_msg "no node with memory in has_memory"
saved=""
caps=""
for nid in $nodes; do
	v=$(cat $sysfs/node$nid/nr_pages); need_count "node $nid nr_pages" "$v"
	saved="$saved $nid:$v"
	v=$(cat $sysfs/node$nid/capacity_pages); need_count "node $nid capacity_pages" "$v"
	caps="$caps $nid:$v"
done
cap0=$(cat $sysfs/node0/capacity_pages); need_count "node 0 capacity_pages" "$cap0"
total=$(cat $sysfs/capacity_pages); need_count "capacity_pages" "$total"

out=$(gmemctl show); rc=$?
ok "show exits 0" [ $rc = 0 ]
ok "show lists every node with memory, then the total" \
	[ "$(echo "$out" | awk '/^([0-9]+|total) / {printf "%s ", $1}')" = "$(echo $nodes) total " ]
ok "show reports the capacity of node 0" \
	[ "$(echo "$out" | awk '$1 == "0" {print $2}')" = "$cap0" ]
# The zeroer may be at work: zeroed is a count no larger than free + reserved.
ok "show reports node 0's zeroed pages, at most its free and reserved ones" \
	[ "$(echo "$out" | awk '$1 == "0" {print ($8 ~ /^[0-9]+$/ && $8 <= $4 + $5)}')" = 1 ]

gmemctl set 0:1 >/dev/null; rc=$?
ok "set 0:1 exits 0 and node 0 holds 1 page" [ $rc = 0 -a "$(cat $sysfs/node0/nr_pages)" = 1 ]
out=$(gmemctl show)
ok "show reports the new pool and free pages" \
	[ "$(echo "$out" | awk '$1 == "0" {print $3 " " $4}')" = "1 1" ]

gmemctl set "$total" >/dev/null; rc=$?
ok "set <total> exits 0 and the pools hold the total" \
	[ $rc = 0 -a "$(cat $sysfs/nr_pages)" = "$total" ]
full=1
for c in $caps; do
	[ "$(cat $sysfs/node${c%%:*}/nr_pages)" = "${c#*:}" ] || full=0
done
ok "and every node's pool is its capacity" [ $full = 1 ]

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
restored=0
for s in $saved; do
	[ "$(cat $sysfs/node${s%%:*}/nr_pages)" = "${s#*:}" ] && restored=$((restored + 1))
done
ok "the pools are back to their sizes" [ $restored = $(echo $nodes | wc -w) ]

ktap_finished
