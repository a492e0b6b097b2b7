/*
 * craft.c - a checkpoint editor for the tests: reads a valid checkpoint,
 * applies one named edit, lays the file out again as ckpt_write.c does
 * (offsets, heap_off, file_size, byte counts) and recomputes every crc,
 * so that the result is refused, if at all, by a check that is not a
 * checksum.  Used by tests/ckpt_crafted.sh.
 *
 *   craft IN OUT EDIT ARGS...    (numbers in C notation: 0x.., decimal)
 *
 *   hdr OFF SIZE VALUE       header field at byte OFF (SIZE 4 or 8)
 *   sec I FIELD VALUE        section I's kind, flags, addr or len
 *   keep ADDR 0|1            the keep bit of the globals word at ADDR
 *   poke ADDR VALUE          the 8 bytes at ADDR (any section holding it)
 *   region FIELD VALUE       a word of the region header (struct
 *                            pm_region): top, top_end, fast.N, bins.N,
 *                            smallmap, root.N (a root's ptr), or a byte
 *                            offset
 *   append KIND FLAGS ADDR LEN VALUE
 *                            a new section, every word VALUE, keep bits 0
 *   dup I VALUE              a copy of section I, every word VALUE
 *   hugelen KIND ADDR        a new section whose len + keep_bytes(len)
 *                            wraps to 0 (about 16 EiB)
 *   grow I LEN               section I's length raised to LEN, the new
 *                            bytes zero
 *   heapsplit N              N heap sections: the first as it was, then
 *                            one page every other page (needs top_end
 *                            past base + 2N pages)
 *
 * Raw crcs are written over whatever the edit left, so "hdr" of a crc or
 * layout field is overwritten: use it for the other fields.
 */
#include "../../src/ckpt.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* one section with its bytes (keep bitmap after them for globals) */
struct xsec {
	struct pmf_section s;
	unsigned char *d;
};

static struct pmf_header h;
static unsigned char *meta; /* h.meta_size bytes */
static struct xsec *sec;
static uint32_t nsec, cap;

static void die(const char *m)
{
	fprintf(stderr, "craft: %s\n", m);
	exit(2);
}

static uint64_t num(const char *s)
{
	char *e;
	uint64_t v = strtoull(s, &e, 0);
	if (!*s || *e)
		die("bad number");
	return v;
}

static int is_heap(const struct xsec *x) { return x->s.kind == PMF_SEC_HEAP; }

static uint64_t bytes_of(const struct xsec *x)
{
	return x->s.len + (is_heap(x) ? 0 : pmf_keep_bytes(x->s.len));
}

static struct xsec *add(void)
{
	if (nsec == cap) {
		cap = cap ? 2 * cap : 64;
		sec = realloc(sec, cap * sizeof *sec);
		if (!sec)
			die("out of memory");
	}
	memset(&sec[nsec], 0, sizeof sec[nsec]);
	return &sec[nsec++];
}

static void load(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die("cannot open the input");
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	unsigned char *b = malloc((size_t)n);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
		die("cannot read the input");
	fclose(f);
	if (n < PMF_HEADER_SIZE)
		die("not a checkpoint");
	memcpy(&h, b, sizeof h);
	meta = b + h.meta_off;
	for (uint32_t i = 0; i < h.nsections; i++) {
		struct xsec *x = add();
		memcpy(&x->s, b + h.table_off + i * sizeof x->s, sizeof x->s);
		x->d = b + x->s.data_off; /* keep bitmap follows for globals */
	}
}

static uint64_t crc(const void *p, uint64_t n)
{
	return pm__crc32c(0, p, (size_t)n);
}

/* Lay out as the writer does: globals in table order, heap page-aligned
 * after them; then every count, offset and crc. */
static void save(const char *path)
{
	uint64_t ps = h.page_size, table_end, cur, gb = 0, hb = 0;
	h.nsections = nsec;
	table_end = h.table_off + (uint64_t)nsec * sizeof(struct pmf_section);
	cur = table_end;
	for (uint32_t i = 0; i < nsec; i++) {
		struct xsec *x = &sec[i];
		if (is_heap(x))
			continue;
		x->s.data_off = cur;
		x->s.keep_off = cur + x->s.len;
		cur += bytes_of(x); /* wraps for hugelen, as it must */
		gb += x->s.len;
	}
	uint64_t globals_end = cur;
	h.heap_off = (cur + ps - 1) / ps * ps;
	cur = h.heap_off;
	for (uint32_t i = 0; i < nsec; i++) {
		struct xsec *x = &sec[i];
		if (!is_heap(x))
			continue;
		x->s.data_off = cur;
		x->s.keep_off = 0;
		x->s.keep_crc = 0;
		cur += x->s.len;
		hb += x->s.len;
	}
	h.file_size = cur;
	h.heap_bytes = hb;
	h.globals_bytes = gb;

	FILE *f = fopen(path, "wb");
	if (!f)
		die("cannot write the output");
	struct pmf_section *t = calloc(nsec, sizeof *t);
	for (uint32_t i = 0; i < nsec; i++) {
		struct xsec *x = &sec[i];
		uint64_t n = x->s.len > 1ull << 40 ? 0 : x->s.len; /* hugelen */
		x->s.data_crc = (uint32_t)crc(x->d, n);
		if (!is_heap(x))
			x->s.keep_crc = (uint32_t)crc(x->d + n,
						      n ? pmf_keep_bytes(n) : 0);
		t[i] = x->s;
	}
	h.meta_crc = (uint32_t)crc(meta, h.meta_size);
	h.table_crc = (uint32_t)crc(t, (uint64_t)nsec * sizeof *t);
	h.header_crc = (uint32_t)crc(&h, PMF_HEADER_CRC_OFF);
	fwrite(&h, sizeof h, 1, f);
	fwrite(meta, h.meta_size, 1, f);
	fwrite(t, sizeof *t, nsec, f);
	static const unsigned char zero[65536];
	for (uint32_t i = 0; i < nsec; i++)
		if (!is_heap(&sec[i]) && sec[i].s.len < 1ull << 40)
			fwrite(sec[i].d, bytes_of(&sec[i]), 1, f);
	if (h.heap_off > globals_end && globals_end >= table_end)
		fwrite(zero, h.heap_off - globals_end, 1, f);
	for (uint32_t i = 0; i < nsec; i++)
		if (is_heap(&sec[i]))
			fwrite(sec[i].d, sec[i].s.len, 1, f);
	if (fclose(f))
		die("cannot write the output");
}

/* The section holding the 8 bytes at addr, or die. */
static struct xsec *holding(uint64_t addr)
{
	for (uint32_t i = 0; i < nsec; i++) {
		struct xsec *x = &sec[i];
		if (addr >= x->s.addr && addr - x->s.addr + 8 <= x->s.len)
			return x;
	}
	die("no section holds that address");
	return NULL;
}

static unsigned char *fill(uint64_t len, uint64_t value)
{
	unsigned char *d = calloc(1, len + pmf_keep_bytes(len));
	if (!d)
		die("out of memory");
	for (uint64_t k = 0; k + 8 <= len; k += 8)
		memcpy(d + k, &value, 8);
	return d;
}

static size_t region_off(const char *f)
{
	const char *dot = strchr(f, '.');
	size_t i = dot ? (size_t)num(dot + 1) : 0;
	size_t n = dot ? (size_t)(dot - f) : strlen(f);
#define FIELD(name, off)                                                       \
	if (n == strlen(name) && !strncmp(f, name, n))                         \
		return (off);
	FIELD("top", offsetof(struct pm_region, p.top))
	FIELD("top_end", offsetof(struct pm_region, p.top_end))
	FIELD("smallmap", offsetof(struct pm_region, p.smallmap))
	FIELD("fast", offsetof(struct pm_region, p.fast) + 8 * i)
	FIELD("bins", offsetof(struct pm_region, p.bins) + 8 * i)
	FIELD("root", offsetof(struct pm_region, roots) +
			      i * sizeof(struct pm_root) +
			      offsetof(struct pm_root, ptr))
#undef FIELD
	return (size_t)num(f);
}

/* len + pmf_keep_bytes(len) == 2^64, len a multiple of 8 */
static uint64_t wrapping_len(void)
{
	for (uint64_t q = (1ull << 61) / 65; q < (1ull << 61) / 65 + 3; q++) {
		uint64_t r = 65 * q - (1ull << 61); /* len = 512q - 8r */
		uint64_t len = 512 * q - 8 * r;
		if (r < 64 && len + pmf_keep_bytes(len) == 0)
			return len;
	}
	die("no wrapping length");
	return 0;
}

static void heapsplit(uint32_t n)
{
	uint64_t ps = h.page_size, end = (h.top_end + ps - 1) & ~(ps - 1);
	struct xsec first = {{0}, NULL};
	uint32_t keep = 0;
	for (uint32_t i = 0; i < nsec; i++) {
		if (!is_heap(&sec[i]))
			sec[keep++] = sec[i];
		else if (!first.d)
			first = sec[i];
	}
	nsec = keep;
	*add() = first;
	uint64_t a = first.s.addr + first.s.len + ps;
	if (n < 1 || a + 2 * ps * (n - 1) > end)
		die("the heap is too small for that many sections");
	unsigned char *page = calloc(1, ps);
	for (uint32_t k = 1; k < n; k++, a += 2 * ps)
		*add() = (struct xsec){{PMF_SEC_HEAP, 0, a, ps, 0, 0, 0, 0, {0}},
				       page};
}

int main(int argc, char **argv)
{
	if (argc < 4)
		die("usage: craft IN OUT EDIT ARGS... (see the source)");
	load(argv[1]);
	const char *e = argv[3];
	char **a = argv + 4;
	int na = argc - 4;
#define NEED(k)                                                                \
	if (na != (k))                                                         \
		die("wrong number of arguments for the edit");
	if (!strcmp(e, "hdr")) {
		NEED(3);
		uint64_t off = num(a[0]), sz = num(a[1]), v = num(a[2]);
		if ((sz != 4 && sz != 8) || off + sz > PMF_HEADER_CRC_OFF)
			die("bad header field");
		memcpy((char *)&h + off, &v, sz);
	} else if (!strcmp(e, "sec")) {
		NEED(3);
		uint64_t i = num(a[0]), v = num(a[2]);
		if (i >= nsec)
			die("no such section");
		struct pmf_section *s = &sec[i].s;
		if (!strcmp(a[1], "kind"))
			s->kind = (uint32_t)v;
		else if (!strcmp(a[1], "flags"))
			s->flags = (uint32_t)v;
		else if (!strcmp(a[1], "addr"))
			s->addr = v;
		else if (!strcmp(a[1], "len") && v <= s->len)
			s->len = v;
		else
			die("sec: kind, flags, addr, or a len no longer than "
			    "the section's");
	} else if (!strcmp(e, "keep")) {
		NEED(2);
		uint64_t addr = num(a[0]);
		struct xsec *x = holding(addr);
		if (is_heap(x))
			die("heap sections have no keep bits");
		uint64_t w = (addr - x->s.addr) / 8;
		unsigned char *k = x->d + x->s.len + w / 8;
		*k = (unsigned char)(num(a[1]) ? *k | 1u << (w % 8)
					       : *k & ~(1u << (w % 8)));
	} else if (!strcmp(e, "poke")) {
		NEED(2);
		uint64_t addr = num(a[0]), v = num(a[1]);
		struct xsec *x = holding(addr);
		memcpy(x->d + (addr - x->s.addr), &v, 8);
	} else if (!strcmp(e, "region")) {
		NEED(2);
		uint64_t v = num(a[1]);
		memcpy(holding(h.base)->d + region_off(a[0]), &v, 8);
	} else if (!strcmp(e, "append")) {
		NEED(5);
		struct xsec *x = add();
		x->s.kind = (uint32_t)num(a[0]);
		x->s.flags = (uint32_t)num(a[1]);
		x->s.addr = num(a[2]);
		x->s.len = num(a[3]);
		x->d = fill(x->s.len, num(a[4]));
	} else if (!strcmp(e, "dup")) {
		NEED(2);
		uint64_t i = num(a[0]);
		if (i >= nsec || is_heap(&sec[i]))
			die("dup: no such globals section");
		struct xsec *x = add();
		x->s = sec[i].s;
		x->d = fill(x->s.len, num(a[1]));
	} else if (!strcmp(e, "hugelen")) {
		NEED(2);
		struct xsec *x = add();
		x->s.kind = (uint32_t)num(a[0]);
		x->s.addr = num(a[1]);
		x->s.len = wrapping_len();
		x->d = fill(0, 0);
	} else if (!strcmp(e, "grow")) {
		NEED(2);
		uint64_t i = num(a[0]), n = num(a[1]);
		if (i >= nsec)
			die("no such section");
		struct xsec *x = &sec[i];
		if (n < x->s.len || n > 1ull << 30)
			die("grow: the length must not shrink (or pass 1 GiB)");
		unsigned char *d = calloc(1, n + pmf_keep_bytes(n));
		if (!d)
			die("out of memory");
		memcpy(d, x->d, x->s.len); /* (a globals keep bitmap is lost) */
		x->d = d;
		x->s.len = n;
	} else if (!strcmp(e, "heapsplit")) {
		NEED(1);
		heapsplit((uint32_t)num(a[0]));
	} else {
		die("unknown edit");
	}
	save(argv[2]);
	return 0;
}
