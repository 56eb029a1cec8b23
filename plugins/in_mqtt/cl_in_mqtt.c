/*
 * in_mqtt: the subscriber. See cl_in_mqtt.h.
 *
 * One thread owns the socket. It polls the socket and an eventfd that the
 * bronze flusher pokes after each commit; QoS 1 messages wait in a FIFO
 * until their events are durable, then get their PUBACK, oldest first.
 */
#include "cl_in_mqtt.h"
#include "cl_mqtt_proto.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_prom.h"
#include "core/cl_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* A QoS 1 message waiting for its PUBACK. */
struct pending_ack {
	uint16_t packet_id;
	int queued;               /* events went to bronze: wait for them */
	uint64_t first, last;     /* their batches */
	char *ids;                /* their event ids, to forget on failure */
	size_t ids_len;
};

struct cl_mqtt_in {
	struct cl_mqtt_options o;
	struct cl_ingest *ing;
	struct cl_blog *log;
	pthread_t thread;
	int started;
	atomic_int stop;
	int wake_fd;              /* eventfd: a commit happened or stop */
	int sock;
	uint8_t *in;              /* receive buffer */
	size_t in_len, in_cap;
	struct pending_ack *q;    /* FIFO ring of QoS 1 messages */
	size_t q_head, q_len, q_cap;
	int64_t last_sent_us;
	struct cl_mqtt_counters c;
};

int cl_mqtt_parse_broker(const char *spec, struct cl_mqtt_options *o)
{
	const char *colon;
	uint64_t port;

	if (strncmp(spec, "mqtt://", 7) == 0)
		spec += 7;
	colon = strrchr(spec, ':');
	if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(o->host))
		return cl_error_set(CL_EINVAL, "MQTT broker '%s' is not HOST:PORT", spec);
	if (cl_parse_u64(colon + 1, 1, 65535, &port) != CL_OK)
		return cl_error_set(CL_EINVAL, "MQTT broker '%s': port must be 1..65535", spec);
	memcpy(o->host, spec, (size_t)(colon - spec));
	o->host[colon - spec] = '\0';
	o->port = (uint16_t)port;
	return CL_OK;
}

static int send_all(struct cl_mqtt_in *m, const uint8_t *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = send(m->sock, buf, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return cl_error_set(CL_EIO, "MQTT send failed: %s", strerror(errno));
		buf += w;
		n -= (size_t)w;
	}
	m->last_sent_us = cl_time_mono_us();
	return CL_OK;
}

static void queue_clear(struct cl_mqtt_in *m)
{
	for (size_t i = 0; i < m->q_len; i++)
		cl_free(m->q[(m->q_head + i) % m->q_cap].ids);
	m->q_head = m->q_len = 0;
}

static int queue_push(struct cl_mqtt_in *m, const struct pending_ack *a)
{
	if (m->q_len == m->q_cap) {
		size_t nc = m->q_cap ? m->q_cap * 2 : 256;
		struct pending_ack *nq = cl_malloc(nc * sizeof(*nq));

		if (!nq)
			return CL_ENOMEM;
		for (size_t i = 0; i < m->q_len; i++)
			nq[i] = m->q[(m->q_head + i) % m->q_cap];
		cl_free(m->q);
		m->q = nq;
		m->q_cap = nc;
		m->q_head = 0;
	}
	m->q[(m->q_head + m->q_len++) % m->q_cap] = *a;
	return CL_OK;
}

/* Sends the PUBACKs that are due, oldest first. A failed commit drops the
 * connection: the broker redelivers, and the ids are forgotten so the
 * redelivery is stored rather than called a duplicate. */
static int flush_acks(struct cl_mqtt_in *m)
{
	uint8_t pkt[4];

	while (m->q_len > 0) {
		struct pending_ack *a = &m->q[m->q_head];
		int rc = CL_OK;

		if (a->queued && !cl_blog_poll_range(m->log, a->first, a->last, &rc))
			break;
		if (rc != CL_OK) {
			struct cl_ingest_result r;

			cl_ingest_result_init(&r);
			r.ids = a->ids;
			r.ids_len = a->ids_len;
			a->ids = NULL;
			cl_ingest_forget(m->ing, &r);
			cl_ingest_result_free(&r);
			return cl_error_set(rc, "events of an MQTT message could not be stored");
		}
		cl_mqtt_puback(pkt, sizeof(pkt), a->packet_id);
		if (send_all(m, pkt, 4) != CL_OK)
			return CL_EIO;
		atomic_fetch_add(&m->c.acked, 1);
		cl_free(a->ids);
		m->q_head = (m->q_head + 1) % m->q_cap;
		m->q_len--;
	}
	return CL_OK;
}

static int on_publish(struct cl_mqtt_in *m, const struct cl_mqtt_packet *p)
{
	struct cl_ingest_result r;
	struct pending_ack a = { .packet_id = p->packet_id };
	int rc;

	atomic_fetch_add(&m->c.messages, 1);
	if (!cl_mqtt_topic_matches(m->o.topic, p->topic, p->topic_len)) {
		/* not ours (a broader subscription of the session): ack, skip */
		return p->qos ? queue_push(m, &a) : CL_OK;
	}
	cl_ingest_result_init(&r);
	/* blocking submit: if bronze is full we stop reading the socket, and
	 * TCP pushes back on the broker */
	rc = cl_ingest_body(m->ing, (const char *)p->payload, p->payload_len,
			    cl_time_now_us(), 0, &r);
	if (rc == CL_EPARSE || rc == CL_ETOOBIG) {
		atomic_fetch_add(&m->c.bad, 1);
		cl_log_warn("mqtt", "event=bad_payload bytes=%zu reason=\"%s\"", p->payload_len,
			    rc == CL_ETOOBIG ? "too many events" : "not JSON events");
		rc = CL_OK; /* nothing in it can be stored: acknowledge it */
	} else if (rc == CL_OK && r.nrejected) {
		cl_log_warn("mqtt", "event=events_rejected count=%u first_reason=%s",
			    r.nrejected, CL_LOG_Q(r.nlisted ? r.rejected[0].error : ""));
	}
	if (rc != CL_OK) {
		cl_ingest_result_free(&r);
		return rc;
	}
	if (p->qos) {
		a.queued = r.queued;
		a.first = r.first.batch;
		a.last = r.last.batch;
		a.ids = r.ids;
		a.ids_len = r.ids_len;
		r.ids = NULL;
		rc = queue_push(m, &a);
		if (rc)
			cl_free(a.ids);
	}
	cl_ingest_result_free(&r);
	return rc;
}

static int connect_broker(struct cl_mqtt_in *m)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(m->o.port) };
	struct timeval tv = { .tv_sec = 5 };
	uint8_t pkt[512];
	long n;
	int one = 1;

	if (strcmp(m->o.host, "localhost") == 0)
		inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	else if (inet_pton(AF_INET, m->o.host, &sa.sin_addr) != 1)
		return cl_error_set(CL_EINVAL, "MQTT broker host '%s' is not an IPv4 address",
				    m->o.host);
	m->sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->sock < 0)
		return cl_error_set(CL_EIO, "socket: %s", strerror(errno));
	setsockopt(m->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(m->sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(m->sock, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return cl_error_set(CL_EIO, "cannot connect to MQTT broker %s:%u: %s", m->o.host,
				    m->o.port, strerror(errno));
	n = cl_mqtt_connect(pkt, sizeof(pkt), m->o.client_id, m->o.keepalive_s, 0);
	if (n < 0 || send_all(m, pkt, (size_t)n) != CL_OK)
		return CL_EIO;
	n = cl_mqtt_subscribe(pkt, sizeof(pkt), 1, m->o.topic, m->o.qos);
	if (n < 0 || send_all(m, pkt, (size_t)n) != CL_OK)
		return CL_EIO;
	m->in_len = 0;
	return CL_OK;
}

/* Reads and handles what the broker sent; CL_EIO when the link is gone. */
static int read_packets(struct cl_mqtt_in *m)
{
	ssize_t r;
	size_t used = 0;

	if (m->in_cap - m->in_len < 65536) {
		size_t nc = m->in_cap ? m->in_cap * 2 : 262144;
		uint8_t *nb = cl_realloc(m->in, nc);

		if (!nb)
			return cl_error_set(CL_ENOMEM, "no memory for MQTT input");
		m->in = nb;
		m->in_cap = nc;
	}
	r = recv(m->sock, m->in + m->in_len, m->in_cap - m->in_len, 0);
	if (r == 0)
		return cl_error_set(CL_EIO, "the MQTT broker closed the connection");
	if (r < 0)
		return errno == EINTR || errno == EAGAIN
			       ? CL_OK
			       : cl_error_set(CL_EIO, "MQTT receive failed: %s", strerror(errno));
	m->in_len += (size_t)r;
	for (;;) {
		struct cl_mqtt_packet p;
		long n = cl_mqtt_decode(m->in + used, m->in_len - used, &p);
		int rc = CL_OK;

		if (n == 0)
			break;
		if (n < 0)
			return cl_error_set(CL_EIO, "protocol error from the broker: %s",
					    cl_error_detail());
		used += (size_t)n;
		switch (p.type) {
		case CL_MQTT_CONNACK:
			if (p.connack_code != 0)
				return cl_error_set(CL_EIO, "the MQTT broker refused the connection (code %d)",
						    p.connack_code);
			atomic_store(&m->c.connected, 1);
			cl_log_info("mqtt", "event=connected broker=%s:%u session_present=%d",
				    m->o.host, m->o.port, p.session_present);
			break;
		case CL_MQTT_SUBACK:
			if (p.suback_qos == 0x80)
				return cl_error_set(CL_EIO, "the MQTT broker refused the subscription to %s",
						    m->o.topic);
			break;
		case CL_MQTT_PUBLISH:
			rc = on_publish(m, &p);
			break;
		default:
			break;
		}
		if (rc)
			return rc;
	}
	memmove(m->in, m->in + used, m->in_len - used);
	m->in_len -= used;
	return flush_acks(m);
}

static void *mqtt_main(void *arg)
{
	struct cl_mqtt_in *m = arg;
	int64_t backoff_ms = 100;

	while (!atomic_load(&m->stop)) {
		int rc = connect_broker(m);

		while (rc == CL_OK && !atomic_load(&m->stop)) {
			struct pollfd pf[2] = { { m->sock, POLLIN, 0 }, { m->wake_fd, POLLIN, 0 } };
			int timeout = m->o.keepalive_s * 500;

			if (poll(pf, 2, timeout > 0 ? timeout : 1000) < 0 && errno != EINTR) {
				rc = CL_EIO;
				break;
			}
			if (pf[1].revents & POLLIN) {
				uint64_t v;

				if (read(m->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					rc = CL_EIO;
				if (rc == CL_OK)
					rc = flush_acks(m);
			}
			if (rc == CL_OK && (pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
				rc = read_packets(m);
			if (rc == CL_OK && m->o.keepalive_s &&
			    cl_time_mono_us() - m->last_sent_us > (int64_t)m->o.keepalive_s * 500000) {
				uint8_t pkt[2];

				cl_mqtt_pingreq(pkt, sizeof(pkt));
				rc = send_all(m, pkt, 2);
			}
			if (rc == CL_OK)
				backoff_ms = 100;
		}
		if (m->sock >= 0) {
			if (atomic_load(&m->stop)) {
				uint8_t pkt[2];

				/* answer what is durable, then say goodbye */
				flush_acks(m);
				cl_mqtt_disconnect(pkt, sizeof(pkt));
				send_all(m, pkt, 2);
			}
			close(m->sock);
			m->sock = -1;
		}
		/* unacknowledged messages come again with the next session */
		queue_clear(m);
		atomic_store(&m->c.connected, 0);
		if (atomic_load(&m->stop))
			break;
		cl_log_warn("mqtt", "event=disconnected broker=%s:%u reason=%s retry_ms=%lld",
			    m->o.host, m->o.port, CL_LOG_Q(cl_error_detail()), (long long)backoff_ms);
		atomic_fetch_add(&m->c.reconnects, 1);
		{
			struct pollfd pf = { m->wake_fd, POLLIN, 0 };

			poll(&pf, 1, (int)backoff_ms);
		}
		backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
	}
	return NULL;
}

int cl_mqtt_in_start(const struct cl_mqtt_options *o, struct cl_ingest *ing,
		     struct cl_mqtt_in **out)
{
	struct cl_mqtt_in *m = cl_calloc(1, sizeof(*m));

	if (!m)
		return cl_error_set(CL_ENOMEM, "no memory for MQTT");
	m->o = *o;
	m->ing = ing;
	m->log = cl_ingest_log(ing);
	m->sock = -1;
	m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->wake_fd < 0) {
		cl_free(m);
		return cl_error_set(CL_EIO, "eventfd: %s", strerror(errno));
	}
	if (pthread_create(&m->thread, NULL, mqtt_main, m) != 0) {
		close(m->wake_fd);
		cl_free(m);
		return cl_error_set(CL_ENOMEM, "cannot start the MQTT thread");
	}
	m->started = 1;
	*out = m;
	return CL_OK;
}

void cl_mqtt_in_on_commit(struct cl_mqtt_in *m, uint64_t batch)
{
	uint64_t one = 1;

	(void)batch;
	if (m && write(m->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		cl_log_warn("mqtt", "event=wake_failed");
}

void cl_mqtt_in_stop(struct cl_mqtt_in *m)
{
	uint64_t one = 1;

	if (!m)
		return;
	atomic_store(&m->stop, 1);
	if (write(m->wake_fd, &one, sizeof(one)) < 0)
		cl_log_warn("mqtt", "event=wake_failed");
	if (m->started)
		pthread_join(m->thread, NULL);
	queue_clear(m);
	cl_free(m->q);
	cl_free(m->in);
	close(m->wake_fd);
	cl_free(m);
}

const struct cl_mqtt_counters *cl_mqtt_in_counters(const struct cl_mqtt_in *m)
{
	return &m->c;
}

void cl_mqtt_in_metrics(const struct cl_mqtt_in *m, struct cl_prom *p)
{
	const struct cl_mqtt_counters *mc = cl_mqtt_in_counters(m);

	cl_prom_counter(p, "carelake_mqtt_messages_total", "MQTT messages received.",
			atomic_load(&mc->messages));
	cl_prom_counter(p, "carelake_mqtt_acks_total",
			"MQTT QoS 1 messages acknowledged after their events were durable.",
			atomic_load(&mc->acked));
	cl_prom_counter(p, "carelake_mqtt_bad_payloads_total",
			"MQTT messages whose payload held no JSON events.", atomic_load(&mc->bad));
	cl_prom_counter(p, "carelake_mqtt_reconnects_total", "MQTT reconnections.",
			atomic_load(&mc->reconnects));
	cl_prom_gauge(p, "carelake_mqtt_connected", "1 while connected to the broker.",
		      atomic_load(&mc->connected));
}

#define SEC 1000000ll
#define F(field) offsetof(struct cl_mqtt_settings, field)

static const struct cl_config_entry mqtt_entries[] = {
	{ "broker", CL_CFG_STRING, "", 0, 0, F(broker),
	  "HOST:PORT of an MQTT broker to take device events from; empty: no MQTT", NULL },
	{ "topic", CL_CFG_STRING, "devices/+/messages/events", 0, 0, F(topic),
	  "topic filter subscribed to (the IoT-hub device-to-cloud convention)", NULL },
	{ "client_id", CL_CFG_STRING, "carelake", 0, 0, F(client_id),
	  "MQTT client id; the broker keeps this session's unacknowledged messages", NULL },
	{ "keepalive", CL_CFG_DURATION, "30s", SEC, 3600 * SEC, F(keepalive_us),
	  "MQTT keep-alive interval", NULL },
	{ "qos", CL_CFG_U32, "1", 0, 1, F(qos),
	  "subscription QoS: 1 acknowledges each message once its events are durable", NULL },
};

/* The input plugin: off without mqtt.broker. */
static int mqtt_init(struct cl_input *in, void **state)
{
	const struct cl_mqtt_settings *ms = cl_mqtt_settings(in->cfg);

	(void)state;
	if (!ms->broker[0])
		return cl_error_set(CL_ENOENT, "mqtt.broker is empty");
	return CL_OK;
}

static int mqtt_start(struct cl_input *in)
{
	const struct cl_mqtt_settings *ms = cl_mqtt_settings(in->cfg);
	struct cl_mqtt_options mo;
	struct cl_mqtt_in *m = NULL;
	int rc;

	memset(&mo, 0, sizeof(mo));
	rc = cl_mqtt_parse_broker(ms->broker, &mo);
	snprintf(mo.topic, sizeof(mo.topic), "%s", ms->topic);
	snprintf(mo.client_id, sizeof(mo.client_id), "%s", ms->client_id);
	mo.keepalive_s = (uint16_t)(ms->keepalive_us / 1000000);
	mo.qos = (int)ms->qos;
	if (rc == CL_OK)
		rc = cl_mqtt_in_start(&mo, in->ingest, &m);
	in->state = m;
	return rc;
}

static void mqtt_on_commit(struct cl_input *in, uint64_t batch)
{
	cl_mqtt_in_on_commit(in->state, batch);
}

static void mqtt_metrics(struct cl_input *in, struct cl_prom *p)
{
	if (in->state)
		cl_mqtt_in_metrics(in->state, p);
}

static void mqtt_exit(struct cl_input *in)
{
	cl_mqtt_in_stop(in->state);
}

const struct cl_input_plugin cl_in_mqtt = {
	.name = "mqtt",
	.description = "device events from an MQTT broker (devices/+/messages/events), "
		       "acknowledged once durable",
	.kind = CL_INPUT_EVENTS,
	.settings = &cl_mqtt_section,
	.cb_init = mqtt_init,
	.cb_start = mqtt_start,
	.cb_on_commit = mqtt_on_commit,
	.cb_metrics = mqtt_metrics,
	.cb_exit = mqtt_exit,
};

const struct cl_config_section cl_mqtt_section = {
	.name = "mqtt",
	.entries = mqtt_entries,
	.nentries = sizeof(mqtt_entries) / sizeof(mqtt_entries[0]),
	.size = sizeof(struct cl_mqtt_settings),
};

const struct cl_mqtt_settings *cl_mqtt_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_mqtt_section);
}
