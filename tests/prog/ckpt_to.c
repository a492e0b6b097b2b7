/* ckpt_to PATH: checkpoint to PATH; print the code and the message. */
#include <stdio.h>
#include "pmalloc.h"

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	int rc = pm_checkpoint(argv[1]);
	printf("%d %s\n", rc, rc ? pm_errmsg() : "ok");
	return rc ? 1 : 0;
}
