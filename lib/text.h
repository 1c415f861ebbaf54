/*
 * text: strings from outside (names the platform reports, what an agent answers) made safe to
 * print. A character that could drive a terminal or split a line — a C0 control, DEL, a C1
 * control (U+0080-U+009F) — and a byte that is not part of valid UTF-8 (RFC 3629) are
 * replaced; everything else is kept as it is.
 */
#ifndef DBAVM_TEXT_H
#define DBAVM_TEXT_H

#include <stddef.h>

/* The length of the UTF-8 character at s (1-4), or 0 if s does not start one. */
size_t text_utf8_len(const unsigned char *s);

/* src for a log line, in b (len bytes): each replaced byte as \xNN, so nothing is lost and no
 * line can be forged. Cut at a character when b is full. Returns b. */
const char *text_escape(char *b, size_t len, const char *src);

/* src as a logfmt value, in b (len bytes): as it is when it is plain (not empty; no space,
 * '"', '=' or '\\'; nothing text_escape would replace), else in double quotes with \" and \\,
 * a newline as \n and every other replaced byte as \xNN, so that a name can neither end its
 * field nor start another. Cut at a character when b is full, the quote closed. Returns b. */
const char *text_logfmt(char *b, size_t len, const char *src);

/* src for a person's terminal, in b (len bytes): each replaced character as '?'. Cut at a
 * character when b is full. Returns b. */
const char *text_printable(char *b, size_t len, const char *src);

#endif
