/* region_offs.c - byte offsets of region-header and thread-cache fields,
 * for tests/attack_crafted_more.sh: "name offset" lines. */
#include "../../src/internal.h"
#include "../../src/tcache.h"

#include <stddef.h>
#include <stdio.h>

int main(void)
{
	printf("tcaches %zu\n", offsetof(struct pm_region, tcaches));
	printf("nkeys %zu\n", offsetof(struct pm_region, nkeys));
	printf("tc_next %zu\n", offsetof(struct pm_tcache, next));
	printf("tc_head %zu\n", offsetof(struct pm_tcache, lists[0].head));
	printf("tc_stride %zu\n", sizeof(struct pm_tc_list));
	printf("bins %zu\n", offsetof(struct pm_region, p.bins));
	printf("nbins %d\n", PM_NBINS);
	return 0;
}
