/*
 * t_ckpt_state.c - checkpoint/restore tests shaped like CRIU's zdtm: a
 * program builds a state, checkpoints, and a fresh process restores and
 * verifies it.  Without arguments this binary is the orchestrator: it runs
 * itself again with a phase argument, under `pmalloc run` (preload + ASLR
 * off) unless a case needs otherwise, and checks exit codes and output.
 *
 * Phases (argv[1]):
 *   build F [ext]   state generation 0; with ext also a pm_register()ed
 *                   page outside the executable; checkpoint to F
 *   verify F G      (restored at start-up) check generation G, then keep
 *                   using the heap
 *   cycle F G       (restored) check G, extend to G+1, checkpoint to F
 *   main F          pm_restore() called in main after stdout was written;
 *                   the ext page is mapped first; check generation 0
 *   threads F       build, then checkpoint three times while 3 threads
 *                   allocate and free
 *   refuse F CODE   pm_restore_ex(F) must return CODE and leave the
 *                   process as it was (blocks intact, heap usable)
 *   busythr F       pm_restore with a second thread running: -EBUSY
 *   big F MB        allocate MB MiB, say "ready" on stdout, checkpoint
 *   tiny F          checkpoint an almost empty heap
 *
 * Environment from make check: PMALLOC_BUILD (build dir).
 */
#include "testlib.h"
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <pmalloc.h>

/* ---- the state ------------------------------------------------------------ */

struct node {
	struct node *next;
	char *str;           /* a separate block */
	uint32_t idx, len;   /* payload bytes */
	uint64_t seed;
	unsigned char payload[];
};

struct tnode {
	struct tnode *l, *r;
	long key;
};

/* plain globals: .bss and .data of the executable */
struct node *g_head;
long g_count;
long g_gen = -1;
char g_str[64] = "initial";
static long reg_arr[128];

/* PM_PERSISTENT globals */
static struct {
	long gen;
	struct tnode *tree;
	long tree_n;
} pstate PM_PERSISTENT;

#define EXT_ADDR ((void *)0x7e0000000000UL)
#define EXT_LEN 8192
#define BIG_LEN (3u << 20)

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)mix(seed + i / 8) ^ (unsigned char)i;
}

static int filled(const unsigned char *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ((unsigned char)mix(seed + i / 8) ^ (unsigned char)i))
			return 0;
	return 1;
}

static struct node *new_node(uint32_t idx, uint64_t seed)
{
	uint32_t len = 16 + (uint32_t)(mix(seed) % 300);
	struct node *n = malloc(sizeof *n + len);
	n->idx = idx;
	n->len = len;
	n->seed = seed;
	fill(n->payload, len, seed);
	n->str = malloc(32);
	snprintf(n->str, 32, "node-%u", idx);
	return n;
}

static struct tnode *tree_insert(struct tnode *t, long key)
{
	if (!t) {
		t = calloc(1, sizeof *t);
		t->key = key;
		return t;
	}
	if (key < t->key)
		t->l = tree_insert(t->l, key);
	else
		t->r = tree_insert(t->r, key);
	return t;
}

static long tree_walk(struct tnode *t, long *prev, int *sorted)
{
	if (!t)
		return 0;
	long n = tree_walk(t->l, prev, sorted);
	if (t->key < *prev)
		*sorted = 0;
	*prev = t->key;
	return n + 1 + tree_walk(t->r, prev, sorted);
}

/* generation 0: 20000 nodes, a tree, a big block, holes; each later
 * generation adds 1000 nodes */
static void extend(long gen)
{
	long from = gen == 0 ? 0 : 20000 + 1000 * (gen - 1);
	long to = 20000 + 1000 * gen;
	for (long i = from; i < to; i++) {
		struct node *n = new_node((uint32_t)i, (uint64_t)i * 7919 + 1);
		n->next = g_head;
		g_head = n;
	}
	g_count = to;
	g_gen = gen;
	pstate.gen = gen;
	snprintf(g_str, sizeof g_str, "generation %ld", gen);
	for (int i = 0; i < 128; i++)
		reg_arr[i] = gen * 1000 + i;
	if (gen == 0) {
		/* holes: free interiors the checkpoint skips */
		void *hole[600];
		for (int i = 0; i < 600; i++)
			hole[i] = malloc(16384);
		for (int i = 0; i < 600; i += 2)
			free(hole[i]);
		uint64_t s = 12345;
		for (int i = 0; i < 5000; i++)
			pstate.tree = tree_insert(pstate.tree,
						  (long)(test_rand(&s) % 1000000));
		pstate.tree_n = 5000;
		unsigned char *big = malloc(BIG_LEN);
		fill(big, BIG_LEN, 99);
		pm_root_set("big", big);
		pm_root_set("tree", pstate.tree);
		for (int i = 1; i < 600; i += 2)
			test_use(hole[i]);
	}
	pm_register(reg_arr, sizeof reg_arr);
}

static void check_state(long gen)
{
	CHECK_MSG(g_gen == gen, "g_gen %ld, expected %ld", g_gen, gen);
	CHECK_EQ(pstate.gen, gen);
	char want[64];
	snprintf(want, sizeof want, "generation %ld", gen);
	CHECK_MSG(!strcmp(g_str, want), "g_str '%s'", g_str);
	for (int i = 0; i < 128; i++)
		if (reg_arr[i] != gen * 1000 + i) {
			CHECK_MSG(0, "reg_arr[%d] = %ld", i, reg_arr[i]);
			break;
		}
	long n = 0, bad = 0;
	for (struct node *p = g_head; p; p = p->next, n++) {
		char s[32];
		snprintf(s, sizeof s, "node-%u", p->idx);
		if (p->seed != (uint64_t)p->idx * 7919 + 1 ||
		    !filled(p->payload, p->len, p->seed) || strcmp(p->str, s))
			bad++;
	}
	CHECK_MSG(n == 20000 + 1000 * gen, "%ld nodes", n);
	CHECK_MSG(bad == 0, "%ld nodes damaged", bad);
	CHECK_EQ(g_count, n);
	long prev = -1;
	int sorted = 1;
	CHECK_EQ(pm_root_get("tree"), pstate.tree);
	CHECK_EQ(tree_walk(pstate.tree, &prev, &sorted), pstate.tree_n);
	CHECK(sorted);
	unsigned char *big = pm_root_get("big");
	CHECK(big && filled(big, BIG_LEN, 99));
	int hc = pm_heap_check();
	CHECK_MSG(hc == 0, "pm_heap_check: %s", pm_errmsg());
}

/* The restored heap goes on: free half, allocate, reallocate. */
static void use_heap(void)
{
	struct node **pp = &g_head;
	int k = 0;
	while (*pp) {
		struct node *p = *pp;
		if (k++ & 1) {
			*pp = p->next;
			free(p->str);
			free(p);
		} else {
			pp = &p->next;
		}
	}
	void *v[1000];
	for (int i = 0; i < 1000; i++) {
		v[i] = malloc((size_t)(i * 37 % 5000) + 1);
		memset(v[i], i, (size_t)(i * 37 % 5000) + 1);
	}
	unsigned char *big = pm_root_get("big");
	big = realloc(big, BIG_LEN * 2);
	CHECK(big && filled(big, BIG_LEN, 99));
	pm_root_set("big", big);
	for (int i = 0; i < 1000; i += 3)
		free(v[i]);
	int hc = pm_heap_check();
	CHECK_MSG(hc == 0, "pm_heap_check after use: %s", pm_errmsg());
}

static void *ext_map(void)
{
	void *p = mmap(EXT_ADDR, EXT_LEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	return p == EXT_ADDR ? p : NULL;
}

/* ---- phases ------------------------------------------------------------------ */

static int ckpt(const char *f)
{
	int rc = pm_checkpoint(f);
	CHECK_MSG(rc == 0, "pm_checkpoint(%s): %d %s", f, rc, pm_errmsg());
	return rc;
}

static volatile int stop_threads;

/* Blocks handed between the churning threads: each frees what another
 * allocated (cross-thread frees while a checkpoint quiesces). */
static void *_Atomic handoff[64];

static void *churn(void *arg)
{
	uint64_t s = (uintptr_t)arg;
	void *live[128] = {0};
	while (!stop_threads) {
		int i = (int)(test_rand(&s) % 128);
		free(live[i]);
		uint64_t r = test_rand(&s);
		size_t n = (size_t)(r % 3000) + 1;
		live[i] = r % 4 == 0 ? memalign((size_t)32 << (r >> 32) % 8, n)
				     : malloc(n);
		memset(live[i], 0xab, n);
		if (r % 3 == 0) { /* swap one for another thread's */
			void *p = live[i];
			live[i] = atomic_exchange(&handoff[(r >> 16) % 64], p);
		}
	}
	for (int i = 0; i < 128; i++)
		free(live[i]);
	return NULL;
}

#include "ring.h"

static void *sleeper(void *arg)
{
	(void)arg;
	while (!stop_threads)
		usleep(1000);
	return NULL;
}

static int phase(int argc, char **argv)
{
	const char *ph = argv[1], *f = argc > 2 ? argv[2] : "";
	if (!strcmp(ph, "build")) {
		extend(0);
		if (argc > 3 && !strcmp(argv[3], "ext")) {
			unsigned char *e = ext_map();
			CHECK_PTR_NE(e, NULL);
			if (e) {
				fill(e, EXT_LEN, 4242);
				CHECK_EQ(pm_register(e, EXT_LEN), 0);
			}
		}
		printf("built\n");
		ckpt(f);
	} else if (!strcmp(ph, "verify") || !strcmp(ph, "cycle")) {
		long gen = atol(argv[3]);
		CHECK_MSG(pm_restored(), "not restored");
		CHECK_PTR_EQ(getenv("PMALLOC_RESTORE"), NULL);
		check_state(gen);
		if (!strcmp(ph, "cycle")) {
			extend(gen + 1);
			ckpt(f);
		} else {
			use_heap();
		}
	} else if (!strcmp(ph, "main")) {
		printf("line A\n"); /* buffered in libc's (transient) block */
		unsigned char *e = ext_map();
		CHECK_PTR_NE(e, NULL);
		/* a registered range is restored only into a registered range */
		int rc = pm_restore(f);
		CHECK_MSG(rc == PM_ELAYOUT, "restore into unregistered memory: "
			  "%d %s", rc, pm_errmsg());
		CHECK(e && pm_register(e, EXT_LEN) == 0);
		rc = pm_restore(f);
		CHECK_MSG(rc == 0, "pm_restore: %d %s", rc, pm_errmsg());
		printf("line B\n");
		if (!rc) {
			check_state(0);
			CHECK(e && filled(e, EXT_LEN, 4242));
			use_heap();
		}
		printf("line C\n");
	} else if (!strcmp(ph, "threads")) {
		pthread_t t[3];
		struct pm_heap_info h0, h1;
		extend(0);
		ckpt(f); /* drains every cache: live is the program's */
		CHECK_EQ(pm_heap_info(&h0), 0);
		pthread_t rp, rc;
		for (int i = 0; i < 3; i++)
			pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
		pthread_create(&rp, NULL, ring_producer, NULL);
		pthread_create(&rc, NULL, ring_consumer, NULL);
		for (int k = 0; k < 3; k++) {
			usleep(20000);
			ckpt(f);
		}
		stop_threads = 1;
		atomic_store(&ring_stop, 1);
		for (int i = 0; i < 3; i++)
			pthread_join(t[i], NULL);
		pthread_join(rp, NULL);
		pthread_join(rc, NULL);
		ring_free();
		for (int i = 0; i < 64; i++)
			free(atomic_exchange(&handoff[i], NULL));
		CHECK_EQ(pm_heap_check(), 0);
		/* nothing the threads had cached, carved or in flight when
		 * the checkpoints quiesced stayed behind as a live block */
		ckpt(f);
		CHECK_EQ(pm_heap_info(&h1), 0);
		CHECK_EQ(h1.live, h0.live);
	} else if (!strcmp(ph, "refuse")) {
		int want = atoi(argv[3]);
		unsigned flags = argc > 4 ? (unsigned)atoi(argv[4]) : 0;
		/* a block of this process must survive a refusal; none for
		 * the codes that come after the heap's own check */
		unsigned char *mine = malloc(5000);
		if (mine)
			fill(mine, 5000, 7);
		int rc = pm_restore_ex(f, flags);
		fprintf(stderr, "refused: %d %s: %s\n", rc, pm_strerror(rc),
			pm_errmsg());
		CHECK_MSG(rc == want, "rc %d, want %d (%s)", rc, want,
			  pm_errmsg());
		CHECK_NE(pm_errmsg()[0], '\0');
		CHECK(!pm_restored());
		CHECK(g_head == NULL && g_gen == -1 && pstate.gen == 0);
		CHECK_STR_EQ(g_str, "initial");
		CHECK_PTR_EQ(pm_root_get("big"), NULL);
		if (mine)
			CHECK(filled(mine, 5000, 7));
		extend(0); /* the process keeps working */
		check_state(0);
	} else if (!strcmp(ph, "busythr")) {
		pthread_t t;
		pthread_create(&t, NULL, sleeper, NULL);
		int rc = pm_restore(f);
		CHECK_MSG(rc == -EBUSY, "rc %d %s", rc, pm_errmsg());
		stop_threads = 1;
		pthread_join(t, NULL);
		CHECK_PTR_EQ(g_head, NULL);
		extend(0);
		check_state(0);
	} else if (!strcmp(ph, "big")) {
		size_t mb = (size_t)atol(argv[3]);
		for (size_t i = 0; i < mb; i++) {
			unsigned char *b = malloc(1 << 20);
			memset(b, (int)i, 1 << 20);
			pm_root_set(i == 0 ? "b0" : "blast", b);
		}
		printf("ready\n");
		fflush(stdout);
		int rc = pm_checkpoint(f);
		printf("checkpoint %d %s\n", rc, pm_errmsg());
		return rc == -ENOSPC ? 28 : rc ? 1 : 0;
	} else if (!strcmp(ph, "tiny")) {
		g_gen = 77;
		return ckpt(f) ? 1 : 0;
	} else {
		fprintf(stderr, "unknown phase %s\n", ph);
		return 2;
	}
	fflush(stdout);
	return test_end();
}

/* ---- the orchestrator ------------------------------------------------------- */

static char self[4096], tool[4096], dir[256];

/* Run this binary with a phase; through `pmalloc run` when how says so:
 * how 0 direct, 1 pmalloc run, 2 pmalloc run --restore F.
 * env: "NAME=VALUE" or NULL.  stdout is captured into out. */
static int run_phase(int how, const char *restore, const char *env,
		     char *out, size_t outcap, const char *a1, const char *a2,
		     const char *a3, const char *a4)
{
	int pfd[2];
	if (pipe(pfd))
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], 1);
		for (const char *e = env; e && *e;) {
			const char *nl = strchr(e, '\n');
			size_t k = nl ? (size_t)(nl - e) : strlen(e);
			putenv(strndup(e, k));
			e += k + (nl != NULL);
		}
		const char *argv[16];
		int n = 0;
		if (how) {
			argv[n++] = tool;
			argv[n++] = "run";
			if (how == 2) {
				argv[n++] = "--restore";
				argv[n++] = restore;
			}
			argv[n++] = "--";
		}
		argv[n++] = self;
		argv[n++] = a1;
		if (a2)
			argv[n++] = a2;
		if (a3)
			argv[n++] = a3;
		if (a4)
			argv[n++] = a4;
		argv[n] = NULL;
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(pfd[1]);
	size_t have = 0;
	ssize_t r;
	char sink_buf[4096];
	while ((r = read(pfd[0], out ? out + have : sink_buf,
			 out ? outcap - 1 - have : sizeof sink_buf)) > 0)
		if (out)
			have += (size_t)r;
	if (out)
		out[have] = '\0';
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int verify_file(const char *f)
{
	char cmd[8300];
	snprintf(cmd, sizeof cmd, "%s verify %s >&2", tool, f);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static size_t file_size(const char *f)
{
	struct stat st;
	return stat(f, &st) ? 0 : (size_t)st.st_size;
}

static unsigned char *slurp(const char *f, size_t *n)
{
	*n = file_size(f);
	unsigned char *b = malloc(*n);
	int fd = open(f, O_RDONLY);
	CHECK(fd >= 0 && read(fd, b, *n) == (ssize_t)*n);
	close(fd);
	return b;
}

static void spit(const char *f, const void *b, size_t n)
{
	int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, b, n) == (ssize_t)n);
	close(fd);
}

static void path(char *out, const char *name)
{
	snprintf(out, 4096, "%s/%s", dir, name);
}

static int count_tmp(void)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strstr(e->d_name, ".tmp."))
			n++;
	if (d)
		closedir(d);
	return n;
}

/* A refusal, run in a fresh process, expecting `code`. */
static void refuse(const char *f, int code, const char *env, unsigned flags,
		   int how)
{
	char c[16], fl[16];
	snprintf(c, sizeof c, "%d", code);
	snprintf(fl, sizeof fl, "%u", flags);
	int rc = run_phase(how, NULL, env, NULL, 0, "refuse", f, c, fl);
	CHECK_MSG(rc == 0, "refuse %s code %d env %s: exit %d", f, code,
		  env ? env : "-", rc);
}

#include "../src/format.h"

/* Bitwise CRC-32C: independent of the library's (hidden) one. */
static uint32_t crc32c_ref(const void *buf, size_t n)
{
	const unsigned char *p = buf;
	uint32_t c = 0xffffffffu;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
	}
	return ~c;
}
static uint32_t pm_crc_for_test(const struct pmf_header *h)
{
	return crc32c_ref(h, PMF_HEADER_CRC_OFF);
}
static uint32_t pm_meta_crc_for_test(const void *m, size_t n)
{
	return crc32c_ref(m, n);
}

static void bad_inputs(const char *good)
{
	char f[4096];
	size_t n;
	unsigned char *img = slurp(good, &n);
	struct pmf_header h;
	memcpy(&h, img, sizeof h);

	/* missing, a directory */
	path(f, "does-not-exist");
	refuse(f, -ENOENT, NULL, 0, 1);
	refuse(dir, -EISDIR, NULL, 0, 1);
	path(f, "empty");
	spit(f, "", 0);
	refuse(f, PM_ETRUNC, NULL, 0, 1);
	CHECK_EQ(verify_file(f), 1);

	/* truncations: inside the header, metadata, table, globals, at
	 * the heap's start, in the middle, one byte short */
	size_t cuts[] = {1, 7, 100, 255, 256, 300, h.table_off + 10,
			 h.heap_off - 1, h.heap_off, h.heap_off + 5000, n / 2,
			 n - 4096, n - 1};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		if (cuts[i] >= n)
			continue;
		snprintf(f, sizeof f, "%s/trunc-%zu", dir, cuts[i]);
		spit(f, img, cuts[i]);
		refuse(f, PM_ETRUNC, NULL, 0, 1);
		CHECK_EQ(verify_file(f), 1);
	}

	/* a flipped byte in every part of the file */
	const struct pmf_section *sec =
		(const struct pmf_section *)(img + h.table_off);
	size_t at[64];
	int na = 0;
	at[na++] = 30;                   /* header: base */
	at[na++] = h.meta_off + 40;      /* metadata: host */
	at[na++] = h.meta_off + 128 + 70; /* the executable's path */
	at[na++] = h.table_off + 9;      /* table */
	for (uint32_t i = 0; i < h.nsections && na < 60; i++) {
		at[na++] = sec[i].data_off + sec[i].len / 2;
		if (sec[i].kind != PMF_SEC_HEAP)
			at[na++] = sec[i].keep_off;
	}
	if (h.heap_off > h.table_off + h.nsections * 64 + 200)
		at[na++] = h.heap_off - 1; /* padding */
	at[na++] = n - 1;
	for (int i = 0; i < na; i++) {
		img[at[i]] ^= 0x10;
		snprintf(f, sizeof f, "%s/flip-%zu", dir, at[i]);
		spit(f, img, n);
		img[at[i]] ^= 0x10;
		refuse(f, PM_ECORRUPT, NULL, 0, 1);
		CHECK_EQ(verify_file(f), 1);
	}
	/* checksums skipped: a flip in heap data goes unnoticed, by design;
	 * but header and table are always checked */
	snprintf(f, sizeof f, "%s/flip-%zu", dir, (size_t)h.table_off + 9);
	refuse(f, PM_ECORRUPT, NULL, PM_RESTORE_NO_VERIFY, 1);

	/* wrong magic, newer version (with a valid header crc) */
	img[0] ^= 1;
	path(f, "magic");
	spit(f, img, n);
	img[0] ^= 1;
	refuse(f, PM_EMAGIC, NULL, 0, 1);
	CHECK_EQ(verify_file(f), 1);
	struct pmf_header h2 = h;
	h2.version = 3; /* 2 is the process image */
	h2.header_crc = pm_crc_for_test(&h2);
	memcpy(img, &h2, sizeof h2);
	path(f, "version");
	spit(f, img, n);
	memcpy(img, &h, sizeof h);
	refuse(f, PM_EVERSION, NULL, 0, 1);
	CHECK_EQ(verify_file(f), 1);

	/* another executable: the recorded build-id changed (metadata and
	 * header crcs made valid again) */
	struct pmf_object *o0 = (struct pmf_object *)(img + h.meta_off + 128);
	o0->build_id[0] ^= 0xff;
	h2 = h;
	h2.meta_crc = pm_meta_crc_for_test(img + h.meta_off, h.meta_size);
	h2.header_crc = pm_crc_for_test(&h2);
	memcpy(img, &h2, sizeof h2);
	path(f, "otherexe");
	spit(f, img, n);
	o0->build_id[0] ^= 0xff;
	memcpy(img, &h, sizeof h);
	CHECK_EQ(verify_file(f), 0); /* sound as a file */
	refuse(f, PM_EEXEC, NULL, 0, 1);

	/* another heap base, another size */
	refuse(good, PM_EBASE, "PMALLOC_BASE=0x300000000", 0, 1);
	refuse(good, PM_EBASE, "PMALLOC_SIZE=1G", 0, 1);
	/* moved: ASLR on, the PIE loads elsewhere (a non-PIE build moves
	 * nothing but its libraries) */
	refuse(good, PM_ELAYOUT, NULL, 0, 0);
	/* busy: a block held, a thread running */
	refuse(good, -EBUSY, NULL, 0, 1);
	int rc = run_phase(1, NULL, NULL, NULL, 0, "busythr", good, NULL, NULL);
	CHECK_MSG(rc == 0, "busythr: exit %d", rc);
	free(img);
}

/* kill -9 in the middle of a large checkpoint: the previous file stays. */
static void killed_checkpoint(const char *good)
{
	char f[4096], cmd[8300];
	path(f, "killed.ckpt");
	snprintf(cmd, sizeof cmd, "cp %s %s", good, f);
	CHECK_EQ(system(cmd), 0);
	int pfd[2];
	CHECK_EQ(pipe(pfd), 0);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], 1);
		execl(tool, tool, "run", "--", self, "big", f, "512", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	char buf[64] = "";
	ssize_t r = read(pfd[0], buf, sizeof buf - 1);
	CHECK_MSG(r > 0 && !strncmp(buf, "ready", 5), "big: '%s'", buf);
	usleep(50000);
	kill(pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);
	close(pfd[0]);
	CHECK_MSG(WIFSIGNALED(st), "the checkpoint finished within 50 ms");
	CHECK_EQ(verify_file(f), 0);
	CHECK_EQ(run_phase(2, f, NULL, NULL, 0, "verify", f, "0", NULL), 0);
	fprintf(stderr, "after kill -9: %d temp file(s) left\n", count_tmp());
	snprintf(cmd, sizeof cmd, "rm -f %s/.killed.ckpt.tmp.*", dir);
	CHECK_EQ(system(cmd), 0);
}

int main(int argc, char **argv)
{
	if (argc >= 2)
		return phase(argc, argv);

	char f[4096], g[4096], out[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = '\0';
	const char *b = getenv("PMALLOC_BUILD");
	if (b)
		snprintf(tool, sizeof tool, "%s/pmalloc", b);
	else
		snprintf(tool, sizeof tool, "%.*s/../pmalloc",
			 (int)(strrchr(self, '/') - self), self);
	snprintf(dir, sizeof dir, "/tmp/pmckpt.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	fprintf(stderr, "files in %s, tool %s\n", dir, tool);

	/* build, verify at start-up (two ways), use the heap afterwards */
	path(f, "state.ckpt");
	CHECK(run_phase(1, NULL, NULL, out, sizeof out, "build", f, NULL,
			NULL) == 0);
	CHECK_MSG(!strcmp(out, "built\n"), "build printed '%s'", out);
	CHECK_EQ(verify_file(f), 0);
	CHECK_EQ(run_phase(2, f, NULL, NULL, 0, "verify", f, "0", NULL), 0);
	snprintf(g, sizeof g, "PMALLOC_RESTORE=%s", f);
	CHECK_EQ(run_phase(1, NULL, g, NULL, 0, "verify", f, "0", NULL), 0);
	/* the file is read-only for restores: still the same */
	CHECK_EQ(verify_file(f), 0);

	/* moved but allowed: ASLR on, no `pmalloc run` */
	snprintf(g, sizeof g, "PMALLOC_RESTORE=%s\nPMALLOC_ALLOW_MOVED=1", f);
	CHECK_EQ(run_phase(0, NULL, g, NULL, 0, "verify", f, "0", NULL), 0);

	/* pm_restore in main after stdout was written; a registered page
	 * outside the executable */
	path(g, "ext.ckpt");
	CHECK_EQ(run_phase(1, NULL, NULL, NULL, 0, "build", g, "ext", NULL), 0);
	CHECK_EQ(verify_file(g), 0);
	CHECK(run_phase(1, NULL, NULL, out, sizeof out, "main", g, NULL,
			NULL) == 0);
	CHECK_MSG(!strcmp(out, "line A\nline B\nline C\n"), "main printed '%s'",
		  out);

	/* five cycles: restore, check, extend, checkpoint over the file */
	path(g, "cycle.ckpt");
	snprintf(out, sizeof out, "cp %s %s", f, g);
	CHECK_EQ(system(out), 0);
	for (int i = 0; i < 5; i++) {
		char gen[16];
		snprintf(gen, sizeof gen, "%d", i);
		CHECK_MSG(run_phase(2, g, NULL, NULL, 0, "cycle", g, gen,
				    NULL) == 0,
			  "cycle %d", i);
		CHECK_EQ(verify_file(g), 0);
	}
	CHECK_EQ(run_phase(2, g, NULL, NULL, 0, "verify", g, "5", NULL), 0);

	/* checkpoints while three threads allocate and free */
	path(g, "threads.ckpt");
	CHECK_EQ(run_phase(1, NULL, NULL, NULL, 0, "threads", g, NULL, NULL), 0);
	CHECK_EQ(verify_file(g), 0);
	CHECK_EQ(run_phase(2, g, NULL, NULL, 0, "verify", g, "0", NULL), 0);

	bad_inputs(f);
	killed_checkpoint(f);

	CHECK_EQ(count_tmp(), 0);
	if (!test_failures) {
		snprintf(out, sizeof out, "rm -rf %s", dir);
		CHECK_EQ(system(out), 0);
	}
	return test_end();
}
