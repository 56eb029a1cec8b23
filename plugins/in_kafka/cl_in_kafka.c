/*
 * in_kafka: the consumers. See cl_in_kafka.h.
 *
 * One thread per input owns its librdkafka consumer. It polls records,
 * hands each to ingest without waiting (CL_BLOG_NOWAIT), and keeps a FIFO
 * of the records taken with the bronze batches they went to. After every
 * poll it pops the records whose batches are durable (and whose dead
 * letter, with a dead-letter topic, the brokers confirmed), fsyncs the
 * dead-letter file if it was written, and commits the offsets just past
 * the popped records (asynchronously; synchronously on a revoke and at
 * stop). The FIFO is in the order records came, so popping a record means
 * every earlier one is durable too.
 */
#include "cl_in_kafka.h"
#include "cl_kafka_conf.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_prom.h"
#include "core/cl_time.h"
#include "core/cl_worker.h"
#include "json/cl_json.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <sodium.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEC 1000000ll
#define F(field) offsetof(struct cl_kafka_settings, field)
#define DEAD_LETTER_DIR "kafka"
#define DEAD_LETTER_FILE "dead-letter.ndjson"
#define BUSY_RETRY_MS 20
#define DRAIN_MS 5000

static const struct cl_config_entry kafka_entries[] = {
	{ "brokers", CL_CFG_STRING, "", 0, 0, F(brokers),
	  "bootstrap brokers, HOST:PORT[,HOST:PORT...] (Event Hubs: NAMESPACE.servicebus.windows.net:"
	  "9093); empty: no Kafka", NULL },
	{ "topics", CL_CFG_STRING, "", 0, 0, F(topics),
	  "comma-separated topics of device events (JSON object, array or NDJSON per record), "
	  "consumed by the input `kafka`", NULL },
	{ "fhir_topics", CL_CFG_STRING, "", 0, 0, F(fhir_topics),
	  "comma-separated topics of FHIR Observations or Bundles (one per record), consumed by "
	  "the input `kafka_fhir`", NULL },
	{ "group", CL_CFG_STRING, "carelake", 0, 0, F(group),
	  "consumer group; carelake nodes in one group share the partitions (kafka_fhir uses "
	  "<group>-fhir)", NULL },
	{ "client_id", CL_CFG_STRING, "carelake", 0, 0, F(client_id),
	  "client.id the brokers see in their logs and quotas", NULL },
	{ "security_protocol", CL_CFG_CHOICE, "PLAINTEXT", 0, 0, F(security_protocol),
	  "how carelake talks to the brokers (Event Hubs: SASL_SSL)",
	  "PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL" },
	{ "sasl_mechanism", CL_CFG_CHOICE, "PLAIN", 0, 0, F(sasl_mechanism),
	  "SASL mechanism for SASL_PLAINTEXT and SASL_SSL (Event Hubs: PLAIN)",
	  "PLAIN|SCRAM-SHA-256|SCRAM-SHA-512" },
	{ "sasl_username", CL_CFG_STRING, "", 0, 0, F(sasl_username),
	  "SASL user name (Event Hubs: $ConnectionString)", NULL },
	{ "sasl_password_file", CL_CFG_STRING, "", 0, 0, F(sasl_password_file),
	  "file holding the SASL password on one line (Event Hubs: the connection string), read "
	  "at start; empty: $CARELAKE_KAFKA_PASSWORD, if set; never logged", NULL },
	{ "ssl_ca_location", CL_CFG_STRING, "", 0, 0, F(ssl_ca_location),
	  "PEM file of the CA certificates the brokers' certificates must chain to; empty: the "
	  "system's", NULL },
	{ "session_timeout", CL_CFG_DURATION, "45s", SEC, 3600 * SEC, F(session_timeout_us),
	  "how long the group waits for a silent node before giving its partitions to the others "
	  "(the time a crashed node's partitions stand still)", NULL },
	{ "queue_max", CL_CFG_SIZE, "16MiB", 1024 * 1024, 1024ull * 1024 * 1024, F(queue_max),
	  "records fetched ahead per consumer, in bytes; the memory a consumer may hold", NULL },
	{ "offset_reset", CL_CFG_CHOICE, "earliest", 0, 0, F(offset_reset),
	  "where a group without committed offsets starts: earliest or latest",
	  "earliest|latest" },
	{ "dead_letter_topic", CL_CFG_STRING, "", 0, 0, F(dead_letter_topic),
	  "topic that records with rejected content go to, as a JSON envelope with the reasons "
	  "and headers naming the source topic, partition and offset (delivery confirmed before "
	  "the source offset is committed); empty: <data>/kafka/dead-letter.ndjson", NULL },
	{ "rebuild_window", CL_CFG_DURATION, "15m", 0, 24 * 3600 * SEC, F(rebuild_window_us),
	  "on taking over a partition, the stream state (windows, NEWS2, rule runs, open "
	  "episodes, baselines) is rebuilt from the partition's records of this long before its "
	  "committed offset, raising nothing and storing nothing; 0: no rebuild", NULL },
};

const struct cl_config_section cl_kafka_section = {
	.name = "kafka",
	.entries = kafka_entries,
	.nentries = sizeof(kafka_entries) / sizeof(kafka_entries[0]),
	.size = sizeof(struct cl_kafka_settings),
};

const struct cl_kafka_settings *cl_kafka_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_kafka_section);
}

/* A record taken, waiting for its batches to be durable. */
struct pending {
	char *topic;
	int32_t partition;
	int64_t offset;
	int queued;               /* it went to bronze: wait for first..last */
	uint64_t first, last;
	char *ids;                /* ids it stored, to forget on failure */
	size_t ids_len;
	/* dead-letter topic: the envelope produced, until the brokers confirm
	 * it (dl_state 1); 0 while in flight, -1 failed (produce it again) */
	uint64_t dl_seq;          /* 0: none */
	int dl_state;
	int64_t dl_retry_at;      /* monotonic us: when to produce it again */
	char *dl_env;
	size_t dl_env_len;
	char *dl_key;             /* the source record's key, or NULL */
	size_t dl_key_len;
	rd_kafka_headers_t *dl_hdrs; /* copied into each produce */
};

struct kafka_counters {
	atomic_uint_fast64_t records;      /* records consumed */
	atomic_uint_fast64_t dead_letter;  /* records written to the dead-letter file */
	atomic_uint_fast64_t ids_added;    /* events given a kafka:<topic>:<p>:<offset> id */
	atomic_uint_fast64_t committed;    /* records whose offsets were committed */
	atomic_uint_fast64_t pauses;       /* times bronze pushed back */
	atomic_uint_fast64_t errors;       /* consumer errors reported */
	atomic_uint_fast64_t rebalances;
	atomic_uint_fast64_t dl_produced;  /* dead letters delivered to the topic */
	atomic_uint_fast64_t dl_failed;    /* dead-letter deliveries that failed (and were retried) */
	atomic_uint_fast64_t rebuilt;      /* records replayed into the stream on takeovers */
	atomic_uint_fast64_t rebuilds;     /* takeovers rebuilt */
	atomic_uint_fast64_t rebuild_own;  /* records found stored here, not rebuilt */
	atomic_uint_fast64_t rebuild_us;   /* time spent rebuilding */
	atomic_int assigned;               /* partitions held now */
	atomic_int paused;                 /* 1 while paused */
};

struct kafka_in {
	struct cl_input *in;
	int fhir;
	char topics[CL_CFG_STRING_MAX];
	char group[CL_CFG_STRING_MAX + 8];
	rd_kafka_t *rk;
	pthread_t thread;
	int started;
	atomic_int stop;
	struct pending *q;        /* FIFO ring */
	size_t q_head, q_len, q_cap;
	int dl_fd;                /* the dead-letter file, opened on first use */
	int dl_dirty;             /* written since its last fsync */
	char dl_path[PATH_MAX];
	struct cl_json_doc doc;
	rd_kafka_t *dlp;          /* producer of the dead-letter topic, or NULL */
	/* the partitions whose stream state this node holds: the last
	 * assignment (eager), or what was added and not taken away since
	 * (cooperative) */
	rd_kafka_topic_partition_list_t *owned;
	char dl_topic[CL_CFG_STRING_MAX];
	uint64_t dl_next;         /* the last dl_seq given */
	/* the record bronze could not take yet (partitions paused), or NULL */
	rd_kafka_message_t *held;
	struct kafka_counters c;
};

static void pending_free(struct pending *p)
{
	cl_free(p->topic);
	cl_free(p->ids);
	cl_free(p->dl_env);
	cl_free(p->dl_key);
	if (p->dl_hdrs)
		rd_kafka_headers_destroy(p->dl_hdrs);
}

static void queue_clear(struct kafka_in *k)
{
	for (size_t i = 0; i < k->q_len; i++)
		pending_free(&k->q[(k->q_head + i) % k->q_cap]);
	k->q_head = k->q_len = 0;
}

static int queue_push(struct kafka_in *k, const struct pending *p)
{
	if (k->q_len == k->q_cap) {
		size_t nc = k->q_cap ? k->q_cap * 2 : 256;
		struct pending *nq = cl_malloc(nc * sizeof(*nq));

		if (!nq)
			return cl_error_set(CL_ENOMEM, "no memory for Kafka offsets");
		for (size_t i = 0; i < k->q_len; i++)
			nq[i] = k->q[(k->q_head + i) % k->q_cap];
		cl_free(k->q);
		k->q = nq;
		k->q_cap = nc;
		k->q_head = 0;
	}
	k->q[(k->q_head + k->q_len++) % k->q_cap] = *p;
	return CL_OK;
}

/* Produces p's dead-letter envelope to the dead-letter topic; the
 * delivery report (dl_report) tells when the brokers have it. */
static int dl_produce(struct kafka_in *k, struct pending *p)
{
	rd_kafka_headers_t *h = rd_kafka_headers_copy(p->dl_hdrs);
	rd_kafka_resp_err_t e;

	p->dl_state = 0;
	e = rd_kafka_producev(k->dlp, RD_KAFKA_V_TOPIC(k->dl_topic),
			      RD_KAFKA_V_KEY(p->dl_key, p->dl_key_len),
			      RD_KAFKA_V_VALUE(p->dl_env, p->dl_env_len),
			      RD_KAFKA_V_HEADERS(h),
			      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			      RD_KAFKA_V_OPAQUE((void *)(uintptr_t)p->dl_seq), RD_KAFKA_V_END);
	if (e) {
		/* the headers are the producer's only once it took the message */
		rd_kafka_headers_destroy(h);
		p->dl_state = -1;
		p->dl_retry_at = cl_time_mono_us() + 500000;
		atomic_fetch_add(&k->c.dl_failed, 1);
		cl_log_warn("kafka", "event=dead_letter_produce_failed input=%s topic=%s reason=%s",
			    k->in->p->name, CL_LOG_Q(k->dl_topic), CL_LOG_Q(rd_kafka_err2str(e)));
	}
	return CL_OK;
}

/* A dead letter's delivery report (from rd_kafka_poll on the producer, in
 * the consumer's thread): marks its record, if still waiting. */
static void dl_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_in *k = opaque;
	uint64_t seq = (uint64_t)(uintptr_t)m->_private;

	(void)rk;
	for (size_t i = 0; i < k->q_len; i++) {
		struct pending *p = &k->q[(k->q_head + i) % k->q_cap];

		if (p->dl_seq != seq)
			continue;
		if (m->err) {
			p->dl_state = -1;
			p->dl_retry_at = cl_time_mono_us() + 500000;
			atomic_fetch_add(&k->c.dl_failed, 1);
			cl_log_warn("kafka", "event=dead_letter_not_delivered input=%s topic=%s "
				    "partition=%d offset=%lld reason=%s retry_ms=500", k->in->p->name,
				    CL_LOG_Q(k->dl_topic), (int)p->partition, (long long)p->offset,
				    CL_LOG_Q(rd_kafka_err2str(m->err)));
		} else {
			p->dl_state = 1;
			atomic_fetch_add(&k->c.dl_produced, 1);
		}
		return;
	}
}

/* Keeps a dead letter for the topic in p: the envelope, the source key,
 * and headers saying where it came from and why. */
static int dl_keep(struct kafka_in *k, const rd_kafka_message_t *m, json_t *reasons, char *line,
		   struct pending *p)
{
	json_t *first = json_array_get(reasons, 0);
	const char *why = first ? json_string_value(json_object_get(first, "error")) : NULL;
	char num[32];

	p->dl_env = cl_strdup(line);
	p->dl_env_len = strlen(line);
	p->dl_hdrs = rd_kafka_headers_new(5);
	if (m->key && m->key_len) {
		p->dl_key = cl_malloc(m->key_len);
		if (p->dl_key)
			memcpy(p->dl_key, m->key, m->key_len);
		p->dl_key_len = m->key_len;
	}
	if (!p->dl_env || !p->dl_hdrs || (m->key_len && !p->dl_key))
		return cl_error_set(CL_ENOMEM, "no memory for a dead letter");
	rd_kafka_header_add(p->dl_hdrs, "carelake-input", -1, k->in->p->name, -1);
	rd_kafka_header_add(p->dl_hdrs, "carelake-source-topic", -1, rd_kafka_topic_name(m->rkt), -1);
	snprintf(num, sizeof(num), "%d", (int)m->partition);
	rd_kafka_header_add(p->dl_hdrs, "carelake-source-partition", -1, num, -1);
	snprintf(num, sizeof(num), "%lld", (long long)m->offset);
	rd_kafka_header_add(p->dl_hdrs, "carelake-source-offset", -1, num, -1);
	rd_kafka_header_add(p->dl_hdrs, "carelake-reason", -1, why ? why : "rejected", -1);
	p->dl_seq = ++k->dl_next;
	atomic_fetch_add(&k->c.dead_letter, 1);
	return dl_produce(k, p);
}

/* Writes one dead letter: where the record came from, why it was refused,
 * and the record as it came (the data directory and the dead-letter topic
 * keep patient data; the log never does). With a dead-letter topic it is
 * produced there and p waits for the delivery; else it is appended to the
 * dead-letter file. */
static int dead_letter(struct kafka_in *k, const rd_kafka_message_t *m, json_t *reasons,
		       struct pending *p)
{
	json_t *o = json_object();
	char *line;
	int rc;

	json_object_set_new(o, "at_us", json_integer(cl_time_now_us()));
	json_object_set_new(o, "input", json_string(k->in->p->name));
	json_object_set_new(o, "topic", json_string(rd_kafka_topic_name(m->rkt)));
	json_object_set_new(o, "partition", json_integer(m->partition));
	json_object_set_new(o, "offset", json_integer(m->offset));
	json_object_set_new(o, "reasons", reasons);
	json_object_set_new(o, "record", json_stringn(m->payload ? (const char *)m->payload : "",
						     m->payload ? m->len : 0));
	if (!json_object_get(o, "record")) /* not UTF-8: kept as base64 */ {
		size_t cap = sodium_base64_ENCODED_LEN(m->len, sodium_base64_VARIANT_ORIGINAL);
		char *b = cl_malloc(cap);

		if (b) {
			sodium_bin2base64(b, cap, m->payload, m->len, sodium_base64_VARIANT_ORIGINAL);
			json_object_set_new(o, "record_base64", json_string(b));
			cl_free(b);
		}
	}
	line = json_dumps(o, JSON_COMPACT);
	if (!line) {
		json_decref(o);
		return cl_error_set(CL_ENOMEM, "no memory for a dead-letter line");
	}
	if (k->dlp) {
		rc = dl_keep(k, m, reasons, line, p);
		json_decref(o);
		free(line);
		return rc;
	}
	json_decref(o);
	if (k->dl_fd < 0) {
		char d[PATH_MAX];

		snprintf(d, sizeof(d), "%s/%s", k->in->data_dir, DEAD_LETTER_DIR);
		rc = cl_fs_mkdirs(d);
		if (rc == CL_OK)
			rc = cl_fs_open(k->dl_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600,
					&k->dl_fd);
		if (rc) {
			free(line);
			return rc;
		}
	}
	rc = cl_fs_write_all(k->dl_fd, line, strlen(line), k->dl_path);
	if (rc == CL_OK)
		rc = cl_fs_write_all(k->dl_fd, "\n", 1, k->dl_path);
	free(line);
	if (rc == CL_OK) {
		k->dl_dirty = 1;
		atomic_fetch_add(&k->c.dead_letter, 1);
	}
	return rc;
}

static json_t *reason(long index, const char *error)
{
	json_t *r = json_object();

	if (index >= 0)
		json_object_set_new(r, "index", json_integer(index));
	json_object_set_new(r, "error", json_string(error));
	return r;
}

/*
 * The record's events with an id for each object that has none:
 * kafka:<topic>:<partition>:<offset>[:<index in an array>]. *out is NULL
 * when nothing needed one (or the record is not JSON: ingest says why).
 * count: the ids given go to the ids_added counter (not when rebuilding).
 */
static int add_ids(struct kafka_in *k, const rd_kafka_message_t *m, char **out, size_t *out_len,
		   int count)
{
	const char *src = m->payload;
	const char *topic = rd_kafka_topic_name(m->rkt);
	struct cl_json_doc *d = &k->doc;
	uint32_t elems[2048], n = 0;
	char *buf, *w;
	size_t cap;

	*out = NULL;
	if (!src || cl_json_parse(d, src, m->len) != CL_OK || d->count == 0)
		return CL_OK;
	if (d->toks[0].type == CL_JSON_OBJECT) {
		elems[n++] = 0;
	} else if (d->toks[0].type == CL_JSON_ARRAY) {
		for (uint32_t i = 1; i < d->count && n < 2048; i = d->toks[i].next)
			if (d->toks[i].type == CL_JSON_OBJECT)
				elems[n++] = i;
	}
	cap = m->len + 1;
	for (uint32_t e = 0; e < n; e++)
		cap += strlen(topic) + 64;
	if (strlen(topic) + 48 > CL_EVENT_ID_MAX)
		return CL_OK; /* no room for the id: left as sent */
	buf = cl_malloc(cap);
	if (!buf)
		return cl_error_set(CL_ENOMEM, "no memory for a Kafka record");
	w = buf;
	{
		size_t from = 0, added = 0;

		for (uint32_t e = 0; e < n; e++) {
			const struct cl_json_tok *t = &d->toks[elems[e]];
			size_t at = t->start + 1;

			if (t->size == 0 || cl_json_get(d, elems[e], "id") >= 0)
				continue;
			memcpy(w, src + from, at - from);
			w += at - from;
			if (d->toks[0].type == CL_JSON_ARRAY)
				w += sprintf(w, "\"id\":\"kafka:%s:%d:%lld:%u\",", topic,
					     (int)m->partition, (long long)m->offset, e);
			else
				w += sprintf(w, "\"id\":\"kafka:%s:%d:%lld\",", topic,
					     (int)m->partition, (long long)m->offset);
			from = at;
			added++;
		}
		if (!added) {
			cl_free(buf);
			return CL_OK;
		}
		memcpy(w, src + from, m->len - from);
		w += m->len - from;
		if (count)
			atomic_fetch_add(&k->c.ids_added, added);
	}
	*out = buf;
	*out_len = (size_t)(w - buf);
	return CL_OK;
}

/* 1 if a FHIR record is a Bundle. */
static int is_bundle(struct kafka_in *k, const rd_kafka_message_t *m)
{
	int i;

	if (!m->payload || cl_json_parse(&k->doc, m->payload, m->len) != CL_OK ||
	    k->doc.toks[0].type != CL_JSON_OBJECT)
		return 0;
	i = cl_json_get(&k->doc, 0, "resourceType");
	return i >= 0 && cl_json_str_eq(&k->doc, (uint32_t)i, "Bundle");
}

/*
 * Offers one record to ingest. CL_EBUSY: bronze is full, nothing was
 * taken (offer it again). 0: it is in the FIFO, stored or dead-lettered.
 */
static int offer(struct kafka_in *k, const rd_kafka_message_t *m)
{
	struct cl_ingest_result r;
	struct pending p = { .partition = m->partition, .offset = m->offset };
	const char *body = m->payload ? (const char *)m->payload : "";
	size_t len = m->payload ? m->len : 0;
	char *own = NULL;
	json_t *reasons = json_array();
	int rc = CL_OK;

	if (!k->fhir)
		rc = add_ids(k, m, &own, &len, 1);
	if (own)
		body = own;
	else
		len = m->payload ? m->len : 0;
	cl_ingest_result_init(&r);
	if (rc == CL_OK && k->fhir)
		rc = cl_ingest_fhir(k->in->ingest, body, len, cl_time_now_us(), CL_BLOG_NOWAIT,
				    is_bundle(k, m), &r);
	else if (rc == CL_OK)
		rc = cl_ingest_device_body(k->in->ingest, NULL, 0, body, len, cl_time_now_us(),
					   CL_BLOG_NOWAIT, &r);
	cl_free(own);
	if (rc == CL_EBUSY) {
		json_decref(reasons);
		cl_ingest_result_free(&r);
		return rc;
	}
	if (rc == CL_EPARSE || rc == CL_ETOOBIG) {
		json_array_append_new(reasons, reason(-1, rc == CL_ETOOBIG
					? "more events than ingest.max_events in one record"
					: k->fhir ? "not a JSON FHIR resource" : "not JSON device events"));
		rc = CL_OK;
	} else if (rc == CL_OK && k->fhir) {
		for (uint32_t i = 0; i < r.nitems; i++)
			if (r.items[i].status == CL_ITEM_REJECTED || r.items[i].status == CL_ITEM_CONFLICT)
				json_array_append_new(reasons, reason(i, r.items[i].error));
		if (r.transaction_failed && json_array_size(reasons) == 0)
			json_array_append_new(reasons, reason(-1, "the transaction stored nothing"));
	} else if (rc == CL_OK) {
		for (uint32_t i = 0; i < r.nlisted; i++)
			json_array_append_new(reasons, reason(r.rejected[i].index, r.rejected[i].error));
		if (r.nrejected > r.nlisted)
			json_array_append_new(reasons, reason(-1, "more rejections than are listed"));
	}
	if (rc != CL_OK) {
		json_decref(reasons);
		cl_ingest_result_free(&r);
		return rc;
	}
	if (json_array_size(reasons) > 0) {
		/* counts only in the log: a reason may quote a patient's value */
		cl_log_warn("kafka", "event=dead_letter input=%s partition=%d offset=%lld reasons=%zu",
			    k->in->p->name, (int)m->partition, (long long)m->offset,
			    json_array_size(reasons));
		rc = dead_letter(k, m, reasons, &p);
		if (rc)
			pending_free(&p);
	} else {
		json_decref(reasons);
	}
	if (rc == CL_OK) {
		p.topic = cl_strdup(rd_kafka_topic_name(m->rkt));
		p.queued = r.queued;
		p.first = r.first.batch;
		p.last = r.last.batch;
		p.ids = r.ids;
		p.ids_len = r.ids_len;
		r.ids = NULL;
		rc = p.topic ? queue_push(k, &p) : cl_error_set(CL_ENOMEM, "no memory");
		if (rc)
			pending_free(&p);
	}
	cl_ingest_result_free(&r);
	return rc;
}

/* Adds (or raises) topic/partition's offset to commit in list. */
static void list_note(rd_kafka_topic_partition_list_t *list, const char *topic,
		      int32_t partition, int64_t offset)
{
	rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(list, topic, partition);

	if (!tp)
		tp = rd_kafka_topic_partition_list_add(list, topic, partition);
	if (tp->offset < offset)
		tp->offset = offset;
}

/*
 * Pops the records that are durable and commits the offsets past them
 * (sync: wait for the broker's answer). A failed bronze commit forgets the
 * FIFO's ids and returns CL_EIO: the caller starts the consumer anew from
 * the committed offsets, so those records are read and stored again.
 */
static int flush(struct kafka_in *k, int sync)
{
	rd_kafka_topic_partition_list_t *list = NULL;
	int rc = CL_OK, n = 0;

	while (k->q_len > 0) {
		struct pending *p = &k->q[k->q_head];
		int brc = CL_OK;

		if (p->queued && !cl_blog_poll_range(k->in->log, p->first, p->last, &brc))
			break;
		if (p->dl_seq && p->dl_state != 1) {
			/* its dead letter is not confirmed yet: nothing past it
			 * may be committed */
			rd_kafka_poll(k->dlp, 0);
			if (p->dl_state == -1 && cl_time_mono_us() >= p->dl_retry_at)
				dl_produce(k, p);
			if (p->dl_state != 1)
				break;
		}
		if (brc != CL_OK) {
			for (size_t i = 0; i < k->q_len; i++) {
				struct pending *f = &k->q[(k->q_head + i) % k->q_cap];
				struct cl_ingest_result r;

				cl_ingest_result_init(&r);
				r.ids = f->ids;
				r.ids_len = f->ids_len;
				f->ids = NULL;
				cl_ingest_forget(k->in->ingest, &r);
				cl_ingest_result_free(&r);
			}
			queue_clear(k);
			rc = cl_error_set(CL_EIO, "records from Kafka could not be stored in bronze");
			break;
		}
		if (!list)
			list = rd_kafka_topic_partition_list_new(16);
		list_note(list, p->topic, p->partition, p->offset + 1);
		pending_free(p);
		k->q_head = (k->q_head + 1) % k->q_cap;
		k->q_len--;
		n++;
	}
	if (list && k->dl_dirty) {
		/* the dead letters are safe before their offsets move on */
		int src = cl_fs_datasync(k->dl_fd, k->dl_path);

		if (src != CL_OK) {
			rd_kafka_topic_partition_list_destroy(list);
			return src;
		}
		k->dl_dirty = 0;
	}
	if (list) {
		rd_kafka_resp_err_t err = rd_kafka_commit(k->rk, list, !sync);

		if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
			cl_log_warn("kafka", "event=commit_failed input=%s reason=%s", k->in->p->name,
				    CL_LOG_Q(rd_kafka_err2str(err)));
		else
			atomic_fetch_add(&k->c.committed, (uint64_t)n);
		rd_kafka_topic_partition_list_destroy(list);
	}
	return rc;
}

/* Waits (up to DRAIN_MS) for every record taken to be durable, and
 * commits their offsets synchronously: before partitions go elsewhere. */
static void drain(struct kafka_in *k)
{
	int64_t until = cl_time_now_us() + DRAIN_MS * 1000ll;

	while (flush(k, 1) == CL_OK && k->q_len > 0 && cl_time_now_us() < until)
		usleep(2000);
	if (k->q_len > 0) {
		cl_log_warn("kafka", "event=drain_incomplete input=%s records=%zu", k->in->p->name,
			    k->q_len);
		queue_clear(k); /* re-read by whoever takes the partitions */
	}
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* A consumer that reads the partitions it is assigned by hand. Its group
 * is ours with ".rebuild" after it: it never joins one nor commits, but a
 * consumer needs one, and one of our group's would disturb it (a leave
 * starts a rebalance). */
static rd_kafka_t *reader_open(struct kafka_in *k)
{
	const struct cl_kafka_settings *ks = cl_kafka_settings(k->in->cfg);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512];
	rd_kafka_t *rk;
	int rc = cl_kafka_conf_common(conf, ks);

	if (rc == CL_OK) {
		char g[sizeof(k->group) + 16];

		snprintf(g, sizeof(g), "%s.rebuild", k->group);
		rc = cl_kafka_conf_set(conf, "group.id", g);
	}
	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "enable.auto.commit", "false");
	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "enable.partition.eof", "true");
	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "auto.offset.reset", "earliest");
	if (rc) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(conf, on_log);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		cl_error_set(CL_EINVAL, "the Kafka rebuild reader could not be made: %s", err);
	}
	return rk;
}

/*
 * 1 if every event of record m is one this node stored itself (its ids,
 * or the kafka:<topic>:<partition>:<offset> ids it gives them, are
 * in the idempotency set): after a restart, or a partition coming back,
 * those are in this node's bronze, and the stream replays them from there
 * (its open windows); rebuilding them too would count them twice.
 */
static int stored_here(struct kafka_in *k, const rd_kafka_message_t *m)
{
	struct cl_json_doc *d = &k->doc;
	size_t len = m->len;
	char *own = NULL, id[CL_EVENT_ID_MAX + 1];
	int all = 1, any = 0;

	if (add_ids(k, m, &own, &len, 0) != CL_OK)
		return 0;
	if (cl_json_parse(d, own ? own : m->payload, own ? len : m->len) != CL_OK ||
	    d->count == 0) {
		cl_free(own);
		return 0;
	}
	for (uint32_t i = d->toks[0].type == CL_JSON_ARRAY ? 1 : 0; i < d->count && all;
	     i = d->toks[i].next) {
		int t = d->toks[i].type == CL_JSON_OBJECT ? cl_json_get(d, i, "id") : -1;
		long n = t >= 0 ? cl_json_str(d, (uint32_t)t, id, sizeof(id)) : -1;

		all = n > 0 && cl_ingest_seen(k->in->ingest, id, (size_t)n);
		any = 1;
		if (d->toks[0].type != CL_JSON_ARRAY)
			break;
	}
	cl_free(own);
	return all && any;
}

/* The Kafka timestamp (ms) of the record at offset `at`, or -1. */
static int64_t timestamp_at(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t at)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	int64_t ts = -1, t0 = cl_time_mono_us();

	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = at;
	if (rd_kafka_assign(rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		while (cl_time_mono_us() - t0 < 10 * SEC) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
			int got;

			if (!m)
				continue;
			if (!m->err && m->partition == partition && m->offset == at)
				ts = rd_kafka_message_timestamp(m, NULL);
			got = !m->err || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
			rd_kafka_message_destroy(m);
			if (got)
				break;
		}
		rd_kafka_assign(rk, NULL);
	}
	rd_kafka_topic_partition_list_destroy(l);
	return ts;
}

/* The rebuild runs inside the rebalance callback, while the consumer is
 * not polled: it must end well within librdkafka's max.poll.interval.ms
 * (300 s), or the group takes the partitions away again. */
#define REBUILD_TIMEOUT_US (240 * SEC)
#define REBUILD_CHUNK 20000

/*
 * Rebuilds the stream state of partitions this node did not hold: for
 * each, the records from kafka.rebuild_window before now (by their Kafka
 * timestamps; rd_kafka_offsets_for_times) up to the group's committed
 * offset go to the stream's rebuild, and this returns once the stream has
 * applied them. Records at and past the committed offset are the node's
 * to consume as usual. On any failure it logs and returns: the partition
 * is consumed with whatever state there is (as before rebuilds existed).
 */
static void rebuild(struct kafka_in *k, const rd_kafka_topic_partition_list_t *fresh)
{
	const struct cl_kafka_settings *ks = cl_kafka_settings(k->in->cfg);
	int64_t t0 = cl_time_mono_us(), since_ms;
	rd_kafka_topic_partition_list_t *ends = NULL, *read = NULL;
	rd_kafka_resp_err_t e;
	uint64_t n = 0;
	int *done = NULL, left = 0, rc = CL_OK;
	rd_kafka_t *rk = reader_open(k);

	if (!rk) {
		cl_log_error("kafka", "event=rebuild_failed input=%s reason=%s", k->in->p->name,
			     CL_LOG_Q(cl_error_detail()));
		return;
	}
	ends = rd_kafka_topic_partition_list_copy(fresh);
	read = rd_kafka_topic_partition_list_copy(fresh);
	since_ms = (cl_time_now_us() - ks->rebuild_window_us) / 1000;
	/* the group's offsets, as the node that gave the partitions up left
	 * them (it committed before the rebalance went on) */
	e = rd_kafka_committed(k->rk, ends, 30000);
	for (int i = 0; !e && i < read->cnt; i++)
		read->elems[i].offset = since_ms;
	if (!e)
		e = rd_kafka_offsets_for_times(rk, read, 30000);
	if (e) {
		cl_log_error("kafka", "event=rebuild_failed input=%s reason=%s", k->in->p->name,
			     CL_LOG_Q(rd_kafka_err2str(e)));
		goto out;
	}
	done = cl_calloc((size_t)read->cnt + 1, sizeof(*done));
	if (!done)
		goto out;
	for (int i = 0; i < read->cnt; i++) {
		int64_t from = read->elems[i].offset, end = ends->elems[i].offset, lo, hi;

		/* "no record that recent": unless the last one before the end
		 * is (a broker that does not look offsets up by time, as
		 * librdkafka's mock cluster): then from the first record kept,
		 * skipping the older ones */
		if (from < 0 && end > 0 && !read->elems[i].err &&
		    timestamp_at(rk, read->elems[i].topic, read->elems[i].partition, end - 1) >=
			    since_ms &&
		    rd_kafka_query_watermark_offsets(rk, read->elems[i].topic,
						     read->elems[i].partition, &lo, &hi, 10000) ==
			    RD_KAFKA_RESP_ERR_NO_ERROR)
			from = read->elems[i].offset = lo;

		cl_log_debug("kafka", "event=rebuild_partition input=%s topic=%s partition=%d from=%lld "
			    "to=%lld", k->in->p->name, CL_LOG_Q(read->elems[i].topic),
			    (int)read->elems[i].partition, (long long)from, (long long)end);

		/* nothing committed (the group is new: the records are all
		 * ahead), or nothing that recent, or nothing before the end */
		if (end < 0 || from < 0 || from >= end || read->elems[i].err || ends->elems[i].err) {
			done[i] = 1;
			read->elems[i].offset = RD_KAFKA_OFFSET_END;
		} else {
			left++;
		}
	}
	if (left == 0)
		goto out;
	e = rd_kafka_assign(rk, read);
	while (!e && left > 0 && rc == CL_OK && !atomic_load(&k->stop)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		rd_kafka_topic_partition_t *tp;
		int i;

		if (cl_time_mono_us() - t0 > REBUILD_TIMEOUT_US) {
			rc = cl_error_set(CL_EBUSY, "rebuilding took longer than %d s",
					  (int)(REBUILD_TIMEOUT_US / SEC));
			break;
		}
		if (!m)
			continue;
		tp = m->rkt ? rd_kafka_topic_partition_list_find(read, rd_kafka_topic_name(m->rkt),
								 m->partition) : NULL;
		i = tp ? (int)(tp - read->elems) : -1;
		if (i < 0 || done[i]) {
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->err) {
			if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				done[i] = 1;
				left--;
			} else {
				cl_log_warn("kafka", "event=rebuild_error input=%s reason=%s",
					    k->in->p->name, CL_LOG_Q(rd_kafka_message_errstr(m)));
			}
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->offset < ends->elems[i].offset && m->payload &&
		    rd_kafka_message_timestamp(m, NULL) >= since_ms) {
			if (stored_here(k, m)) {
				atomic_fetch_add(&k->c.rebuild_own, 1);
			} else {
				rc = k->in->rebuild(k->in->rebuild_arg, m->payload, m->len);
				n++;
			}
		}
		if (m->offset + 1 >= ends->elems[i].offset) {
			done[i] = 1;
			left--;
		}
		rd_kafka_message_destroy(m);
		/* bounded memory: let the stream catch up every so often */
		if (rc == CL_OK && n % REBUILD_CHUNK == 0)
			rc = k->in->rebuild_wait(k->in->rebuild_arg, REBUILD_TIMEOUT_US);
	}
	if (rc == CL_OK && !e)
		rc = k->in->rebuild_wait(k->in->rebuild_arg, REBUILD_TIMEOUT_US);
	if (e || rc != CL_OK || left > 0)
		cl_log_error("kafka", "event=rebuild_failed input=%s records=%llu reason=%s",
			     k->in->p->name, (unsigned long long)n,
			     CL_LOG_Q(e ? rd_kafka_err2str(e) : rc ? cl_error_detail() : "stopped"));
out:
	{
		int64_t us = cl_time_mono_us() - t0;

		atomic_fetch_add(&k->c.rebuilds, (uint64_t)fresh->cnt);
		atomic_fetch_add(&k->c.rebuilt, n);
		atomic_fetch_add(&k->c.rebuild_us, (uint64_t)us);
		cl_log_info("kafka", "event=rebuilt input=%s partitions=%d records=%llu ms=%lld "
			    "records_per_s=%.0f", k->in->p->name, fresh->cnt, (unsigned long long)n,
			    (long long)(us / 1000), us > 0 ? (double)n * 1e6 / (double)us : 0.0);
	}
	cl_free(done);
	if (ends)
		rd_kafka_topic_partition_list_destroy(ends);
	if (read)
		rd_kafka_topic_partition_list_destroy(read);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}

/* The partitions of parts this node does not hold state for. */
static rd_kafka_topic_partition_list_t *not_owned(struct kafka_in *k,
						 const rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *fresh = rd_kafka_topic_partition_list_new(parts->cnt + 1);

	for (int i = 0; i < parts->cnt; i++)
		if (!k->owned || !rd_kafka_topic_partition_list_find(k->owned, parts->elems[i].topic,
								    parts->elems[i].partition))
			rd_kafka_topic_partition_list_add(fresh, parts->elems[i].topic,
							  parts->elems[i].partition);
	return fresh;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct kafka_in *k = opaque;
	int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;

	atomic_fetch_add(&k->c.rebalances, 1);
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		rd_kafka_topic_partition_list_t *fresh = not_owned(k, parts);

		if (fresh->cnt > 0 && k->in->rebuild && !k->fhir &&
		    cl_kafka_settings(k->in->cfg)->rebuild_window_us > 0)
			rebuild(k, fresh);
		if (coop) {
			rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);

			if (e)
				rd_kafka_error_destroy(e);
			for (int i = 0; i < fresh->cnt; i++)
				rd_kafka_topic_partition_list_add(k->owned, fresh->elems[i].topic,
								  fresh->elems[i].partition);
			atomic_fetch_add(&k->c.assigned, parts->cnt);
		} else {
			rd_kafka_assign(rk, parts);
			rd_kafka_topic_partition_list_destroy(k->owned);
			k->owned = rd_kafka_topic_partition_list_copy(parts);
			atomic_store(&k->c.assigned, parts->cnt);
		}
		cl_log_info("kafka", "event=assigned input=%s partitions=%d taken_over=%d",
			    k->in->p->name, parts->cnt, fresh->cnt);
		rd_kafka_topic_partition_list_destroy(fresh);
	} else {
		/* the held record is the new owner's to read */
		if (k->held)
			rd_kafka_message_destroy(k->held);
		k->held = NULL;
		atomic_store(&k->c.paused, 0);
		drain(k);
		if (coop) {
			rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);

			if (e)
				rd_kafka_error_destroy(e);
			for (int i = 0; i < parts->cnt; i++)
				rd_kafka_topic_partition_list_del(k->owned, parts->elems[i].topic,
								  parts->elems[i].partition);
			atomic_fetch_sub(&k->c.assigned, parts->cnt);
		} else {
			/* k->owned stays: the next assignment says which of
			 * them this node keeps */
			rd_kafka_assign(rk, NULL);
			atomic_store(&k->c.assigned, 0);
		}
		cl_log_info("kafka", "event=revoked input=%s partitions=%d", k->in->p->name,
			    parts->cnt);
	}
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	cl_kafka_log("kafka", level, fac, buf);
}

/* The producer of the dead-letter topic: every broker acknowledges a
 * dead letter before it counts as delivered. */
static int dl_open(struct kafka_in *k)
{
	const struct cl_kafka_settings *ks = cl_kafka_settings(k->in->cfg);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512];
	int rc = cl_kafka_conf_common(conf, ks);

	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "acks", "all");
	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "linger.ms", "5");
	if (rc) {
		rd_kafka_conf_destroy(conf);
		return rc;
	}
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_dr_msg_cb(conf, dl_report);
	rd_kafka_conf_set_log_cb(conf, on_log);
	k->dlp = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!k->dlp) {
		rd_kafka_conf_destroy(conf);
		return cl_error_set(CL_EINVAL, "the Kafka dead-letter producer could not be made: %s",
				    err);
	}
	return CL_OK;
}

/* Makes the consumer and subscribes it to the input's topics. */
static int consumer_open(struct kafka_in *k)
{
	const struct cl_kafka_settings *ks = cl_kafka_settings(k->in->cfg);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *subs;
	char num[32], err[512], topics[CL_CFG_STRING_MAX], *save = NULL;
	int rc = CL_OK;
	rd_kafka_resp_err_t e;

	snprintf(num, sizeof(num), "%lld", (long long)(ks->session_timeout_us / 1000));
	rc = cl_kafka_conf_common(conf, ks);
	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "group.id", k->group);
	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "enable.auto.commit", "false");
	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "enable.auto.offset.store", "false");
	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "auto.offset.reset", ks->offset_reset);
	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "session.timeout.ms", num);
	if (rc == CL_OK) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)(ks->queue_max / 1024));
		rc = cl_kafka_conf_set(conf, "queued.max.messages.kbytes", num);
	}
	if (rc == CL_OK && k->dl_topic[0] && !k->dlp)
		rc = dl_open(k);
	if (rc) {
		rd_kafka_conf_destroy(conf);
		return rc;
	}
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	rd_kafka_conf_set_log_cb(conf, on_log);
	k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!k->rk) {
		rd_kafka_conf_destroy(conf);
		return cl_error_set(CL_EINVAL, "the Kafka consumer could not be made: %s", err);
	}
	rd_kafka_poll_set_consumer(k->rk);
	subs = rd_kafka_topic_partition_list_new(4);
	snprintf(topics, sizeof(topics), "%s", k->topics);
	for (char *t = strtok_r(topics, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
		rd_kafka_topic_partition_list_add(subs, t, RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(k->rk, subs);
	rd_kafka_topic_partition_list_destroy(subs);
	if (e) {
		rd_kafka_destroy(k->rk);
		k->rk = NULL;
		return cl_error_set(CL_EINVAL, "subscribing to %s: %s", k->topics, rd_kafka_err2str(e));
	}
	cl_log_info("kafka", "event=subscribed input=%s group=%s topics=%s", k->in->p->name,
		    CL_LOG_Q(k->group), CL_LOG_Q(k->topics));
	return CL_OK;
}

/* Commits what is durable, leaves the group, frees the consumer. */
static void consumer_close(struct kafka_in *k)
{
	if (!k->rk)
		return;
	drain(k);
	rd_kafka_consumer_close(k->rk);
	rd_kafka_destroy(k->rk);
	k->rk = NULL;
	if (k->dlp) {
		/* what it still holds belongs to records not committed: they
		 * are read, and dead-lettered, again */
		rd_kafka_flush(k->dlp, 2000);
		rd_kafka_destroy(k->dlp);
		k->dlp = NULL;
	}
}

/* Pauses (pause = 1) or resumes every partition assigned. */
static void pause_all(struct kafka_in *k, int pause)
{
	rd_kafka_topic_partition_list_t *parts = NULL;

	if (rd_kafka_assignment(k->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	if (pause)
		rd_kafka_pause_partitions(k->rk, parts);
	else
		rd_kafka_resume_partitions(k->rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	atomic_store(&k->c.paused, pause);
}

static void *kafka_main(void *arg)
{
	struct kafka_in *k = arg;
	int64_t retry_us = BUSY_RETRY_MS * 1000ll;

	while (!atomic_load(&k->stop)) {
		rd_kafka_message_t *m;
		int rc;

		if (!k->rk && consumer_open(k) != CL_OK) {
			cl_log_error("kafka", "event=consumer_failed input=%s reason=%s retry_ms=1000",
				     k->in->p->name, CL_LOG_Q(cl_error_detail()));
			usleep(1000 * 1000);
			continue;
		}
		if (flush(k, 0) != CL_OK) {
			/* read again from the committed offsets */
			cl_log_error("kafka", "event=store_failed input=%s reason=%s retry_ms=1000",
				     k->in->p->name, CL_LOG_Q(cl_error_detail()));
			if (k->held)
				rd_kafka_message_destroy(k->held);
			k->held = NULL;
			atomic_store(&k->c.paused, 0);
			consumer_close(k);
			usleep(1000 * 1000);
			continue;
		}
		if (k->held) {
			usleep((useconds_t)retry_us);
			rc = offer(k, k->held);
			if (rc == CL_OK) {
				rd_kafka_message_destroy(k->held);
				k->held = NULL;
				pause_all(k, 0);
			} else if (rc != CL_EBUSY) {
				retry_us = 1000 * 1000;
			}
			continue;
		}
		m = rd_kafka_consumer_poll(k->rk, 100);
		if (!m)
			continue;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				atomic_fetch_add(&k->c.errors, 1);
				cl_log_warn("kafka", "event=consumer_error input=%s reason=%s",
					    k->in->p->name, CL_LOG_Q(rd_kafka_message_errstr(m)));
			}
			rd_kafka_message_destroy(m);
			continue;
		}
		atomic_fetch_add(&k->c.records, 1);
		rc = offer(k, m);
		if (rc == CL_OK) {
			rd_kafka_message_destroy(m);
			continue;
		}
		/* bronze is behind (or failing): fetch no more, hold this one and
		 * offer it again; never skip it, or a later commit would pass it */
		retry_us = BUSY_RETRY_MS * 1000ll;
		if (rc == CL_EBUSY) {
			atomic_fetch_add(&k->c.pauses, 1);
		} else {
			retry_us = 1000 * 1000;
			cl_log_error("kafka", "event=record_failed input=%s partition=%d offset=%lld "
				     "reason=%s retry_ms=1000", k->in->p->name, (int)m->partition,
				     (long long)m->offset, CL_LOG_Q(cl_error_detail()));
		}
		pause_all(k, 1);
		k->held = m;
	}
	if (k->held)
		rd_kafka_message_destroy(k->held);
	k->held = NULL;
	consumer_close(k);
	return NULL;
}

static int kafka_init(struct cl_input *in, void **state)
{
	const struct cl_kafka_settings *ks = cl_kafka_settings(in->cfg);
	int fhir = in->p->kind == CL_INPUT_FHIR;
	const char *topics = fhir ? ks->fhir_topics : ks->topics;
	struct kafka_in *k;

	if (!ks->brokers[0])
		return cl_error_set(CL_ENOENT, "kafka.brokers is empty");
	if (!topics[0])
		return cl_error_set(CL_ENOENT, "kafka.%s is empty", fhir ? "fhir_topics" : "topics");
	if (strncmp(ks->security_protocol, "SASL", 4) == 0 && !ks->sasl_username[0])
		return cl_error_set(CL_EINVAL, "kafka.security_protocol %s needs kafka.sasl_username "
				    "(Event Hubs: $ConnectionString)", ks->security_protocol);
	k = cl_calloc(1, sizeof(*k));
	if (!k)
		return cl_error_set(CL_ENOMEM, "no memory for Kafka");
	k->in = in;
	k->fhir = fhir;
	k->dl_fd = -1;
	snprintf(k->topics, sizeof(k->topics), "%s", topics);
	snprintf(k->group, sizeof(k->group), "%s%s", ks->group, fhir ? "-fhir" : "");
	snprintf(k->dl_topic, sizeof(k->dl_topic), "%s", ks->dead_letter_topic);
	snprintf(k->dl_path, sizeof(k->dl_path), "%s/%s/%s", in->data_dir, DEAD_LETTER_DIR,
		 DEAD_LETTER_FILE);
	cl_json_doc_init(&k->doc);
	k->owned = rd_kafka_topic_partition_list_new(16);
	*state = k;
	return CL_OK;
}

static int kafka_start(struct cl_input *in)
{
	struct kafka_in *k = in->state;
	int rc = consumer_open(k);

	if (rc == CL_OK)
		rc = cl_thread_create(&k->thread, k->fhir ? "cl-kafka-fhir" : "cl-kafka", kafka_main, k);
	if (rc == CL_OK)
		k->started = 1;
	return rc;
}

static void kafka_metrics(struct cl_input *in, struct cl_prom *p)
{
	const struct kafka_in *k = in->state;
	const char *name = in->p->name;
	static const struct {
		const char *what, *help;
		size_t off;
	} counters[] = {
		{ "records", "Kafka records consumed.", offsetof(struct kafka_counters, records) },
		{ "dead_letter", "Kafka records with rejected content, written with the reasons to "
		  "the dead-letter file or topic.", offsetof(struct kafka_counters, dead_letter) },
		{ "dead_letter_delivered", "Dead letters the brokers confirmed on the dead-letter "
		  "topic.", offsetof(struct kafka_counters, dl_produced) },
		{ "dead_letter_failed", "Dead-letter deliveries that failed and were produced again.",
		  offsetof(struct kafka_counters, dl_failed) },
		{ "rebuilds", "Partitions taken over whose stream state was rebuilt from their "
		  "records.", offsetof(struct kafka_counters, rebuilds) },
		{ "rebuilt", "Records replayed into the stream to rebuild taken-over partitions' "
		  "state.", offsetof(struct kafka_counters, rebuilt) },
		{ "rebuild_own", "Records found while rebuilding that this node had stored itself "
		  "(replayed from its own bronze instead).", offsetof(struct kafka_counters, rebuild_own) },
		{ "rebuild_microseconds", "Time spent rebuilding taken-over partitions' state.",
		  offsetof(struct kafka_counters, rebuild_us) },
		{ "ids_added", "Device events from Kafka sent without an id and given "
		  "kafka:<topic>:<partition>:<offset>.", offsetof(struct kafka_counters, ids_added) },
		{ "committed", "Kafka records whose offsets were committed after they were durable.",
		  offsetof(struct kafka_counters, committed) },
		{ "pauses", "Times bronze pushed back and the Kafka consumer paused its partitions.",
		  offsetof(struct kafka_counters, pauses) },
		{ "errors", "Errors the Kafka consumer reported.",
		  offsetof(struct kafka_counters, errors) },
		{ "rebalances", "Consumer group rebalances seen.",
		  offsetof(struct kafka_counters, rebalances) },
	};
	char metric[96];

	if (!k)
		return;
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		snprintf(metric, sizeof(metric), "carelake_%s_%s_total", name, counters[i].what);
		cl_prom_counter(p, metric, counters[i].help,
				atomic_load((const atomic_uint_fast64_t *)((const char *)&k->c +
									   counters[i].off)));
	}
	snprintf(metric, sizeof(metric), "carelake_%s_assigned_partitions", name);
	cl_prom_gauge(p, metric, "Kafka partitions this node holds now.", atomic_load(&k->c.assigned));
	snprintf(metric, sizeof(metric), "carelake_%s_paused", name);
	cl_prom_gauge(p, metric, "1 while the Kafka consumer is paused because bronze is behind.",
		      atomic_load(&k->c.paused));
}

/* Stops the thread (committing what is durable, leaving the group) and
 * frees the state. */
static void kafka_exit(struct cl_input *in)
{
	struct kafka_in *k = in->state;

	if (!k)
		return;
	atomic_store(&k->stop, 1);
	if (k->started)
		pthread_join(k->thread, NULL);
	else
		consumer_close(k);
	queue_clear(k);
	cl_free(k->q);
	if (k->dl_fd >= 0) {
		cl_fs_datasync(k->dl_fd, k->dl_path);
		close(k->dl_fd);
	}
	cl_json_doc_free(&k->doc);
	rd_kafka_topic_partition_list_destroy(k->owned);
	cl_free(k);
	in->state = NULL;
}

const struct cl_input_plugin cl_in_kafka = {
	.name = "kafka",
	.description = "device events from Kafka topics (kafka.topics), offsets committed once "
		       "durable",
	.kind = CL_INPUT_EVENTS,
	.settings = &cl_kafka_section,
	.cb_init = kafka_init,
	.cb_start = kafka_start,
	.cb_metrics = kafka_metrics,
	.cb_exit = kafka_exit,
};

const struct cl_input_plugin cl_in_kafka_fhir = {
	.name = "kafka_fhir",
	.description = "FHIR Observations and Bundles from Kafka topics (kafka.fhir_topics), "
		       "offsets committed once durable",
	.kind = CL_INPUT_FHIR,
	.settings = &cl_kafka_section,
	.cb_init = kafka_init,
	.cb_start = kafka_start,
	.cb_metrics = kafka_metrics,
	.cb_exit = kafka_exit,
};
