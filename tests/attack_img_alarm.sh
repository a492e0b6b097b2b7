#!/bin/sh
# attack_img_alarm.sh - the SIGNALS section's alarm (alarm_us at 32,
# alarm_every_us at 40; docs/IMAGE_KSTATE.md) damaged with the checksums
# recomputed: past PMF_ALARM_MAX (10^14 us), all ones, or an interval
# without an alarm is refused before anything is changed, and the program
# then runs normally; at the bounds (10^14 us, with an interval of 10^14
# us) the restorer's setitimer takes it (the resume does not die at its
# point of no return) and the resumed process has the timer armed.
. "$(dirname "$0")/lib.sh"
norand true 2>/dev/null || skip "setarch -R does not work here"
prog=$t/image_timers
build_c "$prog" "$T/tests/prog/image_timers.c" -lrt
craft=$t/img_craft
"$CC" -std=c11 -D_GNU_SOURCE -O2 -I"$T/src" -I"$T/include" -o "$craft" \
	"$T/tests/prog/img_craft.c" "$T/src/crc32c.c" || die "cannot build img_craft"
cd "$t" || die "no $t"
pm_run "$prog" alarm good.img >run.out 2>run.err || die "alarm run: $(cat run.err)"
expect_eq "the saving run" "saved 0
alarm 4" "$(cat run.out)"
al=$("$craft" good.img get 11 32 8)
every=$("$craft" good.img get 11 40 8)
expect "the image holds the alarm (1.5 s ahead, less the time to save)" "1[0-9][0-9][0-9][0-9][0-9][0-9]" "$al"
expect_eq "the image holds the interval" 250000 "$every"

try() { # WHAT ALARM EVERY
	cp good.img bad.img && "$craft" bad.img rec 11 32 8 "$2" &&
		"$craft" bad.img rec 11 40 8 "$3" || die "img_craft"
	"$B/pmalloc" run --resume bad.img -- "$prog" alarm bad.img >res.out 2>res.err
	expect_eq "$1: exit" 0 $?
	expect_has "$1: refused" "pmalloc: not resumed:" "$(cat res.err)"
	expect_has "$1: reason" "signals: alarm" "$(cat res.err)"
	expect_eq "$1: then a normal run" "saved 0
alarm 4" "$(cat res.out)"
}
try "alarm past the bound" 100000000000001 0
try "interval past the bound" 1000000 100000000000001
try "alarm all ones" 0xffffffffffffffff 250000
try "an interval without an alarm" 0 250000

cp good.img max.img && "$craft" max.img rec 11 32 8 100000000000000 &&
	"$craft" max.img rec 11 40 8 100000000000000 || die "img_craft"
# the resumed program waits 10 s for an alarm that does not come
"$B/pmalloc" run --resume max.img -- "$prog" alarm good.img >res.out 2>res.err
expect_eq "alarm and interval at the bound: exit" 0 $?
expect_eq "alarm and interval at the bound: resumed, the alarm ahead" "resumed 1
no alarm" "$(cat res.out)"
finish
