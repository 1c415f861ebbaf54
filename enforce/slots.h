/*
 * slots: the indices a BPF enforcer gives its vifs into its maps. The lowest free one is
 * handed out, and top is one past the highest in use, so that a batched read of [0, top)
 * stays as short as the number of vifs allows.
 */
#ifndef DBAVM_SLOTS_H
#define DBAVM_SLOTS_H

#include <stdint.h>

#define SLOTS_MAX 4096

struct slots {
	unsigned char used[SLOTS_MAX];
	uint32_t top;
};

/* The lowest free slot, or -1 if all are taken. It is not taken until slots_take. */
static inline int slots_free(const struct slots *s)
{
	for (uint32_t i = 0; i < SLOTS_MAX; i++)
		if (!s->used[i])
			return (int)i;
	return -1;
}

static inline void slots_take(struct slots *s, uint32_t slot)
{
	s->used[slot] = 1;
	if (slot + 1 > s->top)
		s->top = slot + 1;
}

static inline void slots_put(struct slots *s, uint32_t slot)
{
	s->used[slot] = 0;
	while (s->top > 0 && !s->used[s->top - 1])
		s->top--;
}

#endif
