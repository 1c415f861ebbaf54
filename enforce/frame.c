/*
 * frame: the mean frame a vif sends, and a packet limit folded into a bit rate by it.
 */
#include "frame.h"

void frame_learn(struct frame_mean *f, const struct rate *passed, uint64_t in_force_bps,
		 uint64_t pps)
{
	uint64_t m;

	if (!passed->pps)
		return;
	if ((in_force_bps == UINT64_MAX || passed->bps < in_force_bps / 10) &&
	    (pps == UINT64_MAX || passed->pps < pps / 10))
		return;
	m = (passed->bps + passed->pps / 2) / passed->pps;
	if (!f->bits || m > f->bits || 2 * m < f->bits)
		f->bits = m;
	else
		f->bits = (7 * f->bits + m + 4) / 8;
}

uint64_t frame_fold(uint64_t bps, uint64_t pps, const struct frame_mean *f)
{
	uint64_t frame = f->bits ? f->bits : FRAME_DEFAULT_BITS;

	if (pps == UINT64_MAX)
		return bps;
	if (pps > UINT64_MAX / frame)
		return bps;
	return pps * frame < bps ? pps * frame : bps;
}
