/*
 * alloc.c - the heap as a whole: the two arenas behind their locks, the
 * slow paths of the malloc family, quiescing for checkpoint and fork, the
 * restore hooks, named roots, and the pm_ entry points.
 *
 * Locks are per-process state and live here, outside the region: a
 * restored heap never carries a lock word from another process.
 * Invariant: no lock is held across a call that can re-enter malloc.
 */
#include "alloc.h"
#include "vg.h"
#include "os_sync.h"
#include <errno.h>
#include <string.h>

uintptr_t pm__pbase PM_STATE, pm__plen PM_STATE;

/* ---- locks: a three-state futex mutex (0 free, 1 held, 2 contended) ---- */

static int plock PM_STATE, tlock PM_STATE;

/* Set in the thread that runs fork() between our prepare and parent/child
 * handlers: it holds both locks already, and fork handlers registered
 * before ours run after our prepare (and before our parent/child), so a
 * malloc or free in them must not wait for itself. */
static __thread int tls_forking;

static void lock_slow(int *l)
{
	for (int i = 0; i < 100; i++) {
		__builtin_ia32_pause();
		int z = 0;
		if (__atomic_load_n(l, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(l, &z, 1, 0, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return;
	}
	/* from here on we hold it as "contended", so unlock always wakes */
	while (__atomic_exchange_n(l, 2, __ATOMIC_ACQUIRE) != 0)
		pm__os_futex_wait(l, 2); /* leaves errno alone */
}

static inline void lock(int *l)
{
	if (unlikely(tls_forking))
		return;
	int z = 0;
	if (likely(__atomic_compare_exchange_n(l, &z, 1, 0, __ATOMIC_ACQUIRE,
					       __ATOMIC_RELAXED)))
		return;
	lock_slow(l);
}

static inline void unlock(int *l)
{
	if (unlikely(tls_forking))
		return;
	if (unlikely(__atomic_exchange_n(l, 0, __ATOMIC_RELEASE) == 2))
		pm__os_futex_wake(l, 1);
}

void pm__lock_persistent(void) { lock(&plock); }
void pm__unlock_persistent(void) { unlock(&plock); }
void pm__lock_transient(void) { lock(&tlock); }
void pm__unlock_transient(void) { unlock(&tlock); }

/* ---- routing ------------------------------------------------------------ */

/* NULL only for a transient request when that arena cannot be made */
static inline struct pm_arena *arena_for(int transient)
{
	if (transient) {
		struct pm_arena *t = pm__transient_now();
		return likely(t != NULL) ? t : pm__transient_make();
	}
	return &pm__region->p;
}

static inline int *lock_for(int transient)
{
	return transient ? &tlock : &plock;
}

/* The arena a block belongs to, or NULL if it is not in the region. */
static inline int arena_index(const void *p)
{
	uintptr_t u = (uintptr_t)p;
	if (u - pm__pbase < pm__plen)
		return 0;
	if (pm__in_region(u))
		return 1;
	return -1;
}

/* Persistent blocks made before main() (phases 0 and 1) are marked, so
 * that a restore may overwrite them (see internal.h). */
static inline void mark_early(void *p, int transient)
{
	if (unlikely(pm__phase != 2) && p && !transient)
		pm__chunk_of(p)->head |= PM_CHUNK_EARLY;
}

void *pm__malloc_slow(size_t n, int transient)
{
	if (unlikely(!pm__region) && pm__ensure_init()) {
		errno = ENOMEM;
		return NULL;
	}
	void *p;
	if (!transient && n <= TC_MAXREQ && pm__phase == 2) {
		struct pm_tcache *tc = pm__tc_mine();
		if (!tc)
			tc = pm__tc_create();
		if (tc) {
			unsigned cls = pm__tc_class_of_request(n);
			p = pm__tc_pop(tc, cls);
			if (!p && cls < TC_NSMALL)
				p = pm__tc_xfer_take(tc, cls);
			if (!p)
				p = pm__tc_refill(tc, cls);
			if (p)
				return p;
			errno = ENOMEM;
			return NULL;
		}
	}
	int *l = lock_for(transient);
	struct pm_arena *a = arena_for(transient);
	if (unlikely(!a)) {
		errno = ENOMEM;
		return NULL;
	}
	lock(l);
	p = pm__arena_alloc(a, n);
	if (!p && !transient && pm__tc_xfer_reclaim())
		p = pm__arena_alloc(a, n);
	mark_early(p, transient);
	unlock(l);
	if (!p)
		errno = ENOMEM;
	return p;
}

void pm__free_more(void *p)
{
	struct pm_tcache *tc = pm__tc_mine();
	/* no head is read outside the committed part (pm__in_pheap) */
	if (tc && pm__in_pheap((uintptr_t)p) && !pm__misaligned((uintptr_t)p)) {
		/* a block of the part committed since tc's span16 was set:
		 * the next ones take the fast path */
		pm__tc_span_raise(tc);
		size_t head = pm__block_head(p), sz = pm__head_size(head);
		/* a medium block, a full class, a stopped cache, or a block
		 * that carries the key (a double free?) */
		if (pm__head_cacheable(head) && sz < TC_CHUNK_LIMIT &&
		    sz >= PM_CHUNK_MIN) {
			unsigned cls = pm__tc_class_of_chunk(sz);
			if (!pm__tc_push(tc, cls, p))
				pm__tc_overflow(tc, cls, p);
			return;
		}
	}
	pm__free_slow(p);
}

static void bad_pointer(const char *call, const void *p)
{
	char msg[64];
	pm__fmt(msg, sizeof msg, "%s(): invalid pointer", call);
	pm__fatal(msg, p);
}

/* pm_exiting(): the process is about to exit, and the teardown that
 * usually precedes exit (an interpreter freeing every object) would only
 * write to pages that are about to be thrown away; in a resumed process
 * each such write copies a page of the image.  From then on the frees
 * that reach the slow path (all of the calling thread's: its cache is
 * given up, pm__tc_abandon) keep their block after checking that it
 * lies in an arena.  The calling thread's only: other threads go on
 * giving memory back (a worker still running during the teardown).
 * Thread-local state (a fork child of that thread inherits it), never in
 * the region. */
static __thread int discard_frees;

PM_EXPORT void pm_exiting(void)
{
	discard_frees = 1;
	pm__tc_abandon();
}

void pm__free_slow(void *p)
{
	if (!p)
		return;
	int e = errno; /* free never changes errno */
	int ai = arena_index(p);
	if (unlikely(ai < 0))
		bad_pointer("free", p);
	if (unlikely(discard_frees)) { /* pm_exiting(): keep it */
		errno = e;
		return;
	}
	/* A thread that frees before it ever allocates (a consumer of
	 * another thread's blocks) gets its cache now: otherwise every one
	 * of its frees would take the arena lock. */
	if (ai == 0 && !pm__tc_mine() && pm__phase == 2 && pm__tc_create()) {
		pm__free(p); /* the fast path, with the new cache */
		errno = e;
		return;
	}
	int *l = lock_for(ai);
	struct pm_arena *a = arena_for(ai);
	if (unlikely(!a)) /* no transient arena: no block of it */
		bad_pointer("free", p);
	lock(l);
	pm__check_block(a, p, "free");
	pm__arena_free(a, p);
	unlock(l);
	errno = e;
}

void *pm__calloc(size_t nmemb, size_t size, int transient)
{
	size_t n;
	if (unlikely(__builtin_mul_overflow(nmemb, size, &n))) {
		errno = ENOMEM;
		return NULL;
	}
	if (n <= TC_MAXREQ) {
		void *p = pm__malloc(n, transient);
		if (p)
			memset(p, 0, n);
		return p;
	}
	if (unlikely(!pm__region) && pm__ensure_init()) {
		errno = ENOMEM;
		return NULL;
	}
	int *l = lock_for(transient);
	struct pm_arena *a = arena_for(transient);
	if (unlikely(!a)) {
		errno = ENOMEM;
		return NULL;
	}
	lock(l);
	uintptr_t zero_from = a->zero_from;
	void *p = pm__arena_alloc(a, n);
	if (!p && !transient && pm__tc_xfer_reclaim())
		p = pm__arena_alloc(a, n);
	mark_early(p, transient);
	unlock(l);
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	/* memory never handed out before reads as zero: skip the memset
	 * (the pages are not even touched) */
	if ((uintptr_t)p < zero_from)
		memset(p, 0, n);
	return p;
}

size_t pm__usable_size(const void *p)
{
	int ai = p ? arena_index(p) : -1;
	if (ai < 0 || (ai == 1 && !pm__transient_now()))
		return 0; /* (no transient arena yet: its range is unmapped) */
	/* p's head is read only inside the arena's committed part (the
	 * rest is PROT_NONE); an address no block can have gets 0 */
	const struct pm_arena *a = ai ? pm__transient_now() : &pm__region->p;
	uintptr_t c = (uintptr_t)pm__chunk_of(p);
	if (pm__misaligned((uintptr_t)p) ||
	    c < pm__arena_first((struct pm_arena *)a) ||
	    c >= __atomic_load_n(&a->top_end, __ATOMIC_RELAXED))
		return 0;
	return pm__block_usable(p);
}

/* realloc to n of a block with `usable` bytes: close enough to keep it
 * (and its slack)? */
static inline int keep_size(size_t usable, size_t n)
{
	return n <= usable && (usable - n < 256 || n >= usable - usable / 4);
}

/* The usable size of p when, read without the lock, its chunk looks live
 * (p aligned, in use, a sane size inside the arena's committed part, its successor
 * marking it in use, not keyed as a deferred free); else 0, and the
 * caller takes the lock and lets pm__check_block judge.  A realloc that fits (into the room
 * an earlier move or the large blocks' grid gave) then takes no lock: p's
 * size changes only by calls on p, its caller's block, and the free fast
 * path reads a head without the lock the same way. */
static inline size_t live_usable(const struct pm_arena *a, const void *p)
{
	uintptr_t c = (uintptr_t)pm__chunk_of(p);
	/* the committed part only grows: a chunk ending below it has its
	 * successor's head there too */
	uintptr_t end = __atomic_load_n(&a->top_end, __ATOMIC_RELAXED);
	if (pm__misaligned((uintptr_t)p) ||
	    c < pm__arena_first((struct pm_arena *)a) || c >= end)
		return 0;
	size_t h = __atomic_load_n(&pm__chunk_at(c)->head, __ATOMIC_RELAXED);
	size_t sz = pm__head_size(h);
	if (!(h & PM_CHUNK_CINUSE) || sz < PM_CHUNK_MIN || pm__misaligned(sz) ||
	    sz >= end - c ||
	    pm__block_key_get(p) == PM_FREE_KEY)
		return 0;
	if (!(__atomic_load_n(&pm__chunk_at(c + sz)->head, __ATOMIC_RELAXED) &
	      PM_CHUNK_PINUSE))
		return 0;
	return sz - PM_CHUNK_OVERHEAD;
}

void *pm__realloc(void *p, size_t n, int transient)
{
	if (!p)
		return pm__malloc(n, transient);
	if (n == 0) { /* glibc: realloc(p, 0) frees and returns NULL */
		pm__free(p);
		return NULL;
	}
	int ai = arena_index(p);
	if (unlikely(ai < 0))
		bad_pointer("realloc", p);
	int *l = lock_for(ai);
	struct pm_arena *a = arena_for(ai);
	if (unlikely(!a))
		bad_pointer("realloc", p);
	/* A block of the transient arena that the program itself resizes
	 * after main() moves to the persistent heap (realloc may move it). */
	int move_out = ai == 1 && !transient;
	if (unlikely(pm__tc_is_cached(p)))
		pm__fatal("realloc(): double free or not a live block", p);
	size_t usable = live_usable(a, p);
	if (!move_out && usable && keep_size(usable, n))
		return p; /* fits already (no lock: see live_usable) */
	lock(l);
	pm__check_block(a, p, "realloc");
	usable = pm__block_usable(p);
	if (!move_out) {
		if (keep_size(usable, n)) {
			unlock(l);
			return p;
		}
		/* growing in place: a quarter more room too when it is there
		 * (as a move gives), so that the next steps need no lock */
		int ok = n > usable && n < ((size_t)1 << 40) &&
			 pm__arena_resize(a, p, n + n / 4);
		if (!ok)
			ok = pm__arena_resize(a, p, n);
		if (ok)
			mark_early(p, ai);
		unlock(l);
		if (ok)
			return p;
	} else {
		unlock(l);
	}
	/* A block that grows by realloc tends to grow again (buffers, vectors
	 * of C programs): when it must move, give it a quarter more room so
	 * the next few small steps stay in place. */
	size_t want = n;
	if (n > usable && n < ((size_t)1 << 40))
		want = n + n / 4;
	void *q = pm__malloc(want, move_out ? 0 : ai);
	if (!q && want != n)
		q = pm__malloc(want = n, move_out ? 0 : ai);
	if (!q)
		return NULL; /* errno set; p untouched */
	memcpy(q, p, usable < n ? usable : n);
	pm__free(p);
	return q;
}

void *pm__memalign(size_t align, size_t n, int transient)
{
	if (unlikely(!pm__region) && pm__ensure_init()) {
		errno = ENOMEM;
		return NULL;
	}
	if (align & (align - 1)) { /* glibc rounds up to a power of two */
		size_t a2 = 16;
		while (a2 < align && a2)
			a2 <<= 1;
		if (!a2) {
			errno = EINVAL;
			return NULL;
		}
		align = a2;
	}
	if (align <= 16) /* every block is: the thread cache may serve it */
		return pm__malloc(n, transient);
	if (!transient && align <= TC_ALIGN_MAX && n <= TC_MAXREQ &&
	    pm__tc_align_size(align, n) < TC_CHUNK_LIMIT && pm__phase == 2) {
		struct pm_tcache *tc = pm__tc_mine();
		if (!tc)
			tc = pm__tc_create();
		if (tc) {
			void *p = pm__tc_memalign(tc, align, n);
			if (!p)
				errno = ENOMEM;
			return p;
		}
	}
	int *l = lock_for(transient);
	struct pm_arena *a = arena_for(transient);
	if (unlikely(!a)) {
		errno = ENOMEM;
		return NULL;
	}
	lock(l);
	void *p = pm__arena_memalign(a, align, n);
	if (!p && !transient && pm__tc_xfer_reclaim())
		p = pm__arena_memalign(a, align, n);
	mark_early(p, transient);
	unlock(l);
	if (!p)
		errno = ENOMEM;
	return p;
}

/* ---- quiescing ---------------------------------------------------------- */

void pm__heap_quiesce(void)
{
	if (!pm__region)
		return;
	lock(&plock);
	lock(&tlock);
	pm__tc_stop_all();
	pm__tc_drain_all();
	/* merge deferred frees so that free memory is in free chunks (a
	 * checkpoint skips their pages) */
	pm__arena_consolidate(&pm__region->p);
	/* PM_DEBUG >= 2: the whole heap is walked at every quiesce */
	if (PM_DEBUG >= 2 && pm__heap_check_quiesced())
		pm__fatal(pm_errmsg(), NULL);
}

void pm__heap_resume(void)
{
	if (!pm__region)
		return;
	pm__tc_start_all();
	unlock(&tlock);
	unlock(&plock);
}

/* fork: the child gets consistent arenas and caches; caches of threads
 * that do not exist in the child are given back. */
void pm__fork_prepare(void)
{
	if (!pm__region)
		return;
	pm__vg_mute(); /* unmuted by the parent and the child handler */
	lock(&plock);
	lock(&tlock);
	pm__tc_stop_all();
	tls_forking = 1;
}

void pm__fork_parent(void)
{
	if (!pm__region)
		return;
	tls_forking = 0;
	pm__tc_start_all();
	unlock(&tlock);
	unlock(&plock);
	pm__vg_unmute();
}

void pm__fork_child(void)
{
	if (!pm__region)
		return;
	tls_forking = 0;
	plock = tlock = 0;
	pm__transient_fork_child();
	pm__tc_release_others(pm__tc_mine());
	pm__tc_start_all();
	pm__vg_unmute();
}

/* ---- restore hooks ------------------------------------------------------ */

static uintptr_t pre_restore_top_end PM_STATE;
int pm__restored_once PM_STATE;

int pm__heap_restore_check(void)
{
	pm__tc_xfer_drain(); /* one thread: nobody gives or takes */
	pm__tc_release_others(NULL);
	pm__tc_forget_self();
	struct pm_arena *a = &pm__region->p;
	if (a->live_bytes) {
		/* only blocks of the executable's constructors may be there:
		 * the globals that point at them come back from the file */
		size_t own = pm__arena_own_bytes(a);
		if (own)
			return pm__err(-EBUSY,
				       "the program holds %zu bytes of live "
				       "blocks in the persistent heap (made "
				       "in main() before pm_restore%s, by the "
				       "program or by a library it dlopen'ed "
				       "or called); restore must come before "
				       "any allocation of its own",
				       own,
				       pm__restored_once ? ", or by the restored "
							   "heap"
							 : "");
	}
	pre_restore_top_end = a->top_end;
	return 0;
}

void pm__heap_after_restore(void)
{
	struct pm_arena *a = &pm__region->p;
	/* everything below top_end must be readable and writable here */
	pm__os_commit((void *)pm__region->base, a->top_end - pm__region->base);
	/* pages this process used past the restored extent must read zero
	 * again (the arena believes they were never handed out) */
	if (pre_restore_top_end > a->top_end)
		pm__os_release((void *)a->top_end,
			       pre_restore_top_end - a->top_end);
	/* the checkpointing process's caches and transfer stacks (drained
	 * when it quiesced) */
	pm__tc_xfer_drain();
	pm__tc_release_others(NULL);
	pm__tc_forget_self();
	pm__restored_once = 1;
}

/* ---- named roots -------------------------------------------------------- */

static int root_name_ok(const char *name)
{
	return name && name[0] && strnlen(name, PM_ROOT_NAME) < PM_ROOT_NAME;
}

PM_EXPORT int pm_root_set(const char *name, void *ptr)
{
	if (!root_name_ok(name))
		return pm__err(-EINVAL, "root name must be 1 to %d bytes",
			       PM_ROOT_NAME - 1);
	if (!pm__region && pm__ensure_init())
		return pm__err(PM_ENOHEAP, "the heap could not be reserved");
	/* a root names persistent memory: anything else would not mean the
	 * same after a restore (and a restore refuses a header whose roots
	 * point elsewhere) */
	if (ptr && !pm__in_persistent((uintptr_t)ptr))
		return pm__err(-EINVAL, "root %s: %p is not in the persistent "
					"heap",
			       name, ptr);
	pm__begin_persistent();
	int ret = -ENOMEM;
	lock(&plock);
	struct pm_root *free_slot = NULL;
	for (int i = 0; i < PM_NROOTS; i++) {
		struct pm_root *r = &pm__region->roots[i];
		if (!r->name[0]) {
			if (!free_slot)
				free_slot = r;
		} else if (!strcmp(r->name, name)) {
			if (ptr)
				r->ptr = (uintptr_t)ptr;
			else
				memset(r, 0, sizeof *r);
			ret = 0;
			goto out;
		}
	}
	if (!ptr)
		ret = 0;
	else if (free_slot) {
		strcpy(free_slot->name, name);
		free_slot->ptr = (uintptr_t)ptr;
		ret = 0;
	}
out:
	unlock(&plock);
	if (ret)
		pm__err(ret, "the table of roots is full (%d names)", PM_NROOTS);
	return ret;
}

PM_EXPORT void *pm_root_get(const char *name)
{
	if (!root_name_ok(name) || (!pm__region && pm__ensure_init()))
		return NULL;
	void *p = NULL;
	lock(&plock);
	for (int i = 0; i < PM_NROOTS; i++) {
		struct pm_root *r = &pm__region->roots[i];
		if (r->name[0] && !strcmp(r->name, name)) {
			p = (void *)r->ptr;
			break;
		}
	}
	unlock(&plock);
	return p;
}

PM_EXPORT int pm_heap_info(struct pm_heap_info *out)
{
	if (!out)
		return -EINVAL;
	if (!pm__region && pm__ensure_init())
		return PM_ENOHEAP;
	lock(&plock);
	lock(&tlock);
	out->base = pm__region->base;
	out->size = pm__region->size;
	out->top = pm__region->p.top_end;
	out->used = pm__region->p.top - pm__region->base;
	out->live = pm__region->p.live_bytes;
	struct pm_arena *t = pm__transient_now();
	out->transient = t ? t->live_bytes : 0;
	unlock(&tlock);
	unlock(&plock);
	return 0;
}

/* ---- the prefixed API: always the persistent heap ----------------------- */

PM_EXPORT void *pm_malloc(size_t n) { return PM_API_MALLOC(n, 0); }
PM_EXPORT void pm_free(void *p) { PM_API_FREE(p); }
PM_EXPORT void *pm_calloc(size_t a, size_t b)
{
	return PM_API_CALLOC(a, b, 0);
}
PM_EXPORT void *pm_realloc(void *p, size_t n)
{
	return PM_API_REALLOC(p, n, 0);
}
PM_EXPORT void *pm_memalign(size_t al, size_t n)
{
	return PM_API_MEMALIGN(al, n, 0);
}
PM_EXPORT int pm_posix_memalign(void **out, size_t al, size_t n)
{
	if (al < sizeof(void *) || (al & (al - 1)))
		return EINVAL;
	int e = errno;
	void *p = PM_API_MEMALIGN(al, n, 0);
	if (!p)
		return ENOMEM;
	errno = e;
	*out = p;
	return 0;
}
PM_EXPORT size_t pm_usable_size(const void *p)
{
	return PM_API_USABLE_SIZE(p);
}
