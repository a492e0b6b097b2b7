#!/bin/sh
# real_git.sh - git (init, add, commit, log, diff, gc, fsck) on a generated
# repository under LD_PRELOAD=libpmalloc.so prints exactly what it prints
# without it and leaves the same objects.  Names, e-mails and dates are
# fixed through the environment, no user or system configuration is read.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/real/common.sh"

rp_need git awk
rp_setup

GIT_AUTHOR_NAME="Ada Author"
GIT_AUTHOR_EMAIL="ada@example.invalid"
GIT_COMMITTER_NAME="Cy Committer"
GIT_COMMITTER_EMAIL="cy@example.invalid"
GIT_CONFIG_NOSYSTEM=1
GIT_CONFIG_GLOBAL=/dev/null
GIT_PAGER=cat
PAGER=cat
GIT_TERMINAL_PROMPT=0
export GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL \
	GIT_CONFIG_NOSYSTEM GIT_CONFIG_GLOBAL GIT_PAGER PAGER GIT_TERMINAL_PROMPT
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_CONFIG \
	GIT_CONFIG_PARAMETERS GIT_CONFIG_COUNT EMAIL

# gen_files ROUND: (re)write the tree for commit ROUND; each round changes
# some files, adds some and removes one.
gen_files() {
	awk -v r="$1" 'BEGIN {
		system("mkdir -p d0 d1 d2 d3 d4 d5")
		for (f = 0; f < 60 + r * 5; f++) {
			if (f % 17 == r % 17 && r > 0) continue
			dir = "d" (f % 6)
			file = dir "/file" f ".txt"
			printf "" > file
			for (l = 0; l < 40 + f % 30; l++) {
				v = (f * 131 + l * 17 + (l % 7 == r % 7 ? r * 1000 : 0)) % 9973
				printf "line %d of file %d: value %d %s\n", l, f, v, (v % 3 ? "even" : "odd") > file
			}
			close(file)
		}
	}'
	if [ "$1" -gt 0 ]; then
		rm -f "d$(($1 % 6))/file$(($1 % 17)).txt"
	fi
}

git_job() {
	git init -q -b main repo || return 1
	cd repo || return 1
	git config core.autocrlf false
	git config gc.autoDetach false
	git config pack.threads 1
	git config user.useConfigOnly false
	r=0
	while [ $r -lt 8 ]; do
		gen_files $r
		git add -A .
		GIT_AUTHOR_DATE="2020-01-0$((r + 1))T12:00:00Z" \
			GIT_COMMITTER_DATE="2020-01-0$((r + 1))T13:00:00Z" \
			git commit -q -m "round $r" -m "generated files, round $r"
		echo "commit $r: $?"
		if [ $r = 3 ]; then
			git branch side
			GIT_COMMITTER_DATE="2020-01-04T14:00:00Z" \
				git tag -a -m "tag at round 3" v0.3
		fi
		r=$((r + 1))
	done
	echo "== log"
	git log --stat --format='%H %an <%ae> %ad %cn %cd %s' --date=iso-strict
	echo "== diff"
	git diff --stat HEAD~5 HEAD
	git diff HEAD~2 HEAD -- d1 d2
	echo "== rev-list"
	git rev-list --objects --all | sort
	echo "== gc"
	git gc -q --aggressive
	echo "gc: $?"
	git count-objects -v | grep -v '^size'
	git fsck --full --strict
	echo "fsck: $?"
	git verify-pack -v .git/objects/pack/*.idx | grep -v '^chain length' | awk '{ print $1, $2, $3 }' | sort
	echo "== blame"
	git blame -s --porcelain d1/file1.txt | head -n 30
	git cat-file -p v0.3
	git describe --tags side
}
rp_both git_job
rp_compare
rp_check_probe git
rp_check_stats
rp_finish
