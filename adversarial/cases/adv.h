/*
 * adv.h: helpers shared by the adversarial attack programs (included with
 * -I adversarial/cases by the runner, tests/adversarial.rs).
 *
 * Every attack program prints what it observed, one line per attempt, and ends
 * with exactly one verdict line:
 *   "DEFENDED: ..."  every attack failed the way the sandbox promises (exit 0);
 *   "ESCAPED: ..."   at least one attack got through (exit 1).
 * An attempt that fails, but with an errno other than the one the defense
 * produces, prints "UNEXPECTED: ..." and also counts as not defended: it means
 * the attack was stopped by something other than the defense under test.
 * stdout is unbuffered so that a program killed half-way still shows its lines.
 */
#ifndef ADV_H
#define ADV_H
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int adv_attempts, adv_failures;

__attribute__((constructor)) static void adv_init(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
}

__attribute__((unused)) static const char *en(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "EUNKNOWN";
}

/* An attack that got through. */
__attribute__((format(printf, 1, 2), unused)) static void escaped(const char *fmt, ...)
{
	va_list ap;
	adv_attempts++;
	adv_failures++;
	printf("ESCAPED: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* An attack that was stopped. */
__attribute__((format(printf, 1, 2), unused)) static void stopped(const char *fmt, ...)
{
	va_list ap;
	adv_attempts++;
	printf("stopped: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* An attempt stopped by something other than the defense under test, or a case
 * that could not run: counts as not defended. */
__attribute__((format(printf, 1, 2), unused)) static void unexpected(const char *fmt, ...)
{
	va_list ap;
	adv_attempts++;
	adv_failures++;
	printf("UNEXPECTED: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/*
 * `what` returned rc with errno err. rc >= 0 is success: the attack got through.
 * allowed[1..n) lists the errnos the defense produces; an empty list accepts any.
 */
__attribute__((unused)) static void must_fail_(const char *what, long rc, int err, const int *allowed, size_t n)
{
	if (rc >= 0) {
		escaped("%s succeeded (returned %ld)", what, rc);
		return;
	}
	if (n <= 1) {
		stopped("%s: %s", what, en(err));
		return;
	}
	for (size_t i = 1; i < n; i++) {
		if (allowed[i] == err) {
			stopped("%s: %s", what, en(err));
			return;
		}
	}
	unexpected("%s failed with %s, not with the errno of the defense (%s)", what, en(err),
		   en(allowed[1]));
}

/* MUST_FAIL("what", expression, [allowed errnos...]) */
#define MUST_FAIL(what, expr, ...)                                                     \
	do {                                                                           \
		errno = 0;                                                             \
		long adv_rc_ = (long)(expr);                                           \
		int adv_err_ = errno;                                                  \
		const int adv_allowed_[] = {0, ##__VA_ARGS__};                         \
		must_fail_((what), adv_rc_, adv_err_, adv_allowed_,                    \
			   sizeof adv_allowed_ / sizeof adv_allowed_[0]);              \
	} while (0)

/* The verdict line; exit 0 only if every attack was stopped. */
__attribute__((unused)) static int finish(const char *name)
{
	if (adv_attempts == 0) {
		printf("ESCAPED: %s made no attempt (broken attack program)\n", name);
		return 1;
	}
	if (adv_failures) {
		printf("ESCAPED: %s: %d of %d attacks were not stopped\n", name, adv_failures,
		       adv_attempts);
		return 1;
	}
	printf("DEFENDED: %s: all %d attacks stopped\n", name, adv_attempts);
	return 0;
}

#endif
