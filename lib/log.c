/*
 * log: leveled key=value lines on stderr. The daemon runs under systemd, whose journal stamps
 * time and unit, so a line carries only its level and its message.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

static enum log_level current_level = LOG_LEVEL_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level level)
{
	current_level = level;
}

const char *log_level_name(enum log_level level)
{
	return level_names[level];
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_q(const char *s)
{
	static _Thread_local char ring[LOG_Q_SLOTS][256];
	static _Thread_local unsigned next;
	char *b = ring[next++ % LOG_Q_SLOTS];

	return text_logfmt(b, sizeof(ring[0]), s ? s : "");
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024], safe[1024];
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Names from outside are in the message: a newline or an escape sequence in one must
	 * neither start a line of its own nor reach a terminal (text_escape: \xNN). */
	text_escape(safe, sizeof(safe), line);
	/* One write per line so that lines from a crashing process are never interleaved. */
	fprintf(stderr, "level=%s %s\n", level_names[level], safe);
}
