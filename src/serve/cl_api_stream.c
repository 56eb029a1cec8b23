/*
 * GET /api/v1/stream?patient=&vitals=true|false: the live stream of vital
 * and alert events as server-sent events (cl_sse.h).
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "core/cl_error.h"

#include <string.h>

int cl_api_stream_get(struct cl_req *r)
{
	const char *patient = cl_req_query(r, "patient");
	const char *vit = cl_req_query(r, "vitals");
	struct cl_req_stream *src;

	if (vit && strcmp(vit, "true") && strcmp(vit, "false"))
		return cl_reply_error(r, 400, "bad_request", "'vitals' must be true or false", NULL,
				      NULL);
	if (cl_sse_subscribe(r->s->sse, patient, !vit || strcmp(vit, "true") == 0, &src) != CL_OK)
		return cl_reply_error(r, 503, "busy", "out of memory; retry later", "Retry-After", "1");
	return cl_reply_stream(r, 200, "text/event-stream", src);
}
