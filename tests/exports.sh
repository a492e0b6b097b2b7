#!/bin/sh
# exports.sh - libpmalloc.so exports exactly the intended symbols (the list
# below; any missing or extra one fails, with the difference shown), every
# function of include/pmalloc.h is among them, its SONAME is
# libpmalloc.so.1 and it needs nothing but libc (ld-linux is acceptable).
. "$(dirname "$0")/lib.sh"
lib=$B/libpmalloc.so
for tool in nm readelf sort comm; do
	command -v $tool >/dev/null 2>&1 || skip "$tool not installed"
done
[ -f "$lib" ] || { echo "no $lib"; exit 1; }

cat >"$t/want.list" <<'EOF'
malloc
free
calloc
realloc
reallocarray
memalign
posix_memalign
aligned_alloc
valloc
pvalloc
malloc_usable_size
__libc_malloc
__libc_free
__libc_calloc
__libc_realloc
__libc_memalign
__libc_valloc
__libc_pvalloc
mallinfo
mallinfo2
malloc_stats
malloc_trim
mallopt
strdup
strndup
__strdup
__strndup
getline
getdelim
__getdelim
asprintf
vasprintf
__asprintf_chk
__vasprintf_chk
realpath
getcwd
__libc_start_main
_Znwm
_Znam
_ZnwmRKSt9nothrow_t
_ZnamRKSt9nothrow_t
_ZnwmSt11align_val_t
_ZnamSt11align_val_t
_ZnwmSt11align_val_tRKSt9nothrow_t
_ZnamSt11align_val_tRKSt9nothrow_t
_ZdlPv
_ZdaPv
_ZdlPvm
_ZdaPvm
_ZdlPvRKSt9nothrow_t
_ZdaPvRKSt9nothrow_t
_ZdlPvSt11align_val_t
_ZdaPvSt11align_val_t
_ZdlPvmSt11align_val_t
_ZdaPvmSt11align_val_t
pm_checkpoint
pm_restore
pm_restore_ex
pm_restored
pm_image
pm_at_image
pm_at_resume
pm_exiting
pm_key_set
pm_root_set
pm_root_get
pm_register
pm_register_object
pm_strerror
pm_errmsg
pm_malloc
pm_free
pm_calloc
pm_realloc
pm_memalign
pm_posix_memalign
pm_usable_size
pm_heap_check
pm_heap_info
mm_store_heap_file
EOF
LC_ALL=C sort -u "$t/want.list" >"$t/want"

# the library's defined dynamic symbols, without version suffixes
nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' |
	LC_ALL=C sort -u >"$t/have"
[ -s "$t/have" ] || { echo "nm -D listed nothing for $lib"; exit 1; }

missing=$(LC_ALL=C comm -23 "$t/want" "$t/have")
extra=$(LC_ALL=C comm -13 "$t/want" "$t/have")
if [ -n "$missing" ]; then
	echo "missing exports:"; echo "$missing" | sed 's/^/  - /'; fail=1
fi
if [ -n "$extra" ]; then
	echo "unexpected exports:"; echo "$extra" | sed 's/^/  + /'; fail=1
fi
[ -z "$missing$extra" ] && echo "exports: $(wc -l <"$t/have") symbols as intended"

# every function declared in the public header is in the list
sed -n 's/^[a-z][a-z_ ]*[ *]\(pm_[a-z_0-9]*\)(.*/\1/p; s/^[a-z][a-z_ ]*[ *]\(mm_[a-z_0-9]*\)(.*/\1/p' \
	"$T/include/pmalloc.h" | LC_ALL=C sort -u >"$t/header"
[ -s "$t/header" ] || { echo "found no functions in pmalloc.h"; fail=1; }
notlisted=$(LC_ALL=C comm -23 "$t/header" "$t/want")
if [ -n "$notlisted" ]; then
	echo "declared in pmalloc.h but not in this test's list:"
	echo "$notlisted" | sed 's/^/  /'; fail=1
fi

# SONAME and dependencies
readelf -d "$lib" >"$t/dyn" || { echo "readelf -d failed"; exit 1; }
soname=$(sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p' "$t/dyn")
if [ "$soname" != "libpmalloc.so.1" ]; then
	echo "SONAME is '$soname', not libpmalloc.so.1"; fail=1
fi
sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p' "$t/dyn" >"$t/needed"
grep -qx 'libc.so.6' "$t/needed" || { echo "libc.so.6 is not NEEDED"; fail=1; }
others=$(grep -vx -e 'libc.so.6' -e 'ld-linux[-a-z0-9_.]*\.so\.[0-9]*' "$t/needed")
if [ -n "$others" ]; then
	echo "needs more than libc:"; echo "$others" | sed 's/^/  /'; fail=1
fi
echo "SONAME $soname, NEEDED: $(tr '\n' ' ' <"$t/needed")"
exit $fail
