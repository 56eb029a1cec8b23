/*
 * cl_objstore.c — the object storage client's common part: the objstore.*
 * settings, URIs, the statistics, and one request with its retries, over
 * libcurl; then the operations of cl_objstore.h on top. The providers
 * (cl_objstore_s3.c, cl_objstore_azure.c) only address and sign a request.
 *
 * One request is one attempt loop: each attempt takes an idle curl handle
 * of the store (its connections stay open between requests), rewinds the
 * upload and truncates the download, and is retried after a backoff —
 * doubled each time, with jitter, capped — when curl could not connect,
 * the connection was cut or made no progress for objstore.timeout, or the
 * store answered 408, 429 or 5xx. Any other answer ends the loop at once,
 * so wrong credentials fail with the store's 403 and its reason, not after
 * a series of retries.
 *
 * Error details name the operation and the object by its URI, never a
 * URL: a SAS token lives in the query, and credentials never leave the
 * handle.
 */
#include "objstore/cl_objstore.h"
#include "objstore/cl_objstore_int.h"
#include "objstore/cl_objstore_xml.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_prom.h"
#include "core/cl_time.h"

#define F(field) offsetof(struct cl_objstore_settings, field)
#define MS 1000LL
#define SEC 1000000LL
#define ERR_BODY_MAX (64 * 1024)
#define LIST_PAGE_MAX (64u * 1024 * 1024)

static const struct cl_config_entry objstore_entries[] = {
	{ "s3_endpoint", CL_CFG_STRING, "", 0, 0, F(s3_endpoint),
	  "S3 endpoint URL (http[s]://host[:port]) for S3-compatible stores; empty: "
	  "$AWS_ENDPOINT_URL_S3, else $AWS_ENDPOINT_URL, else AWS's regional endpoint", NULL },
	{ "s3_region", CL_CFG_STRING, "", 0, 0, F(s3_region),
	  "S3 region the requests are signed for; empty: $AWS_REGION, else $AWS_DEFAULT_REGION, "
	  "else us-east-1", NULL },
	{ "s3_path_style", CL_CFG_CHOICE, "auto", 0, 0, F(s3_path_style),
	  "S3 addressing: the bucket in the path (path) or in the host name (virtual); auto: "
	  "path when an endpoint is set", "auto|path|virtual" },
	{ "s3_access_key_id", CL_CFG_STRING, "", 0, 0, F(s3_access_key_id),
	  "S3 access key id; empty: $AWS_ACCESS_KEY_ID", NULL },
	{ "s3_secret_access_key_file", CL_CFG_STRING, "", 0, 0, F(s3_secret_access_key_file),
	  "file holding the S3 secret access key on one line, read at open; empty: "
	  "$AWS_SECRET_ACCESS_KEY; never logged", NULL },
	{ "s3_session_token_file", CL_CFG_STRING, "", 0, 0, F(s3_session_token_file),
	  "file holding an S3 session token (temporary credentials) on one line; empty: "
	  "$AWS_SESSION_TOKEN, if set; never logged", NULL },
	{ "azure_account", CL_CFG_STRING, "", 0, 0, F(azure_account),
	  "Azure storage account; empty: the account of the URI, of "
	  "$AZURE_STORAGE_CONNECTION_STRING or $AZURE_STORAGE_ACCOUNT", NULL },
	{ "azure_endpoint", CL_CFG_STRING, "", 0, 0, F(azure_endpoint),
	  "Azure Blob endpoint URL (Azurite: http://127.0.0.1:10000/devstoreaccount1); empty: "
	  "the connection string's BlobEndpoint, else https://<account>.blob.core.windows.net",
	  NULL },
	{ "azure_key_file", CL_CFG_STRING, "", 0, 0, F(azure_key_file),
	  "file holding the Azure storage account key (base64) on one line; empty: "
	  "$AZURE_STORAGE_KEY or the connection string's AccountKey; never logged", NULL },
	{ "azure_sas_token_file", CL_CFG_STRING, "", 0, 0, F(azure_sas_token_file),
	  "file holding an Azure SAS token on one line, used when there is no key; empty: "
	  "$AZURE_STORAGE_SAS_TOKEN or the connection string's SharedAccessSignature; never logged",
	  NULL },
	{ "timeout", CL_CFG_DURATION, "30s", 1 * SEC, 3600 * SEC, F(timeout_us),
	  "how long one request may take to connect, or go without sending or receiving a byte, "
	  "before it is abandoned and retried", NULL },
	{ "retries", CL_CFG_U32, "6", 0, 100, F(retries),
	  "attempts after the first for a request that timed out, was cut, or was answered 408, "
	  "429 or 5xx", NULL },
	{ "retry_backoff", CL_CFG_DURATION, "200ms", 1 * MS, 60 * SEC, F(retry_backoff_us),
	  "wait before the first retry; doubled after each, with jitter", NULL },
	{ "retry_backoff_max", CL_CFG_DURATION, "20s", 1 * MS, 600 * SEC, F(retry_backoff_max_us),
	  "longest wait between two attempts", NULL },
	{ "list_page_size", CL_CFG_U32, "1000", 1, 5000, F(list_page_size),
	  "keys asked of the store per listing page", NULL },
};

const struct cl_config_section cl_objstore_section = {
	.name = "objstore",
	.entries = objstore_entries,
	.nentries = sizeof(objstore_entries) / sizeof(objstore_entries[0]),
	.size = sizeof(struct cl_objstore_settings),
};

/* ------------------------------------------------------------------ */
/* statistics */

static struct {
	atomic_uint_fast64_t requests, retries, failures, bytes_up, bytes_down, uploads,
		downloads;
} stats;

void cl_objstore_stats(struct cl_objstore_stats *out)
{
	out->requests = atomic_load(&stats.requests);
	out->retries = atomic_load(&stats.retries);
	out->failures = atomic_load(&stats.failures);
	out->bytes_up = atomic_load(&stats.bytes_up);
	out->bytes_down = atomic_load(&stats.bytes_down);
	out->uploads = atomic_load(&stats.uploads);
	out->downloads = atomic_load(&stats.downloads);
}

void cl_objstore_metrics(struct cl_prom *p)
{
	struct cl_objstore_stats st;

	cl_objstore_stats(&st);
	cl_prom_counter(p, "carelake_objstore_requests_total",
			"HTTP requests sent to object storage, retries included.", st.requests);
	cl_prom_counter(p, "carelake_objstore_retries_total",
			"Object storage requests retried after a 5xx, 429, timeout or cut "
			"connection.", st.retries);
	cl_prom_counter(p, "carelake_objstore_failures_total",
			"Object storage operations that failed after their retries.", st.failures);
	cl_prom_counter(p, "carelake_objstore_uploaded_bytes_total",
			"Body bytes sent to object storage.", st.bytes_up);
	cl_prom_counter(p, "carelake_objstore_downloaded_bytes_total",
			"Body bytes received from object storage.", st.bytes_down);
	cl_prom_counter(p, "carelake_objstore_uploads_total", "Objects written.", st.uploads);
	cl_prom_counter(p, "carelake_objstore_downloads_total", "Objects read.", st.downloads);
}

/* ------------------------------------------------------------------ */
/* small helpers the providers share */

int cl_os_encode(const char *src, int keep_slash, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t w = 0;

	for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
		int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
			    *p == '~' || (keep_slash && *p == '/');

		if (w + (plain ? 1 : 3) >= cap)
			return cl_error_set(CL_ETOOBIG, "an object key or parameter is too long");
		if (plain) {
			out[w++] = (char)*p;
		} else {
			out[w++] = '%';
			out[w++] = hex[*p >> 4];
			out[w++] = hex[*p & 15];
		}
	}
	out[w] = '\0';
	return CL_OK;
}

int cl_os_b64_encode(const unsigned char *in, size_t len, char *out, size_t cap)
{
	if (cap < 4 * ((len + 2) / 3) + 1)
		return cl_error_set(CL_ETOOBIG, "base64 output too long");
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return CL_OK;
}

int cl_os_b64_decode(const char *in, unsigned char *out, size_t cap, size_t *len)
{
	size_t n = strlen(in), pad = 0;
	unsigned char *tmp;
	int got;

	if (n == 0 || n % 4 != 0)
		return CL_EINVAL;
	if (in[n - 1] == '=')
		pad++;
	if (n > 1 && in[n - 2] == '=')
		pad++;
	if (n / 4 * 3 - pad > cap)
		return CL_ETOOBIG;
	tmp = cl_malloc(n / 4 * 3 + 1);
	if (!tmp)
		return CL_ENOMEM;
	got = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
	if (got < 0 || (size_t)got < pad) {
		cl_free(tmp);
		return CL_EINVAL;
	}
	*len = (size_t)got - pad;
	memcpy(out, tmp, *len);
	OPENSSL_cleanse(tmp, n / 4 * 3 + 1);
	cl_free(tmp);
	return CL_OK;
}

static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

void cl_os_http_date(int64_t ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int cl_os_parse_http_date(const char *s, int64_t *ms)
{
	char wd[4], mon[4];
	int d, y, h, mi, sec, m = -1, n = 0;
	struct tm tm;

	if (sscanf(s, "%3s, %d %3s %d %d:%d:%d GMT%n", wd, &d, mon, &y, &h, &mi, &sec, &n) != 7 ||
	    n == 0)
		return CL_EPARSE;
	for (int i = 0; i < 12; i++)
		if (strcmp(mon, months[i]) == 0)
			m = i;
	if (m < 0 || d < 1 || d > 31 || y < 1970 || y > 9999 || h > 23 || mi > 59 || sec > 60 ||
	    h < 0 || mi < 0 || sec < 0)
		return CL_EPARSE;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*ms = (int64_t)timegm(&tm) * 1000;
	return CL_OK;
}

int cl_os_read_secret(const char *path, const char *what, char *out, size_t cap)
{
	char *buf;
	size_t len;
	int rc = cl_fs_read_file(path, cap + 2, &buf, &len);

	/* a credential that cannot be had is a configuration error, as the
	 * header promises: CL_EINVAL, whatever the file's trouble */
	if (rc)
		return cl_error_set(CL_EINVAL, "%s '%s' cannot be read: %s", what, path,
				    cl_error_detail());
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	if (len >= cap) {
		OPENSSL_cleanse(buf, len);
		cl_free(buf);
		return cl_error_set(CL_EINVAL, "%s holds too long a line", what);
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	OPENSSL_cleanse(buf, len);
	cl_free(buf);
	return CL_OK;
}

/* ------------------------------------------------------------------ */
/* URIs, open and close */

int cl_objstore_is_uri(const char *uri)
{
	return uri && (strncmp(uri, "abfss://", 8) == 0 || strncmp(uri, "abfs://", 7) == 0 ||
		       strncmp(uri, "az://", 5) == 0 || strncmp(uri, "s3://", 5) == 0);
}

/* The container (or bucket) and the path of "<authority>/<path>", the
 * path made "" or "a/b/". */
static int split_path(struct cl_objstore *s, const char *rest, const char *uri)
{
	const char *slash = strchr(rest, '/');
	size_t clen = slash ? (size_t)(slash - rest) : strlen(rest);
	const char *path = slash ? slash + 1 : "";
	size_t plen;

	if (clen == 0 || clen >= sizeof(s->container))
		return cl_error_set(CL_EINVAL, "'%s' names no container or bucket", uri);
	memcpy(s->container, rest, clen);
	s->container[clen] = '\0';
	for (size_t i = 0; i < clen; i++) {
		char c = s->container[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return cl_error_set(CL_EINVAL,
					    "'%s': the container or bucket name '%s' may hold only "
					    "lower-case letters, digits, '-' and '.'", uri, s->container);
	}
	while (*path == '/')
		path++;
	plen = strlen(path);
	while (plen > 0 && path[plen - 1] == '/')
		plen--;
	if (plen + 2 >= sizeof(s->prefix))
		return cl_error_set(CL_EINVAL, "'%s': the path is too long", uri);
	if (strchr(path, '?') || strchr(path, '#'))
		return cl_error_set(CL_EINVAL, "'%s': a storage URI takes no query or fragment",
				    uri);
	memcpy(s->prefix, path, plen);
	s->prefix[plen] = '\0';
	if (plen > 0)
		strcat(s->prefix, "/");
	return CL_OK;
}

static int parse_uri(struct cl_objstore *s, const char *uri, char *account, size_t acap,
		     char *suffix, size_t scap)
{
	const char *rest;

	account[0] = suffix[0] = '\0';
	if (strncmp(uri, "s3://", 5) == 0) {
		s->kind = CL_OS_S3;
		return split_path(s, uri + 5, uri);
	}
	s->kind = CL_OS_AZURE;
	if (strncmp(uri, "az://", 5) == 0)
		return split_path(s, uri + 5, uri);
	rest = uri + (strncmp(uri, "abfss://", 8) == 0 ? 8 : 7);
	{
		/* container@account.dfs.<suffix>/path */
		const char *at = strchr(rest, '@'), *slash = strchr(rest, '/');
		const char *host, *dot, *host_end;
		char tmp[CL_OS_KEY_MAX + 300];

		if (!at || (slash && slash < at))
			return cl_error_set(CL_EINVAL,
					    "'%s' is not container@account.dfs.core.windows.net/path",
					    uri);
		host = at + 1;
		host_end = slash ? slash : host + strlen(host);
		dot = memchr(host, '.', (size_t)(host_end - host));
		if (!dot || dot == host || (size_t)(dot - host) >= acap)
			return cl_error_set(CL_EINVAL, "'%s' names no storage account", uri);
		memcpy(account, host, (size_t)(dot - host));
		account[dot - host] = '\0';
		/* dfs.core.windows.net or blob.core.windows.net: the suffix after it */
		{
			const char *sfx = dot + 1;
			size_t n;

			if (strncmp(sfx, "dfs.", 4) == 0 || strncmp(sfx, "blob.", 5) == 0)
				sfx = strchr(sfx, '.') + 1;
			n = (size_t)(host_end - sfx);
			if (n >= scap || n == 0)
				return cl_error_set(CL_EINVAL, "'%s': bad host name", uri);
			memcpy(suffix, sfx, n);
			suffix[n] = '\0';
		}
		snprintf(tmp, sizeof(tmp), "%.*s%s", (int)(at - rest), rest, slash ? slash : "");
		return split_path(s, tmp, uri);
	}
}

static void settings_of(const struct cl_config *cfg, struct cl_objstore_settings *st)
{
	if (cfg) {
		memcpy(st, cl_config_get(cfg, &cl_objstore_section), sizeof(*st));
		return;
	}
	memset(st, 0, sizeof(*st));
	cl_config_table_defaults(objstore_entries,
				 sizeof(objstore_entries) / sizeof(objstore_entries[0]), st);
}

int cl_objstore_open(const char *uri, const struct cl_config *cfg, struct cl_objstore **out)
{
	struct cl_objstore *s;
	char account[256], suffix[128];
	size_t len;
	int rc;

	*out = NULL;
	if (!cl_objstore_is_uri(uri))
		return cl_error_set(CL_EINVAL,
				    "'%s' is not an object storage URI (abfss://, abfs://, az://, s3://)",
				    uri ? uri : "");
	len = strlen(uri);
	while (len > 0 && uri[len - 1] == '/')
		len--;
	s = cl_calloc(1, sizeof(*s));
	if (!s)
		return cl_error_set(CL_ENOMEM, "out of memory opening '%s'", uri);
	if (len >= sizeof(s->uri)) {
		cl_free(s);
		return cl_error_set(CL_EINVAL, "the storage URI is too long");
	}
	memcpy(s->uri, uri, len);
	s->uri[len] = '\0';
	s->conditional = -1;
	settings_of(cfg, &s->set);
	rc = parse_uri(s, s->uri, account, sizeof(account), suffix, sizeof(suffix));
	if (rc == 0)
		rc = s->kind == CL_OS_S3 ? cl_os_s3_configure(s)
					 : cl_os_azure_configure(s, account, suffix);
	if (rc) {
		OPENSSL_cleanse(s, sizeof(*s));
		cl_free(s);
		return rc;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return CL_OK;
}

void cl_objstore_close(struct cl_objstore *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nidle; i++)
		curl_easy_cleanup(s->idle[i]);
	pthread_mutex_destroy(&s->lock);
	OPENSSL_cleanse(s, sizeof(*s));
	cl_free(s);
}

const char *cl_objstore_uri(const struct cl_objstore *s)
{
	return s->uri;
}

/* ------------------------------------------------------------------ */
/* one transfer */

struct xfer {
	/* upload: from memory or a descriptor */
	const unsigned char *up_mem;
	int up_fd;
	uint64_t up_len, up_off;
	/* download: into a descriptor, or a buffer of at most max bytes */
	int down_fd;
	char *buf;
	size_t len, cap, max;
	int too_big, write_failed;
	uint64_t down_bytes;
	/* a non-2xx answer's body */
	char err[ERR_BODY_MAX + 1];
	size_t err_len;
	/* the answer */
	CURL *h;
	long status;
	int64_t content_length;      /* -1: none */
	char last_modified[64], etag[96], content_md5[64], error_code[128];
	int attempts;
};

static size_t on_read(char *dst, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t want = size * n;
	uint64_t left = x->up_len - x->up_off;

	if (want > left)
		want = (size_t)left;
	if (want == 0)
		return 0;
	if (x->up_mem) {
		memcpy(dst, x->up_mem + x->up_off, want);
	} else {
		ssize_t got;

		do
			got = pread(x->up_fd, dst, want, (off_t)x->up_off);
		while (got < 0 && errno == EINTR);
		if (got <= 0)
			return CURL_READFUNC_ABORT;
		want = (size_t)got;
	}
	x->up_off += want;
	atomic_fetch_add(&stats.bytes_up, want);
	return want;
}

static int on_seek(void *arg, curl_off_t off, int origin)
{
	struct xfer *x = arg;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->up_len)
		return CURL_SEEKFUNC_CANTSEEK;
	x->up_off = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *src, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	long status = 0;

	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300) {
		size_t room = ERR_BODY_MAX - x->err_len;

		if (len < room)
			room = len;
		memcpy(x->err + x->err_len, src, room);
		x->err_len += room;
		x->err[x->err_len] = '\0';
		return len;
	}
	if (x->down_fd >= 0) {
		if (cl_fs_write_all(x->down_fd, src, len, "the download") != 0) {
			x->write_failed = 1;
			return 0;
		}
	} else {
		if (x->len + len > x->max) {
			x->too_big = 1;
			return 0;
		}
		if (x->len + len + 1 > x->cap) {
			size_t cap = x->cap ? x->cap : 4096;
			void *m;

			while (cap < x->len + len + 1)
				cap *= 2;
			m = cl_realloc(x->buf, cap);
			if (!m) {
				x->write_failed = 1;
				return 0;
			}
			x->buf = m;
			x->cap = cap;
		}
		memcpy(x->buf + x->len, src, len);
		x->len += len;
		x->buf[x->len] = '\0';
	}
	x->down_bytes += len;
	atomic_fetch_add(&stats.bytes_down, len);
	return len;
}

/* Copies a header's value (trimmed) when its name is `name`. */
static int header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return 0;
	line += nl + 1;
	len -= nl + 1;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(out, line, len);
	out[len] = '\0';
	return 1;
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	char v[64];

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* a new answer (after a 100 Continue): forget the last one's */
		x->content_length = -1;
		x->last_modified[0] = x->etag[0] = x->content_md5[0] = x->error_code[0] = '\0';
	} else if (header_value(line, len, "Content-Length", v, sizeof(v))) {
		uint64_t cl;

		if (cl_parse_u64(v, 0, INT64_MAX, &cl) == 0)
			x->content_length = (int64_t)cl;
	} else if (!header_value(line, len, "Last-Modified", x->last_modified,
				 sizeof(x->last_modified)) &&
		   !header_value(line, len, "ETag", x->etag, sizeof(x->etag)) &&
		   !header_value(line, len, "Content-MD5", x->content_md5,
				 sizeof(x->content_md5))) {
		header_value(line, len, "x-ms-error-code", x->error_code, sizeof(x->error_code));
	}
	return len;
}

static CURL *handle_take(struct cl_objstore *s)
{
	CURL *h = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->nidle > 0)
		h = s->idle[--s->nidle];
	pthread_mutex_unlock(&s->lock);
	if (h)
		curl_easy_reset(h);
	else
		h = curl_easy_init();
	return h;
}

static void handle_give(struct cl_objstore *s, CURL *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->nidle < (int)(sizeof(s->idle) / sizeof(s->idle[0]))) {
		s->idle[s->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (h)
		curl_easy_cleanup(h);
}

static int retryable_curl(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static int retryable_status(long st)
{
	return st == 408 || st == 429 || (st >= 500 && st != 501 && st != 505);
}

static void backoff(const struct cl_objstore *s, int attempt)
{
	int64_t us = s->set.retry_backoff_us;
	unsigned char r[2] = { 0, 0 };
	struct timespec ts;

	for (int i = 1; i < attempt && us < s->set.retry_backoff_max_us; i++)
		us *= 2;
	if (us > s->set.retry_backoff_max_us)
		us = s->set.retry_backoff_max_us;
	/* jitter: between half and all of it */
	RAND_bytes(r, sizeof(r));
	us = us / 2 + (us / 2) * ((r[0] << 8) | r[1]) / 65535;
	ts.tv_sec = us / SEC;
	ts.tv_nsec = (long)(us % SEC) * 1000;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The object's name for messages: the URI and the key, never a URL. */
static void name_of(const struct cl_objstore *s, const char *key, char *out, size_t cap)
{
	if (!key)
		snprintf(out, cap, "%s", s->uri);
	else
		snprintf(out, cap, "%s/%s", s->uri, key);
}

/* Resets the transfer's answer and its body sinks for another attempt. */
static int attempt_reset(struct xfer *x)
{
	x->up_off = 0;
	x->len = 0;
	x->err_len = 0;
	x->err[0] = '\0';
	x->too_big = x->write_failed = 0;
	x->down_bytes = 0;
	x->status = 0;
	x->content_length = -1;
	x->last_modified[0] = x->etag[0] = x->content_md5[0] = x->error_code[0] = '\0';
	if (x->down_fd >= 0) {
		if (ftruncate(x->down_fd, 0) != 0 || lseek(x->down_fd, 0, SEEK_SET) != 0)
			return cl_error_set(cl_error_from_errno(errno),
					    "cannot truncate the download: %s", strerror(errno));
	}
	return CL_OK;
}

/*
 * Sends a request until it gets an answer that is not retried, or runs out
 * of retries. 0 with x->status set to the final answer (any status: the
 * caller decides what it means), or CL_EIO with the detail naming the last
 * failure.
 */
static int request(struct cl_objstore *s, struct cl_os_req *r, struct xfer *x, const char *key)
{
	char url[4096 + CL_OS_SECRET_MAX], name[CL_OS_KEY_MAX + 400], why[256];
	uint32_t attempts = s->set.retries + 1;
	long low_speed = (long)((s->set.timeout_us + SEC - 1) / SEC);

	name_of(s, key, name, sizeof(name));
	for (uint32_t a = 1; a <= attempts; a++) {
		struct curl_slist *hdr = NULL;
		CURLcode c;
		int rc;

		x->attempts = (int)a;
		if (a > 1) {
			atomic_fetch_add(&stats.retries, 1);
			backoff(s, (int)a - 1);
		}
		rc = attempt_reset(x);
		if (rc)
			return rc;
		rc = s->kind == CL_OS_S3 ? cl_os_s3_prepare(s, r, url, sizeof(url), &hdr)
					 : cl_os_azure_prepare(s, r, url, sizeof(url), &hdr);
		if (rc) {
			curl_slist_free_all(hdr);
			return rc;
		}
		x->h = handle_take(s);
		if (!x->h) {
			curl_slist_free_all(hdr);
			return cl_error_set(CL_ENOMEM, "cannot make an HTTP handle");
		}
		curl_easy_setopt(x->h, CURLOPT_URL, url);
		curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(x->h, CURLOPT_CONNECTTIMEOUT_MS, (long)(s->set.timeout_us / 1000));
		curl_easy_setopt(x->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(x->h, CURLOPT_LOW_SPEED_TIME, low_speed);
		curl_easy_setopt(x->h, CURLOPT_EXPECT_100_TIMEOUT_MS, 1000L);
		curl_easy_setopt(x->h, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(x->h, CURLOPT_HEADERDATA, x);
		curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_write);
		curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
		curl_easy_setopt(x->h, CURLOPT_PROTOCOLS_STR, "http,https");
		if (strcmp(r->method, "PUT") == 0) {
			curl_easy_setopt(x->h, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(x->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
			curl_easy_setopt(x->h, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(x->h, CURLOPT_READDATA, x);
			curl_easy_setopt(x->h, CURLOPT_SEEKFUNCTION, on_seek);
			curl_easy_setopt(x->h, CURLOPT_SEEKDATA, x);
		} else if (strcmp(r->method, "HEAD") == 0) {
			/* and named: curl 7.88 would sign a NOBODY request as a GET */
			curl_easy_setopt(x->h, CURLOPT_NOBODY, 1L);
			curl_easy_setopt(x->h, CURLOPT_CUSTOMREQUEST, "HEAD");
		} else if (strcmp(r->method, "GET") != 0) {
			curl_easy_setopt(x->h, CURLOPT_CUSTOMREQUEST, r->method);
		}
		if (s->kind == CL_OS_S3)
			cl_os_s3_sign(s, x->h);
		atomic_fetch_add(&stats.requests, 1);
		c = curl_easy_perform(x->h);
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
		/* the credentials leave the handle with the request */
		curl_easy_setopt(x->h, CURLOPT_USERNAME, NULL);
		curl_easy_setopt(x->h, CURLOPT_PASSWORD, NULL);
		curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, NULL);
		curl_slist_free_all(hdr);
		if (c == CURLE_OK && x->status >= 200 && x->status < 300 && x->down_fd < 0 &&
		    x->content_length >= 0 && strcmp(r->method, "GET") == 0 &&
		    (uint64_t)x->content_length != x->len)
			c = CURLE_PARTIAL_FILE;
		if (c == CURLE_OK && !retryable_status(x->status)) {
			handle_give(s, x->h);
			x->h = NULL;
			return CL_OK;
		}
		if (c == CURLE_WRITE_ERROR && x->too_big) {
			curl_easy_cleanup(x->h);
			x->h = NULL;
			return cl_error_set(CL_ETOOBIG, "%s is larger than %zu bytes", name, x->max);
		}
		if (c != CURLE_OK && !retryable_curl(c)) {
			curl_easy_cleanup(x->h);
			x->h = NULL;
			if (x->write_failed)
				return cl_error_set(CL_EIO, "%s %s: %s", r->method, name,
						    cl_error_detail());
			return cl_error_set(CL_EIO, "%s %s: %s", r->method, name,
					    curl_easy_strerror(c));
		}
		if (c != CURLE_OK)
			snprintf(why, sizeof(why), "%s", curl_easy_strerror(c));
		else
			snprintf(why, sizeof(why), "HTTP %ld", x->status);
		if (a < attempts)
			cl_log_warn("objstore",
				    "event=retry method=%s object=%s attempt=%u reason=%s", r->method,
				    CL_LOG_Q(name), a, CL_LOG_Q(why));
		/* a cut or stalled connection is not reused */
		if (c != CURLE_OK) {
			curl_easy_cleanup(x->h);
			x->h = NULL;
		} else {
			handle_give(s, x->h);
			x->h = NULL;
		}
	}
	return cl_error_set(CL_EIO, "%s %s failed %u time%s, the last with %s; giving up",
			    r->method, name, attempts, attempts == 1 ? "" : "s", why);
}

/* The error of a final answer that is not 2xx: CL_ENOENT for 404, else
 * CL_EIO with the status and the store's Code and Message. */
static int status_error(const struct cl_objstore *s, const struct cl_os_req *r,
			const struct xfer *x, const char *key)
{
	char name[CL_OS_KEY_MAX + 400], code[128], msg[512];

	name_of(s, key, name, sizeof(name));
	if (cl_os_xml_error(x->err, x->err_len, code, sizeof(code), msg, sizeof(msg)) != 0) {
		snprintf(code, sizeof(code), "%s", x->error_code);
		msg[0] = '\0';
	}
	if (x->status == 404)
		return cl_error_set(CL_ENOENT, "%s %s: not found%s%s%s%s", r->method, name,
				    code[0] ? " (" : "", code, msg[0] ? ": " : "",
				    code[0] ? msg : "");
	if (x->status == 401 || x->status == 403)
		return cl_error_set(CL_EIO,
				    "%s %s: the store refused the credentials (%ld %s%s%s); check "
				    "the account, key or token and their permissions",
				    r->method, name, x->status, code[0] ? code : "Forbidden",
				    msg[0] ? ": " : "", msg);
	return cl_error_set(CL_EIO, "%s %s: the store answered %ld%s%s%s%s", r->method, name,
			    x->status, code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
}

static void xfer_init(struct xfer *x)
{
	memset(x, 0, offsetof(struct xfer, err));
	x->err[0] = '\0';
	x->err_len = 0;
	x->h = NULL;
	x->up_fd = -1;
	x->down_fd = -1;
	x->content_length = -1;
}

/* A transfer's state, initialised; NULL (with the detail set) when out of
 * memory. */
static struct xfer *xfer_new(void)
{
	struct xfer *x = cl_malloc(sizeof(*x));

	if (!x) {
		cl_error_set(CL_ENOMEM, "out of memory");
		return NULL;
	}
	xfer_init(x);
	return x;
}

static int check_key(const struct cl_objstore *s, const char *key, char *full, size_t cap)
{
	if (!key || !key[0] || key[0] == '/')
		return cl_error_set(CL_EINVAL, "an object key must be a non-empty relative path");
	if ((size_t)snprintf(full, cap, "%s%s", s->prefix, key) >= cap ||
	    strlen(full) >= CL_OS_KEY_MAX)
		return cl_error_set(CL_EINVAL, "object key '%s' is too long", key);
	return CL_OK;
}

/* ------------------------------------------------------------------ */
/* operations */

int cl_objstore_ensure_container(struct cl_objstore *s)
{
	struct cl_os_req r = { .method = "PUT" };
	struct xfer *x = xfer_new();
	char body[256];
	int rc;

	if (!x)
		return CL_ENOMEM;
	if (s->kind == CL_OS_AZURE) {
		r.params[0] = (struct cl_os_param){ "restype", "container" };
		r.nparams = 1;
	} else if (strcmp(s->region, "us-east-1") != 0) {
		snprintf(body, sizeof(body),
			 "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			 "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>",
			 s->region);
		x->up_mem = (const unsigned char *)body;
		x->up_len = r.body_len = strlen(body);
	}
	rc = request(s, &r, x, NULL);
	if (rc == 0 && (x->status < 200 || x->status >= 300)) {
		char code[128], msg[512];

		if (cl_os_xml_error(x->err, x->err_len, code, sizeof(code), msg, sizeof(msg)) != 0)
			snprintf(code, sizeof(code), "%s", x->error_code);
		if (x->status != 409) {
			rc = status_error(s, &r, x, NULL);
		} else if (s->kind == CL_OS_S3 && strcmp(code, "BucketAlreadyOwnedByYou") != 0) {
			/* BucketAlreadyExists: someone's; ours when HeadBucket
			 * answers 200 (s3rver says so of its own buckets too) */
			struct cl_os_req head = { .method = "HEAD" };

			xfer_init(x);
			rc = request(s, &head, x, NULL);
			if (rc == 0 && (x->status < 200 || x->status >= 300))
				rc = cl_error_set(CL_EIO,
						  "%s: the bucket exists and is not yours (%s, and "
						  "HEAD answered %ld): choose another bucket name",
						  s->uri, code, x->status);
		}
	}
	if (rc)
		atomic_fetch_add(&stats.failures, 1);
	cl_free(x);
	return rc;
}

static int head_full(struct cl_objstore *s, const char *full, const char *key,
		     struct cl_objstore_info *info);

/* One PUT of the body x holds (mem or fd), with its MD5. */
static int put_body(struct cl_objstore *s, const char *key, struct xfer *x,
		    const unsigned char md5[16], unsigned flags)
{
	char full[CL_OS_KEY_MAX + 16], b64[32];
	struct cl_os_req r = { .method = "PUT", .blob = 1 };
	int rc = check_key(s, key, full, sizeof(full));

	if (rc)
		return rc;
	if (flags & CL_OBJSTORE_IF_NONE_MATCH) {
		rc = cl_objstore_conditional_create(s);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return cl_error_set(CL_ENOTSUP,
					    "%s cannot do conditional creates (If-None-Match: *): "
					    "writing a Delta table there would risk lost commits when "
					    "two writers commit the same version", s->uri);
	}
	cl_os_b64_encode(md5, 16, b64, sizeof(b64));
	r.key = full;
	r.body_len = x->up_len;
	r.content_md5 = b64;
	r.if_none_match = (flags & CL_OBJSTORE_IF_NONE_MATCH) != 0;
	rc = request(s, &r, x, key);
	if (rc == 0 && r.if_none_match && (x->status == 409 || x->status == 412)) {
		rc = cl_error_set(CL_EEXIST, "%s/%s exists already", s->uri, key);
		if (x->attempts > 1) {
			/* an earlier attempt may have created it before its answer
			 * was lost: the same bytes there are this put's own */
			struct cl_objstore_info info;
			char hex[33];

			for (int i = 0; i < 16; i++)
				snprintf(hex + 2 * i, 3, "%02x", md5[i]);
			if (head_full(s, full, key, &info) == 0 && strcmp(info.md5, hex) == 0 &&
			    (uint64_t)info.size == x->up_len)
				rc = CL_OK;
			else
				cl_error_set(CL_EEXIST, "%s/%s exists already", s->uri, key);
		}
	} else if (rc == 0 && (x->status < 200 || x->status >= 300)) {
		rc = status_error(s, &r, x, key);
	}
	if (rc == 0)
		atomic_fetch_add(&stats.uploads, 1);
	else if (rc != CL_EEXIST)
		atomic_fetch_add(&stats.failures, 1);
	return rc;
}

int cl_objstore_put_mem(struct cl_objstore *s, const char *key, const void *buf, size_t len,
			unsigned flags)
{
	struct xfer *x = xfer_new();
	unsigned char md5[16];
	unsigned int n = 0;
	int rc;

	if (!x)
		return CL_ENOMEM;
	EVP_Digest(buf, len, md5, &n, EVP_md5(), NULL);
	x->up_mem = len ? buf : (const unsigned char *)"";
	x->up_len = len;
	rc = put_body(s, key, x, md5, flags);
	cl_free(x);
	return rc;
}

/* The MD5 of what is left of the open file `fd` (named `path`), and how
 * many bytes that was. */
static int md5_fd(int fd, const char *path, unsigned char md5[16], uint64_t *total)
{
	unsigned char *chunk = cl_malloc(1 << 20);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int rc = CL_OK;

	*total = 0;
	if (!chunk || !ctx) {
		rc = cl_error_set(CL_ENOMEM, "out of memory");
		goto out;
	}
	EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
	for (;;) {
		ssize_t got = read(fd, chunk, 1 << 20);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = cl_error_set(CL_EIO, "cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		EVP_DigestUpdate(ctx, chunk, (size_t)got);
		*total += (uint64_t)got;
	}
	EVP_DigestFinal_ex(ctx, md5, &n);
out:
	EVP_MD_CTX_free(ctx);
	cl_free(chunk);
	return rc;
}

static void md5_hex(const unsigned char md5[16], char hex[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", md5[i]);
}

int cl_objstore_md5_file(const char *path, char hex[33])
{
	unsigned char md5[16];
	uint64_t total;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return cl_error_set(cl_error_from_errno(errno), "cannot open '%s': %s", path,
				    strerror(errno));
	rc = md5_fd(fd, path, md5, &total);
	close(fd);
	if (rc == 0)
		md5_hex(md5, hex);
	return rc;
}

int cl_objstore_put_file_md5(struct cl_objstore *s, const char *key, const char *path,
			     unsigned flags, char hex[33])
{
	unsigned char md5[16];
	struct xfer *x = NULL;
	struct stat st;
	uint64_t total = 0;
	int fd = -1, rc = CL_OK;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cl_error_set(cl_error_from_errno(errno), "cannot open '%s': %s", path,
				    strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return cl_error_set(CL_EINVAL, "'%s' is not a regular file", path);
	}
	/* first pass: the Content-MD5 */
	if ((rc = md5_fd(fd, path, md5, &total)))
		goto out;
	if (total != (uint64_t)st.st_size) {
		rc = cl_error_set(CL_EIO, "'%s' changed while it was read", path);
		goto out;
	}
	if (!(x = xfer_new())) {
		rc = CL_ENOMEM;
		goto out;
	}
	x->up_fd = fd;
	x->up_len = total;
	rc = put_body(s, key, x, md5, flags);
	if (rc == 0 && hex)
		md5_hex(md5, hex);
out:
	cl_free(x);
	close(fd);
	return rc;
}

int cl_objstore_put_file(struct cl_objstore *s, const char *key, const char *path,
			 unsigned flags)
{
	return cl_objstore_put_file_md5(s, key, path, flags, NULL);
}

int cl_objstore_get_mem(struct cl_objstore *s, const char *key, size_t max, char **buf,
			size_t *len)
{
	char full[CL_OS_KEY_MAX + 16];
	struct cl_os_req r = { .method = "GET" };
	struct xfer *x;
	int rc = check_key(s, key, full, sizeof(full));

	*buf = NULL;
	*len = 0;
	if (rc)
		return rc;
	x = xfer_new();
	if (!x)
		return CL_ENOMEM;
	x->max = max;
	r.key = full;
	rc = request(s, &r, x, key);
	if (rc == 0 && (x->status < 200 || x->status >= 300))
		rc = status_error(s, &r, x, key);
	if (rc == 0 && !x->buf) {
		x->buf = cl_malloc(1);
		if (!x->buf)
			rc = cl_error_set(CL_ENOMEM, "out of memory");
		else
			x->buf[0] = '\0';
	}
	if (rc == 0) {
		*buf = x->buf;
		*len = x->len;
		x->buf = NULL;
		atomic_fetch_add(&stats.downloads, 1);
	} else if (rc != CL_ENOENT && rc != CL_ETOOBIG) {
		atomic_fetch_add(&stats.failures, 1);
	}
	cl_free(x->buf);
	cl_free(x);
	return rc;
}

int cl_objstore_get_file(struct cl_objstore *s, const char *key, const char *path)
{
	char full[CL_OS_KEY_MAX + 16], tmp[4096];
	struct cl_os_req r = { .method = "GET" };
	unsigned char rnd[6];
	struct xfer *x;
	int fd, rc = check_key(s, key, full, sizeof(full));

	if (rc)
		return rc;
	rc = cl_fs_check_replaceable(path);
	if (rc)
		return rc;
	RAND_bytes(rnd, sizeof(rnd));
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.part-%02x%02x%02x%02x%02x%02x", path, rnd[0],
			     rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]) >= sizeof(tmp))
		return cl_error_set(CL_EINVAL, "'%s' is too long a path", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return cl_error_set(cl_error_from_errno(errno), "cannot create '%s': %s", tmp,
				    strerror(errno));
	x = xfer_new();
	if (!x) {
		close(fd);
		unlink(tmp);
		return cl_error_set(CL_ENOMEM, "out of memory");
	}
	x->down_fd = fd;
	r.key = full;
	rc = request(s, &r, x, key);
	if (rc == 0 && (x->status < 200 || x->status >= 300))
		rc = status_error(s, &r, x, key);
	if (rc == 0 && x->content_length >= 0 && (uint64_t)x->content_length != x->down_bytes)
		rc = cl_error_set(CL_EIO, "GET %s/%s: %llu bytes arrived of %lld", s->uri, key,
				  (unsigned long long)x->down_bytes,
				  (long long)x->content_length);
	if (rc == 0)
		rc = cl_fs_datasync(fd, tmp);
	if (close(fd) != 0 && rc == 0)
		rc = cl_error_set(CL_EIO, "cannot close '%s': %s", tmp, strerror(errno));
	if (rc == 0)
		rc = cl_fs_rename(tmp, path);
	if (rc == 0)
		rc = cl_fs_sync_parent(path);
	if (rc)
		unlink(tmp);
	if (rc == 0)
		atomic_fetch_add(&stats.downloads, 1);
	else if (rc != CL_ENOENT)
		atomic_fetch_add(&stats.failures, 1);
	cl_free(x);
	return rc;
}

static int head_full(struct cl_objstore *s, const char *full, const char *key,
		     struct cl_objstore_info *info)
{
	struct cl_os_req r = { .method = "HEAD", .key = full };
	struct xfer *x = xfer_new();
	int rc;

	if (!x)
		return CL_ENOMEM;
	memset(info, 0, sizeof(*info));
	rc = request(s, &r, x, key);
	if (rc == 0 && (x->status < 200 || x->status >= 300))
		rc = status_error(s, &r, x, key);
	if (rc == 0) {
		unsigned char raw[32];
		size_t n = 0;

		snprintf(info->key, sizeof(info->key), "%s", key);
		info->size = x->content_length >= 0 ? x->content_length : 0;
		if (x->last_modified[0])
			cl_os_parse_http_date(x->last_modified, &info->mtime_ms);
		if (x->content_md5[0] && cl_os_b64_decode(x->content_md5, raw, sizeof(raw), &n) == 0 &&
		    n == 16) {
			for (int i = 0; i < 16; i++)
				snprintf(info->md5 + 2 * i, 3, "%02x", raw[i]);
		} else if (s->kind == CL_OS_S3) {
			const char *e = x->etag[0] == '"' ? x->etag + 1 : x->etag;

			if (strspn(e, "0123456789abcdef") == 32 && (e[32] == '"' || !e[32])) {
				memcpy(info->md5, e, 32);
				info->md5[32] = '\0';
			}
		}
	} else if (rc != CL_ENOENT) {
		atomic_fetch_add(&stats.failures, 1);
	}
	cl_free(x);
	return rc;
}

int cl_objstore_head(struct cl_objstore *s, const char *key, struct cl_objstore_info *info)
{
	char full[CL_OS_KEY_MAX + 16];
	int rc = check_key(s, key, full, sizeof(full));

	if (rc)
		return rc;
	return head_full(s, full, key, info);
}

int cl_objstore_delete(struct cl_objstore *s, const char *key)
{
	char full[CL_OS_KEY_MAX + 16];
	struct cl_os_req r = { .method = "DELETE" };
	struct xfer *x;
	int rc = check_key(s, key, full, sizeof(full));

	if (rc)
		return rc;
	x = xfer_new();
	if (!x)
		return CL_ENOMEM;
	r.key = full;
	rc = request(s, &r, x, key);
	if (rc == 0 && x->status != 404 && (x->status < 200 || x->status >= 300))
		rc = status_error(s, &r, x, key);
	if (rc)
		atomic_fetch_add(&stats.failures, 1);
	cl_free(x);
	return rc;
}

int cl_objstore_list(struct cl_objstore *s, const char *prefix,
		     int (*fn)(void *arg, const struct cl_objstore_info *info), void *arg)
{
	char full[CL_OS_KEY_MAX + 16], page_size[16], marker[1024] = "";
	size_t plen = strlen(s->prefix);
	struct xfer *x;
	int rc = CL_OK, v1 = 0;

	if ((size_t)snprintf(full, sizeof(full), "%s%s", s->prefix, prefix ? prefix : "") >=
	    CL_OS_KEY_MAX)
		return cl_error_set(CL_EINVAL, "listing prefix too long");
	snprintf(page_size, sizeof(page_size), "%u", s->set.list_page_size);
	x = xfer_new();
	if (!x)
		return CL_ENOMEM;
	x->max = LIST_PAGE_MAX;
	for (;;) {
		struct cl_os_req r = { .method = "GET" };
		struct cl_os_page page = { 0 };
		int n = 0;

		/* sorted by name: S3 signs the query as it is */
		if (s->kind == CL_OS_AZURE) {
			r.params[n++] = (struct cl_os_param){ "comp", "list" };
			if (marker[0])
				r.params[n++] = (struct cl_os_param){ "marker", marker };
			r.params[n++] = (struct cl_os_param){ "maxresults", page_size };
			if (full[0])
				r.params[n++] = (struct cl_os_param){ "prefix", full };
			r.params[n++] = (struct cl_os_param){ "restype", "container" };
		} else if (!v1) {
			if (marker[0])
				r.params[n++] = (struct cl_os_param){ "continuation-token", marker };
			r.params[n++] = (struct cl_os_param){ "list-type", "2" };
			r.params[n++] = (struct cl_os_param){ "max-keys", page_size };
			if (full[0])
				r.params[n++] = (struct cl_os_param){ "prefix", full };
		} else {
			if (marker[0])
				r.params[n++] = (struct cl_os_param){ "marker", marker };
			r.params[n++] = (struct cl_os_param){ "max-keys", page_size };
			if (full[0])
				r.params[n++] = (struct cl_os_param){ "prefix", full };
		}
		r.nparams = n;
		rc = request(s, &r, x, prefix && prefix[0] ? prefix : NULL);
		if (rc == 0 && (x->status < 200 || x->status >= 300))
			rc = status_error(s, &r, x, prefix && prefix[0] ? prefix : NULL);
		if (rc == 0)
			rc = cl_os_xml_page(x->buf ? x->buf : "", x->len, &page);
		if (rc == 0 && s->kind == CL_OS_S3 && !v1 && !page.v2) {
			/* a store without ListObjectsV2 answered a V1 listing */
			v1 = 1;
		}
		for (size_t i = 0; rc == 0 && i < page.n; i++) {
			struct cl_objstore_info *it = &page.items[i];

			if (strncmp(it->key, s->prefix, plen) != 0)
				continue;
			memmove(it->key, it->key + plen, strlen(it->key + plen) + 1);
			rc = fn(arg, it);
		}
		if (rc == 0 && page.truncated) {
			if (page.next[0])
				snprintf(marker, sizeof(marker), "%s", page.next);
			else if (v1 && page.n > 0)
				snprintf(marker, sizeof(marker), "%s%s", s->prefix,
					 page.items[page.n - 1].key);
			else
				rc = cl_error_set(CL_EPARSE, "the store's listing of %s is "
							     "truncated without a marker", s->uri);
		}
		int more = rc == 0 && page.truncated;

		cl_os_page_free(&page);
		if (!more)
			break;
	}
	if (rc < 0 && rc != CL_ENOENT)
		atomic_fetch_add(&stats.failures, 1);
	cl_free(x->buf);
	cl_free(x);
	return rc;
}

int cl_objstore_conditional_create(struct cl_objstore *s)
{
	unsigned char rnd[12];
	char key[64];
	int known, rc;

	pthread_mutex_lock(&s->lock);
	known = s->conditional;
	pthread_mutex_unlock(&s->lock);
	if (known >= 0)
		return known;
	RAND_bytes(rnd, sizeof(rnd));
	strcpy(key, "_carelake_probe/");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(key + strlen(key), 3, "%02x", rnd[i]);
	{
		struct xfer *x = xfer_new();
		struct cl_os_req r = { .method = "PUT", .blob = 1, .if_none_match = 1 };
		char full[CL_OS_KEY_MAX + 16], b64[32];
		unsigned char md5[16];
		unsigned int n = 0;

		if (!x)
			return CL_ENOMEM;
		rc = check_key(s, key, full, sizeof(full));
		if (rc) {
			cl_free(x);
			return rc;
		}
		EVP_Digest("probe", 5, md5, &n, EVP_md5(), NULL);
		cl_os_b64_encode(md5, 16, b64, sizeof(b64));
		r.key = full;
		r.body_len = 5;
		r.content_md5 = b64;
		rc = CL_OK;
		for (int i = 0; i < 2 && rc == 0; i++) {
			xfer_init(x);
			x->up_mem = (const unsigned char *)"probe";
			x->up_len = 5;
			rc = request(s, &r, x, key);
			if (rc == 0 && i == 0 && (x->status < 200 || x->status >= 300))
				rc = status_error(s, &r, x, key);
		}
		if (rc == 0) {
			if (x->status >= 200 && x->status < 300)
				known = 0;
			else if (x->status == 409 || x->status == 412)
				known = 1;
			else if (x->status == 501 || x->status == 400)
				known = 0;
			else
				rc = status_error(s, &r, x, key);
		}
		cl_free(x);
		cl_objstore_delete(s, key);
	}
	if (rc)
		return rc;
	cl_log_info("objstore", "event=conditional_create_probe store=%s answer=%s",
		    CL_LOG_Q(s->uri), known ? "yes" : "no");
	pthread_mutex_lock(&s->lock);
	s->conditional = known;
	pthread_mutex_unlock(&s->lock);
	return known;
}
