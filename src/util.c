/*
 * util.c - text without stdio: a tiny formatter, the per-thread error
 * message behind pm_errmsg(), pm_strerror(), and one-line warnings.
 *
 * Nothing here allocates; the error message lives in a __thread buffer
 * (initial-exec TLS, so it exists before any malloc).
 */
#include "internal.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>

static __thread char errmsg[512];

static size_t put(char *buf, size_t len, size_t at, char c)
{
	if (at + 1 < len)
		buf[at] = c;
	return at + 1;
}

/* A conversion's flags and width: '0' pads with zeros (after any sign or
 * 0x), '-' pads on the right, '#' puts 0x before a non-zero hex number,
 * as printf does. */
struct spec {
	int width, zero, left, alt;
};

static size_t put_num(char *buf, size_t len, size_t at, unsigned long long v,
		      unsigned base, const char *prefix, const struct spec *sp)
{
	char tmp[24];
	int n = 0, np = (int)strlen(prefix);
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	int padn = sp->width - n - np;
	if (!sp->left && !sp->zero)
		for (; padn > 0; padn--)
			at = put(buf, len, at, ' ');
	while (*prefix)
		at = put(buf, len, at, *prefix++);
	if (!sp->left)
		for (; padn > 0; padn--)
			at = put(buf, len, at, '0');
	while (n)
		at = put(buf, len, at, tmp[--n]);
	for (; padn > 0; padn--)
		at = put(buf, len, at, ' ');
	return at;
}

static size_t put_str(char *buf, size_t len, size_t at, const char *s,
		      const struct spec *sp)
{
	int n = (int)strlen(s);
	for (int w = n; w < sp->width && !sp->left; w++)
		at = put(buf, len, at, ' ');
	while (*s)
		at = put(buf, len, at, *s++);
	for (int w = n; w < sp->width && sp->left; w++)
		at = put(buf, len, at, ' ');
	return at;
}

size_t pm__vfmt(char *buf, size_t len, const char *f, va_list ap)
{
	size_t at = 0;
	for (; *f; f++) {
		if (*f != '%') {
			at = put(buf, len, at, *f);
			continue;
		}
		struct spec sp = {0, 0, 0, 0};
		int lng = 0;
		for (f++; *f == '0' || *f == '-' || *f == '#'; f++)
			*(*f == '0' ? &sp.zero : *f == '-' ? &sp.left : &sp.alt) = 1;
		while (*f >= '0' && *f <= '9')
			sp.width = sp.width * 10 + (*f++ - '0');
		while (*f == 'l' || *f == 'z')
			lng++, f++;
		switch (*f) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			at = put_str(buf, len, at, s ? s : "(null)", &sp);
			break;
		}
		case 'c':
			at = put(buf, len, at, (char)va_arg(ap, int));
			break;
		case 'd':
		case 'i': {
			long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
			unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
						     : (unsigned long long)v;
			at = put_num(buf, len, at, u, 10, v < 0 ? "-" : "", &sp);
			break;
		}
		case 'u':
		case 'o':
		case 'x': {
			unsigned long long v = lng ? va_arg(ap, unsigned long long)
						   : va_arg(ap, unsigned);
			at = put_num(buf, len, at, v,
				     *f == 'x' ? 16 : *f == 'o' ? 8 : 10,
				     *f == 'x' && sp.alt && v ? "0x" : "", &sp);
			break;
		}
		case 'p': {
			uintptr_t v = (uintptr_t)va_arg(ap, void *);
			if (v) /* glibc's spelling of NULL otherwise */
				at = put_num(buf, len, at, v, 16, "0x", &sp);
			else
				at = put_str(buf, len, at, "(nil)", &sp);
			break;
		}
		case '%':
			at = put(buf, len, at, '%');
			break;
		case '\0':
			f--;
			break;
		default:
			at = put(buf, len, at, '%');
			at = put(buf, len, at, *f);
		}
	}
	if (len)
		buf[at < len ? at : len - 1] = '\0';
	return at;
}

size_t pm__fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = pm__vfmt(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

int pm__err(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pm__vfmt(errmsg, sizeof errmsg, fmt, ap);
	va_end(ap);
	return code;
}

void pm__warn(const char *fmt, ...)
{
	char line[512];
	size_t n = pm__fmt(line, sizeof line, "pmalloc: ");
	va_list ap;
	va_start(ap, fmt);
	n += pm__vfmt(line + n, sizeof line - n, fmt, ap);
	va_end(ap);
	if (n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	pm__write_all(2, line, n);
}

PM_EXPORT const char *pm_errmsg(void)
{
	return errmsg;
}

PM_EXPORT const char *pm_strerror(int code)
{
	switch (code) {
	case 0:
		return "success";
#define PM_ERR_CASE_(name, value, msg)                                         \
	case value:                                                            \
		return msg;
		PM_ERRNO_MAP(PM_ERR_CASE_)
#undef PM_ERR_CASE_
	}
	if (code < 0 && code > -4096)
		return strerror(-code);
	return "unknown error";
}
