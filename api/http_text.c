/*
 * http_text: the parts of the HTTP layer that need no transport: the URL's percent-decoding,
 * text made fit for JSON, and the JSON and error answers built on http_respond.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "http.h"

static int hex_value(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

size_t http_url_unescape(char *s)
{
	char *w = s;
	int hi, lo;

	for (const char *r = s; *r;) {
		if (r[0] == '%' && (hi = hex_value(r[1])) >= 0 && (lo = hex_value(r[2])) >= 0 &&
		    (hi | lo)) {
			*w++ = (char)(hi << 4 | lo);
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

void http_respond_json(struct http_request *req, unsigned status, json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	if (!text) {
		http_respond(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
			     strdup("{\"error\":\"out of memory\"}"), 25);
		return;
	}
	http_respond(req, status, "application/json", text, strlen(text));
}

/* The length of the well-formed UTF-8 sequence s begins with (RFC 3629: no overlong form, no
 * surrogate, nothing above U+10FFFF), 0 if none. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
	else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

size_t http_utf8_clean(char *dst, size_t dst_len, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t k = 0;

	while (*s) {
		size_t n = utf8_seq(s);

		if (k + (n ? n : 1) >= dst_len)
			break;
		if (n) {
			memcpy(dst + k, s, n);
			k += n;
			s += n;
		} else {
			dst[k++] = '?';
			s++;
		}
	}
	dst[k] = '\0';
	return k;
}

void http_respond_error(struct http_request *req, unsigned status, const char *field,
			const char *msg)
{
	char m[512], f[256];
	json_t *doc;

	/* An error body that cannot fail: jansson refuses a string that is not UTF-8. */
	http_utf8_clean(m, sizeof(m), msg ? msg : "");
	doc = json_pack("{s:s}", "error", m);
	if (doc && field && *field) {
		http_utf8_clean(f, sizeof(f), field);
		json_object_set_new(doc, "field", json_string(f));
	}
	http_respond_json(req, status, doc);
}
