// cxx_own_new.cpp - a program that replaces operator new and delete (a
// size-prefixed tracking allocator, a common pattern).  Every other form
// (array, nothrow, sized delete, which g++ emits for `delete p` since
// C++14) must then reach these two, under pmalloc as without it
// (tests/ckpt_cxx_lib.sh).
#include <cstdio>
#include <cstdlib>
#include <new>

static size_t live, calls;

void *operator new(size_t n)
{
	size_t *p = (size_t *)std::malloc(n + 16);
	if (!p)
		throw std::bad_alloc();
	p[0] = n;
	live += n;
	calls++;
	return p + 2;
}

void operator delete(void *q) noexcept
{
	if (!q)
		return;
	size_t *p = (size_t *)q - 2;
	live -= p[0];
	std::free(p);
}

struct S {
	int a[10];
};

int main()
{
	S *s = new S;
	delete s; // sized delete
	int *a = new int[5];
	delete[] a;
	S *t = new (std::nothrow) S;
	delete t;
	S *u = new S[3];
	delete[] u;
	if (live || calls != 4)
		return std::printf("live %zu calls %zu\n", live, calls), 1;
	std::printf("own operator new: ok\n");
	return 0;
}
