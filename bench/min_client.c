/*
 * The floor for `ec2ctl CLUSTER status --json`: a minimal client that
 * sends one request line (the same bytes ec2ctl sends; ctl_bench.py
 * captures them) over the control socket, reads the reply line and writes
 * it to stdout.  libc only, no parsing, no checks beyond the syscalls.
 *
 *   min_client SOCKET REQUEST-LINE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t cap = 1 << 20, len = 0, reqlen;
	char *buf, *req;
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path))
		return 2;
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	reqlen = strlen(argv[2]);
	req = malloc(reqlen + 1);
	buf = malloc(cap);
	if (req == NULL || buf == NULL)
		return 1;
	memcpy(req, argv[2], reqlen);
	req[reqlen++] = '\n';
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    write(fd, req, reqlen) != (ssize_t)reqlen)
		return 69;
	for (;;) {
		ssize_t r;

		if (len == cap && (buf = realloc(buf, cap *= 2)) == NULL)
			return 1;
		r = read(fd, buf + len, cap - len);
		if (r <= 0)
			return 1;
		len += (size_t)r;
		if (buf[len - 1] == '\n')
			break;
	}
	if (write(STDOUT_FILENO, buf, len) != (ssize_t)len)
		return 1;
	close(fd);
	return 0;
}
