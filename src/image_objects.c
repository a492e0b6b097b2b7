/*
 * image_objects.c - a resume's check of the loaded objects (docs/IMAGE.md
 * section 4, step 2): the executable and every object loaded here against
 * the image's list, by build-id, size, mtime and load address; the
 * objects the image had loaded later (dlopen) found unchanged on disk.
 * Split from image_resume.c, which calls pm__rs_check_objects.
 */
#include "image_resume.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

typedef unsigned long long ull;

/* Both have a build-id, and it is the same one. */
static int same_build_id(const struct pmf_object *f, const struct pm_object *c)
{
	return f->build_id_len && c->build_id_len &&
	       f->build_id_len == c->build_id_len &&
	       !memcmp(f->build_id, c->build_id, c->build_id_len);
}

static int same_object(const struct pmf_object *f, const struct pm_object *c)
{
	/* all three: an object is mapped from its file again, so one
	 * patched in place (same size and build-id, a new mtime) is
	 * another object */
	int ids = f->build_id_len && c->build_id_len;
	if (ids && (f->build_id_len != c->build_id_len ||
		    memcmp(f->build_id, c->build_id, c->build_id_len)))
		return 0;
	/* (size and mtime 0: the imaging process could not stat the
	 * object's name, a relative one after a chdir; its build-id
	 * stands for it then) */
	if (ids && !f->size && !f->mtime)
		return 1;
	return f->size == c->size && f->mtime == c->mtime;
}

/* The GNU build-id of the ELF file at path, as objects.c reads it from a
 * loaded object's notes (at most 20 bytes): its length, 0 when the file
 * has none or is no 64-bit ELF file. */
static uint32_t file_build_id(const char *path, uint8_t *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return 0;
	Elf64_Ehdr eh;
	Elf64_Phdr ph[64];
	unsigned char notes[4096];
	uint32_t got = 0;
	if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof ph[0] || eh.e_phnum > 64 ||
	    pread(fd, ph, eh.e_phnum * sizeof ph[0], (off_t)eh.e_phoff) !=
		    (ssize_t)(eh.e_phnum * sizeof ph[0]))
		eh.e_phnum = 0;
	for (int i = 0; i < eh.e_phnum && !got; i++) {
		if (ph[i].p_type != PT_NOTE || ph[i].p_filesz > sizeof notes ||
		    pread(fd, notes, ph[i].p_filesz, (off_t)ph[i].p_offset) !=
			    (ssize_t)ph[i].p_filesz)
			continue;
		uint64_t al = ph[i].p_align == 8 ? 8 : 4, at = 0;
		uint64_t end = ph[i].p_filesz;
		while (at + sizeof(Elf64_Nhdr) <= end) {
			Elf64_Nhdr nh;
			memcpy(&nh, notes + at, sizeof nh);
			uint64_t name = at + sizeof nh;
			uint64_t desc = name + ((nh.n_namesz + al - 1) & ~(al - 1));
			uint64_t next = desc + ((nh.n_descsz + al - 1) & ~(al - 1));
			if (next > end || next <= at)
				break;
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    !memcmp(notes + name, "GNU", 4)) {
				got = nh.n_descsz < 20 ? nh.n_descsz : 20;
				memcpy(out, notes + desc, got);
				break;
			}
			at = next;
		}
	}
	close(fd);
	return got;
}

/* The executable must be the image's; every object loaded here must be
 * the image's at the same address; an object the image had loaded later
 * (dlopen) and this process has not is mapped from its file, which must
 * not have changed (size, mtime; the mappings' device and inode are
 * checked when they are opened). */
int pm__rs_check_objects(struct rs *r)
{
	const struct pmf_object *f = r->ck.obj;
	if (r->ncur < 1 || !same_object(&f[0], &r->cur[0]) ||
	    f[0].load != r->cur[0].load)
		return pm__err(PM_EEXEC, "the image was made by %s (%llu bytes, "
					 "mtime %llu); this is %s (%llu bytes, "
					 "mtime %llu)%s",
			       f[0].path, (ull)f[0].size, (ull)f[0].mtime,
			       r->ncur > 0 ? r->cur[0].path : "?",
			       (ull)(r->ncur > 0 ? r->cur[0].size : 0),
			       (ull)(r->ncur > 0 ? r->cur[0].mtime : 0),
			       r->ncur > 0 && f[0].load != r->cur[0].load
				       ? ", loaded elsewhere"
			       : r->ncur > 0 && same_build_id(&f[0], &r->cur[0])
				       ? ", rewritten since"
			       : r->ncur > 0 && f[0].build_id_len &&
					       r->cur[0].build_id_len
				       ? ", another build (build-id)"
				       : "");
	for (int j = 1; j < r->ncur; j++) {
		const struct pm_object *c = &r->cur[j];
		const struct pmf_object *o = NULL;
		for (uint32_t i = 1; i < r->ck.h.nobjects && !o; i++)
			if (!strcmp(f[i].path, c->path))
				o = &f[i];
		if (!o)
			return pm__err(PM_ELAYOUT, "%s is loaded here, not in "
						   "the image",
				       c->path);
		if (o->load != c->load || !same_object(o, c))
			return pm__err(PM_ELAYOUT, "%s differs from the "
						   "image's (%s)",
				       c->path,
				       o->load != c->load ? "loaded elsewhere"
				       : same_build_id(o, c)
					       ? "rewritten since: size or mtime"
					       : "another build");
	}
	for (uint32_t i = 1; i < r->ck.h.nobjects; i++) {
		int here = 0;
		for (int j = 1; j < r->ncur && !here; j++)
			here = !strcmp(f[i].path, r->cur[j].path);
		struct stat st;
		uint8_t id[32];
		if (!here && f[i].path[0] &&
		    (stat(f[i].path, &st) != 0 ||
		     (uint64_t)st.st_size != f[i].size ||
		     (uint64_t)st.st_mtime != f[i].mtime ||
		     /* rewritten in place within the second, or with its
		      * mtime put back: its build-id tells */
		     (f[i].build_id_len &&
		      (file_build_id(f[i].path, id) != f[i].build_id_len ||
		       memcmp(id, f[i].build_id, f[i].build_id_len)))))
			return pm__err(PM_ELAYOUT, "%s, loaded by the imaged "
						   "process, is gone or "
						   "changed",
				       f[i].path);
	}
	return 0;
}
