// SPDX-License-Identifier: GPL-2.0
/*
 * Write a value to a file with every page allocation of this task failing
 * (fail_page_alloc with task-filter, which the caller configures), and
 * print the errno of the write: "0" or its name, e.g. "ENOMEM".
 *
 * Everything the task needs is mapped and locked first and the file is
 * opened before failing is switched on, so that only the write allocates.
 *
 * usage: gmem_cma_fail_write <file> <value>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int set_fail(int fd, const char *v)
{
	return pwrite(fd, v, 1, 0) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	int fd, self, err = 0;
	ssize_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: %s <file> <value>\n", argv[0]);
		return 2;
	}
	fd = open(argv[1], O_WRONLY);
	self = open("/proc/self/make-it-fail", O_WRONLY);
	if (fd < 0 || self < 0) {
		perror("open");
		return 2;
	}
	if (mlockall(MCL_CURRENT | MCL_FUTURE)) {
		perror("mlockall");
		return 2;
	}
	if (set_fail(self, "1")) {
		perror("make-it-fail");
		return 2;
	}
	n = write(fd, argv[2], strlen(argv[2]));
	if (n < 0)
		err = errno;
	set_fail(self, "0");
	munlockall();
	printf("%s\n", err ? strerrorname_np(err) : "0");
	return 0;
}
