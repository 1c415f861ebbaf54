/*
 * units: rates as people write them. "150M", "1.5G", "20k", "150Mbit/s", "20kpps": SI
 * prefixes (k or K = 10^3, M, G, T), exact decimal arithmetic, a whole number of bit/s or
 * packet/s at the end. What would be a guess is refused with a reason: "m" (milli, or M?),
 * "Mi" (binary prefixes), "MB" (bytes), a rate with a fraction of a bit, a value out of range.
 */
#ifndef DBAVM_UNITS_H
#define DBAVM_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rate_kind { RATE_BPS, RATE_PPS };

/* *out from s, at most max. 0, or -EINVAL with err saying why (one line, no newline). */
int units_parse(const char *s, enum rate_kind kind, uint64_t max, uint64_t *out, char *err,
		size_t err_len);

/* v as the shortest exact-to-3-figures form: "150M", "1.5G", "20k", "950". */
void units_format(char *buf, size_t len, double v);

#endif
