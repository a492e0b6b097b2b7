/*
 * pmalloc - the command-line tool: run a program on pmalloc, and look inside
 * checkpoint files (our `crit`).
 *
 *   pmalloc run [--restore FILE] [--allow-moved] [--valgrind] [--] PROGRAM
 *               [ARGS...]
 *   pmalloc info [-v] FILE
 *   pmalloc verify [--key KEYFILE] FILE...
 *
 * `run` preloads the library found beside this binary (the build tree keeps
 * both in build/, an installation has PREFIX/bin/pmalloc and
 * PREFIX/lib[/MULTIARCH]/libpmalloc.so) or $PMALLOC_LIB, turns address-space
 * randomisation off for the program (personality(ADDR_NO_RANDOMIZE), as
 * `setarch -R` does, so the executable and its libraries load where they did
 * when the checkpoint was made) and execs it.
 *
 * This is an ordinary program: it uses stdio and malloc freely (the C
 * library's: it links only the library's file-reading objects, ckpt.h,
 * not the allocator).  It reads files with the library's own parser, so
 * `verify` checks exactly what a restore checks before it looks at the
 * process.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/personality.h>
#include <sys/stat.h>

static const char *prog = "pmalloc";

static void usage_main(FILE *f)
{
	fprintf(f,
		"usage: pmalloc COMMAND [ARGS]\n"
		"\n"
		"  run [--restore FILE] [--allow-moved] [--valgrind] [--] PROGRAM\n"
		"      [ARGS...]\n"
		"          run PROGRAM with pmalloc preloaded and address-space\n"
		"          randomisation off; with --restore, restore FILE\n"
		"          before its main(); with --valgrind, under memcheck\n"
		"  run --resume IMAGE [--] PROGRAM [ARGS...]\n"
		"          resume a process image of PROGRAM ARGS (pm_image);\n"
		"          a refused image runs PROGRAM from main()\n"
		"  resume [--no-verify] IMAGE\n"
		"          resume IMAGE with its own command line\n"
		"  info [-v] FILE\n"
		"          show a checkpoint file's header, objects and sections\n"
		"  verify [--key KEYFILE] FILE...\n"
		"          check every header, table and data checksum, and\n"
		"          with a key the MAC; exit 1 if any file has a problem\n"
		"\n"
		"  pmalloc COMMAND --help   help on one command\n"
		"  pmalloc --version\n"
		"\n"
		"Environment: PMALLOC_LIB (library to preload), PMALLOC_BASE,\n"
		"PMALLOC_SIZE, PMALLOC_ALLOW_MOVED=1, PMALLOC_KEY_FILE.\n"
		"See pmalloc(1).\n");
}

static void usage_run(FILE *f)
{
	fprintf(f,
		"usage: pmalloc run [--restore FILE | --resume IMAGE] "
		"[--no-verify] [--allow-moved]\n"
		"                  [--valgrind] [--image FILE [--image-on SIG] "
		"[--image-every S]]\n"
		"                  [--] PROGRAM [ARGS...]\n"
		"\n"
		"Run PROGRAM with libpmalloc preloaded (LD_PRELOAD) and with\n"
		"address-space randomisation turned off, so that a checkpoint it\n"
		"makes can be restored by a later run.\n"
		"\n"
		"  --restore FILE  set PMALLOC_RESTORE=FILE: the heap and globals\n"
		"                  are restored from FILE before PROGRAM's main()\n"
		"                  (on failure a one-line reason goes to stderr\n"
		"                  and the program starts fresh)\n"
		"  --resume IMAGE  set PMALLOC_RESUME=IMAGE: PROGRAM continues\n"
		"                  inside the pm_image() call that wrote IMAGE\n"
		"                  (its memory, stack, registers, signal state\n"
		"                  and files as they were); a refused image says\n"
		"                  `pmalloc: not resumed: REASON` on stderr and\n"
		"                  PROGRAM runs from main()\n"
		"  --image FILE    where --image-on and --image-every write\n"
		"                  process images (each replaces the last)\n"
		"  --image-on SIG  image PROGRAM when it receives SIG (USR1,\n"
		"                  USR2, HUP, RTMIN+N or a number); PROGRAM\n"
		"                  then keeps running\n"
		"  --image-every S image PROGRAM every S seconds\n"
		"  --no-verify     with --resume: skip the data checksums\n"
		"                  (PMALLOC_RESUME_VERIFY=0)\n"
		"  --allow-moved   set PMALLOC_ALLOW_MOVED=1: accept a checkpoint\n"
		"                  whose executable or libraries were loaded\n"
		"                  elsewhere (pointers into them will be wrong)\n"
		"  --valgrind      run PROGRAM under valgrind's memcheck with\n"
		"                  pmalloc kept as its allocator (valgrind\n"
		"                  --soname-synonyms=somalloc=nouserintercepts):\n"
		"                  memcheck sees pmalloc's blocks in the region;\n"
		"                  valgrind's own options go in VALGRIND_OPTS\n"
		"\n"
		"The library is $PMALLOC_LIB, else libpmalloc.so beside this\n"
		"binary, else in ../lib or ../lib/MULTIARCH relative to it.\n"
		"Exit status: PROGRAM's, or 127 if it cannot be run.\n");
}

static void usage_info(FILE *f)
{
	fprintf(f, "usage: pmalloc info [-v] FILE\n"
		   "\n"
		   "Print what FILE holds: when, where and by what program it\n"
		   "was made, the heap's base, size and used extent, the loaded\n"
		   "objects with their load addresses and build-ids, and the\n"
		   "sections (heap spans and globals) with their file offsets\n"
		   "and checksums.  -v lists every section (default: the first\n"
		   "40), and whether FILE carries a MAC.  Data checksums and\n"
		   "the MAC are not checked; use `pmalloc verify`.\n"
		   "Exit status 0, or 1 if FILE cannot be parsed.\n");
}

static void usage_verify(FILE *f)
{
	fprintf(f, "usage: pmalloc verify [--walk] [--key KEYFILE] FILE...\n"
		   "\n"
		   "Check each FILE as a restore would before touching memory:\n"
		   "magic, version, header, metadata and table checksums, the\n"
		   "placement of every section, every data and keep-bitmap\n"
		   "checksum, and the heap's region header: every pointer the\n"
		   "allocator follows from it, and the thread caches.  With\n"
		   "--walk also every chunk of the heap (PM_RESTORE_CHECK_HEAP).\n"
		   "Checks that need the restoring process (same executable,\n"
		   "same load addresses) are made by the restore itself.\n"
		   "\n"
		   "With a key (--key KEYFILE, else $PMALLOC_KEY_FILE; the file\n"
		   "must be the user's or root's, mode 600 or stricter) each\n"
		   "FILE must also carry a MAC made with that key; without one,\n"
		   "a MAC in a file is reported but not checked.\n"
		   "Exit status 0 if every FILE is sound, 1 otherwise.\n");
}

static int is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h");
}

/* ---- run ------------------------------------------------------------------ */

static int exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static char *find_lib(void)
{
	const char *env = getenv("PMALLOC_LIB");
	if (env && *env)
		return realpath(env, NULL);

	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return NULL;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	static const char *const rel[] = {
		"libpmalloc.so",
		"../lib/libpmalloc.so",
#if defined(__x86_64__)
		"../lib/x86_64-linux-gnu/libpmalloc.so",
#elif defined(__aarch64__)
		"../lib/aarch64-linux-gnu/libpmalloc.so",
#endif
		"../lib64/libpmalloc.so",
		"../lib/libpmalloc.so.1",
		/* without the development symlink (Debian's libpmalloc1) */
#if defined(__x86_64__)
		"../lib/x86_64-linux-gnu/libpmalloc.so.1",
#elif defined(__aarch64__)
		"../lib/aarch64-linux-gnu/libpmalloc.so.1",
#endif
	};
	char cand[PATH_MAX + 64];
	for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
		snprintf(cand, sizeof cand, "%s/%s", self, rel[i]);
		if (exists(cand))
			return realpath(cand, NULL);
	}
	return NULL;
}

static int cmd_run(int argc, char **argv)
{
	const char *restore = NULL, *resume = NULL, *image = NULL;
	const char *image_on = NULL, *every = NULL;
	int allow_moved = 0, no_verify = 0, valgrind = 0, i;

	for (i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			usage_run(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--restore") && i + 1 < argc) {
			restore = argv[++i];
		} else if (!strncmp(argv[i], "--restore=", 10)) {
			restore = argv[i] + 10;
		} else if (!strcmp(argv[i], "--resume") && i + 1 < argc) {
			resume = argv[++i];
		} else if (!strncmp(argv[i], "--resume=", 9)) {
			resume = argv[i] + 9;
		} else if (!strcmp(argv[i], "--image") && i + 1 < argc) {
			image = argv[++i];
		} else if (!strcmp(argv[i], "--image-on") && i + 1 < argc) {
			image_on = argv[++i];
		} else if (!strcmp(argv[i], "--image-every") && i + 1 < argc) {
			every = argv[++i];
		} else if (!strcmp(argv[i], "--no-verify")) {
			no_verify = 1;
		} else if (!strcmp(argv[i], "--allow-moved")) {
			allow_moved = 1;
		} else if (!strcmp(argv[i], "--valgrind")) {
			valgrind = 1;
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "%s run: unknown option %s\n", prog,
				argv[i]);
			usage_run(stderr);
			return 2;
		} else {
			break;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "%s run: no program given\n", prog);
		usage_run(stderr);
		return 2;
	}

	char *lib = find_lib();
	if (!lib) {
		fprintf(stderr,
			"%s run: cannot find libpmalloc.so beside %s or in "
			"../lib; set PMALLOC_LIB\n",
			prog, argv[0]);
		return 127;
	}
	const char *old = getenv("LD_PRELOAD");
	if (old && *old) {
		size_t n = strlen(lib) + strlen(old) + 2;
		char *both = malloc(n);
		if (!both)
			return 127;
		snprintf(both, n, "%s:%s", lib, old);
		setenv("LD_PRELOAD", both, 1);
		free(both);
	} else {
		setenv("LD_PRELOAD", lib, 1);
	}
	if (restore) {
		char *abs = realpath(restore, NULL);
		/* a missing file is the restore's to report, with its code;
		 * under valgrind a name only the program under it honours
		 * (the valgrind script and launcher get the library too) */
		setenv(valgrind ? "PMALLOC_VALGRIND_RESTORE" : "PMALLOC_RESTORE",
		       abs ? abs : restore, 1);
		free(abs);
	}
	if (allow_moved)
		setenv("PMALLOC_ALLOW_MOVED", "1", 1);
	if (restore && resume) {
		fprintf(stderr, "%s run: --restore and --resume exclude each "
				"other (a checkpoint restores the heap into a "
				"fresh run; an image replaces the whole "
				"process)\n",
			prog);
		return 2;
	}
	if (resume && (image || image_on || every)) {
		fprintf(stderr, "%s run: --resume continues the imaged process "
				"with its own trigger (the image's --image file "
				"and signal, as they were); --image, --image-on "
				"and --image-every cannot change it, and a new "
				"file would not be written\n",
			prog);
		return 2;
	}
	if ((image_on || every) && !image) {
		fprintf(stderr, "%s run: --image-on and --image-every need "
				"--image FILE\n",
			prog);
		return 2;
	}
	double period = 0;
	if (every) {
		char *end;
		period = strtod(every, &end);
		if (*end || !(period > 0) || period > 1e6) {
			fprintf(stderr, "%s run: --image-every %s: not a number "
					"of seconds\n",
				prog, every);
			return 2;
		}
	}
	if (image) {
		if (cli_set_image_env(image, image_on ? image_on
						      : CLI_EVERY_SIGNAL))
			return 2;
	}
	if (resume) {
		char *abs = realpath(resume, NULL);
		setenv("PMALLOC_RESUME", abs ? abs : resume, 1);
		free(abs);
		if (no_verify)
			setenv("PMALLOC_RESUME_VERIFY", "0", 1);
	}

	int pers = personality(0xffffffff);
	if (pers == -1 || personality((unsigned long)pers | ADDR_NO_RANDOMIZE) == -1)
		fprintf(stderr,
			"%s run: cannot turn address-space randomisation off "
			"(%s); a PIE program will load elsewhere each run\n",
			prog, strerror(errno));
	if (every)
		return cli_run_every(argv + i, period);
	/* pmalloc resume: the image's executable, its argv[0] as it was */
	char *exe = getenv("PMALLOC_RESUME_EXE");
	if (resume)
		cli_resume_precheck(exe ? exe : argv[i], exe ? NULL : resume);
	if (exe && (exe = strdup(exe))) {
		unsetenv("PMALLOC_RESUME_EXE");
		execv(exe, argv + i);
	}
	if (valgrind) {
		/* memcheck would replace the malloc of every object that
		 * defines one, pmalloc's too: only libc's and libstdc++'s */
		char **vargv = calloc((size_t)(argc - i) + 3, sizeof *vargv);
		if (!vargv)
			return 127;
		vargv[0] = "valgrind";
		vargv[1] = "--soname-synonyms=somalloc=nouserintercepts";
		for (int k = i; k < argc; k++)
			vargv[k - i + 2] = argv[k];
		execvp(vargv[0], vargv);
		fprintf(stderr, "%s run: cannot run valgrind: %s\n", prog,
			strerror(errno));
		return 127;
	}
	execvp(argv[i], argv + i);
	fprintf(stderr, "%s run: cannot run %s: %s\n", prog, argv[i],
		strerror(errno));
	return 127;
}

/* ---- info ----------------------------------------------------------------- */

static const char *kind_name(uint32_t k)
{
	return PM__KIND_NAME(k);
}

void cli_print_size(uint64_t n)
{
	if (n >= (10ull << 30))
		printf("%llu GiB", (unsigned long long)(n >> 30));
	else if (n >= (10ull << 20))
		printf("%llu MiB", (unsigned long long)(n >> 20));
	else if (n >= (10ull << 10))
		printf("%llu KiB", (unsigned long long)(n >> 10));
	else
		printf("%llu B", (unsigned long long)n);
}

static void print_id(const struct pmf_object *o)
{
	if (!o->build_id_len) {
		printf("-");
		return;
	}
	for (uint32_t i = 0; i < o->build_id_len; i++)
		printf("%02x", o->build_id[i]);
}

/* The header's facts: when, by whom, the heap, the file, checksums, MAC. */
static void info_header(const struct pm__ckpt *ck, const char *path)
{
	const struct pmf_header *h = &ck->h;
	char when[64] = "?";
	time_t t = (time_t)(h->time_ns / 1000000000ull);
	struct tm tm;
	if (localtime_r(&t, &tm))
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %z", &tm);

	printf("file:        %s\n", path);
	printf("format:      version %u (%s), page size %u\n", h->version,
	       h->kind == PMF_KIND_IMAGE ? "process image" : "checkpoint",
	       h->page_size);
	printf("made:        %s by %s, pid %u, uid %u, %u thread(s), on %s\n",
	       when, ck->meta->creator, ck->meta->pid, ck->meta->uid,
	       ck->meta->nthreads, ck->meta->host[0] ? ck->meta->host : "?");
	printf("program:     %s\n", ck->obj[0].path[0] ? ck->obj[0].path : "?");
	printf("checkpoint:  #%llu of this heap\n",
	       (unsigned long long)h->checkpoints);
	printf("heap:        base 0x%llx, size ", (unsigned long long)h->base);
	cli_print_size(h->size);
	printf(", persistent part up to 0x%llx\n",
	       (unsigned long long)h->tbase);
	printf("used extent: 0x%llx-0x%llx (", (unsigned long long)h->base,
	       (unsigned long long)h->top_end);
	cli_print_size(h->top_end - h->base);
	printf("), live blocks ");
	cli_print_size(h->live_bytes);
	printf("\n");
	printf("file size:   %llu (", (unsigned long long)h->file_size);
	cli_print_size(h->file_size);
	printf("): heap ");
	cli_print_size(h->heap_bytes);
	printf(" in sections from offset %llu, globals ",
	       (unsigned long long)h->heap_off);
	cli_print_size(h->globals_bytes);
	printf("\n");
	printf("crc32c:      header %08x, metadata %08x, table %08x\n",
	       h->header_crc, h->meta_crc, h->table_crc);
	if (h->flags & PMF_FLAG_MAC) {
		printf("MAC:         HMAC-SHA-256 ");
		for (int i = 0; i < PMF_MAC_LEN; i++)
			printf("%02x", h->mac[i]);
		printf(" (checked by `pmalloc verify` with the key)\n");
	} else {
		printf("MAC:         none (not authenticated)\n");
	}
}

static void info_objects(const struct pm__ckpt *ck)
{
	printf("\nobjects (%u):\n", ck->h.nobjects);
	printf("  %-3s %-18s %-40s %s\n", "#", "load", "build-id", "path");
	for (uint32_t i = 0; i < ck->h.nobjects; i++) {
		const struct pmf_object *o = &ck->obj[i];
		printf("  %-3u 0x%016llx ", i, (unsigned long long)o->load);
		print_id(o);
		printf("%*s %s\n",
		       o->build_id_len ? (int)(40 - 2 * o->build_id_len) : 39,
		       "", o->path[0] ? o->path : "(no name)");
	}
}

/* Words kept of a globals section: the keep bitmap's set bits. */
static uint64_t kept_words(const struct pm__ckpt *ck,
			   const struct pmf_section *s)
{
	uint64_t kb = pmf_keep_bytes(s->len), kept = 0;
	unsigned char *bm = malloc(kb ? kb : 1);
	if (bm && pread(ck->fd, bm, kb, (off_t)s->keep_off) == (ssize_t)kb)
		for (uint64_t j = 0; j < kb; j++)
			kept += (uint64_t)__builtin_popcount(bm[j]);
	free(bm);
	return kept;
}

static void info_sections(const struct pm__ckpt *ck, int verbose)
{
	uint32_t n = ck->h.nsections;
	uint32_t shown = verbose || n <= 40 ? n : 40;
	printf("\nsections (%u):\n", n);
	printf("  %-5s %-10s %-18s %-18s %12s %12s %8s %6s\n", "#", "kind",
	       "from", "to", "bytes", "file offset", "crc32c", "keep");
	for (uint32_t i = 0; i < shown; i++) {
		const struct pmf_section *s = &ck->sec[i];
		printf("  %-5u %-10s 0x%016llx 0x%016llx %12llu %12llu %08x",
		       i, kind_name(s->kind), (unsigned long long)s->addr,
		       (unsigned long long)(s->addr + s->len),
		       (unsigned long long)s->len,
		       (unsigned long long)s->data_off, s->data_crc);
		if (s->kind == PMF_SEC_CODE) /* copied whole: its protection */
			printf("    %c%c%c",
			       s->flags & PMF_PROT_READ ? 'r' : '-',
			       s->flags & PMF_PROT_WRITE ? 'w' : '-',
			       s->flags & PMF_PROT_EXEC ? 'x' : '-');
		else if (s->kind != PMF_SEC_HEAP && ck->h.kind == PMF_KIND_CHECKPOINT)
			printf(" %6llu", (unsigned long long)kept_words(ck, s));
		printf("\n");
	}
	if (shown < n)
		printf("  ... %u more (-v lists all)\n", n - shown);
}

static int cmd_info(int argc, char **argv)
{
	int verbose = 0;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			usage_info(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-v")) {
			verbose = 1;
		} else if (!path) {
			path = argv[i];
		} else {
			usage_info(stderr);
			return 2;
		}
	}
	if (!path) {
		usage_info(stderr);
		return 2;
	}

	struct pm__ckpt ck;
	struct pm__image im;
	int rc = pm__image_open(path, &ck, &im);
	if (rc) {
		fprintf(stderr, "%s: %s: %s\n", path, pm_strerror(rc),
			pm_errmsg());
		return 1;
	}
	info_header(&ck, path);
	info_objects(&ck);
	if (im.rec)
		cli_image_info(&ck, &im, verbose);
	info_sections(&ck, verbose);
	pm__image_close(&ck, &im);
	return 0;
}

/* ---- verify --------------------------------------------------------------- */

/* The heap's own metadata as the file holds it (the sections mapped into
 * a private view, as a restore stages them). */
static int check_heap(struct pm__ckpt *ck, int walk)
{
	struct pm__stage st;
	int rc = pm__stage_open(ck, &st, 0);
	if (rc)
		return rc;
	rc = pm__stage_check(&st, walk);
	pm__stage_close(&st);
	return rc;
}

static int cmd_verify(int argc, char **argv)
{
	int bad = 0, files = 0, first = 1;
	const char *keyfile = NULL;
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			usage_verify(stdout);
			return 0;
		}
	}
	int walk = 0;
	if (argc > 1 && !strcmp(argv[1], "--walk")) {
		walk = 1;
		argv++;
		argc--;
	}
	if (argc > 1 && !strcmp(argv[1], "--key")) {
		if (argc < 3) {
			usage_verify(stderr);
			return 2;
		}
		keyfile = argv[2];
		first = 3;
	} else if (argc > 1 && !strncmp(argv[1], "--key=", 6)) {
		keyfile = argv[1] + 6;
		first = 2;
	}
	/* the key: --key, else PMALLOC_KEY_FILE (read now, to say which) */
	struct pm__hmac_sha256 hm;
	int keyed = keyfile ? pm__key_load_file(keyfile, "--key ")
			    : pm__key_hmac(&hm, "verify");
	if (keyed < 0) {
		fprintf(stderr, "%s verify: %s\n", prog, pm_errmsg());
		return 1;
	}
	if (keyfile)
		keyed = 1;
	else if (keyed)
		pm__wipe(&hm, sizeof hm);
	for (int i = first; i < argc; i++) {
		struct pm__ckpt ck;
		struct pm__image im;
		files++;
		int rc = pm__image_open(argv[i], &ck, &im);
		if (!rc) {
			rc = pm__ckpt_verify_data(&ck);
			if (!rc && !im.rec) /* (an image's heap: at resume) */
				rc = check_heap(&ck, walk);
			if (!rc && keyed)
				rc = pm__ckpt_verify_mac(&ck);
			if (!rc)
				printf("%s: ok (%u sections, %llu bytes)%s\n",
				       argv[i], ck.h.nsections,
				       (unsigned long long)ck.h.file_size,
				       keyed ? ", MAC verified"
				       : ck.h.flags & PMF_FLAG_MAC
					       ? ", has a MAC (not checked: "
						 "no key)"
					       : "");
			pm__image_close(&ck, &im);
		}
		if (rc) {
			printf("%s: %s: %s\n", argv[i], pm_strerror(rc),
			       pm_errmsg());
			bad++;
		}
	}
	if (!files) {
		usage_verify(stderr);
		return 2;
	}
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	/* the heap checker's mark of a cached block: random, so that a
	 * crafted file's blocks cannot carry it (a restore's is its own) */
	pm__free_key = pm__os_random64() | 1;
	if (argc < 2) {
		usage_main(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (is_help(cmd) || !strcmp(cmd, "help")) {
		usage_main(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		printf("pmalloc %s\n", PMALLOC_VERSION_STRING);
		return 0;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "resume"))
		return cli_resume(argc - 1, argv + 1, cmd_run);
	if (!strcmp(cmd, "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(cmd, "verify"))
		return cmd_verify(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", prog, cmd);
	usage_main(stderr);
	return 2;
}
