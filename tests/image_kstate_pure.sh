#!/bin/sh
# image_kstate_pure.sh - pm__ks_apply runs in the restorer while libc's and
# pmalloc's own memory are replaced (src/image_kstate_apply.c): its object
# may call nothing but its own static functions (no PLT, no libc, no
# memcpy/memset a compiler made up, no __stack_chk_fail) and may refer to
# no data but its .rodata.  Checked on the library's object as built.
. "$(dirname "$0")/lib.sh"
obj=$B/obj/image_kstate_apply.o
[ -f "$obj" ] || { echo "no $obj"; exit 77; }
command -v objdump >/dev/null || { echo "no objdump"; exit 77; }
bad=$(objdump -dr "$obj" | grep -E 'R_X86_64' | grep -v -E 'R_X86_64_PC32[[:space:]]+\.rodata')
calls=$(objdump -d "$obj" | grep -E '\scall' | grep -v -E 'call[[:space:]]+[0-9a-f]+ <(close_others)>')
fail=0
if [ -n "$bad" ]; then
	echo "relocations other than .rodata in $obj:"; echo "$bad"; fail=1
fi
if [ -n "$calls" ]; then
	echo "calls other than to its own static functions in $obj:"; echo "$calls"; fail=1
fi
[ $fail -eq 0 ] && echo "pm__ks_apply: raw syscalls only, no relocations but .rodata"
exit $fail
