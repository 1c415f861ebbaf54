/*
 * text.c: what text.h describes.
 */
#include "text.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

size_t text_utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n = c < 0x80		    ? 1
		   : c >= 0xc2 && c <= 0xdf ? 2
		   : c >= 0xe0 && c <= 0xef ? 3
		   : c >= 0xf0 && c <= 0xf4 ? 4
					    : 0;

	for (size_t i = 1; i < n; i++) /* stops at the terminating NUL, not past it */
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || /* overlong, surrogate */
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))	/* overlong, > U+10FFFF */
		return 0;
	return n;
}

/* How many bytes at s are one unit to keep (0: replace the first n bytes, n >= 1). */
static size_t keep_len(const unsigned char *s, size_t *n)
{
	size_t k = text_utf8_len(s);

	*n = k ? k : 1;
	if (k == 1)
		return s[0] >= 0x20 && s[0] != 0x7f ? 1 : 0;
	if (k == 2 && s[0] == 0xc2 && s[1] < 0xa0) /* C1 */
		return 0;
	return k;
}

static const char *clean(char *b, size_t len, const char *src, bool escape)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0, n;

	if (!len)
		return b;
	while (*s) {
		size_t k = keep_len(s, &n), w = k ? k : escape ? 4 * n : 1;

		if (o + w >= len)
			break;
		if (k)
			memcpy(b + o, s, k);
		else if (!escape)
			b[o] = '?';
		else
			for (size_t i = 0; i < n; i++)
				snprintf(b + o + 4 * i, 5, "\\x%02x", s[i]);
		o += w;
		s += n;
	}
	b[o] = '\0';
	return b;
}

const char *text_escape(char *b, size_t len, const char *src)
{
	return clean(b, len, src, true);
}

const char *text_printable(char *b, size_t len, const char *src)
{
	return clean(b, len, src, false);
}

const char *text_logfmt(char *b, size_t len, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	bool plain = *s;
	size_t o, n;

	for (const unsigned char *t = s; *t && plain; t += n)
		plain = keep_len(t, &n) && !strchr(" \"=\\", *t);
	if (plain || len < 3)
		return clean(b, len, src, true);
	b[0] = '"';
	for (o = 1; *s; s += n) {
		size_t k = keep_len(s, &n);
		char esc[4 * 4 + 1];

		if (k == 1 && (*s == '"' || *s == '\\'))
			snprintf(esc, sizeof(esc), "\\%c", *s);
		else if (k)
			snprintf(esc, sizeof(esc), "%.*s", (int)k, (const char *)s);
		else if (*s == '\n')
			snprintf(esc, sizeof(esc), "\\n");
		else
			for (size_t i = 0; i < n; i++)
				snprintf(esc + 4 * i, 5, "\\x%02x", s[i]);
		if (o + strlen(esc) + 1 >= len) /* room for the closing quote and the NUL */
			break;
		memcpy(b + o, esc, strlen(esc));
		o += strlen(esc);
	}
	b[o++] = '"';
	b[o] = '\0';
	return b;
}
