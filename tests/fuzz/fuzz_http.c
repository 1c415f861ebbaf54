/*
 * A request through the API's real handlers (routing, the token, ids, bodies, admission, the
 * store) over a sim host, the transport faked (fake_http.c). The input is a request as text:
 *
 *   METHOD PATH\n  then "Name: value" lines, an empty line, and the body
 *
 * the path percent-decoded as the server decodes it, and cut at '?'. Every request must be
 * answered, never with 500 (nothing here can fail for want of memory or disk), and a JSON
 * answer must be JSON, an error one with its "error". The host is built again every
 * RESET_EVERY inputs, so that PUTs of new ids do not grow it for ever.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "api.h"
#include "config.h"
#include "control_impl.h"
#include "fake_http.h"
#include "fuzz.h"
#include "log.h"
#include "scenario.h"
#include "sim.h"
#include "store.h"

#define RESET_EVERY 512

static struct world {
	bool up;
	char dir[64], token[96];
	struct config cfg;
	struct platform plat;
	struct enforcer enf;
	struct control ctl;
	struct store *store;
	struct auth *auth;
	struct loop *loop;
	struct api api;
	unsigned inputs;
} w;

static void world_down(void)
{
	char path[128];

	if (!w.up)
		return;
	api_close(&w.api);
	loop_free(w.loop);
	control_close(&w.ctl);
	store_close(w.store);
	auth_close(w.auth);
	w.enf.ops->close(&w.enf);
	w.plat.ops->close(&w.plat);
	for (const char *const *f =
		     (const char *const[]){ "slas.json", "slas.log", "slas.json.prev",
					    "slas.log.prev", NULL };
	     *f; f++) {
		snprintf(path, sizeof(path), "%s/%s", w.dir, *f);
		unlink(path);
	}
	w.up = false;
}

static void world_up(void)
{
	const struct metrics_info info = { "sim", "netfront", "work_conserving", 100 };
	const uint64_t floor[ALLOC_NRES] = { 100000, 10 };
	const struct scenario *sc;
	struct store_load load;
	char why[512];

	config_defaults(&w.cfg);
	FUZZ_CHECK(!sim_open(DATA_DIR "/paper-scenario1.json", ENFORCER_NETFRONT, &w.plat, &w.enf,
			     why, sizeof(why)));
	FUZZ_CHECK(!control_init(&w.ctl, ALLOC_WORK_CONSERVING, floor, &w.plat, &w.enf));
	sc = sim_scenario(&w.plat);
	for (size_t i = 0; i < sc->n_vms; i++)
		if (sc->vms[i].has_sla)
			FUZZ_CHECK(!control_set_sla(&w.ctl, sc->vms[i].id, &sc->vms[i].sla));
	FUZZ_CHECK(!auth_open(w.token, &w.auth, why, sizeof(why)));
	FUZZ_CHECK(!store_open(w.dir, &w.store, &load));
	w.loop = loop_new();
	FUZZ_CHECK(w.loop);
	FUZZ_CHECK(!api_open(&w.api, w.loop, &w.ctl, w.store, w.auth, NULL, &w.cfg, &info, &load));
	FUZZ_CHECK(!control_tick(&w.ctl, 0));
	FUZZ_CHECK(!control_tick(&w.ctl, 100000000));
	w.up = true;
}

static void at_exit(void)
{
	world_down();
	unlink(w.token);
	rmdir(w.dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE *f;

	(void)argc, (void)argv;
	log_set_level(LOG_LEVEL_ERROR);
	snprintf(w.dir, sizeof(w.dir), "/dev/shm/dbavm-fuzz-XXXXXX");
	FUZZ_CHECK(mkdtemp(w.dir));
	snprintf(w.token, sizeof(w.token), "%s/token", w.dir);
	f = fopen(w.token, "w");
	FUZZ_CHECK(f && fputs("s3cret0123456789\n", f) >= 0 && !fclose(f));
	chmod(w.token, 0600);
	atexit(at_exit);
	return 0;
}

/* Splits the input into req (pointing into text, which it modifies). */
static void parse_input(char *text, size_t size, struct http_request *req)
{
	char *p = text, *end = text + size, *nl, *q;

	memset(req, 0, sizeof(*req));
	nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		nl = end;
	*nl = '\0';
	q = strchr(p, ' ');
	if (q)
		*q++ = '\0';
	snprintf(req->method, sizeof(req->method), "%s", p);
	req->path = q ? q : p + strlen(p); /* no path: "" */
	if ((q = strchr(req->path, '?')))
		*q = '\0';
	http_url_unescape(req->path);
	p = nl < end ? nl + 1 : end;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		*nl = '\0';
		if (!*p) { /* the empty line: the body follows */
			p = nl < end ? nl + 1 : end;
			break;
		}
		if ((q = strchr(p, ':')) && req->n_headers < FAKE_HTTP_HEADERS) {
			*q++ = '\0';
			while (*q == ' ')
				q++;
			req->headers[req->n_headers].name = p;
			req->headers[req->n_headers++].value = q;
		}
		p = nl < end ? nl + 1 : end;
	}
	req->body = p;
	req->body_len = (size_t)(end - p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req;
	char *text = malloc(size + 1);

	FUZZ_CHECK(text);
	memcpy(text, data, size);
	text[size] = '\0';
	if (w.up && ++w.inputs % RESET_EVERY == 0)
		world_down();
	if (!w.up)
		world_up();
	parse_input(text, size, &req);
	fake_http_run(&req);
	FUZZ_CHECK(req.answered);
	FUZZ_CHECK(req.status >= 200 && req.status < 600 && req.status != 500);
	if (req.content_type && !strcmp(req.content_type, "application/json") && req.resp_len) {
		json_t *doc = json_loadb(req.resp, req.resp_len, 0, NULL);

		FUZZ_CHECK(doc);
		if (req.status >= 400)
			FUZZ_CHECK(json_is_string(json_object_get(doc, "error")));
		json_decref(doc);
	}
	free(req.resp);
	free(text);
	return 0;
}
