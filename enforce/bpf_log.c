/*
 * bpf_log.c: libbpf's print callback, to the agent's log.
 */
#include "bpf_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "log.h"

static int to_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)level;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	if (n)
		log_debug("libbpf said msg=%s", log_q(msg));
	return 0;
}

void bpf_log_route(void)
{
	libbpf_set_print(to_log);
}
