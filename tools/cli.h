/*
 * cli.h - what the CLI's files share (tools/pmalloc.c, tools/cli_image.c).
 */
#ifndef PM_CLI_H
#define PM_CLI_H

#include "../src/image.h"

#include <stdio.h>

void cli_print_size(uint64_t n);
/* The image part of `pmalloc info`: process facts and mappings. */
void cli_image_info(const struct pm__ckpt *ck, const struct pm__image *im,
		    int verbose);

/* `pmalloc resume [--no-verify] IMAGE`: `pmalloc run --resume IMAGE --
 * ARGV` with the image's own command line (run is cmd_run). */
int cli_resume(int argc, char **argv, int (*run)(int, char **));

/* run --resume: a program into which the loader will not preload pmalloc
 * (set-user-ID or set-group-ID for this user, statically linked) cannot
 * say it was not resumed; this says it for it, on stderr, in the
 * library's words.  file: the path the exec will run (or a name to find
 * in PATH).  A script (a wrapper that execs the imaged program) gets a
 * hint naming the image's executable when image is not NULL. */
void cli_resume_precheck(const char *file, const char *image);

/* The signal --image-every sends when --image-on names none. */
#define CLI_EVERY_SIGNAL "RTMIN+6"
/* PMALLOC_IMAGE (absolute) and PMALLOC_IMAGE_ON; 0 or -1 (said). */
int cli_set_image_env(const char *image, const char *sig);
/* Run argv[0] as a child and send it the image signal every period
 * seconds until it ends; its exit status (128+N if killed by N). */
int cli_run_every(char **argv, double period);

#endif /* PM_CLI_H */
