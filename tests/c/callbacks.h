/* One place for the C tests that wait for their callbacks: on_done counts
 * completions and keeps the last; wait_callbacks(n) returns once n have
 * run, with the last one. */
#ifndef ACRYPTO_TEST_CALLBACKS_H
#define ACRYPTO_TEST_CALLBACKS_H

#include <acrypto.h>
#include <pthread.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done_count;
static acrypto_completion last;

static void on_done(const acrypto_completion *c)
{
	pthread_mutex_lock(&mu);
	last = *c;
	done_count++;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

static acrypto_completion wait_callbacks(int n)
{
	pthread_mutex_lock(&mu);
	while (done_count < n)
		pthread_cond_wait(&cv, &mu);
	acrypto_completion c = last;
	pthread_mutex_unlock(&mu);
	return c;
}

#endif
