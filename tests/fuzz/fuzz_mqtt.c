/*
 * Fuzz target: the MQTT packet decoder, fed a byte stream as a broker
 * would send it. Every packet it returns must lie inside the input, with
 * its topic and payload inside the packet; a malformed stream must be
 * refused with a reason, never read past the end. The level of a PUBLISH
 * topic that names the device (the subscriber checks events against it)
 * must lie inside the topic and hold no '/'.
 */
#include "fuzz_entry.h"
#include "core/cl_error.h"
#include "mqtt/cl_mqtt_proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used = 0;

	while (used < size) {
		struct cl_mqtt_packet p;
		long n = cl_mqtt_decode(data + used, size - used, &p);

		if (n == 0)
			break;
		if (n < 0) {
			if (cl_error_detail()[0] == '\0')
				abort();
			break;
		}
		if ((size_t)n > size - used)
			abort();
		if (p.type == CL_MQTT_PUBLISH) {
			const uint8_t *end = data + used + (size_t)n;

			if (p.topic < data + used || p.topic + p.topic_len > end ||
			    p.payload < p.topic || p.payload + p.payload_len != end)
				abort();
			(void)cl_mqtt_topic_matches("devices/+/messages/events", p.topic, p.topic_len);
			(void)cl_mqtt_topic_matches("#", p.topic, p.topic_len);
			for (unsigned level = 0; level < 4; level++) {
				const uint8_t *seg;
				size_t seg_len;

				if (!cl_mqtt_topic_level(p.topic, p.topic_len, level, &seg, &seg_len))
					break;
				if (seg < p.topic || seg + seg_len > p.topic + p.topic_len ||
				    memchr(seg, '/', seg_len))
					abort();
			}
		}
		used += (size_t)n;
	}
	return 0;
}
