/*
 * interp_tcl FILE - an embedded Tcl interpreter, restored from FILE when
 * there is one, else built; each run bumps a counter and checkpoints.
 * Tcl keeps per-thread data under pthread keys whose numbers live in its
 * globals: the restore must re-create those keys (src/tsd.c).
 */
#include <stdio.h>
#include <tcl.h>
#include "pmalloc.h"

static Tcl_Interp *interp;

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	if (pm_restore(argv[1]) != 0) {
		Tcl_FindExecutable(argv[0]);
		interp = Tcl_CreateInterp();
		if (Tcl_Eval(interp, "set d [dict create]; "
				     "for {set i 0} {$i < 100000} {incr i} "
				     "{dict set d k$i $i}; "
				     "proc f {} {global d; return [dict size $d]}; "
				     "set c 0") != TCL_OK)
			return 1;
	}
	if (Tcl_Eval(interp, "incr c; list [f] $c [dict get $d k777] "
			     "[format %.3f 3.14159]") != TCL_OK) {
		fprintf(stderr, "tcl: %s\n", Tcl_GetStringResult(interp));
		return 1;
	}
	printf("%s\n", Tcl_GetStringResult(interp));
	fflush(stdout);
	if (pm_checkpoint(argv[1])) {
		fprintf(stderr, "checkpoint: %s\n", pm_errmsg());
		return 1;
	}
	return 0;
}
