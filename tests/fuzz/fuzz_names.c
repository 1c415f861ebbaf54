/*
 * Names from the platform (platform_name_problem) and their printing (text_escape for the log,
 * text_printable for a terminal). A name taken as an id is 1..63 bytes of UTF-8 without a
 * control character, and escapes to itself; whatever the bytes, both printings are valid
 * UTF-8, hold no control character (C0, DEL, C1), are terminated within their buffer, and the
 * escaped one loses nothing (read back, its \xNN are the bytes it replaced).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "platform.h"
#include "text.h"

/* Valid UTF-8 with no control character, to the terminating NUL. */
static int clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t n; *p; p += n) {
		n = text_utf8_len(p);
		if (!n || (n == 1 && (*p < 0x20 || *p == 0x7f)) ||
		    (n == 2 && p[0] == 0xc2 && p[1] < 0xa0))
			return 0;
	}
	return 1;
}

/* The escaped text read back: \xNN as its byte, the rest as it is. */
static size_t unescape(const char *e, char *out)
{
	size_t o = 0;

	while (*e) {
		unsigned v;

		if (e[0] == '\\' && e[1] == 'x' && sscanf(e + 2, "%2x", &v) == 1 && e[2] && e[3]) {
			out[o++] = (char)v;
			e += 4;
		} else {
			out[o++] = *e++;
		}
	}
	out[o] = '\0';
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *esc = malloc(4 * size + 1), *pr = malloc(size + 1),
	     *back = malloc(4 * size + 1);
	const char *why;

	FUZZ_CHECK(s && esc && pr && back);
	memcpy(s, data, size);
	s[size] = '\0';
	why = platform_name_problem(s);
	text_escape(esc, 4 * size + 1, s);
	text_printable(pr, size + 1, s);
	FUZZ_CHECK(clean(esc) && clean(pr));
	FUZZ_CHECK(strlen(pr) <= strlen(s));
	if (!strstr(s, "\\x")) { /* a literal "\x" in the name reads back ambiguously */
		unescape(esc, back);
		FUZZ_CHECK(!strcmp(back, s)); /* the whole name fits: nothing lost */
	}
	if (!why) {
		FUZZ_CHECK(strlen(s) >= 1 && strlen(s) < PLATFORM_ID_MAX);
		FUZZ_CHECK(!strcmp(esc, s) && !strcmp(pr, s));
	} else if (strlen(s) && strlen(s) < PLATFORM_ID_MAX) {
		FUZZ_CHECK(strcmp(esc, s)); /* refused for its bytes: they show */
	}
	free(s), free(esc), free(pr), free(back);
	return 0;
}
