/*
 * The object storage emulators for tests: Azurite (Azure Blob) and s3rver
 * (S3) from npm (tests/objstore), each started on a free loopback port
 * with its files under tmp_dir, and a TCP proxy of the test's own between
 * carelake and an emulator that can answer the next connections with 500
 * or 503, cut one mid-upload, stall one, or lose an answer. The test
 * defines `pkg_dir` (tests/objstore, holding node_modules) and `tmp_dir`
 * before including this.
 */
#ifndef CL_OBJSTORE_EMULATORS_H
#define CL_OBJSTORE_EMULATORS_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* the fault proxy */

enum fault { F_NONE, F_500, F_503, F_CUT, F_STALL, F_LOSE_ANSWER };

struct proxy {
	int lfd, port, upstream;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum fault mode;
	int pending;          /* connections still to fault */
	int conns[128];       /* live client sockets */
	int nconns, threads;
	int stop;
};

struct conn {
	struct proxy *p;
	int fd;
	enum fault mode;
};

static int listen_any(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 64), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

static int free_port(void)
{
	int port, fd = listen_any(&port);

	close(fd);
	return port;
}

static int connect_port(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void write_all(int fd, const char *b, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		b += w;
		n -= (size_t)w;
	}
}

/* Answers one request with `status` after reading its head (and its body,
 * unless the client waits for 100-continue). */
static void answer_status(int fd, int status)
{
	char buf[65536], resp[160];
	size_t len = 0;
	char *end = NULL;
	long body = 0;

	while (!end && len < sizeof(buf) - 1) {
		ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);

		if (r <= 0)
			return;
		len += (size_t)r;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (!end)
		return;
	for (char *p = buf; p < end; p++)
		if (strncasecmp(p, "\r\ncontent-length:", 17) == 0)
			body = strtol(p + 17, NULL, 10);
	if (!strcasestr(buf, "100-continue")) {
		long have = (long)(len - (size_t)(end + 4 - buf));

		while (have < body) {
			ssize_t r = recv(fd, buf, sizeof(buf), 0);

			if (r <= 0)
				break;
			have += r;
		}
	}
	snprintf(resp, sizeof(resp),
		 "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status,
		 status == 500 ? "Internal Server Error" : "Service Unavailable");
	write_all(fd, resp, strlen(resp));
}

/* Relays both ways; with cut, closes both after 256 KiB upstream; with
 * lose, closes both when the answer starts, forwarding none of it. */
static void relay(int cfd, int ufd, int cut, int lose)
{
	static __thread char buf[65536];
	struct pollfd pf[2] = { { .fd = cfd, .events = POLLIN }, { .fd = ufd, .events = POLLIN } };
	size_t up = 0;

	for (;;) {
		if (poll(pf, 2, 30000) <= 0)
			return;
		for (int i = 0; i < 2; i++) {
			ssize_t r;

			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = recv(pf[i].fd, buf, sizeof(buf), 0);
			if (r <= 0 || (lose && i == 1))
				return;
			write_all(pf[1 - i].fd, buf, (size_t)r);
			if (i == 0) {
				up += (size_t)r;
				if (cut && up >= 256 * 1024)
					return;
			}
		}
	}
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct proxy *p = c->p;
	char buf[4096];

	if (c->mode == F_500 || c->mode == F_503) {
		answer_status(c->fd, c->mode == F_500 ? 500 : 503);
	} else if (c->mode == F_STALL) {
		while (recv(c->fd, buf, sizeof(buf), 0) > 0)
			;
	} else {
		int ufd = connect_port(p->upstream);

		if (ufd >= 0) {
			relay(c->fd, ufd, c->mode == F_CUT, c->mode == F_LOSE_ANSWER);
			close(ufd);
		}
	}
	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->nconns; i++)
		if (p->conns[i] == c->fd) {
			p->conns[i] = p->conns[--p->nconns];
			break;
		}
	close(c->fd);
	p->threads--;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	free(c);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct proxy *p = arg;

	for (;;) {
		int fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
		struct conn *c;
		pthread_t th;

		if (fd < 0)
			return NULL;
		c = calloc(1, sizeof(*c));
		c->p = p;
		c->fd = fd;
		pthread_mutex_lock(&p->mu);
		if (p->stop || p->nconns == 128) {
			pthread_mutex_unlock(&p->mu);
			close(fd);
			free(c);
			continue;
		}
		if (p->pending > 0) {
			c->mode = p->mode;
			p->pending--;
		}
		p->conns[p->nconns++] = fd;
		p->threads++;
		pthread_mutex_unlock(&p->mu);
		if (pthread_create(&th, NULL, conn_main, c) != 0)
			abort();
		pthread_detach(th);
	}
}

/* Drops every open connection (the client's idle ones too), so the next
 * request opens a new one, which the fault applies to. */
static void proxy_drop(struct proxy *p)
{
	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->nconns; i++)
		shutdown(p->conns[i], SHUT_RDWR);
	while (p->threads > 0)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

static void proxy_arm(struct proxy *p, enum fault mode, int n)
{
	proxy_drop(p);
	pthread_mutex_lock(&p->mu);
	p->mode = mode;
	p->pending = n;
	pthread_mutex_unlock(&p->mu);
}

static inline int proxy_pending(struct proxy *p)
{
	int n;

	pthread_mutex_lock(&p->mu);
	n = p->pending;
	pthread_mutex_unlock(&p->mu);
	return n;
}

static void proxy_start(struct proxy *p, int upstream)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->upstream = upstream;
	p->lfd = listen_any(&p->port);
	assert_int_equal(pthread_create(&p->th, NULL, accept_main, p), 0);
}

static void proxy_stop(struct proxy *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_mutex_unlock(&p->mu);
	shutdown(p->lfd, SHUT_RDWR);
	pthread_join(p->th, NULL);
	close(p->lfd);
	proxy_drop(p);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
}

/* ------------------------------------------------------------------ */
/* the emulators */

static pid_t spawn(char *const argv[], const char *log)
{
	pid_t parent = getpid(), pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		cl_test_die_with_parent(parent);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void wait_listening(int port, pid_t pid, const char *log)
{
	for (int i = 0; i < 600; i++) {
		int fd = connect_port(port), st;

		if (fd >= 0) {
			close(fd);
			return;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			fprintf(stderr, "the emulator exited; see %s\n", log);
			fail();
		}
		usleep(50 * 1000);
	}
	fprintf(stderr, "the emulator did not listen on %d in 30 s; see %s\n", port, log);
	fail();
}

/* The emulators keep nothing worth a clean stop (Azurite waits on SIGTERM
 * for its connections to go idle). */
static void stop(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

static pid_t start_azurite(int port)
{
	char exe[512], where[300], log[300], ports[16];

	snprintf(exe, sizeof(exe), "%s/node_modules/.bin/azurite-blob", pkg_dir);
	snprintf(where, sizeof(where), "%s/azurite", tmp_dir);
	snprintf(log, sizeof(log), "%s/azurite.log", tmp_dir);
	snprintf(ports, sizeof(ports), "%d", port);
	mkdir(where, 0700);
	char *argv[] = { exe, "--blobHost", "127.0.0.1", "--blobPort", ports, "--location", where,
			 "--silent", "--skipApiVersionCheck", "--disableTelemetry", NULL };
	pid_t pid = spawn(argv, log);

	wait_listening(port, pid, log);
	return pid;
}

static pid_t start_s3rver(int port)
{
	char node[] = "/usr/bin/node", script[512], where[300], log[300], ports[16];

	snprintf(script, sizeof(script), "%s/s3rver.js", pkg_dir);
	snprintf(where, sizeof(where), "%s/s3rver", tmp_dir);
	snprintf(log, sizeof(log), "%s/s3rver.log", tmp_dir);
	snprintf(ports, sizeof(ports), "%d", port);
	mkdir(where, 0700);
	/* s3rver makes its ListObjectsV2 continuation tokens with DES, which
	 * Node 20's OpenSSL 3 has only in its legacy provider (without it,
	 * every truncated V2 listing is a 500) */
	char legacy[] = "--openssl-legacy-provider";
	char *argv[] = { node, legacy, script, ports, where, NULL };
	pid_t pid = spawn(argv, log);

	wait_listening(port, pid, log);
	return pid;
}


#endif
