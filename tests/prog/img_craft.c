/*
 * img_craft - damage a process image the way a failing disk or a buggy
 * writer would, keeping every checksum right, so that only the reader's
 * own checks stand between the damage and the resume (tests/attack_img_*).
 *
 *   img_craft FILE rec KIND OFF SIZE VALUE
 *       in the first section of KIND (format.h's numbers), set the
 *       SIZE-byte (1, 2, 4, 8) little-endian integer at OFF of its data
 *       to VALUE; recompute that section's crc, the table's and the
 *       header's
 *   img_craft FILE sec KIND NTH FIELD SIZE VALUE
 *       in the NTH (0-based) table entry of KIND, set the field at byte
 *       FIELD of struct pmf_section; recompute the table and header crcs
 *   img_craft FILE hdr OFF SIZE VALUE
 *       a header field; recompute the header crc
 *   img_craft FILE abs OFF SIZE VALUE
 *       the integer at file offset OFF; then every crc recomputed that
 *       the (possibly changed) header still lets it find: each section's
 *       data crc, the table's, the metadata's, the header's
 *   img_craft FILE get KIND OFF SIZE
 *       print the integer (decimal) at OFF in the first section of KIND
 *   img_craft FILE addr KIND NTH
 *       print addr and len (hex) of the NTH section of KIND
 *   img_craft FILE vma NAME
 *       print the index of the first mapping whose name contains NAME
 *
 * VALUE: a number (strtoull base 0), or +N / -N (added to the current
 * value), or ^N (xor).  Built with src/crc32c.c.
 */
#include "../../src/format.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

uint32_t pm__crc32c(uint32_t crc, const void *buf, size_t len);

static unsigned char *f;
static size_t n;
static struct pmf_header *h;
static struct pmf_section *sec;

static uint64_t get(const unsigned char *p, int size)
{
	uint64_t v = 0;
	memcpy(&v, p, (size_t)size);
	return v;
}

static void put(unsigned char *p, int size, const char *val)
{
	uint64_t cur = get(p, size), v;
	if (val[0] == '+')
		v = cur + strtoull(val + 1, NULL, 0);
	else if (val[0] == '-')
		v = cur - strtoull(val + 1, NULL, 0);
	else if (val[0] == '^')
		v = cur ^ strtoull(val + 1, NULL, 0);
	else
		v = strtoull(val, NULL, 0);
	memcpy(p, &v, (size_t)size);
}

static struct pmf_section *find(uint32_t kind, long nth)
{
	for (uint32_t i = 0; i < h->nsections; i++)
		if (sec[i].kind == kind && nth-- == 0)
			return &sec[i];
	fprintf(stderr, "img_craft: no section of kind %u\n", kind);
	exit(2);
}

static void fix_crcs(void)
{
	h->table_crc = pm__crc32c(0, sec, h->nsections * sizeof *sec);
	h->header_crc = pm__crc32c(0, h, PMF_HEADER_CRC_OFF);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int fd = open(argv[1], O_RDWR);
	struct stat st;
	if (fd < 0 || fstat(fd, &st))
		return perror(argv[1]), 1;
	n = (size_t)st.st_size;
	f = malloc(n);
	if (!f || pread(fd, f, n, 0) != (ssize_t)n)
		return perror("read"), 1;
	h = (struct pmf_header *)f;
	sec = (struct pmf_section *)(f + h->table_off);
	const char *op = argv[2];
	if (!strcmp(op, "rec") && argc == 7) {
		struct pmf_section *s = find((uint32_t)atoi(argv[3]), 0);
		size_t off = strtoull(argv[4], NULL, 0);
		int size = atoi(argv[5]);
		if (off + (size_t)size > s->len)
			return fprintf(stderr, "img_craft: offset past the record\n"), 2;
		put(f + s->data_off + off, size, argv[6]);
		s->data_crc = pm__crc32c(0, f + s->data_off, s->len);
		fix_crcs();
	} else if (!strcmp(op, "sec") && argc == 8) {
		struct pmf_section *s = find((uint32_t)atoi(argv[3]), atol(argv[4]));
		put((unsigned char *)s + strtoull(argv[5], NULL, 0), atoi(argv[6]),
		    argv[7]);
		fix_crcs();
	} else if (!strcmp(op, "hdr") && argc == 6) {
		put(f + strtoull(argv[3], NULL, 0), atoi(argv[4]), argv[5]);
		h->header_crc = pm__crc32c(0, h, PMF_HEADER_CRC_OFF);
	} else if (!strcmp(op, "abs") && argc == 6) {
		size_t off = strtoull(argv[3], NULL, 0);
		int size = atoi(argv[4]);
		if (off + (size_t)size > n)
			return fprintf(stderr, "img_craft: offset past the file\n"), 2;
		put(f + off, size, argv[5]);
		uint64_t tend = h->table_off + (uint64_t)h->nsections * sizeof *sec;
		if (h->table_off <= n && tend <= n && tend >= h->table_off) {
			sec = (struct pmf_section *)(f + h->table_off);
			for (uint32_t i = 0; i < h->nsections; i++)
				if (sec[i].data_off <= n && sec[i].len <= n - sec[i].data_off)
					sec[i].data_crc = pm__crc32c(0, f + sec[i].data_off,
								     sec[i].len);
			h->table_crc = pm__crc32c(0, sec, h->nsections * sizeof *sec);
		}
		if (h->meta_off <= n && h->meta_size <= n - h->meta_off)
			h->meta_crc = pm__crc32c(0, f + h->meta_off, h->meta_size);
		h->header_crc = pm__crc32c(0, h, PMF_HEADER_CRC_OFF);
	} else if (!strcmp(op, "get") && argc == 6) {
		struct pmf_section *s = find((uint32_t)atoi(argv[3]), 0);
		printf("%llu\n", (unsigned long long)get(f + s->data_off +
							 strtoull(argv[4], NULL, 0),
							 atoi(argv[5])));
		return 0;
	} else if (!strcmp(op, "addr") && argc == 5) {
		struct pmf_section *s = find((uint32_t)atoi(argv[3]), atol(argv[4]));
		printf("%llx %llx\n", (unsigned long long)s->addr,
		       (unsigned long long)s->len);
		return 0;
	} else if (!strcmp(op, "vma") && argc == 4) {
		struct pmf_section *v = find(PMF_SEC_VMAS, 0);
		struct pmf_section *s = find(PMF_SEC_STRINGS, 0);
		const struct pmf_vma *vm = (const void *)(f + v->data_off);
		const char *str = (const char *)(f + s->data_off);
		for (uint64_t i = 0; i < v->len / sizeof *vm; i++)
			if (vm[i].name != PMF_NO_NAME && vm[i].name < s->len &&
			    strstr(str + vm[i].name, argv[3])) {
				printf("%llu\n", (unsigned long long)i);
				return 0;
			}
		return 1;
	} else {
		return 2;
	}
	if (pwrite(fd, f, n, 0) != (ssize_t)n)
		return perror("write"), 1;
	return 0;
}
