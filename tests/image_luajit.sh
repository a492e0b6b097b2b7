#!/bin/sh
# image_luajit.sh - the README's LuaJIT lines (issue 9 item 5: the API
# through a scripting language's FFI) run as written: an unmodified
# luajit computes with JIT-compiled loops, calls pm_image() through its
# ffi, and finishes; resumed twice from the image, it prints "resumed"
# and the same result as the run that saved it.  LuaJIT keeps its objects
# in memory it maps itself and its machine code in mappings it makes
# executable: both must come back.
. "$(dirname "$0")/lib.sh"
need luajit
norand true 2>/dev/null || skip "setarch -R does not work here"
cd "$t" || die "no $t"
# the first two lines are README.md's
cat >s.lua <<'LUA'
local ffi = require("ffi"); ffi.cdef("int pm_image(const char *);")
if ffi.C.pm_image("state.img") == 1 then print("resumed") end
local t, acc = {}, 0
for i = 1, 2000000 do
  acc = (acc * 31 + i) % 1000000007
  if i % 1000 == 0 then t[#t + 1] = tostring(acc) end
end
local rc = ffi.C.pm_image("later.img")
print(rc == 1 and "resumed later" or rc == 0 and "saved later" or "error " .. rc)
for i = 1, 2000000 do acc = (acc * 17 + i) % 1000000007 end
print("result", acc, #t, t[#t], (jit.status()))
LUA
grep -qF 'local ffi = require("ffi"); ffi.cdef("int pm_image(const char *);")' "$T/README.md" &&
	grep -qF 'if ffi.C.pm_image("state.img") == 1 then print("resumed") end' "$T/README.md" ||
	bad "README.md's LuaJIT lines are not the ones tested here"

"$B/pmalloc" run -- luajit s.lua >run.out 2>run.err || die "luajit on pmalloc: $(cat run.err)"
[ -s state.img ] && [ -s later.img ] || die "no images: $(cat run.err)"
expect_eq "the saving run's first line" "saved later" "$(sed -n 1p run.out)"
tail -n 1 run.out >ref.out
expect "the saving run's result" "result	*	2000	*	true" "$(cat ref.out)"

for round in 1 2; do
	"$B/pmalloc" run --resume later.img -- luajit s.lua >res.out 2>res.err
	expect_eq "resumed luajit, round $round: exit" 0 $?
	grep -q "not resumed" res.err && bad "round $round: refused: $(cat res.err)"
	expect_eq "round $round: first line" "resumed later" "$(sed -n 1p res.out)"
	expect_eq "round $round: result" "$(cat ref.out)" "$(tail -n 1 res.out)"
done
# the image taken before the loops: resumes at the top, runs them all
"$B/pmalloc" run --resume state.img -- luajit s.lua >top.out 2>top.err
expect_eq "resumed at the first pm_image: exit" 0 $?
expect_eq "resumed at the first pm_image: first line" "resumed" "$(sed -n 1p top.out)"
expect_eq "resumed at the first pm_image: result" "$(cat ref.out)" "$(tail -n 1 top.out)"
finish
