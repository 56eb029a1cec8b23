/*
 * Targets for simulated events. See cl_sim_target.h.
 */
#include "cl_sim_target.h"
#include "core/cl_error.h"
#include "plugins/in_mqtt/cl_in_mqtt.h"
#include "mqtt/cl_mqtt_proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


static size_t ignore(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

static size_t retry_after_hdr(char *p, size_t sz, size_t n, void *arg)
{
	long *ra = arg;

	if (strncasecmp(p, "Retry-After:", 12) == 0)
		*ra = atol(p + 12);
	return sz * n;
}

/* POSTs one NDJSON body, retrying what the server asks to retry. */
static int http_send(struct cl_sim_target *t, const char *body, size_t len)
{
	for (int attempt = 0; attempt < 20 && !(t->stop && *t->stop); attempt++) {
		long code = 0, retry_after = 0;
		CURLcode rc;

		curl_easy_setopt(t->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(t->curl, CURLOPT_POSTFIELDSIZE, (long)len);
		curl_easy_setopt(t->curl, CURLOPT_HEADERDATA, &retry_after);
		rc = curl_easy_perform(t->curl);
		t->requests++;
		if (rc == CURLE_OK)
			curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
		if (code == 200)
			return CL_OK;
		if (rc == CURLE_OK && code != 503 && code != 507) {
			t->failures++;
			return cl_error_set(CL_EIO, "the server answered %ld", code);
		}
		t->retries++;
		usleep((useconds_t)(retry_after > 0 ? retry_after * 1000000 : 200000));
	}
	t->failures++;
	return cl_error_set(CL_EIO, "gave up after 20 attempts");
}

static int mqtt_wait_acks(struct cl_sim_target *t, int keep)
{
	uint8_t buf[4096];
	size_t have = 0;

	while (t->inflight > keep) {
		ssize_t r = read(t->sock, buf + have, sizeof(buf) - have);
		size_t used = 0;

		if (r <= 0)
			return cl_error_set(CL_EIO, "the MQTT broker closed the connection");
		have += (size_t)r;
		for (;;) {
			struct cl_mqtt_packet p;
			long n = cl_mqtt_decode(buf + used, have - used, &p);

			if (n <= 0)
				break;
			if (p.type == CL_MQTT_PUBACK)
				t->inflight--;
			used += (size_t)n;
		}
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	return CL_OK;
}

static int mqtt_send(struct cl_sim_target *t, const char *line, size_t len)
{
	char topic[200];
	const char *d = strstr(line, "\"device_id\":\"");
	uint8_t pkt[1024];
	long n;

	if (!d)
		return CL_EINVAL;
	d += 13;
	snprintf(topic, sizeof(topic), "devices/%.*s/messages/events",
		 (int)(strchr(d, '"') - d), d);
	t->next_id = (uint16_t)(t->next_id % 65535 + 1);
	n = cl_mqtt_publish(pkt, sizeof(pkt), topic, line, len, 1, t->next_id);
	if (n < 0 || write(t->sock, pkt, (size_t)n) != n)
		return cl_error_set(CL_EIO, "MQTT publish failed");
	t->requests++;
	t->inflight++;
	return mqtt_wait_acks(t, 100);
}

int cl_sim_target_open(struct cl_sim_target *t, const char *spec, const char *token)
{
	memset(t, 0, sizeof(*t));
	t->sock = -1;
	if (strncmp(spec, "http://", 7) == 0 || strncmp(spec, "https://", 8) == 0) {
		char auth[300];
		const char *path = strchr(spec + 8, '/');

		if (!token || !*token)
			return cl_error_set(CL_EINVAL, "an http target needs --token or --token-file");
		t->kind = 1;
		snprintf(t->url, sizeof(t->url), "%s%s", spec, path ? "" : "/api/v1/events");
		curl_global_init(CURL_GLOBAL_DEFAULT);
		t->curl = curl_easy_init();
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		t->headers = curl_slist_append(NULL, auth);
		t->headers = curl_slist_append(t->headers, "Content-Type: application/x-ndjson");
		t->headers = curl_slist_append(t->headers, "Expect:");
		curl_easy_setopt(t->curl, CURLOPT_URL, t->url);
		curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, t->headers);
		curl_easy_setopt(t->curl, CURLOPT_WRITEFUNCTION, ignore);
		curl_easy_setopt(t->curl, CURLOPT_HEADERFUNCTION, retry_after_hdr);
		curl_easy_setopt(t->curl, CURLOPT_TIMEOUT, 30L);
		curl_easy_setopt(t->curl, CURLOPT_TCP_NODELAY, 1L);
		return CL_OK;
	}
	if (strncmp(spec, "mqtt://", 7) == 0) {
		struct cl_mqtt_options mo;
		struct sockaddr_in sa = { .sin_family = AF_INET };
		uint8_t pkt[256];
		long n;
		int rc = cl_mqtt_parse_broker(spec, &mo);

		if (rc)
			return rc;
		t->kind = 2;
		sa.sin_port = htons(mo.port);
		if (inet_pton(AF_INET, strcmp(mo.host, "localhost") ? mo.host : "127.0.0.1",
			      &sa.sin_addr) != 1)
			return cl_error_set(CL_EINVAL, "MQTT host must be an IPv4 address");
		t->sock = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(t->sock, (struct sockaddr *)&sa, sizeof(sa)) != 0)
			return cl_error_set(CL_EIO, "cannot connect to %s", spec);
		n = cl_mqtt_connect(pkt, sizeof(pkt), "carelake-simulate", 60, 1);
		if (write(t->sock, pkt, (size_t)n) != n || read(t->sock, pkt, 4) != 4 || pkt[3] != 0)
			return cl_error_set(CL_EIO, "the MQTT broker refused the connection");
		return CL_OK;
	}
	t->kind = 0;
	t->file = strcmp(spec, "-") == 0 ? stdout : fopen(spec, "w");
	if (!t->file)
		return cl_error_set(CL_EIO, "cannot write '%s'", spec);
	return CL_OK;
}

void cl_sim_target_close(struct cl_sim_target *t)
{
	if (t->kind == 1) {
		curl_slist_free_all(t->headers);
		curl_easy_cleanup(t->curl);
	} else if (t->kind == 2) {
		mqtt_wait_acks(t, 0);
		close(t->sock);
	} else if (t->file && t->file != stdout) {
		fclose(t->file);
	} else if (t->file) {
		fflush(t->file);
	}
}

/* Sends a chunk of NDJSON in batches of at most `batch` lines. */
int cl_sim_target_send(struct cl_sim_target *t, char *buf, size_t len, uint32_t batch)
{
	size_t pos = 0;

	if (t->kind == 0)
		return fwrite(buf, 1, len, t->file) == len ? CL_OK
							   : cl_error_set(CL_EIO, "write failed");
	while (pos < len) {
		size_t end = pos;
		uint32_t lines = 0;
		int rc;

		while (end < len && lines < (t->kind == 2 ? 1 : batch)) {
			char *nl = memchr(buf + end, '\n', len - end);

			end = nl ? (size_t)(nl - buf) + 1 : len;
			lines++;
		}
		rc = t->kind == 1 ? http_send(t, buf + pos, end - pos)
				  : mqtt_send(t, buf + pos, end - pos - 1);
		if (rc)
			return rc;
		pos = end;
	}
	return CL_OK;
}

