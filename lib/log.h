/*
 * log: one line per event, key=value fields, to stderr (journald adds time and unit).
 *
 *   log_info("sla applied vm=%s vif=%s limit_bps=%" PRIu64, log_q(vm), log_q(vif), ...);
 *
 * The message's first words say what happened; the fields say to what. A field's value that
 * could hold a space, a quote or a byte from outside is written with log_q (logfmt quoting).
 */
#ifndef DBAVM_LOG_H
#define DBAVM_LOG_H

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_set_level(enum log_level level);
/* Parses "error", "warn", "info" or "debug"; returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

/* s as a field's value (text_logfmt): log_info("vif released vm=%s", log_q(vm->id)). Every
 * name from outside goes through it. The text lives in a ring of LOG_Q_SLOTS buffers of the
 * calling thread, so one line may hold that many. */
#define LOG_Q_SLOTS 8
const char *log_q(const char *s);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
