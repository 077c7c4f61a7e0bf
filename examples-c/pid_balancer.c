/* pid_balancer: a custom balancer written in C that picks the device by
 * the caller's process id, as the original acrypto suggested: all work of
 * one process goes to one device. Three child processes each build an
 * engine with four software devices and this balancer, run requests, and
 * check that every one ran on device number (pid % 4). */
#include <acrypto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEVICES 4
#define REQUESTS 500

static atomic_ulong picks;

static int64_t by_pid(void *ctx, const acrypto_candidate *c, size_t n, const acrypto_work_info *w)
{
	(void)ctx;
	(void)w;
	size_t want = (size_t)getpid() % DEVICES;
	atomic_fetch_add(&picks, 1);
	for (size_t i = 0; i < n; i++)
		if (c[i].index == want)
			return (int64_t)i;
	return -1; /* that device cannot take it: let the engine choose */
}

static atomic_int done;
static void on_done(const acrypto_completion *c)
{
	if (c->status == ACRYPTO_STATUS_OK)
		atomic_fetch_add(&done, 1);
}

static int child(void)
{
	acrypto_engine_config *cfg = NULL;
	acrypto_engine *e = NULL;
	acrypto_session *s = NULL;
	acrypto_balancer_ops ops = { by_pid, NULL, NULL };
	char spec[16];
	snprintf(spec, sizeof spec, "soft:%d", DEVICES);
	if (acrypto_engine_config_new(&cfg) || acrypto_engine_config_set_devices(cfg, spec) ||
	    acrypto_engine_config_set_balancer(cfg, "by-pid", &ops, NULL) || acrypto_engine_new_config(cfg, &e))
		return 1;
	acrypto_engine_config_free(cfg);
	acrypto_step step = { ACRYPTO_ALG_SHA256, ACRYPTO_OP_DIGEST, NULL, 0, NULL };
	if (acrypto_session_new(e, &step, 1, 0, 0, NULL, &s))
		return 1;
	static unsigned char data[REQUESTS][256], tag[REQUESTS][32];
	for (int i = 0; i < REQUESTS; i++) {
		memset(data[i], i, sizeof data[i]);
		acrypto_request r = { data[i], sizeof data[i], NULL, 0, NULL, 0, tag[i], 32, NULL, NULL, 0, 0 };
		if (acrypto_session_submit(s, &r, on_done, ACRYPTO_SUBMIT_BLOCK))
			return 1;
	}
	acrypto_engine_wait_idle(e); /* every callback has returned */
	size_t want = (size_t)getpid() % DEVICES;
	int ok = atomic_load(&done) == REQUESTS;
	for (size_t i = 0; i < DEVICES; i++) {
		acrypto_device_info info;
		if (acrypto_engine_device_info(e, i, &info))
			return 1;
		unsigned long long got = info.stats.completed_ok;
		if ((i == want) != (got == REQUESTS))
			ok = 0;
		if (i != want && got != 0)
			ok = 0;
	}
	printf("pid_balancer: pid %d: %d requests, all on soft%zu (%lu balancer calls): %s\n", (int)getpid(), REQUESTS,
	       want, atomic_load(&picks), ok ? "ok" : "FAILED");
	fflush(stdout);
	acrypto_session_free(s);
	acrypto_engine_free(e);
	return ok ? 0 : 1;
}

int main(void)
{
	int failed = 0;
	for (int i = 0; i < 3; i++) {
		fflush(stdout);
		pid_t p = fork();
		if (p < 0) {
			perror("fork");
			return 1;
		}
		if (p == 0)
			_exit(child());
		int status = 0;
		waitpid(p, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	printf("pid_balancer: %s\n", failed ? "FAILED" : "ok");
	return failed ? 1 : 0;
}
