/*
 * ckpt_tamper FILE FROM TO: in FILE's heap sections replace the first
 * occurrence of the string FROM by TO (same length), then recompute that
 * section's crc, the table crc and the header crc: a change every check
 * but the MAC accepts.
 * ckpt_tamper FILE --header OFF BYTE: set header byte OFF to BYTE
 * (decimal; ^BYTE: xor with it) and recompute the header crc.
 * Built with src/crc32c.c (tests/ckpt_mac.sh).
 */
#include "../../src/format.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

uint32_t pm__crc32c(uint32_t crc, const void *buf, size_t len);

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[2], "--header")) {
		struct pmf_header h;
		long off = atol(argv[3]);
		int fd = open(argv[1], O_RDWR);
		if (fd < 0 || off < 0 || off >= PMF_HEADER_CRC_OFF ||
		    pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
			return perror(argv[1]), 1;
		unsigned char *b = (unsigned char *)&h + off;
		if (argv[4][0] == '^') /* ^N: xor with N */
			*b ^= (unsigned char)atoi(argv[4] + 1);
		else
			*b = (unsigned char)atoi(argv[4]);
		h.header_crc = pm__crc32c(0, &h, PMF_HEADER_CRC_OFF);
		if (pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
			return perror("write"), 1;
		return 0;
	}
	if (argc != 4 || strlen(argv[2]) != strlen(argv[3]))
		return 2;
	int fd = open(argv[1], O_RDWR);
	struct stat st;
	if (fd < 0 || fstat(fd, &st))
		return perror(argv[1]), 1;
	size_t n = (size_t)st.st_size;
	unsigned char *f = malloc(n);
	if (!f || pread(fd, f, n, 0) != (ssize_t)n)
		return perror("read"), 1;
	struct pmf_header *h = (struct pmf_header *)f;
	struct pmf_section *sec = (struct pmf_section *)(f + h->table_off);
	size_t fl = strlen(argv[2]);
	for (uint32_t i = 0; i < h->nsections; i++) {
		if (sec[i].kind != PMF_SEC_HEAP)
			continue;
		unsigned char *d = f + sec[i].data_off;
		unsigned char *hit = memmem(d, sec[i].len, argv[2], fl);
		if (!hit)
			continue;
		memcpy(hit, argv[3], fl);
		sec[i].data_crc = pm__crc32c(0, d, sec[i].len);
		h->table_crc = pm__crc32c(0, sec, h->nsections * sizeof *sec);
		h->header_crc = pm__crc32c(0, h, PMF_HEADER_CRC_OFF);
		if (pwrite(fd, f, n, 0) != (ssize_t)n)
			return perror("write"), 1;
		printf("changed section %u at file offset %zu\n", i,
		       (size_t)(hit - f));
		return 0;
	}
	fprintf(stderr, "%s not found in the heap sections\n", argv[2]);
	return 1;
}
