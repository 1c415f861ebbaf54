/*
 * test_text: names from outside made safe for a log line and for a terminal. Kept: printable
 * ASCII, UTF-8 of two to four bytes; replaced: C0 (newline, ESC, BEL, CR, TAB), DEL, C1
 * (U+0080-U+009F), bytes that are not UTF-8 (a lone continuation, a truncated sequence,
 * overlong forms, surrogates, past U+10FFFF). A full buffer cuts at a character. A logfmt value
 * is bare when plain, else quoted with \" \\ \n and \xNN.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"

static void escaped(const char *in, const char *want)
{
	char b[256];

	assert_string_equal(text_escape(b, sizeof b, in), want);
}

static void printable(const char *in, const char *want)
{
	char b[256];

	assert_string_equal(text_printable(b, sizeof b, in), want);
}

static void test_kept(void **state)
{
	(void)state;
	escaped("vm-1 \"quoted\" \\ back", "vm-1 \"quoted\" \\ back");
	escaped("caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x90\xa7",
		"caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x90\xa7");
	escaped("\xc2\xa0nbsp", "\xc2\xa0nbsp"); /* U+00A0: the first after C1 */
	printable("\xe2\x98\x83", "\xe2\x98\x83");
}

static void test_controls(void **state)
{
	(void)state;
	escaped("h2-nl\nlevel=error msg=FORGED", "h2-nl\\x0alevel=error msg=FORGED");
	escaped("\x1b]0;PWNED\x07\x1b[2J\r\t\x7f", "\\x1b]0;PWNED\\x07\\x1b[2J\\x0d\\x09\\x7f");
	escaped("\xc2\x9b"
		"31m",
		"\\xc2\\x9b31m"); /* C1 CSI: both bytes shown */
	printable("\x1b]0;PWNED\x07\x1b[2J\r\xc2\x9b"
		  "31m",
		  "?]0;PWNED??[2J??31m");
}

static void test_not_utf8(void **state)
{
	(void)state;
	escaped("a\x80z", "a\\x80z");			     /* a lone continuation byte */
	escaped("a\xc3", "a\\xc3");			     /* truncated at the end */
	escaped("a\xe2\x98z", "a\\xe2\\x98z");		     /* truncated before a letter */
	escaped("\xc0\xaf", "\\xc0\\xaf");		     /* overlong '/' */
	escaped("\xe0\x80\xaf", "\\xe0\\x80\\xaf");	     /* overlong, three bytes */
	escaped("\xed\xa0\x80", "\\xed\\xa0\\x80");	     /* a UTF-16 surrogate */
	escaped("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* past U+10FFFF */
	escaped("\xff\xfe", "\\xff\\xfe");
	printable("a\xff\xc3z", "a??z");
}

static void test_full_buffer(void **state)
{
	char b[6];

	(void)state;
	assert_string_equal(text_escape(b, sizeof b, "abcdefgh"), "abcde");
	assert_string_equal(text_escape(b, sizeof b, "ab\ncd"), "ab"); /* \x0a does not fit */
	assert_string_equal(text_printable(b, sizeof b, "abc\xe2\x98\x83"), "abc"); /* not half */
	assert_string_equal(text_printable(b, 1, "abc"), "");
}

static void logfmt(const char *in, const char *want)
{
	char b[256];

	assert_string_equal(text_logfmt(b, sizeof b, in), want);
}

/* A logfmt value: bare when plain, else quoted so that it can neither end its field nor start
 * another; a cut keeps the closing quote. */
static void test_logfmt(void **state)
{
	char b[10];

	(void)state;
	logfmt("vm-1", "vm-1");
	logfmt("caf\xc3\xa9", "caf\xc3\xa9");
	logfmt("", "\"\"");
	logfmt("a level=error msg=FORGED", "\"a level=error msg=FORGED\"");
	logfmt("x=1", "\"x=1\"");
	logfmt("web \"srv\" \\ end", "\"web \\\"srv\\\" \\\\ end\"");
	logfmt("nl\nlevel=error", "\"nl\\nlevel=error\"");
	logfmt("esc\x1b]0;T\x07", "\"esc\\x1b]0;T\\x07\"");
	logfmt("bad\xff", "\"bad\\xff\"");
	logfmt("c1\xc2\x9b", "\"c1\\xc2\\x9b\"");
	assert_string_equal(text_logfmt(b, sizeof b, "a b c d e f"), "\"a b c d\""); /* 9 bytes */
	assert_string_equal(text_logfmt(b, sizeof b, "ab\"\"\"\"x"),
			    "\"ab\\\"\\\"\""); /* not half */
	assert_string_equal(text_logfmt(b, sizeof b, "abcdefghijk"), "abcdefghi");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept),	 cmocka_unit_test(test_controls),
		cmocka_unit_test(test_not_utf8), cmocka_unit_test(test_full_buffer),
		cmocka_unit_test(test_logfmt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
