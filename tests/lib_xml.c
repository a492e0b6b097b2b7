/*
 * lib_xml.c - state inside a real library (libxml2, from Debian's
 * libxml2-dev) survives checkpoint and restore.  Run by
 * tests/lib_state.sh, each phase in a fresh process under `pmalloc run`:
 *
 *   setup F MODE     parse a document of 5000 <item>s built in memory;
 *                    checkpoint to F
 *   verify F G MODE  (restored at start-up) XPath queries over generation
 *                    G's tree; add 100 items through the tree API (names
 *                    from the document's dictionary); checkpoint to F.next
 *
 * MODE "obj" calls pm_register_object("libxml2") first (and again after a
 * restore); "none" does not.
 */
#include <pmalloc.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIB_PROG "lib_xml"
#define LIB_NAME "libxml2"
#include "lib_common.h"

static xmlDocPtr doc;
static long items = -1;

static void fail(const char *what, double got, double want)
{
	fprintf(stderr, "lib_xml: %s: %g, want %g\n", what, got, want);
	exit(1);
}

static double number(const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	if (!ctx)
		fail("xmlXPathNewContext", 0, 1);
	xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	if (!r)
		fail(expr, 0, 1);
	double v = xmlXPathCastToNumber(r);
	xmlXPathFreeObject(r);
	xmlXPathFreeContext(ctx);
	return v;
}

static void check(void)
{
	double n = (double)items;
	double v;
	if ((v = number("count(/list/item)")) != n)
		fail("count(/list/item)", v, n);
	if ((v = number("sum(/list/item/@id)")) != n * (n - 1) / 2)
		fail("sum(@id)", v, n * (n - 1) / 2);
	if ((v = number("count(/list/item[@id mod 7 = 3])")) !=
	    (double)((items - 3 + 6) / 7))
		fail("count(@id mod 7 = 3)", v, (double)((items - 3 + 6) / 7));
	char expr[128];
	snprintf(expr, sizeof expr,
		 "string-length(/list/item[@id = %ld]/name) + "
		 "number(/list/item[@id = %ld]/@id)",
		 items - 1, items - 1);
	char name[32];
	int len = snprintf(name, sizeof name, "item %ld", items - 1);
	if ((v = number(expr)) != len + n - 1)
		fail(expr, v, len + n - 1);
}

static void add_items(long count)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	char buf[32];
	for (long i = items; i < items + count; i++) {
		xmlNodePtr it = xmlNewChild(root, NULL, BAD_CAST "item", NULL);
		snprintf(buf, sizeof buf, "%ld", i);
		xmlNewProp(it, BAD_CAST "id", BAD_CAST buf);
		snprintf(buf, sizeof buf, "item %ld", i);
		xmlNewTextChild(it, NULL, BAD_CAST "name", BAD_CAST buf);
	}
	items += count;
}

int main(int argc, char **argv)
{
	char next[4096];
	if (argc == 4 && !strcmp(argv[1], "setup")) {
		reg(argv[3]);
		xmlInitParser();
		size_t cap = 1 << 20, len = 0;
		char *text = malloc(cap);
		len += (size_t)snprintf(text, cap, "<?xml version=\"1.0\"?>\n<list>\n");
		for (long i = 0; i < 5000; i++)
			len += (size_t)snprintf(text + len, cap - len,
						"<item id=\"%ld\"><name>item %ld"
						"</name></item>\n",
						i, i);
		len += (size_t)snprintf(text + len, cap - len, "</list>\n");
		doc = xmlReadMemory(text, (int)len, "mem.xml", NULL, 0);
		free(text);
		if (!doc)
			fail("xmlReadMemory", 0, 1);
		items = 5000;
		check();
		checkpoint(argv[2]);
		printf("setup: %ld items\n", items);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "verify")) {
		long gen = atol(argv[3]);
		if (!pm_restored() || !doc) {
			fprintf(stderr, "lib_xml: not restored\n");
			return 1;
		}
		reg(argv[4]);
		if (items != 5000 + 100 * gen)
			fail("items", (double)items, (double)(5000 + 100 * gen));
		check();
		add_items(100);
		check();
		snprintf(next, sizeof next, "%s.next", argv[2]);
		checkpoint(next);
		printf("verify %ld: %ld items\n", gen, items);
		return 0;
	}
	fprintf(stderr, "usage: lib_xml setup F MODE | verify F GEN MODE\n");
	return 2;
}
