/*
 * Whole-process wall time of commands run alternately, side by side in
 * one run (so that both see the same machine): each is started with
 * posix_spawn, its stdout to /dev/null, and waited for.  Prints the median
 * and p90 of each and the ratio of each median to the last command's (the
 * reference).  A command that fails ends the benchmark.
 *
 *   bench_spawn RUNS -- CMD [ARG]... [-- CMD [ARG]...]...
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_CMDS 8
#define WARMUP	 10

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
run(char **argv, const posix_spawn_file_actions_t *fa)
{
	double t0 = now_s();
	pid_t pid;
	int st;

	if (posix_spawn(&pid, argv[0], fa, NULL, argv, environ) != 0 ||
	    waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		fprintf(stderr, "bench_spawn: %s failed\n", argv[0]);
		exit(1);
	}
	return now_s() - t0;
}

int
main(int argc, char **argv)
{
	char **cmd[MAX_CMDS];
	double *t[MAX_CMDS], med[MAX_CMDS];
	int ncmd = 0, runs;
	posix_spawn_file_actions_t fa;

	if (argc < 4 || strcmp(argv[2], "--") != 0 ||
	    (runs = atoi(argv[1])) < 1) {
		fprintf(stderr, "usage: bench_spawn RUNS -- CMD [ARG]... "
		    "[-- CMD [ARG]...]...\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") != 0)
			continue;
		argv[i] = NULL;		/* ends the previous command */
		if (i + 1 >= argc || ncmd == MAX_CMDS)
			return 2;
		cmd[ncmd++] = &argv[i + 1];
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null",
	    O_WRONLY, 0);
	for (int k = 0; k < ncmd; k++)
		t[k] = calloc((size_t)runs, sizeof(double));
	for (int r = -WARMUP; r < runs; r++) {
		for (int k = 0; k < ncmd; k++) {
			double d = run(cmd[k], &fa);

			if (r >= 0)
				t[k][r] = d;
		}
	}
	for (int k = 0; k < ncmd; k++) {
		qsort(t[k], (size_t)runs, sizeof(double), cmp_double);
		med[k] = t[k][runs / 2];
	}
	for (int k = 0; k < ncmd; k++) {
		printf("%-28s median %.3f ms  p90 %.3f ms  %.2fx the last "
		    "(%d runs)\n", strrchr(cmd[k][0], '/') ?
		    strrchr(cmd[k][0], '/') + 1 : cmd[k][0], med[k] * 1e3,
		    t[k][runs * 9 / 10] * 1e3, med[k] / med[ncmd - 1], runs);
		free(t[k]);
	}
	posix_spawn_file_actions_destroy(&fa);
	return 0;
}
