/*
 * in_mqtt: the subscriber. See cl_in_mqtt.h.
 *
 * One thread owns the connection. It polls the socket and an eventfd that
 * the bronze flusher pokes after each commit; QoS 1 messages wait in a FIFO
 * until their events are durable, then get their PUBACK, oldest first.
 */
#include "cl_in_mqtt.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_prom.h"
#include "core/cl_time.h"
#include "core/cl_worker.h"
#include "mqtt/cl_mqtt_config.h"

#include <sodium.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 5000
#define CLIENT_ID_FILE "mqtt_client_id"

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
	unsigned device_level;    /* the topic level naming the device */
	struct cl_ingest *ing;
	struct cl_blog *log;
	pthread_t thread;
	int started;
	atomic_int stop;
	int wake_fd;              /* eventfd: a commit happened or stop */
	struct cl_mqtt_conn *conn;
	struct pending_ack *q;    /* FIFO ring of QoS 1 messages */
	size_t q_head, q_len, q_cap;
	struct cl_mqtt_counters c;
};

/* The client id this data directory keeps, made on first use. */
static int kept_client_id(const char *data_dir, char *out, size_t cap)
{
	char path[4200], made[64];
	unsigned char r[7];
	char hex[2 * sizeof(r) + 1];
	char *buf;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", data_dir, CLIENT_ID_FILE);
	rc = cl_fs_read_file(path, 256, &buf, &len);
	if (rc == CL_OK) {
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';
		for (size_t i = 0; i < len && rc == CL_OK; i++)
			if (buf[i] <= ' ' || buf[i] > '~')
				rc = CL_EINVAL;
		if (rc || len == 0 || len >= cap)
			rc = cl_error_set(CL_EINVAL, "'%s' holds no client id: remove it and carelake "
					  "makes a new one (the broker's session under the old id is lost)",
					  path);
		else
			memcpy(out, buf, len + 1);
		cl_free(buf);
		return rc;
	}
	if (rc != CL_ENOENT)
		return rc;
	if (sodium_init() < 0)
		return cl_error_set(CL_EIO, "libsodium did not start");
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
	snprintf(made, sizeof(made), "carelake-%s\n", hex);
	rc = cl_fs_write_atomic(path, made, strlen(made), 0600);
	if (rc)
		return rc;
	made[strlen(made) - 1] = '\0';
	snprintf(out, cap, "%s", made);
	cl_log_info("mqtt", "event=client_id_made client_id=%s file=%s", out, CLIENT_ID_FILE);
	return CL_OK;
}

int cl_mqtt_in_options(const struct cl_config *cfg, const char *data_dir,
		       struct cl_mqtt_options *o)
{
	const struct cl_mqtt_settings *ms = cl_mqtt_settings(cfg);
	int rc = cl_mqtt_filter_device_level(ms->topic);

	memset(o, 0, sizeof(*o));
	if (rc < 0)
		return cl_error_set(rc, "mqtt.topic: %s", cl_error_detail());
	rc = cl_mqtt_conn_options_from_config(cfg, ms->broker, &o->conn);
	if (rc == CL_OK && ms->client_id[0])
		snprintf(o->conn.client_id, sizeof(o->conn.client_id), "%s", ms->client_id);
	else if (rc == CL_OK)
		rc = kept_client_id(data_dir, o->conn.client_id, sizeof(o->conn.client_id));
	if (rc) {
		cl_mqtt_conn_options_clear(&o->conn);
		return rc;
	}
	o->conn.clean_session = 0;
	snprintf(o->topic, sizeof(o->topic), "%s", ms->topic);
	o->qos = (int)ms->qos;
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
		if (cl_mqtt_conn_send(m->conn, pkt, 4) != CL_OK)
			return CL_EIO;
		atomic_fetch_add(&m->c.acked, 1);
		cl_free(a->ids);
		m->q_head = (m->q_head + 1) % m->q_cap;
		m->q_len--;
	}
	return CL_OK;
}

/* A device id from a topic, fit for a log line: at most 64 characters,
 * any but letters, digits and . _ : - shown as '?'. */
static void loggable(const uint8_t *s, size_t n, char *out, size_t cap)
{
	size_t i;

	for (i = 0; i < n && i + 1 < cap && i < 64; i++) {
		uint8_t ch = s[i];

		out[i] = (char)(((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				 (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == ':' ||
				 ch == '-') ? ch : '?');
	}
	out[i] = '\0';
}

static int on_publish(struct cl_mqtt_in *m, const struct cl_mqtt_packet *p)
{
	struct cl_ingest_result r;
	struct pending_ack a = { .packet_id = p->packet_id };
	const uint8_t *dev = NULL;
	size_t dev_len = 0;
	int rc;

	atomic_fetch_add(&m->c.messages, 1);
	if (!cl_mqtt_topic_matches(m->o.topic, p->topic, p->topic_len) ||
	    !cl_mqtt_topic_level(p->topic, p->topic_len, m->device_level, &dev, &dev_len)) {
		/* not ours (a broader subscription of the session): ack, skip */
		return p->qos ? queue_push(m, &a) : CL_OK;
	}
	cl_ingest_result_init(&r);
	/* blocking submit: if bronze is full we stop reading the socket, and
	 * TCP pushes back on the broker */
	rc = cl_ingest_device_body(m->ing, (const char *)dev, dev_len, (const char *)p->payload,
				   p->payload_len, cl_time_now_us(), 0, &r);
	if (rc == CL_EPARSE || rc == CL_ETOOBIG) {
		atomic_fetch_add(&m->c.bad, 1);
		cl_log_warn("mqtt", "event=bad_payload bytes=%zu reason=\"%s\"", p->payload_len,
			    rc == CL_ETOOBIG ? "too many events" : "not JSON events");
		rc = CL_OK; /* nothing in it can be stored: acknowledge it */
	} else if (rc == CL_OK && r.wrong_device) {
		char d[65];

		/* final: acknowledged with the rest, never stored */
		atomic_fetch_add(&m->c.wrong_device, r.wrong_device);
		loggable(dev, dev_len, d, sizeof(d));
		cl_log_warn("mqtt", "event=wrong_device topic_device=\"%s\" rejected=%u stored=%u "
			    "reason=\"device_id is not the device of the topic\"", d, r.wrong_device,
			    r.accepted);
	}
	/* counts only: a reason may quote the value refused (a patient's
	 * reading), which never goes to the log */
	if (rc == CL_OK && r.nrejected > r.wrong_device)
		cl_log_warn("mqtt", "event=events_rejected count=%u", r.nrejected - r.wrong_device);
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

/* Handles every complete packet read; CL_EIO when the link must go. */
static int handle_packets(struct cl_mqtt_in *m)
{
	for (;;) {
		struct cl_mqtt_packet p;
		long n = cl_mqtt_conn_next(m->conn, &p);
		int rc = CL_OK;

		if (n == 0)
			break;
		if (n < 0)
			return cl_error_set(CL_EIO, "protocol error from the broker: %s",
					    cl_error_detail());
		switch (p.type) {
		case CL_MQTT_SUBACK:
			if (p.suback_qos == 0x80)
				return cl_error_set(CL_EINVAL, "the MQTT broker refused the subscription "
						    "to %s (is carelake's user allowed to read it?)",
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
	return flush_acks(m);
}

/* Connects, subscribes, and handles what came with the CONNACK. */
static int session_start(struct cl_mqtt_in *m)
{
	uint8_t pkt[CL_CFG_STRING_MAX + 16];
	int present = 0, rc;
	long n;

	rc = cl_mqtt_conn_connect(m->conn, CONNECT_TIMEOUT_MS, &present);
	if (rc)
		return rc;
	atomic_store(&m->c.connected, 1);
	cl_log_info("mqtt", "event=connected broker=%s tls=%d session_present=%d",
		    cl_mqtt_conn_peer(m->conn), m->o.conn.tls, present);
	n = cl_mqtt_subscribe(pkt, sizeof(pkt), 1, m->o.topic, m->o.qos);
	if (n < 0)
		return cl_error_set(CL_EINVAL, "mqtt.topic is too long");
	rc = cl_mqtt_conn_send(m->conn, pkt, (size_t)n);
	return rc ? rc : handle_packets(m);
}

static void *mqtt_main(void *arg)
{
	struct cl_mqtt_in *m = arg;
	int64_t backoff_ms = 100;
	int64_t keepalive_us = (int64_t)m->o.conn.keepalive_s * 1000000;

	while (!atomic_load(&m->stop)) {
		int rc = session_start(m);
		char why[600];

		while (rc == CL_OK && !atomic_load(&m->stop)) {
			struct pollfd pf[2] = { { cl_mqtt_conn_fd(m->conn), POLLIN, 0 },
						{ m->wake_fd, POLLIN, 0 } };
			int buffered = cl_mqtt_conn_buffered(m->conn);
			int timeout = buffered ? 0 : keepalive_us ? (int)(keepalive_us / 2000) : 1000;

			if (poll(pf, 2, timeout) < 0 && errno != EINTR) {
				rc = cl_error_set(CL_EIO, "poll: %s", strerror(errno));
				break;
			}
			if (pf[1].revents & POLLIN) {
				uint64_t v;

				if (read(m->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					rc = cl_error_set(CL_EIO, "eventfd: %s", strerror(errno));
				if (rc == CL_OK)
					rc = flush_acks(m);
			}
			if (rc == CL_OK && (buffered || (pf[0].revents & (POLLIN | POLLHUP | POLLERR)))) {
				rc = cl_mqtt_conn_read(m->conn);
				if (rc == CL_OK)
					rc = handle_packets(m);
			}
			if (rc == CL_OK && keepalive_us &&
			    cl_mqtt_conn_idle_us(m->conn) > keepalive_us / 2) {
				uint8_t pkt[2];

				cl_mqtt_pingreq(pkt, sizeof(pkt));
				rc = cl_mqtt_conn_send(m->conn, pkt, 2);
			}
			if (rc == CL_OK)
				backoff_ms = 100;
		}
		snprintf(why, sizeof(why), "%s", cl_error_detail());
		if (atomic_load(&m->stop) && cl_mqtt_conn_fd(m->conn) >= 0)
			flush_acks(m); /* answer what is durable, then say goodbye */
		cl_mqtt_conn_close(m->conn, atomic_load(&m->stop));
		/* unacknowledged messages come again with the next session */
		queue_clear(m);
		atomic_store(&m->c.connected, 0);
		if (atomic_load(&m->stop))
			break;
		if (rc == CL_EINVAL)
			cl_log_error("mqtt", "event=refused reason=%s retry_ms=%lld", CL_LOG_Q(why),
				     (long long)backoff_ms);
		else
			cl_log_warn("mqtt", "event=disconnected broker=%s reason=%s retry_ms=%lld",
				    cl_mqtt_conn_peer(m->conn), CL_LOG_Q(why), (long long)backoff_ms);
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
	struct cl_mqtt_in *m;
	int level = cl_mqtt_filter_device_level(o->topic);
	int rc;

	if (level < 0)
		return cl_error_set(level, "mqtt.topic: %s", cl_error_detail());
	m = cl_calloc(1, sizeof(*m));
	if (!m)
		return cl_error_set(CL_ENOMEM, "no memory for MQTT");
	m->o = *o;
	m->device_level = (unsigned)level;
	m->ing = ing;
	m->log = cl_ingest_log(ing);
	m->wake_fd = -1;
	rc = cl_mqtt_conn_create(&o->conn, &m->conn);
	/* the connection keeps the password; this copy need not */
	sodium_memzero(m->o.conn.password, sizeof(m->o.conn.password));
	if (rc == CL_OK) {
		m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->wake_fd < 0)
			rc = cl_error_set(CL_EIO, "eventfd: %s", strerror(errno));
	}
	if (rc == CL_OK)
		rc = cl_thread_create(&m->thread, "cl-mqtt", mqtt_main, m);
	if (rc) {
		cl_mqtt_in_stop(m);
		return rc;
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
	if (m->wake_fd >= 0 && write(m->wake_fd, &one, sizeof(one)) < 0)
		cl_log_warn("mqtt", "event=wake_failed");
	if (m->started)
		pthread_join(m->thread, NULL);
	queue_clear(m);
	cl_free(m->q);
	cl_mqtt_conn_destroy(m->conn);
	if (m->wake_fd >= 0)
		close(m->wake_fd);
	cl_mqtt_conn_options_clear(&m->o.conn);
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
	cl_prom_counter(p, "carelake_mqtt_wrong_device_total",
			"MQTT events rejected because their device_id is not the device their topic "
			"names.", atomic_load(&mc->wrong_device));
	cl_prom_counter(p, "carelake_mqtt_reconnects_total", "MQTT reconnections.",
			atomic_load(&mc->reconnects));
	cl_prom_gauge(p, "carelake_mqtt_connected", "1 while connected to the broker.",
		      atomic_load(&mc->connected));
}

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
	struct cl_mqtt_options mo;
	struct cl_mqtt_in *m = NULL;
	int rc = cl_mqtt_in_options(in->cfg, in->data_dir, &mo);

	if (rc == CL_OK)
		rc = cl_mqtt_in_start(&mo, in->ingest, &m);
	cl_mqtt_conn_options_clear(&mo.conn); /* the password */
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

