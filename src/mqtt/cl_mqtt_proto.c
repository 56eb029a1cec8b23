/*
 * MQTT 3.1.1 packet encoding and decoding. See cl_mqtt_proto.h.
 */
#include "cl_mqtt_proto.h"
#include "core/cl_error.h"
#include "core/cl_utf8.h"

#include <string.h>

/* Fixed header: type and flags, then the remaining length (1-4 bytes). */
static long header(uint8_t *out, size_t cap, int type, int flags, size_t rem)
{
	size_t n = 0;

	if (cap < 5 || rem > 268435455)
		return -1;
	out[n++] = (uint8_t)(type << 4 | flags);
	do {
		uint8_t b = rem % 128;

		rem /= 128;
		out[n++] = rem ? (uint8_t)(b | 0x80) : b;
	} while (rem);
	return (long)n;
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A length-prefixed string or binary field; returns the next byte. */
static uint8_t *put_field(uint8_t *p, const void *v, size_t n)
{
	put16(p, n);
	memcpy(p + 2, v, n);
	return p + 2 + n;
}

long cl_mqtt_connect(uint8_t *out, size_t cap, const struct cl_mqtt_connect_fields *f)
{
	size_t idl = strlen(f->client_id);
	size_t ul = f->username ? strlen(f->username) : 0;
	size_t pl = f->password ? f->password_len : 0;
	size_t rem = 10 + 2 + idl + (f->username ? 2 + ul : 0) + (f->password ? 2 + pl : 0);
	long h = header(out, cap, CL_MQTT_CONNECT, 0, rem);
	uint8_t *p;

	if (h < 0 || idl > 65535 || ul > 65535 || pl > 65535 || (size_t)h + rem > cap ||
	    (f->password && !f->username))
		return -1;
	p = out + h;
	put16(p, 4);
	memcpy(p + 2, "MQTT", 4);
	p[6] = 4;                                        /* protocol level 3.1.1 */
	p[7] = (uint8_t)((f->username ? 0x80 : 0) | (f->password ? 0x40 : 0) |
			 (f->clean_session ? 0x02 : 0));  /* no will */
	put16(p + 8, f->keepalive_s);
	p = put_field(p + 10, f->client_id, idl);
	if (f->username)
		p = put_field(p, f->username, ul);
	if (f->password)
		put_field(p, f->password, pl);
	return h + (long)rem;
}

long cl_mqtt_subscribe(uint8_t *out, size_t cap, uint16_t packet_id,
		       const char *filter, int qos)
{
	size_t fl = strlen(filter), rem = 2 + 2 + fl + 1;
	long h = header(out, cap, CL_MQTT_SUBSCRIBE, 0x2, rem);
	uint8_t *p;

	if (h < 0 || fl > 65535 || (size_t)h + rem > cap)
		return -1;
	p = out + h;
	put16(p, packet_id);
	put16(p + 2, fl);
	memcpy(p + 4, filter, fl);
	p[4 + fl] = (uint8_t)qos;
	return h + (long)rem;
}

long cl_mqtt_puback(uint8_t *out, size_t cap, uint16_t packet_id)
{
	if (cap < 4)
		return -1;
	out[0] = CL_MQTT_PUBACK << 4;
	out[1] = 2;
	put16(out + 2, packet_id);
	return 4;
}

long cl_mqtt_pingreq(uint8_t *out, size_t cap)
{
	if (cap < 2)
		return -1;
	out[0] = CL_MQTT_PINGREQ << 4;
	out[1] = 0;
	return 2;
}

long cl_mqtt_disconnect(uint8_t *out, size_t cap)
{
	if (cap < 2)
		return -1;
	out[0] = CL_MQTT_DISCONNECT << 4;
	out[1] = 0;
	return 2;
}

long cl_mqtt_publish(uint8_t *out, size_t cap, const char *topic, const void *payload,
		     size_t len, int qos, uint16_t packet_id)
{
	size_t tl = strlen(topic), rem = 2 + tl + (qos ? 2 : 0) + len;
	long h = header(out, cap, CL_MQTT_PUBLISH, qos << 1, rem);
	uint8_t *p;

	if (h < 0 || tl > 65535 || (size_t)h + rem > cap)
		return -1;
	p = out + h;
	put16(p, tl);
	memcpy(p + 2, topic, tl);
	p += 2 + tl;
	if (qos) {
		put16(p, packet_id);
		p += 2;
	}
	memcpy(p, payload, len);
	return h + (long)rem;
}

long cl_mqtt_decode(const uint8_t *buf, size_t len, struct cl_mqtt_packet *p)
{
	size_t rem = 0, hl = 1, mult = 1;
	const uint8_t *b;
	int type, flags;

	if (len < 2)
		return 0;
	for (;;) {
		if (hl >= len)
			return 0;
		if (hl > 4)
			return cl_error_set(CL_EPARSE, "MQTT remaining length longer than 4 bytes");
		rem += (size_t)(buf[hl] & 0x7f) * mult;
		mult *= 128;
		if (!(buf[hl++] & 0x80))
			break;
	}
	if (rem > CL_MQTT_MAX_PACKET)
		return cl_error_set(CL_EPARSE, "MQTT packet of %zu bytes is over the limit", rem);
	if (len - hl < rem)
		return 0;
	memset(p, 0, sizeof(*p));
	type = buf[0] >> 4;
	flags = buf[0] & 0x0f;
	b = buf + hl;
	p->type = type;
	switch (type) {
	case CL_MQTT_CONNACK:
		if (flags || rem != 2 || (b[0] & 0xfe))
			return cl_error_set(CL_EPARSE, "malformed MQTT CONNACK");
		p->session_present = b[0] & 1;
		p->connack_code = b[1];
		break;
	case CL_MQTT_SUBACK:
		if (flags || rem < 3)
			return cl_error_set(CL_EPARSE, "malformed MQTT SUBACK");
		p->packet_id = (uint16_t)(b[0] << 8 | b[1]);
		p->suback_qos = b[2];
		if (p->suback_qos > 2 && p->suback_qos != 0x80)
			return cl_error_set(CL_EPARSE, "MQTT SUBACK return code %d is invalid", b[2]);
		break;
	case CL_MQTT_PUBACK:
	case CL_MQTT_UNSUBACK:
		if (flags || rem != 2)
			return cl_error_set(CL_EPARSE, "malformed MQTT acknowledgement");
		p->packet_id = (uint16_t)(b[0] << 8 | b[1]);
		break;
	case CL_MQTT_PINGRESP:
		if (flags || rem != 0)
			return cl_error_set(CL_EPARSE, "malformed MQTT PINGRESP");
		break;
	case CL_MQTT_PUBLISH: {
		size_t tl, off;

		p->dup = flags >> 3 & 1;
		p->qos = flags >> 1 & 3;
		p->retain = flags & 1;
		if (p->qos == 3)
			return cl_error_set(CL_EPARSE, "MQTT PUBLISH with QoS 3");
		if (p->qos == 0 && p->dup)
			return cl_error_set(CL_EPARSE, "MQTT PUBLISH QoS 0 with DUP set");
		if (rem < 2)
			return cl_error_set(CL_EPARSE, "MQTT PUBLISH without a topic");
		tl = (size_t)(b[0] << 8 | b[1]);
		off = 2 + tl + (p->qos ? 2 : 0);
		if (tl == 0 || off > rem)
			return cl_error_set(CL_EPARSE, "MQTT PUBLISH topic does not fit the packet");
		p->topic = b + 2;
		p->topic_len = tl;
		if (cl_utf8_check((const char *)p->topic, tl) != tl ||
		    memchr(p->topic, 0, tl) || memchr(p->topic, '+', tl) || memchr(p->topic, '#', tl))
			return cl_error_set(CL_EPARSE, "MQTT PUBLISH topic is not a valid topic name");
		if (p->qos) {
			p->packet_id = (uint16_t)(b[2 + tl] << 8 | b[3 + tl]);
			if (p->packet_id == 0)
				return cl_error_set(CL_EPARSE, "MQTT PUBLISH QoS %d with packet id 0", p->qos);
		}
		p->payload = b + off;
		p->payload_len = rem - off;
		break;
	}
	default:
		return cl_error_set(CL_EPARSE, "a broker does not send MQTT packet type %d", type);
	}
	return (long)(hl + rem);
}

int cl_mqtt_topic_matches(const char *filter, const uint8_t *topic, size_t len)
{
	size_t i = 0;
	const char *f = filter;

	while (*f) {
		if (*f == '#')
			return 1;
		if (*f == '+') {
			while (i < len && topic[i] != '/')
				i++;
			f++;
		} else {
			if (i >= len || topic[i] != (uint8_t)*f)
				return 0;
			i++;
			f++;
		}
	}
	return i == len;
}

int cl_mqtt_filter_device_level(const char *filter)
{
	int level = 0, found = -1;

	if (!filter[0])
		return cl_error_set(CL_EINVAL, "the topic filter is empty");
	for (const char *p = filter;; p++) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if ((memchr(p, '+', n) || memchr(p, '#', n)) && n != 1)
			return cl_error_set(CL_EINVAL, "topic filter '%s': a wildcard must be a whole level",
					    filter);
		if (*p == '#' && end)
			return cl_error_set(CL_EINVAL, "topic filter '%s': '#' must be the last level",
					    filter);
		if (*p == '+' && n == 1) {
			if (found >= 0)
				return cl_error_set(CL_EINVAL, "topic filter '%s' has more than one '+' "
						    "level: only one may name the device", filter);
			found = level;
		}
		if (!end)
			break;
		p = end;
		level++;
	}
	if (found < 0)
		return cl_error_set(CL_EINVAL, "topic filter '%s' has no '+' level to name the device "
				    "(as in devices/+/messages/events)", filter);
	return found;
}

int cl_mqtt_topic_level(const uint8_t *topic, size_t len, unsigned level,
			const uint8_t **seg, size_t *seg_len)
{
	size_t i = 0;

	for (unsigned l = 0; l < level; l++) {
		const uint8_t *slash = memchr(topic + i, '/', len - i);

		if (!slash)
			return 0;
		i = (size_t)(slash - topic) + 1;
	}
	{
		const uint8_t *slash = memchr(topic + i, '/', len - i);

		*seg = topic + i;
		*seg_len = slash ? (size_t)(slash - topic) - i : len - i;
	}
	return 1;
}
