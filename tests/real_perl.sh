#!/bin/sh
# real_perl.sh - perl (hashes, regexes, sort, string building) under
# LD_PRELOAD=libpmalloc.so prints exactly what it prints without it, and its
# heap is in the region (the probe; the program's own look at
# /proc/self/smaps and the address of a large string's buffer).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/real/common.sh"

rp_need perl
rp_setup
PERL_HASH_SEED=0
PERL_PERTURB_KEYS=0
export PERL_HASH_SEED PERL_PERTURB_KEYS
unset PERL5LIB PERL5OPT PERLLIB

rp_both perl "$here/real/workload.pl"
rp_compare
rp_check_self "a 1 MB string buffer" perl "$here/real/workload.pl"
rp_check_probe perl
rp_check_stats
rp_finish
