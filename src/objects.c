/*
 * objects.c - the identity of the loaded objects, written into each
 * checkpoint and compared by each restore: load address, path, size,
 * mtime and GNU build-id (pm__objects); and the executable's own file
 * (pm__exe_file), found even when the program was started as
 * `ld.so prog`.
 *
 * Nothing here uses stdio, malloc or getenv.
 */
#include "globals.h"
#include <elf.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/stat.h>


static int exe_open_path(const char *path)
{
	int broken;
	const struct objan *x = pm__exe_objan(&broken);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ElfW(Ehdr) e;
	if (pread_all(fd, &e, sizeof e, 0) || memcmp(e.e_ident, ELFMAG, SELFMAG) ||
	    e.e_phnum != x->phnum || e.e_phentsize != sizeof(ElfW(Phdr)))
		goto bad;
	for (int i = 0; i < x->phnum; i++) {
		ElfW(Phdr) p;
		if (pread_all(fd, &p, sizeof p, (off_t)(e.e_phoff + i * sizeof p)) ||
		    memcmp(&p, &x->phdr[i], sizeof p))
			goto bad;
	}
	return fd;
bad:
	close(fd);
	return -1;
}

/* The path of the file whose program headers are the ones mapped, into
 * buf (absolute when it can be made so): /proc/self/exe, or, when the
 * program was started as `ld.so prog` (/proc/self/exe is then the loader),
 * the name it was started by.  Returns an open descriptor or -1. */
int pm__exe_file(char *buf, size_t n)
{
	ssize_t r = readlink("/proc/self/exe", buf, n - 1);
	int fd = exe_open_path("/proc/self/exe");
	buf[r > 0 ? r : 0] = '\0';
	if (fd >= 0 || !program_invocation_name || !program_invocation_name[0])
		return fd;
	const char *p = program_invocation_name;
	size_t at = 0;
	if (p[0] != '/' && getcwd(buf, n - 1)) {
		at = strlen(buf);
		if (at && buf[at - 1] != '/' && at + 1 < n)
			buf[at++] = '/';
	}
	while (*p && at + 1 < n)
		buf[at++] = *p++;
	buf[at] = '\0';
	return exe_open_path(buf);
}

/* ---- loaded objects ------------------------------------------------------ */

static uint32_t build_id(uintptr_t bias, const ElfW(Phdr) *ph, int n,
			 uint8_t *out)
{
	for (int i = 0; i < n; i++) {
		if (ph[i].p_type != PT_NOTE)
			continue;
		uintptr_t p = bias + ph[i].p_vaddr, end = p + ph[i].p_memsz;
		uintptr_t al = ph[i].p_align == 8 ? 8 : 4;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			uintptr_t name = p + sizeof *nh;
			uintptr_t desc = name + align_up(nh->n_namesz, al);
			uintptr_t next = desc + align_up(nh->n_descsz, al);
			if (next > end || next <= p)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    !memcmp((const void *)name, "GNU", 4)) {
				uint32_t len = nh->n_descsz < 20 ? nh->n_descsz : 20;
				memcpy(out, (const void *)desc, len);
				return len;
			}
			p = next;
		}
	}
	return 0;
}

struct objctx {
	struct pm_object *out;
	int max, n, seen;
	uintptr_t vdso;
};

static void copy_path(char *dst, const char *src)
{
	size_t i;
	for (i = 0; src[i] && i + 1 < sizeof ((struct pm_object *)0)->path; i++)
		dst[i] = src[i];
	dst[i] = '\0';
}

static int obj_cb(struct dl_phdr_info *info, size_t size, void *vctx)
{
	struct objctx *c = vctx;
	int first = c->seen++ == 0;
	(void)size;
	if (!first && (!info->dlpi_name[0] || info->dlpi_addr == c->vdso))
		return 0; /* the vdso: not a file, the kernel's business */
	if (c->n >= c->max)
		return 1;
	struct pm_object *o = &c->out[c->n++];
	memset(o, 0, sizeof *o);
	o->load = info->dlpi_addr;
	if (first && !info->dlpi_name[0]) {
		int fd = pm__exe_file(o->path, sizeof o->path);
		if (fd >= 0)
			close(fd);
	} else {
		copy_path(o->path, info->dlpi_name);
	}
	struct stat st;
	if (o->path[0] && stat(o->path, &st) == 0) {
		o->size = (uint64_t)st.st_size;
		o->mtime = (uint64_t)st.st_mtime;
	}
	o->build_id_len = build_id(info->dlpi_addr, info->dlpi_phdr,
				   info->dlpi_phnum, o->build_id);
	return 0;
}

int pm__objects(struct pm_object *out, int max)
{
	struct objctx c = {out, max, 0, 0, getauxval(AT_SYSINFO_EHDR)};
	if (max <= 0)
		return 0;
	pm__globals_ensure(); /* pm__exe_file compares program headers */
	dl_iterate_phdr(obj_cb, &c);
	return c.n;
}

/* The same list without the loader's lock, for an image taken in a signal
 * handler (the interrupted code may hold that lock, inside dlopen): the
 * loader's public list of objects, _r_debug.r_map, read only when the
 * loader says it is consistent (r_state RT_CONSISTENT).  Each library's
 * program headers are read from its ELF header at its load address (the
 * first segment maps the file's start there); the executable's come from
 * the auxiliary vector.  -EAGAIN while the loader is changing the list. */
extern struct r_debug _r_debug __attribute__((weak));

int pm__objects_nolock(struct pm_object *out, int max)
{
	uintptr_t vdso = getauxval(AT_SYSINFO_EHDR);
	if (!&_r_debug || _r_debug.r_state != RT_CONSISTENT)
		return -EAGAIN;
	int n = 0, first = 1;
	for (const struct link_map *l = _r_debug.r_map; l && n < max;
	     l = l->l_next, first = 0) {
		const char *name = l->l_name ? l->l_name : "";
		if (!first && (!name[0] || l->l_addr == vdso))
			continue;
		struct pm_object *o = &out[n++];
		memset(o, 0, sizeof *o);
		o->load = l->l_addr;
		const ElfW(Phdr) *ph;
		int phnum;
		if (first) {
			int fd = pm__exe_file(o->path, sizeof o->path);
			if (fd >= 0)
				close(fd);
			ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
			phnum = (int)getauxval(AT_PHNUM);
		} else {
			ElfW(Ehdr) e;
			copy_path(o->path, name);
			if (pm__copy_checked(&e, (const void *)l->l_addr, sizeof e) ||
			    memcmp(e.e_ident, ELFMAG, SELFMAG) ||
			    e.e_phentsize != sizeof(ElfW(Phdr)))
				continue;
			ph = (const ElfW(Phdr) *)(l->l_addr + e.e_phoff);
			phnum = e.e_phnum;
		}
		struct stat st;
		if (o->path[0] && stat(o->path, &st) == 0) {
			o->size = (uint64_t)st.st_size;
			o->mtime = (uint64_t)st.st_mtime;
		}
		o->build_id_len = build_id(l->l_addr, ph, phnum, o->build_id);
	}
	return _r_debug.r_state == RT_CONSISTENT ? n : -EAGAIN;
}
