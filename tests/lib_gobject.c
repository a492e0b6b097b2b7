/*
 * lib_gobject.c - GObject's type system survives checkpoint and restore.
 * Run by tests/lib_state.sh, each phase in a fresh process under
 * `pmalloc run`:
 *
 *   setup F MODE     register a class (a property, a signal), make 3000
 *                    instances with connected handlers, a GError, a
 *                    GVariant; checkpoint to F
 *   verify F G MODE  (restored at start-up) the type is known by name,
 *                    every instance passes G_IS_OBJECT and has its
 *                    property value, emitting the signal runs the
 *                    handlers, the GError's domain is its quark; free a
 *                    third, add a generation; checkpoint to F.next
 *
 * GObject's type table, its quarks and the GLib slice allocator's slabs
 * are all made by the libraries' constructors, before main(): they must
 * come back with the globals that point at them.
 */
#include <pmalloc.h>
#include <glib-object.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIB_PROG "lib_gobject"
#define LIB_NAME "libgobject-2.0"
#include "lib_common.h"

/* ---- a small class: Counter, with a "count" property and a "bump"
 * signal whose default handler adds the argument to count ---- */
#define COUNTER_TYPE (counter_get_type())
G_DECLARE_FINAL_TYPE(Counter, counter, PM, COUNTER, GObject)

struct _Counter {
	GObject parent;
	gint64 count;
	char *label;
};

G_DEFINE_TYPE(Counter, counter, G_TYPE_OBJECT)

enum { PROP_0, PROP_COUNT, PROP_LABEL, NPROPS };
static GParamSpec *props[NPROPS];
static guint bump_signal;

static void counter_set_property(GObject *o, guint id, const GValue *v,
				 GParamSpec *ps)
{
	Counter *c = PM_COUNTER(o);
	if (id == PROP_COUNT)
		c->count = g_value_get_int64(v);
	else if (id == PROP_LABEL) {
		g_free(c->label);
		c->label = g_value_dup_string(v);
	} else
		G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
}

static void counter_get_property(GObject *o, guint id, GValue *v,
				 GParamSpec *ps)
{
	Counter *c = PM_COUNTER(o);
	if (id == PROP_COUNT)
		g_value_set_int64(v, c->count);
	else if (id == PROP_LABEL)
		g_value_set_string(v, c->label);
	else
		G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
}

static void counter_finalize(GObject *o)
{
	g_free(PM_COUNTER(o)->label);
	G_OBJECT_CLASS(counter_parent_class)->finalize(o);
}

static void counter_bump(Counter *c, gint by) { c->count += by; }

static void counter_class_init(CounterClass *k)
{
	GObjectClass *oc = G_OBJECT_CLASS(k);
	oc->set_property = counter_set_property;
	oc->get_property = counter_get_property;
	oc->finalize = counter_finalize;
	props[PROP_COUNT] = g_param_spec_int64("count", NULL, NULL, G_MININT64,
					       G_MAXINT64, 0,
					       G_PARAM_READWRITE);
	props[PROP_LABEL] = g_param_spec_string("label", NULL, NULL, NULL,
						G_PARAM_READWRITE);
	g_object_class_install_properties(oc, NPROPS, props);
	bump_signal = g_signal_new_class_handler(
		"bump", G_TYPE_FROM_CLASS(k), G_SIGNAL_RUN_LAST,
		G_CALLBACK(counter_bump), NULL, NULL, NULL, G_TYPE_NONE, 1,
		G_TYPE_INT);
}

static void counter_init(Counter *c) { (void)c; }

/* ---- the program's state ---- */
static GPtrArray *objs;    /* Counter instances */
static GError *err;        /* a GError of our own domain */
static GVariant *variant;  /* a{sv} of a few values */
static long gen_now = -1;
static long handler_calls; /* by the connected handler */

G_DEFINE_QUARK(pm-test-error-quark, pm_test_error)

static void on_bump(Counter *c, gint by, gpointer data)
{
	(void)c, (void)by;
	handler_calls += GPOINTER_TO_INT(data);
}

static void fail(const char *what, long i)
{
	fprintf(stderr, LIB_PROG ": %s (item %ld)\n", what, i);
	exit(1);
}

static void add_generation(long gen)
{
	char label[64];
	for (long i = 0; i < 3000; i++) {
		snprintf(label, sizeof label, "c-%ld-%ld", gen, i);
		Counter *c = g_object_new(COUNTER_TYPE, "count", (gint64)i,
					  "label", label, NULL);
		g_signal_connect(c, "bump", G_CALLBACK(on_bump),
				 GINT_TO_POINTER(1));
		g_ptr_array_add(objs, c);
	}
	gen_now = gen;
}

/* every object: type, property, label shape, signal */
static void check(void)
{
	GType t = g_type_from_name("Counter");
	if (!t || t != COUNTER_TYPE)
		fail("type Counter unknown", (long)t);
	if (!g_type_is_a(t, G_TYPE_OBJECT))
		fail("Counter is not a GObject", 0);
	long before = handler_calls;
	for (guint i = 0; i < objs->len; i++) {
		Counter *c = g_ptr_array_index(objs, i);
		if (!G_IS_OBJECT(c) || !PM_IS_COUNTER(c))
			fail("not a Counter", i);
		gint64 v = -1;
		char *label = NULL;
		g_object_get(c, "count", &v, "label", &label, NULL);
		if (v != c->count || !label || strncmp(label, "c-", 2))
			fail("property", i);
		g_free(label);
		g_signal_emit(c, bump_signal, 0, 2);
		if (c->count != v + 2)
			fail("signal default handler", i);
		g_signal_emit_by_name(c, "bump", -2);
		if (c->count != v)
			fail("signal by name", i);
	}
	if (handler_calls - before != 2 * (long)objs->len)
		fail("connected handlers", handler_calls - before);
	if (err->domain != pm_test_error_quark() ||
	    strcmp(g_quark_to_string(err->domain), "pm-test-error-quark") ||
	    strcmp(err->message, "kept across restores"))
		fail("GError", (long)err->domain);
	gint64 n = 0;
	const char *s = NULL;
	if (!g_variant_lookup(variant, "n", "x", &n) || n != 42 ||
	    !g_variant_lookup(variant, "s", "&s", &s) || strcmp(s, "forty-two"))
		fail("GVariant", (long)n);
}

int main(int argc, char **argv)
{
	char next[4096];
	if (argc == 4 && !strcmp(argv[1], "setup")) {
		reg(argv[3]);
		objs = g_ptr_array_new_with_free_func(g_object_unref);
		err = g_error_new(pm_test_error_quark(), 7, "kept across %s",
				  "restores");
		GVariantDict d;
		g_variant_dict_init(&d, NULL);
		g_variant_dict_insert(&d, "n", "x", (gint64)42);
		g_variant_dict_insert(&d, "s", "s", "forty-two");
		variant = g_variant_ref_sink(g_variant_dict_end(&d));
		add_generation(0);
		check();
		checkpoint(argv[2]);
		printf("setup: %u objects\n", objs->len);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "verify")) {
		long gen = atol(argv[3]);
		if (!pm_restored() || !objs) {
			fprintf(stderr, LIB_PROG ": not restored\n");
			return 1;
		}
		reg(argv[4]);
		if (gen_now != gen)
			fail("generation", gen_now);
		check();
		/* drop every third object (finalize runs), add more */
		for (guint i = objs->len; i-- > 0;)
			if (i % 3 == 0)
				g_ptr_array_remove_index(objs, i);
		add_generation(gen + 1);
		check();
		snprintf(next, sizeof next, "%s.next", argv[2]);
		checkpoint(next);
		printf("verify %ld: %u objects\n", gen, objs->len);
		return 0;
	}
	fprintf(stderr, "usage: " LIB_PROG " setup F MODE | verify F GEN MODE\n");
	return 2;
}
