/*
 * A small non-cryptographic generator (xorshift64*) for jitter: retry
 * backoffs and timer spreads need variety, not secrecy.
 */
#ifndef EC2M_XRAND_H
#define EC2M_XRAND_H

#include <stdint.h>

struct xrand {
	uint64_t s;
};

/* Any seed; 0 is replaced by a fixed non-zero one. */
void xrand_seed(struct xrand *r, uint64_t seed);
/* A uniform double in [0, 1). */
double xrand01(struct xrand *r);

#endif
