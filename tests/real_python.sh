#!/bin/sh
# real_python.sh - CPython (dicts, lists, strings, json, sorts) under
# LD_PRELOAD=libpmalloc.so prints exactly what it prints without it, and its
# heap is in the region (the probe; the program's own look at
# /proc/self/smaps and the address of a large object).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/real/common.sh"

# Debian's interpreter if there is one (not a wrapper such as pyenv's).
if [ -x /usr/bin/python3 ]; then
	py=/usr/bin/python3
else
	rp_need python3
	py=$(command -v python3)
fi
rp_setup
PYTHONHASHSEED=0
PYTHONDONTWRITEBYTECODE=1
export PYTHONHASHSEED PYTHONDONTWRITEBYTECODE
unset PYTHONMALLOC PYTHONSTARTUP PYTHONPATH

rp_both "$py" "$here/real/workload.py"
rp_compare
rp_check_self "a 100000-byte bytes object" "$py" "$here/real/workload.py"
rp_check_probe python3
rp_check_stats
rp_finish
