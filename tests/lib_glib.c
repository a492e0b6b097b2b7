/*
 * lib_glib.c - state inside a real library (GLib, from Debian's
 * libglib2.0-dev) survives checkpoint and restore.  Run by
 * tests/lib_state.sh, each phase in a fresh process under `pmalloc run`:
 *
 *   setup F MODE     a GHashTable of 20000 string keys whose values are
 *                    GQuarks of 2000 interned strings, a GString log, a
 *                    GRegex compiled by PCRE2's JIT; checkpoint to F
 *   verify F G MODE  (restored at start-up) check generation G: every key
 *                    maps to its quark, g_quark_to_string and
 *                    g_quark_try_string agree with it, new quarks get
 *                    new ids, the regex matches and new ones compile;
 *                    add a generation; checkpoint to F.next
 *
 * MODE "obj" calls pm_register_object("libglib-2.0") first (and again
 * after a restore); "none" does not.
 *
 * The quark table (quark_ht and the id -> string array) and GSlice's slabs
 * are made by GLib's constructor, before main(): pmalloc gives a persisted
 * library's pre-main blocks to the persistent heap, so they come back
 * with GLib's globals.  Every quark check must hold.
 */
#include <pmalloc.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIB_PROG "lib_glib"
#define LIB_NAME "libglib-2.0"
#include "lib_common.h"

static GHashTable *table; /* key -> GQuark of "word-<n % 2000>-<gen>" */
static GRegex *word_re;   /* JIT-compiled (G_REGEX_OPTIMIZE): PCRE2 code */
static GString *log_text;
static long gen_now = -1;
static long nkeys;
static long qbad, qall; /* quark checks failed / made */

static void fail(const char *what, long i)
{
	fprintf(stderr, "lib_glib: %s (item %ld)\n", what, i);
	exit(1);
}

static void add_generation(long gen)
{
	char key[64], word[64];
	long from = gen ? 20000 + 1000 * (gen - 1) : 0;
	long to = 20000 + 1000 * gen;
	for (long i = from; i < to; i++) {
		snprintf(key, sizeof key, "key-%ld", i);
		snprintf(word, sizeof word, "word-%ld-%ld", i % 2000, gen);
		GQuark q = g_quark_from_string(word);
		g_hash_table_insert(table, g_strdup(key), GUINT_TO_POINTER(q));
	}
	nkeys = to;
	gen_now = gen;
	g_string_append_printf(log_text, "generation %ld: %ld keys\n", gen, to);
}

static void check(void)
{
	char key[64], word[64];
	if ((long)g_hash_table_size(table) != nkeys)
		fail("table size", (long)g_hash_table_size(table));
	for (long i = 0; i < nkeys; i++) {
		long gen = i < 20000 ? 0 : (i - 20000) / 1000 + 1;
		snprintf(key, sizeof key, "key-%ld", i);
		snprintf(word, sizeof word, "word-%ld-%ld", i % 2000, gen);
		gpointer v;
		if (!g_hash_table_lookup_extended(table, key, NULL, &v))
			fail("key missing", i);
		GQuark q = GPOINTER_TO_UINT(v);
		const char *s = g_quark_to_string(q);
		qall += 3;
		qbad += !s || strcmp(s, word);
		qbad += g_quark_try_string(word) != q;
		qbad += g_quark_from_string(word) != q;
	}
	/* a new string gets an id no existing quark has */
	char fresh[64];
	snprintf(fresh, sizeof fresh, "fresh-%ld", gen_now);
	GQuark nq = g_quark_from_string(fresh);
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, table);
	qall++;
	while (g_hash_table_iter_next(&it, &k, &v))
		if (GPOINTER_TO_UINT(v) == nq) {
			qbad++;
			break;
		}
	char want[64];
	snprintf(want, sizeof want, "generation %ld: %ld keys\n", gen_now,
		 nkeys);
	/* a pattern compiled before the checkpoint, and a new one */
	GMatchInfo *mi = NULL;
	if (!g_regex_match(word_re, "x word-17-3 y", 0, &mi) ||
	    !g_match_info_matches(mi))
		fail("JIT regex", 0);
	char *num = g_match_info_fetch(mi, 1);
	if (!num || strcmp(num, "17"))
		fail("JIT regex group", 0);
	g_free(num);
	g_match_info_free(mi);
	GRegex *re2 = g_regex_new("^generation (\\d+):", G_REGEX_OPTIMIZE |
				  G_REGEX_MULTILINE, 0, NULL);
	if (!re2 || !g_regex_match(re2, log_text->str, 0, NULL))
		fail("new JIT regex", 0);
	g_regex_unref(re2);
	if (log_text->len < strlen(want) ||
	    strcmp(log_text->str + log_text->len - strlen(want), want))
		fail("GString log", (long)log_text->len);
}

int main(int argc, char **argv)
{
	char next[4096];
	if (argc == 4 && !strcmp(argv[1], "setup")) {
		reg(argv[3]);
		table = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					      NULL);
		log_text = g_string_new("log\n");
		word_re = g_regex_new("word-(\\d+)-(\\d+)", G_REGEX_OPTIMIZE,
				      0, NULL);
		add_generation(0);
		check();
		if (qbad)
			fail("quarks before any checkpoint", qbad);
		checkpoint(argv[2]);
		printf("setup: %ld keys\n", nkeys);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "verify")) {
		long gen = atol(argv[3]);
		if (!pm_restored() || !table) {
			fprintf(stderr, "lib_glib: not restored\n");
			return 1;
		}
		reg(argv[4]);
		if (gen_now != gen)
			fail("generation", gen_now);
		check();
		add_generation(gen + 1);
		check();
		snprintf(next, sizeof next, "%s.next", argv[2]);
		if (qbad)
			fail("quarks lost", qbad);
		checkpoint(next);
		printf("verify %ld: %ld keys, %zu log bytes, %ld quark checks\n",
		       gen, nkeys, log_text->len, qall);
		return 0;
	}
	fprintf(stderr, "usage: lib_glib setup F MODE | verify F GEN MODE\n");
	return 2;
}
