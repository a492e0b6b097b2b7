/*
 * tsd.c - pthread keys across a restore.
 *
 * A library that keeps per-thread data under a pthread key (Tcl does)
 * saves the key's number in its globals.  A restore brings the globals
 * back, but keys are the C library's, not memory: in the fresh process the
 * key may not exist, and pthread_setspecific() on it fails.  So a
 * checkpoint records, in the region header, which keys were allocated and
 * the checkpointing thread's value for each; a restore creates the keys
 * this process lacks (glibc hands out the lowest free key, so creating
 * keys until the wanted one appears, then deleting the fillers, gets it)
 * and gives the restoring thread the recorded values that point into the
 * persistent heap.  Keys this process already had keep their destructors;
 * their values are replaced only where the restore replaced the memory
 * they pointed to (NULL, or an address in the persistent heap: blocks a
 * library allocated before main() in this process, overwritten by the
 * checkpointed ones); values pointing elsewhere are the run-time's, and
 * pmalloc's own key is never touched.  Destructors of re-created keys are
 * not known, so they have none.
 *
 * Probing: pthread_setspecific(k, pthread_getspecific(k)) fails with
 * EINVAL exactly when k is not allocated, and writes nothing otherwise.
 */
#include "internal.h"
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

#define NKEYMAX (PM_TSD_WORDS * 64)

void pm__tsd_probe(uint64_t bits[PM_TSD_WORDS])
{
	memset(bits, 0, PM_TSD_WORDS * sizeof bits[0]);
	for (unsigned k = 0; k < NKEYMAX && k < PTHREAD_KEYS_MAX; k++) {
		void *v = pthread_getspecific((pthread_key_t)k);
		/* a NULL value never allocates a second-level block */
		if (pthread_setspecific((pthread_key_t)k, v) == 0)
			bits[k / 64] |= 1ULL << (k % 64);
	}
}

void pm__tsd_record(void)
{
	uint64_t bits[PM_TSD_WORDS];
	if (!pm__region)
		return;
	pm__tsd_probe(bits);
	uint32_t n = 0;
	for (unsigned k = 0; k < NKEYMAX && n < PM_NKEYS; k++) {
		if (!(bits[k / 64] >> (k % 64) & 1))
			continue;
		void *v = pthread_getspecific((pthread_key_t)k);
		pm__region->keys[n].key = k;
		pm__region->keys[n].has_value = v != NULL;
		pm__region->keys[n].value = (uintptr_t)v;
		n++;
	}
	pm__region->nkeys = n;
}

void pm__tsd_restore(const uint64_t before[PM_TSD_WORDS])
{
	pthread_key_t fillers[NKEYMAX];
	unsigned nfill = 0;
	uint32_t n = pm__region->nkeys;
	if (n > PM_NKEYS)
		return; /* not a table we wrote */
	for (uint32_t i = 0; i < n; i++) {
		struct pm_tsd_key e = pm__region->keys[i];
		if (e.key >= NKEYMAX || pm__tc_is_key(e.key))
			continue;
		int useful = e.has_value && pm__in_persistent(e.value);
		if (before[e.key / 64] >> (e.key % 64) & 1) {
			pthread_key_t k = (pthread_key_t)e.key;
			uintptr_t cur = (uintptr_t)pthread_getspecific(k);
			/* cur in the persistent heap: the restore replaced
			 * what it pointed to, so the recorded value (or
			 * nothing) is the only one that makes sense */
			if (pm__in_persistent(cur))
				pthread_setspecific(
					k, useful ? (void *)e.value : NULL);
			else if (useful && !cur)
				pthread_setspecific(k, (void *)e.value);
			continue;
		}
		/* create keys until this one exists (lowest free first) */
		pthread_key_t k;
		int have = 0;
		while (nfill < NKEYMAX && pthread_key_create(&k, NULL) == 0) {
			if (k == e.key) {
				have = 1;
				break;
			}
			if (k > e.key) { /* it was taken meanwhile: give up */
				pthread_key_delete(k);
				break;
			}
			fillers[nfill++] = k;
		}
		if (have && useful)
			pthread_setspecific(k, (void *)(uintptr_t)e.value);
	}
	while (nfill)
		pthread_key_delete(fillers[--nfill]);
}
