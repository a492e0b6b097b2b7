/*
 * lib_sqlite.c - state inside a real library (SQLite, from Debian's
 * libsqlite3-dev) survives checkpoint and restore.  Run by
 * tests/lib_state.sh, each phase in a fresh process under `pmalloc run`:
 *
 *   setup F MODE     open an in-memory database, a table of 100000 rows
 *                    and an index on it; checkpoint to F
 *   verify F G MODE  (restored at start-up) check generation G's rows
 *                    with queries that use the index and ones that scan;
 *                    insert 1000 more rows; checkpoint to F.next
 *
 * MODE "obj" calls pm_register_object("libsqlite3") first (and again
 * after a restore, so that the next checkpoint has it too); "none" does
 * not, which shows what happens when the library's own globals (its
 * configuration, mutex methods, page-cache state) are not persisted.
 * Exit 0 when every check holds; a message names the first that fails.
 */
#include <pmalloc.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIB_PROG "lib_sqlite"
#define LIB_NAME "libsqlite3"
#include "lib_common.h"

static sqlite3 *db; /* in the executable's .bss: persisted */
static long rows;   /* rows the database should hold */

static void die(const char *what)
{
	fprintf(stderr, "lib_sqlite: %s: %s\n", what,
		db ? sqlite3_errmsg(db) : "(no database)");
	exit(1);
}

static void exec(const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "lib_sqlite: %s: %s\n", sql, err ? err : "?");
		exit(1);
	}
}

static long one(const char *sql)
{
	sqlite3_stmt *st;
	long v;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		die(sql);
	if (sqlite3_step(st) != SQLITE_ROW)
		die(sql);
	v = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* rows [from, to): id, k = id * 7919 % 1000003, name 'row-<id>' */
static void insert(long from, long to)
{
	sqlite3_stmt *st;
	char name[32];
	exec("BEGIN");
	if (sqlite3_prepare_v2(db, "INSERT INTO t(id, k, name) VALUES(?,?,?)",
			       -1, &st, NULL) != SQLITE_OK)
		die("prepare insert");
	for (long i = from; i < to; i++) {
		snprintf(name, sizeof name, "row-%ld", i);
		sqlite3_bind_int64(st, 1, i);
		sqlite3_bind_int64(st, 2, i * 7919 % 1000003);
		sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE)
			die("insert");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	exec("COMMIT");
	rows = to;
}

static void check(void)
{
	char sql[128];
	long n = one("SELECT count(*) FROM t");
	if (n != rows) {
		fprintf(stderr, "lib_sqlite: %ld rows, want %ld\n", n, rows);
		exit(1);
	}
	long sum = one("SELECT sum(id) FROM t");
	if (sum != rows * (rows - 1) / 2) {
		fprintf(stderr, "lib_sqlite: sum(id) %ld\n", sum);
		exit(1);
	}
	/* through the index: a few point lookups and a range */
	for (long i = 0; i < rows; i += rows / 7) {
		snprintf(sql, sizeof sql, "SELECT id FROM t WHERE k = %ld",
			 i * 7919 % 1000003);
		if (one(sql) != i) {
			fprintf(stderr, "lib_sqlite: index lookup of row %ld\n",
				i);
			exit(1);
		}
	}
	long plan = one("SELECT count(*) FROM t INDEXED BY t_k "
			"WHERE k BETWEEN 1000 AND 2000");
	long scan = one("SELECT count(*) FROM t NOT INDEXED "
			"WHERE k BETWEEN 1000 AND 2000");
	if (plan != scan) {
		fprintf(stderr, "lib_sqlite: index says %ld, scan %ld\n", plan,
			scan);
		exit(1);
	}
	snprintf(sql, sizeof sql,
		 "SELECT count(*) FROM t WHERE name = 'row-%ld'", rows - 1);
	if (one(sql) != 1)
		die("name lookup");
	if (one("SELECT count(*) FROM pragma_integrity_check "
		"WHERE integrity_check <> 'ok'") != 0)
		die("integrity_check");
}

int main(int argc, char **argv)
{
	char next[4096];
	if (argc == 4 && !strcmp(argv[1], "setup")) {
		reg(argv[3]);
		if (sqlite3_open(":memory:", &db) != SQLITE_OK)
			die("open");
		exec("CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, "
		     "name TEXT)");
		insert(0, 100000);
		exec("CREATE INDEX t_k ON t(k)");
		check();
		checkpoint(argv[2]);
		printf("setup: %ld rows\n", rows);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "verify")) {
		long gen = atol(argv[3]);
		if (!pm_restored() || !db) {
			fprintf(stderr, "lib_sqlite: not restored\n");
			return 1;
		}
		reg(argv[4]);
		if (rows != 100000 + 1000 * gen) {
			fprintf(stderr, "lib_sqlite: generation %ld has %ld "
					"rows\n",
				gen, rows);
			return 1;
		}
		check();
		insert(rows, rows + 1000);
		check();
		snprintf(next, sizeof next, "%s.next", argv[2]);
		checkpoint(next);
		printf("verify %ld: %ld rows\n", gen, rows);
		return 0;
	}
	fprintf(stderr, "usage: lib_sqlite setup F MODE | verify F GEN MODE\n");
	return 2;
}
