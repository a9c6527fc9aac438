#include "common/xrand.h"

void
xrand_seed(struct xrand *r, uint64_t seed)
{
	r->s = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

double
xrand01(struct xrand *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (double)((r->s * 2685821657736338717ULL) >> 11) /
	    (double)(1ULL << 53);
}
