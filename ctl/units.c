/*
 * units: the value is read as an integer part and up to 12 fraction digits, each an integer,
 * then scaled by the prefix's power of ten; the fraction must vanish at the end. No floating
 * point, so "0.1G" is exactly 100000000 and "1.0000000001k" is refused, not rounded.
 */
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* err from fmt and s, s shown on one line: control characters as '?', at most 40 bytes. */
static int fail(char *err, size_t len, const char *fmt, const char *s)
{
	char shown[48];
	size_t i;

	for (i = 0; s[i] && i < 40; i++)
		shown[i] = iscntrl((unsigned char)s[i]) ? '?' : s[i];
	if (s[i])
		memcpy(shown + i, "...", 4);
	else
		shown[i] = '\0';
	snprintf(err, len, fmt, shown);
	return -EINVAL;
}

static uint64_t pow10u(unsigned e)
{
	uint64_t p = 1;
	while (e--)
		p *= 10;
	return p;
}

/* The exponent of an SI prefix letter, or -1. */
static int prefix_exp(char c)
{
	switch (c) {
	case 'k':
	case 'K':
		return 3;
	case 'M':
		return 6;
	case 'G':
		return 9;
	case 'T':
		return 12;
	default:
		return -1;
	}
}

static bool unit_ok(const char *u, enum rate_kind kind)
{
	static const char *const bps[] = { "", "bps", "bit/s", "bit", "b/s" };
	static const char *const pps[] = { "", "pps", "p/s" };
	const char *const *names = kind == RATE_BPS ? bps : pps;
	size_t n = kind == RATE_BPS ? sizeof bps / sizeof *bps : sizeof pps / sizeof *pps;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(u, names[i]))
			return true;
	return false;
}

int units_parse(const char *s, enum rate_kind kind, uint64_t max, uint64_t *out, char *err,
		size_t err_len)
{
	const char *what = kind == RATE_BPS ? "bit/s" : "packets/s";
	const char *p = s;
	if (!*p)
		return fail(err, err_len, "an empty rate%s", "");
	if (*p == '-')
		return fail(err, err_len, "\"%s\": a rate cannot be negative", s);
	if (!isdigit((unsigned char)*p))
		return fail(err, err_len, "\"%s\": a rate starts with a digit", s);
	uint64_t whole = 0, frac = 0;
	unsigned nfrac = 0;
	for (; isdigit((unsigned char)*p); p++)
		if (__builtin_mul_overflow(whole, 10, &whole) ||
		    __builtin_add_overflow(whole, (uint64_t)(*p - '0'), &whole))
			return fail(err, err_len, "\"%s\": too large", s);
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return fail(err, err_len, "\"%s\": a digit must follow the decimal point",
				    s);
		for (; isdigit((unsigned char)*p); p++) {
			if (nfrac == 12)
				return fail(err, err_len, "\"%s\": more than 12 decimals", s);
			frac = frac * 10 + (uint64_t)(*p - '0');
			nfrac++;
		}
	}
	int e = 0;
	if (*p && prefix_exp(*p) >= 0) {
		e = prefix_exp(*p++);
		if (*p == 'i')
			return fail(err, err_len,
				    "\"%s\": binary prefixes are not rates; 1M is 1,000,000", s);
	} else if (*p == 'm') {
		return fail(err, err_len, "\"%s\": m is milli; mega is M", s);
	}
	if (kind == RATE_BPS && *p == 'B')
		return fail(err, err_len, "\"%s\": rates are in bits per second, not bytes", s);
	if (!unit_ok(p, kind))
		return fail(err, err_len,
			    kind == RATE_BPS ? "\"%s\": not a rate (a number, then k, M, G or T, "
					       "then bit/s or bps)"
					     : "\"%s\": not a packet rate (a number, then k, M, G "
					       "or T, then pps)",
			    s);
	/* whole * 10^e + frac * 10^(e - nfrac), and nothing left over. */
	uint64_t v;
	if (__builtin_mul_overflow(whole, pow10u((unsigned)e), &v))
		return fail(err, err_len, "\"%s\": too large", s);
	if (nfrac) {
		while (nfrac > (unsigned)e && frac % 10 == 0) {
			frac /= 10;
			nfrac--;
		}
		if (nfrac > (unsigned)e) {
			char msg[160];
			snprintf(msg, sizeof msg, "\"%%s\": not a whole number of %s", what);
			return fail(err, err_len, msg, s);
		}
		if (__builtin_add_overflow(v, frac * pow10u((unsigned)e - nfrac), &v))
			return fail(err, err_len, "\"%s\": too large", s);
	}
	if (v > max) {
		char msg[160];
		snprintf(msg, sizeof msg, "\"%%s\": over the most the agent accepts, %llu %s",
			 (unsigned long long)max, what);
		return fail(err, err_len, msg, s);
	}
	*out = v;
	return 0;
}

void units_format(char *buf, size_t len, double v)
{
	static const char prefixes[] = " kMGT";
	int i = 0;
	while (v >= 999.5 && i < 4) {
		v /= 1000;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.3g%c", v, prefixes[i]);
}
