/*
 * frame: a vif's mean frame, learnt from what it passed, for the enforcers that hold a packet
 * rate with a byte rate: xen-credit's credit and netfront's shaper both hold min(bps, pps x
 * mean frame), so a flow limited by packets waits in the guest like one limited by bits.
 */
#ifndef DBAVM_FRAME_H
#define DBAVM_FRAME_H

#include <stdint.h>

#include "measure.h"

#define FRAME_DEFAULT_BITS (1514u * 8u) /* assumed until a frame is measured: a full one */

struct frame_mean {
	uint64_t bits; /* bits, not bytes, so that a mean of 64.4 bytes is not taken as 64; 0:
			  not learnt yet */
};

/*
 * Learns from the rate a vif passed over a period. A larger frame is taken at once (it only
 * raises the folded rate, and a TCP flow's first periods, handshakes and small windows, must
 * not hold its bulk back for seconds); a smaller one comes in as a running mean (1/8 a
 * period), or whole when less than half the mean (the mix changed). Only periods
 * that used at least a tenth of the bit rate in force (in_force_bps) or of the packet limit
 * (pps; UINT64_MAX: none) count: a nearly idle guest's few small packets (ARP, neighbour
 * discovery) must not shrink a rate its bulk traffic needs.
 */
void frame_learn(struct frame_mean *f, const struct rate *passed, uint64_t in_force_bps,
		 uint64_t pps);

/* The bit rate that holds both limits, min(bps, pps x frame) (frame: the mean, or a full
 * frame until one is learnt); UINT64_MAX when neither limits. */
uint64_t frame_fold(uint64_t bps, uint64_t pps, const struct frame_mean *f);

#endif
