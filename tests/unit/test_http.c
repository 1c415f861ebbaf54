/*
 * test_http: what the HTTP layer guarantees without a server: the error body's text made valid
 * UTF-8 whatever it was given (raw URL bytes, a character cut in two), so that jansson never
 * refuses it and a bad request is never answered 500.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "http.h"

static const char *clean(const char *in, size_t len)
{
	static char out[64];

	http_utf8_clean(out, len, in);
	return out;
}

static void valid_text_is_kept(void **state)
{
	(void)state;
	assert_string_equal(clean("plain ascii", 64), "plain ascii");
	assert_string_equal(clean("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 64),
			    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	assert_string_equal(clean("", 64), "");
}

static void invalid_bytes_become_question_marks(void **state)
{
	(void)state;
	/* curl localhost:8470/%ff; é cut after its first byte; € cut after two; an overlong '/';
	 * a surrogate; above U+10FFFF; a lone continuation */
	assert_string_equal(clean("/\xff", 64), "/?");
	assert_string_equal(clean("a\xc3", 64), "a?");
	assert_string_equal(clean("\xe2\x82", 64), "??");
	assert_string_equal(clean("\xc0\xaf", 64), "??");
	assert_string_equal(clean("\xed\xa0\x80", 64), "???");
	assert_string_equal(clean("\xf4\x90\x80\x80", 64), "????");
	assert_string_equal(clean("\x80x", 64), "?x");
}

static void truncation_keeps_whole_characters(void **state)
{
	(void)state;
	/* Room for 3 bytes and the NUL: "ab" fits, é (2 bytes) would not. */
	assert_string_equal(clean("ab\xc3\xa9", 4), "ab");
	assert_string_equal(clean("abc\xc3\xa9", 5), "abc");
	assert_string_equal(clean("abcdef", 4), "abc");
	assert_int_equal(http_utf8_clean((char[1]){ 0 }, 1, "xyz"), 0);
}

static void whatever_it_is_given_jansson_takes_it(void **state)
{
	char in[256], out[300];

	(void)state;
	for (unsigned seed = 1; seed <= 2000; seed++) {
		unsigned x = seed;
		json_t *s;

		for (size_t i = 0; i < sizeof(in) - 1; i++) {
			x = x * 1103515245u + 12345u;
			in[i] = (char)((x >> 16) & 0xff ? (x >> 16) & 0xff : 1); /* never NUL */
		}
		in[sizeof(in) - 1] = '\0';
		http_utf8_clean(out, 1 + seed % sizeof(out), in);
		s = json_string(out);
		if (!s)
			fail_msg("seed %u: not valid UTF-8 after cleaning", seed);
		json_decref(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_text_is_kept),
		cmocka_unit_test(invalid_bytes_become_question_marks),
		cmocka_unit_test(truncation_keeps_whole_characters),
		cmocka_unit_test(whatever_it_is_given_jansson_takes_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
