/*
 * cl_objstore_s3.c — S3 and S3-compatible stores: credentials, the
 * endpoint and the bucket's addressing, and the request's signature,
 * which curl computes itself (CURLOPT_AWS_SIGV4, "aws:amz:REGION:s3").
 *
 * curl (7.88 and later) signs the headers the request carries and adds
 * x-amz-date; for the payload hash it takes the x-amz-content-sha256
 * header this file sets (curl 7.88 does not add one, and S3 requires it):
 * UNSIGNED-PAYLOAD for uploads (the body streams; its Content-MD5 protects
 * it), the hash of no bytes for the other requests. curl 7.88 signs the query as it is, so
 * cl_objstore.c gives the parameters sorted by name and this file encodes
 * them the way AWS canonicalises them.
 */
#include "objstore/cl_objstore_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cl_error.h"

/* SHA-256 of no bytes: the payload hash of a request without a body */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* The first of the environment variables that is set and not empty. */
static const char *env2(const char *a, const char *b)
{
	const char *v = getenv(a);

	if ((!v || !*v) && b)
		v = getenv(b);
	return v && *v ? v : NULL;
}

static int copy(char *out, size_t cap, const char *v, const char *what)
{
	if (strlen(v) >= cap)
		return cl_error_set(CL_EINVAL, "%s is too long", what);
	strcpy(out, v);
	return CL_OK;
}

/* Splits an endpoint URL into scheme ("http://") and the rest. */
static int endpoint_check(const char *url, const char *what)
{
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return cl_error_set(CL_EINVAL, "%s '%s' is not an http:// or https:// URL", what,
				    url);
	if (strchr(url, '?') || strchr(url, '@'))
		return cl_error_set(CL_EINVAL, "%s may hold no query and no user", what);
	return CL_OK;
}

int cl_os_s3_configure(struct cl_objstore *s)
{
	const struct cl_objstore_settings *st = &s->set;
	const char *v, *ep;
	int rc, have_endpoint;

	/* region */
	v = st->s3_region[0] ? st->s3_region : env2("AWS_REGION", "AWS_DEFAULT_REGION");
	rc = copy(s->region, sizeof(s->region), v ? v : "us-east-1", "the S3 region");
	if (rc)
		return rc;
	for (const char *p = s->region; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return cl_error_set(CL_EINVAL, "the S3 region '%s' is not a region name",
					    s->region);
	/* credentials: the settings win over the environment */
	v = st->s3_access_key_id[0] ? st->s3_access_key_id : env2("AWS_ACCESS_KEY_ID", NULL);
	if (!v)
		return cl_error_set(CL_EINVAL,
				    "%s: no S3 credentials: set AWS_ACCESS_KEY_ID and "
				    "AWS_SECRET_ACCESS_KEY, or objstore.s3_access_key_id and "
				    "objstore.s3_secret_access_key_file", s->uri);
	rc = copy(s->access_key, sizeof(s->access_key), v, "the S3 access key id");
	if (rc)
		return rc;
	if (st->s3_secret_access_key_file[0]) {
		rc = cl_os_read_secret(st->s3_secret_access_key_file,
				       "objstore.s3_secret_access_key_file", s->secret,
				       sizeof(s->secret));
		if (rc)
			return rc;
	} else if ((v = env2("AWS_SECRET_ACCESS_KEY", NULL))) {
		rc = copy(s->secret, sizeof(s->secret), v, "$AWS_SECRET_ACCESS_KEY");
		if (rc)
			return rc;
	} else {
		return cl_error_set(CL_EINVAL,
				    "%s: an S3 access key id but no secret: set "
				    "AWS_SECRET_ACCESS_KEY or objstore.s3_secret_access_key_file",
				    s->uri);
	}
	if (st->s3_session_token_file[0]) {
		rc = cl_os_read_secret(st->s3_session_token_file, "objstore.s3_session_token_file",
				       s->token, sizeof(s->token));
		if (rc)
			return rc;
	} else if ((v = env2("AWS_SESSION_TOKEN", NULL))) {
		rc = copy(s->token, sizeof(s->token), v, "$AWS_SESSION_TOKEN");
		if (rc)
			return rc;
	}
	/* endpoint and addressing */
	ep = st->s3_endpoint[0] ? st->s3_endpoint : env2("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
	have_endpoint = ep != NULL;
	if (ep) {
		size_t n;

		rc = endpoint_check(ep, "the S3 endpoint");
		if (rc)
			return rc;
		rc = copy(s->endpoint, sizeof(s->endpoint), ep, "the S3 endpoint");
		if (rc)
			return rc;
		n = strlen(s->endpoint);
		while (n > 0 && s->endpoint[n - 1] == '/')
			s->endpoint[--n] = '\0';
	} else {
		snprintf(s->endpoint, sizeof(s->endpoint), "https://s3.%s.amazonaws.com", s->region);
	}
	if (strcmp(st->s3_path_style, "path") == 0)
		s->path_style = 1;
	else if (strcmp(st->s3_path_style, "virtual") == 0)
		s->path_style = 0;
	else
		s->path_style = have_endpoint;
	if (!s->path_style) {
		const char *host = strstr(s->endpoint, "://") + 3;

		if (strchr(host, '/'))
			return cl_error_set(CL_EINVAL,
					    "virtual-host S3 addressing needs an endpoint without a "
					    "path; set objstore.s3_path_style = path");
		if (strchr(s->container, '.') && strncmp(s->endpoint, "https", 5) == 0)
			/* a dotted bucket breaks the certificate's wildcard */
			s->path_style = 1;
		else
			snprintf(s->host_style, sizeof(s->host_style), "%.*s%s.%s",
				 (int)(host - s->endpoint), s->endpoint, s->container, host);
	}
	return CL_OK;
}

int cl_os_s3_prepare(struct cl_objstore *s, const struct cl_os_req *r, char *url, size_t cap,
		     struct curl_slist **headers)
{
	char enc[3 * CL_OS_KEY_MAX + 1], hdr[CL_OS_SECRET_MAX + 64];
	size_t w;
	int rc;

	if (s->path_style)
		w = (size_t)snprintf(url, cap, "%s/%s/", s->endpoint, s->container);
	else
		w = (size_t)snprintf(url, cap, "%s/", s->host_style);
	if (r->key) {
		rc = cl_os_encode(r->key, 1, enc, sizeof(enc));
		if (rc)
			return rc;
		w += (size_t)snprintf(url + w, w < cap ? cap - w : 0, "%s", enc);
	}
	for (int i = 0; i < r->nparams; i++) {
		rc = cl_os_encode(r->params[i].value, 0, enc, sizeof(enc));
		if (rc)
			return rc;
		w += (size_t)snprintf(url + w, w < cap ? cap - w : 0, "%c%s=%s", i ? '&' : '?',
				      r->params[i].name, enc);
	}
	if (w >= cap)
		return cl_error_set(CL_ETOOBIG, "the request URL is too long");
	if (strcmp(r->method, "PUT") != 0) {
		*headers = curl_slist_append(*headers, "x-amz-content-sha256: " EMPTY_SHA256);
	} else {
		*headers = curl_slist_append(*headers, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
		if (r->blob || r->body_len)
			*headers = curl_slist_append(*headers,
						     "Content-Type: application/octet-stream");
	}
	if (r->content_md5) {
		snprintf(hdr, sizeof(hdr), "Content-MD5: %s", r->content_md5);
		*headers = curl_slist_append(*headers, hdr);
	}
	if (r->if_none_match)
		*headers = curl_slist_append(*headers, "If-None-Match: *");
	if (s->token[0]) {
		snprintf(hdr, sizeof(hdr), "x-amz-security-token: %s", s->token);
		*headers = curl_slist_append(*headers, hdr);
	}
	/* the signature: curl makes it when it sends (cl_os_s3_sign) */
	return CL_OK;
}

int cl_os_s3_sign(struct cl_objstore *s, CURL *h)
{
	char sig[128];

	snprintf(sig, sizeof(sig), "aws:amz:%s:s3", s->region);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sig);
	curl_easy_setopt(h, CURLOPT_USERNAME, s->access_key);
	curl_easy_setopt(h, CURLOPT_PASSWORD, s->secret);
	return CL_OK;
}
