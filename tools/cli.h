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

#endif /* PM_CLI_H */
