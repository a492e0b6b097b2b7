# tests/lib.sh - what every test script shares; sourced first thing:
#
#	. "$(dirname "$0")/lib.sh"
#
# A script test passes with exit 0, is skipped with exit 77 (its last line
# of output says why), fails otherwise (tests/run.sh counts).  After the
# source line a script has:
#
#   B      the build directory, absolute ($PMALLOC_BUILD, default TOP/build)
#   T      the source tree, absolute ($PMALLOC_TOP, default tests/..)
#   t      a fresh temporary directory, removed at exit (kept, and named,
#          with PMTEST_KEEP=1); at_exit CMD runs CMD before it goes
#   CC     $CC or cc;  CXX  $CXX or g++
#   fail   0; bad sets it, finish exits with it
#   NOBODY "setpriv --reuid=65534 --regid=65534 --clear-groups" when run as
#          root with setpriv(1) there, else empty
#
# Reporting: each check names what it checks and, when it fails, prints
# what it wanted and what it got.
#   bad WHAT...                 "FAIL: WHAT", the test will fail
#   die WHAT...                 "FAIL: WHAT", exit 1 now
#   skip WHY...                 "WHY", exit 77 now
#   need CMD...                 skip unless every CMD is installed
#   need_root WHY               skip unless run as root
#   expect_eq WHAT WANT GOT     GOT is exactly WANT
#   expect WHAT PATTERN GOT     GOT matches the shell pattern PATTERN
#   expect_has WHAT PART GOT    GOT contains PART
#   expect_rc WHAT WANT CMD...  CMD exits with status WANT
#   finish                      "ok" if nothing failed; exit 0 or 1
#
# Programs and the checkpoint cycle (CRIU's zdtm shape: one run sets up a
# state and checkpoints, a fresh process restores it and checks):
#   build_c OUT SRC [ARG...]    $CC -O2 -I$T/include, ARGs, linked with
#                               the build's libpmalloc.so (rpath $B)
#   build_cxx OUT SRC [ARG...]  the same with $CXX
#   build_static OUT SRC [ARG...]  $CC with libpmalloc.a linked in
#   pm_run CMD...               pmalloc run -- CMD
#   pm_restore FILE CMD...      pmalloc run --restore FILE -- CMD
#   pm_verify FILE...           pmalloc verify, quiet unless it refuses
#   zdtm PROG FILE ROUNDS [ARG...]
#                               pm_run PROG setup FILE ARGs (its stdout also
#                               kept in $t/setup.out), then ROUNDS times:
#                               FILE verifies, pm_restore FILE PROG verify
#                               FILE ARGs (which checks, changes and
#                               checkpoints to FILE.next), FILE=FILE.next
#   zdtm_self PROG FILE ROUNDS [ARG...]
#                               the same for a program whose "verify FILE"
#                               calls pm_restore itself (pm_run, no --restore)
#   same_output WHAT A B        files A and B are identical (diff if not)
#   norand CMD...               CMD with address-space randomisation off
#
# Valgrind (tests/vg_*.sh, valgrind.sh):
#   need_valgrind               skip unless valgrind is installed and can
#                               run a program here, and the library was
#                               built with the memcheck annotations
#   vg CMD...                   CMD under memcheck with pmalloc preloaded
#                               and kept as its allocator (README.md's
#                               command line), leak check on, exit 9 on
#                               any error
set -u

lib_here=$(cd "$(dirname "$0")" && pwd)
T=$(cd "${PMALLOC_TOP:-$lib_here/..}" && pwd) || { echo "no source tree"; exit 1; }
B=${PMALLOC_BUILD:-$T/build}
B=$(cd "$B" 2>/dev/null && pwd) || { echo "no build directory ${PMALLOC_BUILD:-$T/build} (run make)"; exit 1; }
CC=${CC:-cc}
CXX=${CXX:-g++}
fail=0

lib_at_exit=
at_exit() { lib_at_exit="$lib_at_exit $*;"; }
lib_cleanup() {
	eval "$lib_at_exit"
	if [ "${PMTEST_KEEP:-0}" = 1 ]; then
		echo "kept $t"
	else
		rm -rf "$t"
	fi
}
t=$(mktemp -d "${TMPDIR:-/tmp}/pmtest.XXXXXX") || { echo "mktemp failed"; exit 1; }
trap lib_cleanup EXIT
trap 'exit 2' HUP INT TERM

NOBODY=
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
	NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi

bad() { echo "FAIL: $*"; fail=1; }
die() { echo "FAIL: $*"; exit 1; }
skip() { echo "$*"; exit 77; }
need() {
	for lib_c in "$@"; do
		command -v "$lib_c" >/dev/null 2>&1 || skip "$lib_c not installed"
	done
}
need_root() { [ "$(id -u)" -eq 0 ] || skip "$*"; }

expect_eq() { # WHAT WANT GOT
	[ "$3" = "$2" ] || bad "$1: got '$3', want '$2'"
}
expect() { # WHAT PATTERN GOT
	# shellcheck disable=SC2254 # $2 is a pattern
	case "$3" in
	$2) ;;
	*) bad "$1: got [$3], want [$2]" ;;
	esac
}
expect_has() { # WHAT PART GOT
	case "$3" in
	*"$2"*) echo "ok: $1" ;;
	*) bad "$1: want '$2', got '$3'" ;;
	esac
}
expect_rc() { # WHAT WANT CMD...
	lib_what=$1 lib_want=$2
	shift 2
	"$@"
	lib_rc=$?
	[ "$lib_rc" -eq "$lib_want" ] || bad "$lib_what: exit $lib_rc, want $lib_want"
}
finish() {
	[ "$fail" -eq 0 ] && echo ok
	exit "$fail"
}

build_c() { # OUT SRC [ARG...]
	lib_out=$1 lib_src=$2
	shift 2
	"$CC" -O2 -I"$T/include" -o "$lib_out" "$lib_src" "$@" \
		-L"$B" -lpmalloc -Wl,-rpath,"$B" || die "cannot build $lib_src"
}
build_cxx() { # OUT SRC [ARG...]
	lib_out=$1 lib_src=$2
	shift 2
	"$CXX" -O2 -I"$T/include" -o "$lib_out" "$lib_src" "$@" \
		-L"$B" -lpmalloc -Wl,-rpath,"$B" || die "cannot build $lib_src"
}
build_static() { # OUT SRC [ARG...]
	lib_out=$1 lib_src=$2
	shift 2
	"$CC" -O2 -pthread -I"$T/include" -o "$lib_out" "$lib_src" "$@" \
		"$B/libpmalloc.a" || die "cannot build $lib_src with libpmalloc.a"
}

pm_run() { "$B/pmalloc" run -- "$@"; }
# The checkpoint writer's test tools (tests/extra.mk): $prog checkpoints a
# 1.5 MiB heap, $shim fails chosen calls of it.
writer_tools() {
	shim="$B/tests/iofault.so"
	prog="$B/tests/ckpt_fault"
	[ -f "$shim" ] && [ -x "$prog" ] || die "missing $shim or $prog"
}
# The trust tests' program (tests/prog/trust.c) with libpmalloc.a linked
# in (a setuid program ignores $ORIGIN), built into $t/trust; $t/user
# belongs to uid 65534, whom as_user runs as.
build_trust() {
	chmod 755 "$t"
	mkdir "$t/user" && chown 65534:65534 "$t/user"
	"$CC" -O2 -no-pie -I"$T/include" -o "$t/trust" \
		"$T/tests/prog/trust.c" "$B/libpmalloc.a" -pthread || exit 1
	chmod 755 "$t/trust"
}
as_user() { $NOBODY "$@"; }
pm_restore() { # FILE CMD...
	lib_f=$1
	shift
	"$B/pmalloc" run --restore "$lib_f" -- "$@"
}
pm_verify() { # FILE...
	"$B/pmalloc" verify "$@" >"$t/.verify" 2>&1 && return 0
	cat "$t/.verify"
	return 1
}
norand() { setarch "$(uname -m)" -R "$@"; }
# The LuaLaTeX tests' start: skipped without lualatex or setarch -R; in
# $t with examples/latex's pmimage files, PDFs reproducible (fixed dates)
latex_prep() {
	command -v lualatex >/dev/null 2>&1 || skip "lualatex is not installed"
	norand true 2>/dev/null || skip "setarch -R does not work here"
	cd "$t" || die "no $t"
	cp "$T/examples/latex/pmimage.sty" "$T/examples/latex/pmimage.lua" . ||
		die "no pmimage files"
	export SOURCE_DATE_EPOCH=1700000000 FORCE_SOURCE_DATE=1
}

need_valgrind() {
	need valgrind
	valgrind --quiet --error-exitcode=1 true >"$t/.vgprobe" 2>&1 ||
		skip "valgrind cannot run a program here: $(head -n 1 "$t/.vgprobe")"
	# src/vg.c's advice is in the library only with the annotations
	grep -q nouserintercepts "$B/libpmalloc.so" ||
		skip "libpmalloc.so was built without <valgrind/memcheck.h> (or PM_VALGRIND=0)"
}
vg() {
	LD_PRELOAD="$B/libpmalloc.so" valgrind \
		--soname-synonyms=somalloc=nouserintercepts --quiet \
		--leak-check=full --errors-for-leak-kinds=definite \
		--error-exitcode=9 "$@"
}

same_output() { # WHAT A B
	cmp -s "$2" "$3" && return 0
	bad "$1: $2 and $3 differ"
	diff -u "$2" "$3" | head -n 40
	return 1
}

zdtm() { # PROG FILE ROUNDS [ARG...]
	lib_zdtm_self=0
	lib_zdtm "$@"
}
zdtm_self() { # PROG FILE ROUNDS [ARG...]
	lib_zdtm_self=1
	lib_zdtm "$@"
}
lib_zdtm() {
	lib_prog=$1 lib_f=$2 lib_n=$3
	shift 3
	pm_run "$lib_prog" setup "$lib_f" "$@" >"$t/setup.out"
	lib_rc=$?
	cat "$t/setup.out"
	[ $lib_rc -eq 0 ] ||
		{ bad "$(basename "$lib_prog") setup $lib_f: exit $lib_rc"; return 1; }
	lib_i=1
	while [ "$lib_i" -le "$lib_n" ]; do
		pm_verify "$lib_f" || bad "$lib_f does not verify"
		if [ $lib_zdtm_self = 1 ]; then
			pm_run "$lib_prog" verify "$lib_f" "$@"
		else
			pm_restore "$lib_f" "$lib_prog" verify "$lib_f" "$@"
		fi || { bad "$(basename "$lib_prog") verify $lib_f (round $lib_i): exit $?"; return 1; }
		lib_f=$lib_f.next
		lib_i=$((lib_i + 1))
	done
	return 0
}
