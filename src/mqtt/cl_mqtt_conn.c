/*
 * A client's connection to an MQTT broker. See cl_mqtt_conn.h.
 *
 * The socket is non-blocking from the start: connect, the TLS handshake
 * and the CONNACK each wait with poll() against one deadline, and a send
 * waits at most 5 s for room. With TLS every read and write goes through
 * OpenSSL; a read that meets only a handshake record (a TLS 1.3 session
 * ticket) gives nothing rather than blocking. The process ignores SIGPIPE
 * (every command that connects sets that), so a write to a broker that
 * went away is an error, not a signal.
 */
#include "cl_mqtt_conn.h"
#include "cl_mqtt_config.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEND_TIMEOUT_MS 5000
#define PASSWORD_ENV "CARELAKE_MQTT_PASSWORD"

struct cl_mqtt_conn {
	struct cl_mqtt_conn_options o;
	char peer[300];           /* "host:port" for messages */
	SSL_CTX *ctx;             /* NULL without TLS */
	SSL *ssl;                 /* the current TLS session */
	int tls_failed;           /* a fatal TLS error: no close_notify */
	int fd;                   /* -1 while not connected */
	uint8_t *in;              /* bytes read, from in_used on not yet decoded */
	size_t in_len, in_used, in_cap;
	int64_t last_sent_us;
};

/* ---- settings ---- */

/* [mqtt://|mqtts://]HOST[:PORT] into o; o->tls is 1 for mqtts://, 0 for
 * mqtt://, -1 without a scheme; o->port 0 without a port. */
static int parse_broker(const char *spec, struct cl_mqtt_conn_options *o)
{
	const char *host = spec, *port = NULL;
	size_t hl;
	uint64_t v;

	o->tls = -1;
	if (strncmp(spec, "mqtt://", 7) == 0) {
		host += 7;
		o->tls = 0;
	} else if (strncmp(spec, "mqtts://", 8) == 0) {
		host += 8;
		o->tls = 1;
	} else if (strstr(spec, "://")) {
		return cl_error_set(CL_EINVAL, "MQTT broker '%s': the scheme must be mqtt:// or mqtts://",
				    spec);
	}
	if (*host == '[') {
		const char *close = strchr(host, ']');

		if (!close || (close[1] && close[1] != ':'))
			return cl_error_set(CL_EINVAL, "MQTT broker '%s': an IPv6 address is written "
					    "[ADDRESS]:PORT", spec);
		hl = (size_t)(close - host - 1);
		host++;
		port = close[1] ? close + 2 : NULL;
	} else {
		const char *colon = strchr(host, ':');

		if (colon && strchr(colon + 1, ':'))
			return cl_error_set(CL_EINVAL, "MQTT broker '%s': an IPv6 address is written "
					    "[ADDRESS]:PORT", spec);
		hl = colon ? (size_t)(colon - host) : strlen(host);
		port = colon ? colon + 1 : NULL;
	}
	if (hl == 0 || hl >= sizeof(o->host) || memchr(host, '/', hl))
		return cl_error_set(CL_EINVAL, "MQTT broker '%s' is not [mqtt://|mqtts://]HOST[:PORT]",
				    spec);
	v = 0;
	if (port && cl_parse_u64(port, 1, 65535, &v) != CL_OK)
		return cl_error_set(CL_EINVAL, "MQTT broker '%s': the port must be 1..65535", spec);
	memcpy(o->host, host, hl);
	o->host[hl] = '\0';
	o->port = (uint16_t)v;
	return CL_OK;
}

/* The password from mqtt.password_file: the file less one trailing
 * newline. The buffer it was read into is wiped. */
static int read_password_file(const char *path, struct cl_mqtt_conn_options *o)
{
	struct stat st;
	char *buf;
	size_t len;
	int rc;

	if (stat(path, &st) == 0 && (st.st_mode & 077))
		cl_log_warn("mqtt", "event=password_file_readable path=\"%s\" mode=%04o "
			    "hint=\"chmod 600 it\"", path, (unsigned)(st.st_mode & 07777));
	rc = cl_fs_read_file(path, CL_MQTT_PASSWORD_MAX, &buf, &len);
	if (rc == CL_ETOOBIG)
		return cl_error_set(CL_EINVAL, "mqtt.password_file '%s' is longer than %d bytes", path,
				    CL_MQTT_PASSWORD_MAX - 1);
	if (rc)
		return cl_error_set(rc, "mqtt.password_file: %s", cl_error_detail());
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 || memchr(buf, '\n', len) || len >= CL_MQTT_PASSWORD_MAX)
		rc = cl_error_set(CL_EINVAL, "mqtt.password_file '%s' must hold the password on one "
				  "line", path);
	else {
		memcpy(o->password, buf, len);
		o->password_len = len;
		o->has_password = 1;
	}
	OPENSSL_cleanse(buf, len);
	cl_free(buf);
	return rc;
}

int cl_mqtt_conn_options_from_config(const struct cl_config *cfg, const char *broker,
				     struct cl_mqtt_conn_options *o)
{
	const struct cl_mqtt_settings *ms = cl_mqtt_settings(cfg);
	const char *tls = ms->tls, *env;
	int rc;

	memset(o, 0, sizeof(*o));
	rc = parse_broker(broker, o);
	if (rc)
		return rc;
	if (strcmp(tls, "auto") == 0) {
		o->tls = o->tls == 1;
	} else {
		int want = strcmp(tls, "on") == 0; /* the table allows only on and off besides */

		if (o->tls >= 0 && o->tls != want)
			return cl_error_set(CL_EINVAL, "mqtt.tls is %s but the broker is %s", tls,
					    o->tls ? "mqtts:// (TLS)" : "mqtt:// (no TLS)");
		o->tls = want;
	}
	if (!o->port)
		o->port = o->tls ? 8883 : 1883;
	if (!o->tls && (ms->ca_file[0] || ms->cert_file[0] || ms->key_file[0]))
		return cl_error_set(CL_EINVAL, "mqtt.ca_file, mqtt.cert_file and mqtt.key_file need TLS "
				    "(mqtt.tls=on or an mqtts:// broker)");
	if (!ms->cert_file[0] != !ms->key_file[0])
		return cl_error_set(CL_EINVAL, "mqtt.cert_file and mqtt.key_file go together");
	snprintf(o->ca_file, sizeof(o->ca_file), "%s", ms->ca_file);
	snprintf(o->cert_file, sizeof(o->cert_file), "%s", ms->cert_file);
	snprintf(o->key_file, sizeof(o->key_file), "%s", ms->key_file);
	o->tls_verify = ms->tls_verify != 0;
	snprintf(o->username, sizeof(o->username), "%s", ms->username);
	if (ms->password_file[0]) {
		rc = read_password_file(ms->password_file, o);
	} else if ((env = getenv(PASSWORD_ENV)) && env[0]) {
		o->password_len = strlen(env);
		if (o->password_len >= CL_MQTT_PASSWORD_MAX)
			rc = cl_error_set(CL_EINVAL, "$" PASSWORD_ENV " is longer than %d bytes",
					  CL_MQTT_PASSWORD_MAX - 1);
		else
			memcpy(o->password, env, o->password_len);
		o->has_password = rc == CL_OK;
	}
	if (rc == CL_OK && o->has_password && !o->username[0])
		rc = cl_error_set(CL_EINVAL, "a broker password (mqtt.password_file or $" PASSWORD_ENV
				  ") needs mqtt.username");
	if (rc)
		cl_mqtt_conn_options_clear(o);
	else
		o->keepalive_s = (uint16_t)(ms->keepalive_us / 1000000);
	return rc;
}

void cl_mqtt_conn_options_clear(struct cl_mqtt_conn_options *o)
{
	OPENSSL_cleanse(o, sizeof(*o));
}

/* ---- TLS context ---- */

/* The reason OpenSSL gives for its last error, after `what`. */
static int tls_error(int code, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char why[256] = "no reason given";

	if (e)
		ERR_error_string_n(e, why, sizeof(why));
	ERR_clear_error();
	return cl_error_set(code, "%s: %s", what, why);
}

/* A private key with a passphrase would make OpenSSL ask on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return 0;
}

/* A file setting names a file carelake can read (OpenSSL would only say
 * "system lib"). */
static int readable(const char *setting, const char *path)
{
	if (path[0] && access(path, R_OK) != 0)
		return cl_error_set(CL_EINVAL, "%s '%s': %s", setting, path, strerror(errno));
	return CL_OK;
}

static int tls_context(struct cl_mqtt_conn *c)
{
	char what[400];
	int rc = readable("mqtt.ca_file", c->o.ca_file);

	if (rc == CL_OK)
		rc = readable("mqtt.cert_file", c->o.cert_file);
	if (rc == CL_OK)
		rc = readable("mqtt.key_file", c->o.key_file);
	if (rc)
		return rc;
	ERR_clear_error();
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx)
		return tls_error(CL_ENOMEM, "cannot make a TLS context");
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_default_passwd_cb(c->ctx, no_passphrase);
	if (c->o.ca_file[0]) {
		snprintf(what, sizeof(what), "mqtt.ca_file '%s' gives no CA certificates",
			 c->o.ca_file);
		if (SSL_CTX_load_verify_locations(c->ctx, c->o.ca_file, NULL) != 1)
			return tls_error(CL_EINVAL, what);
	} else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
		return tls_error(CL_EIO, "cannot load the system's CA certificates");
	}
	if (c->o.cert_file[0]) {
		snprintf(what, sizeof(what), "mqtt.cert_file '%s'", c->o.cert_file);
		if (SSL_CTX_use_certificate_chain_file(c->ctx, c->o.cert_file) != 1)
			return tls_error(CL_EINVAL, what);
		snprintf(what, sizeof(what), "mqtt.key_file '%s' (an unencrypted PEM key)",
			 c->o.key_file);
		if (SSL_CTX_use_PrivateKey_file(c->ctx, c->o.key_file, SSL_FILETYPE_PEM) != 1)
			return tls_error(CL_EINVAL, what);
		if (SSL_CTX_check_private_key(c->ctx) != 1)
			return cl_error_set(CL_EINVAL, "mqtt.key_file '%s' is not the key of "
					    "mqtt.cert_file '%s'", c->o.key_file, c->o.cert_file);
	}
	SSL_CTX_set_verify(c->ctx, c->o.tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return CL_OK;
}

int cl_mqtt_conn_create(const struct cl_mqtt_conn_options *o, struct cl_mqtt_conn **out)
{
	struct cl_mqtt_conn *c = cl_calloc(1, sizeof(*c));
	int rc = CL_OK;

	if (!c)
		return cl_error_set(CL_ENOMEM, "no memory for an MQTT connection");
	c->o = *o;
	c->fd = -1;
	snprintf(c->peer, sizeof(c->peer), strchr(o->host, ':') ? "[%s]:%u" : "%s:%u", o->host,
		 o->port);
	if (o->tls)
		rc = tls_context(c);
	if (rc) {
		cl_mqtt_conn_destroy(c);
		return rc;
	}
	if (o->tls && !o->tls_verify)
		cl_log_warn("mqtt", "event=tls_unverified broker=%s hint=\"mqtt.tls_verify=0: the "
			    "broker's certificate is not checked\"", c->peer);
	*out = c;
	return CL_OK;
}

/* ---- I/O ---- */

/* Waits for events on fd until the deadline: 1 ready, 0 timed out, CL_EIO. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pf = { fd, events, 0 };
		int64_t left = deadline - cl_time_mono_us();
		int r;

		if (left <= 0)
			return 0;
		r = poll(&pf, 1, (int)((left + 999) / 1000));
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return cl_error_set(CL_EIO, "poll: %s", strerror(errno));
	}
}

static int tcp_connect(struct cl_mqtt_conn *c, int64_t deadline)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	char port[8];
	int gai, err = ETIMEDOUT, one = 1;

	snprintf(port, sizeof(port), "%u", c->o.port);
	gai = getaddrinfo(c->o.host, port, &hints, &res);
	if (gai)
		return cl_error_set(CL_EIO, "cannot resolve the MQTT broker's host '%s': %s", c->o.host,
				    gai_strerror(gai));
	for (ai = res; ai && c->fd < 0; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		socklen_t len = sizeof(err);

		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			c->fd = fd;
		} else if (errno != EINPROGRESS) {
			err = errno;
		} else if (wait_fd(fd, POLLOUT, deadline) != 1) {
			err = ETIMEDOUT;
		} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
			c->fd = fd;
		}
		if (c->fd < 0)
			close(fd);
	}
	freeaddrinfo(res);
	if (c->fd < 0)
		return cl_error_set(CL_EIO, "cannot connect to the MQTT broker %s: %s", c->peer,
				    strerror(err));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return CL_OK;
}

static int is_ip_address(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

static int tls_handshake(struct cl_mqtt_conn *c, int64_t deadline)
{
	ERR_clear_error();
	c->tls_failed = 1; /* until the handshake is done */
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return tls_error(CL_ENOMEM, "cannot start TLS");
	if (!is_ip_address(c->o.host))
		SSL_set_tlsext_host_name(c->ssl, c->o.host); /* SNI */
	if (c->o.tls_verify) {
		int ok = is_ip_address(c->o.host)
				 ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->o.host)
				 : SSL_set1_host(c->ssl, c->o.host);

		if (ok != 1)
			return tls_error(CL_EINVAL, "cannot check the broker's host name");
	}
	for (;;) {
		int r, e, w;
		long v;

		ERR_clear_error();
		r = SSL_connect(c->ssl);
		if (r == 1) {
			c->tls_failed = 0;
			return CL_OK;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			w = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
			if (w == 1)
				continue;
			return w < 0 ? w : cl_error_set(CL_EIO, "TLS handshake with the MQTT broker %s "
							"timed out", c->peer);
		}
		v = SSL_get_verify_result(c->ssl);
		if (v != X509_V_OK) {
			ERR_clear_error();
			return cl_error_set(CL_EINVAL, "the MQTT broker %s has a certificate carelake "
					    "does not trust: %s (see mqtt.ca_file)", c->peer,
					    X509_verify_cert_error_string(v));
		}
		{
			char what[400];

			snprintf(what, sizeof(what), "TLS handshake with the MQTT broker %s failed",
				 c->peer);
			return tls_error(CL_EIO, what);
		}
	}
}

int cl_mqtt_conn_send(struct cl_mqtt_conn *c, const uint8_t *buf, size_t n)
{
	int64_t deadline = cl_time_mono_us() + SEND_TIMEOUT_MS * 1000ll;

	if (c->fd < 0)
		return cl_error_set(CL_EIO, "not connected to the MQTT broker %s", c->peer);
	while (n > 0) {
		short want = 0;
		ssize_t w = 0;

		if (c->ssl) {
			int r, e;

			ERR_clear_error();
			r = SSL_write(c->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
			e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
				want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
			} else if (e != SSL_ERROR_NONE) {
				c->tls_failed = 1;
				return tls_error(CL_EIO, "MQTT send failed");
			}
			w = r > 0 ? r : 0;
		} else {
			w = send(c->fd, buf, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				want = POLLOUT;
			else if (w < 0)
				return cl_error_set(CL_EIO, "MQTT send failed: %s", strerror(errno));
		}
		if (want) {
			int r = wait_fd(c->fd, want, deadline);

			if (r != 1)
				return r < 0 ? r : cl_error_set(CL_EIO, "the MQTT broker %s took nothing "
								"for %d s", c->peer,
								SEND_TIMEOUT_MS / 1000);
			continue;
		}
		buf += w;
		n -= (size_t)w;
	}
	c->last_sent_us = cl_time_mono_us();
	return CL_OK;
}

int cl_mqtt_conn_read(struct cl_mqtt_conn *c)
{
	ssize_t r;

	if (c->fd < 0)
		return cl_error_set(CL_EIO, "not connected to the MQTT broker %s", c->peer);
	if (c->in_used) {
		memmove(c->in, c->in + c->in_used, c->in_len - c->in_used);
		c->in_len -= c->in_used;
		c->in_used = 0;
	}
	if (c->in_cap - c->in_len < 65536) {
		size_t nc = c->in_cap ? c->in_cap * 2 : 262144;
		uint8_t *nb = cl_realloc(c->in, nc);

		if (!nb)
			return cl_error_set(CL_ENOMEM, "no memory for MQTT input");
		c->in = nb;
		c->in_cap = nc;
	}
	if (c->ssl) {
		size_t room = c->in_cap - c->in_len;
		int e;

		ERR_clear_error();
		r = SSL_read(c->ssl, c->in + c->in_len, room > INT_MAX ? INT_MAX : (int)room);
		e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, (int)r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return CL_OK;
		if (e == SSL_ERROR_ZERO_RETURN)
			return cl_error_set(CL_EIO, "the MQTT broker closed the connection");
		if (e != SSL_ERROR_NONE) {
			c->tls_failed = 1;
			if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
				return cl_error_set(CL_EIO, "the MQTT broker closed the connection%s%s",
						    errno ? ": " : "", errno ? strerror(errno) : "");
			return tls_error(CL_EIO, "MQTT receive failed");
		}
	} else {
		r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (r == 0)
			return cl_error_set(CL_EIO, "the MQTT broker closed the connection");
		if (r < 0)
			return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK
				       ? CL_OK
				       : cl_error_set(CL_EIO, "MQTT receive failed: %s", strerror(errno));
	}
	c->in_len += (size_t)r;
	return CL_OK;
}

long cl_mqtt_conn_next(struct cl_mqtt_conn *c, struct cl_mqtt_packet *p)
{
	long n;

	if (!c->in)
		return 0;
	n = cl_mqtt_decode(c->in + c->in_used, c->in_len - c->in_used, p);
	if (n > 0)
		c->in_used += (size_t)n;
	return n;
}

int cl_mqtt_conn_buffered(const struct cl_mqtt_conn *c)
{
	return c->ssl && SSL_pending(c->ssl) > 0;
}

/* 1 if the bytes read hold a whole packet (or a length no packet has,
 * which cl_mqtt_conn_next then refuses). */
static int packet_ready(const struct cl_mqtt_conn *c)
{
	const uint8_t *b;
	size_t have = c->in_len - c->in_used, rem = 0, mult = 1;

	if (!c->in)
		return 0;
	b = c->in + c->in_used;
	for (size_t i = 1; i < have && i <= 4; i++) {
		rem += (size_t)(b[i] & 0x7f) * mult;
		mult *= 128;
		if (!(b[i] & 0x80))
			return have - i - 1 >= rem;
	}
	return have > 5;
}

int cl_mqtt_conn_wait(struct cl_mqtt_conn *c, int timeout_ms)
{
	int64_t deadline = cl_time_mono_us() + timeout_ms * 1000ll;

	for (;;) {
		int rc;

		if (packet_ready(c))
			return 1;
		if (!cl_mqtt_conn_buffered(c)) {
			rc = wait_fd(c->fd, POLLIN, deadline);
			if (rc <= 0)
				return rc;
		}
		rc = cl_mqtt_conn_read(c);
		if (rc)
			return rc;
	}
}

/* ---- the session ---- */

static int refused(const struct cl_mqtt_conn *c, int code)
{
	switch (code) {
	case 1:
		return cl_error_set(CL_EINVAL, "the MQTT broker %s refused the connection: it does not "
				    "take MQTT 3.1.1 (CONNACK 1)", c->peer);
	case 2:
		return cl_error_set(CL_EINVAL, "the MQTT broker %s refused the client id '%s' "
				    "(CONNACK 2; see mqtt.client_id)", c->peer, c->o.client_id);
	case 3:
		return cl_error_set(CL_EINVAL, "the MQTT broker %s refused the connection: the "
				    "service is unavailable (CONNACK 3)", c->peer);
	case 4:
		return cl_error_set(CL_EINVAL, "the MQTT broker %s refused the username or password "
				    "(CONNACK 4; see mqtt.username and mqtt.password_file)", c->peer);
	case 5:
		return cl_error_set(CL_EINVAL, "the MQTT broker %s refused the connection: not "
				    "authorized (CONNACK 5; see mqtt.username and mqtt.password_file)",
				    c->peer);
	default:
		return cl_error_set(CL_EINVAL, "the MQTT broker %s refused the connection (CONNACK %d)",
				    c->peer, code);
	}
}

static int send_connect(struct cl_mqtt_conn *c)
{
	struct cl_mqtt_connect_fields f = {
		.client_id = c->o.client_id,
		.username = c->o.username[0] ? c->o.username : NULL,
		.password = c->o.has_password ? c->o.password : NULL,
		.password_len = c->o.password_len,
		.keepalive_s = c->o.keepalive_s,
		.clean_session = c->o.clean_session,
	};
	uint8_t pkt[3 * CL_CFG_STRING_MAX + CL_MQTT_PASSWORD_MAX + 32];
	long n = cl_mqtt_connect(pkt, sizeof(pkt), &f);
	int rc;

	if (n < 0)
		return cl_error_set(CL_EINVAL, "the MQTT CONNECT does not fit");
	rc = cl_mqtt_conn_send(c, pkt, (size_t)n);
	OPENSSL_cleanse(pkt, (size_t)n);
	return rc;
}

static int wait_connack(struct cl_mqtt_conn *c, int64_t deadline, int *session_present)
{
	int64_t left = deadline - cl_time_mono_us();
	struct cl_mqtt_packet p;
	long n;
	int w;

	w = left > 0 ? cl_mqtt_conn_wait(c, (int)(left / 1000)) : 0;
	if (w == 0)
		return cl_error_set(CL_EIO, "no CONNACK from the MQTT broker %s in time", c->peer);
	if (w < 0)
		return cl_error_set(w, "the MQTT broker %s did not answer the CONNECT: %s", c->peer,
				    cl_error_detail());
	n = cl_mqtt_conn_next(c, &p);
	if (n < 0)
		return cl_error_set(CL_EIO, "protocol error from the MQTT broker %s: %s", c->peer,
				    cl_error_detail());
	if (p.type != CL_MQTT_CONNACK)
		return cl_error_set(CL_EIO, "the MQTT broker %s sent packet type %d before its CONNACK",
				    c->peer, p.type);
	if (p.connack_code)
		return refused(c, p.connack_code);
	*session_present = p.session_present;
	return CL_OK;
}

int cl_mqtt_conn_connect(struct cl_mqtt_conn *c, int timeout_ms, int *session_present)
{
	int64_t deadline = cl_time_mono_us() + timeout_ms * 1000ll;
	int rc;

	cl_mqtt_conn_close(c, 0);
	rc = tcp_connect(c, deadline);
	if (rc == CL_OK && c->ctx)
		rc = tls_handshake(c, deadline);
	if (rc == CL_OK)
		rc = send_connect(c);
	if (rc == CL_OK)
		rc = wait_connack(c, deadline, session_present);
	if (rc) {
		char msg[600];

		snprintf(msg, sizeof(msg), "%s", cl_error_detail());
		cl_mqtt_conn_close(c, 0);
		return cl_error_set(rc, "%s", msg);
	}
	return CL_OK;
}

int cl_mqtt_conn_fd(const struct cl_mqtt_conn *c)
{
	return c->fd;
}

int64_t cl_mqtt_conn_idle_us(const struct cl_mqtt_conn *c)
{
	return cl_time_mono_us() - c->last_sent_us;
}

const char *cl_mqtt_conn_peer(const struct cl_mqtt_conn *c)
{
	return c->peer;
}

void cl_mqtt_conn_close(struct cl_mqtt_conn *c, int goodbye)
{
	if (c->fd < 0)
		return;
	if (goodbye) {
		uint8_t pkt[2];

		cl_mqtt_disconnect(pkt, sizeof(pkt));
		cl_mqtt_conn_send(c, pkt, sizeof(pkt));
	}
	if (c->ssl) {
		if (!c->tls_failed) {
			ERR_clear_error();
			SSL_shutdown(c->ssl); /* close_notify, without waiting for the answer */
		}
		SSL_free(c->ssl);
		c->ssl = NULL;
		ERR_clear_error();
	}
	close(c->fd);
	c->fd = -1;
	c->in_len = c->in_used = 0;
}

void cl_mqtt_conn_destroy(struct cl_mqtt_conn *c)
{
	if (!c)
		return;
	cl_mqtt_conn_close(c, 0);
	SSL_CTX_free(c->ctx);
	cl_free(c->in);
	cl_mqtt_conn_options_clear(&c->o);
	cl_free(c);
}
