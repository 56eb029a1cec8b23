/*
 * cl_objstore_int.h — what the object storage client's files share: the
 * store handle, one HTTP request as the providers see it, and the hooks
 * by which S3 (cl_objstore_s3.c) and Azure Blob (cl_objstore_azure.c)
 * address and sign a request. cl_objstore.c owns everything else: the
 * settings, the retries, the statistics and the curl plumbing.
 */
#ifndef CL_OBJSTORE_INT_H
#define CL_OBJSTORE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "objstore/cl_objstore.h"

/* The objstore.* settings. */
struct cl_objstore_settings {
	char s3_endpoint[CL_CFG_STRING_MAX];
	char s3_region[CL_CFG_STRING_MAX];
	char s3_path_style[CL_CFG_STRING_MAX];            /* auto|path|virtual */
	char s3_access_key_id[CL_CFG_STRING_MAX];
	char s3_secret_access_key_file[CL_CFG_STRING_MAX];
	char s3_session_token_file[CL_CFG_STRING_MAX];
	char azure_account[CL_CFG_STRING_MAX];
	char azure_endpoint[CL_CFG_STRING_MAX];
	char azure_key_file[CL_CFG_STRING_MAX];
	char azure_sas_token_file[CL_CFG_STRING_MAX];
	int64_t timeout_us;         /* a request may go this long without progress */
	int64_t retry_backoff_us;   /* the first retry's wait; doubled after each */
	int64_t retry_backoff_max_us; /* the longest wait between two attempts */
	uint32_t retries;           /* attempts after the first */
	uint32_t list_page_size;    /* keys per listing page asked of the store */
};

enum cl_os_kind { CL_OS_S3, CL_OS_AZURE };

#define CL_OS_KEY_MAX 1024
#define CL_OS_SECRET_MAX 2048

/* An open store. Read-only after cl_objstore_open but for the probe's
 * answer and the idle curl handles, both under `lock`. */
struct cl_objstore {
	enum cl_os_kind kind;
	char uri[CL_OS_KEY_MAX + 300];   /* as opened, no trailing '/' */
	char container[256];             /* bucket or container */
	char prefix[CL_OS_KEY_MAX];      /* the URI's path: "" or "a/b/" */
	char endpoint[512];              /* scheme://host[:port][/path], no trailing '/' */
	char host_style[512];            /* S3 virtual host: scheme://bucket.host[:port] */
	int path_style;                  /* S3: bucket in the path */
	/* S3 */
	char region[64];
	char access_key[256];
	char secret[CL_OS_SECRET_MAX];
	char token[CL_OS_SECRET_MAX];
	/* Azure */
	char account[256];
	unsigned char key[128];
	size_t key_len;
	char sas[CL_OS_SECRET_MAX];      /* without a leading '?' */
	/* both */
	struct cl_objstore_settings set;
	pthread_mutex_t lock;
	int conditional;                 /* -1 not probed, 0 no, 1 yes */
	CURL *idle[4];                   /* handles kept for their connections */
	int nidle;
};

/* One query parameter, its value unencoded. */
struct cl_os_param {
	const char *name;
	const char *value;
};

#define CL_OS_PARAMS_MAX 8

/* One request as the provider addresses and signs it. */
struct cl_os_req {
	const char *method;          /* GET PUT HEAD DELETE */
	const char *key;             /* object key, full (prefix included); NULL: the container */
	struct cl_os_param params[CL_OS_PARAMS_MAX]; /* sorted by name */
	int nparams;
	uint64_t body_len;           /* bytes uploaded (PUT) */
	const char *content_md5;     /* base64, or NULL */
	int if_none_match;           /* If-None-Match: * */
	int blob;                    /* Azure: a Put Blob (x-ms-blob-type) */
};

/*
 * The provider's side of a request: the URL (query included) into url, and
 * every header it needs appended to *headers (S3's signature is curl's,
 * set on the handle by cl_os_s3_sign).
 */
int cl_os_s3_prepare(struct cl_objstore *s, const struct cl_os_req *r, char *url, size_t cap,
		     struct curl_slist **headers);
int cl_os_s3_sign(struct cl_objstore *s, CURL *h);
int cl_os_azure_prepare(struct cl_objstore *s, const struct cl_os_req *r, char *url, size_t cap,
			struct curl_slist **headers);

/* Credentials and endpoints from the settings and the environment. */
int cl_os_s3_configure(struct cl_objstore *s);
int cl_os_azure_configure(struct cl_objstore *s, const char *uri_account, const char *uri_suffix);

/*
 * Azure's shared-key string-to-sign for a request (exposed for the unit
 * test's fixed vector) and its signature: base64 of HMAC-SHA256 with the
 * account key. `date` is the x-ms-date value.
 */
int cl_os_azure_string_to_sign(const struct cl_objstore *s, const struct cl_os_req *r,
			       const char *url_path, const char *date, const char *version,
			       char *out, size_t cap);
int cl_os_azure_signature(const unsigned char *key, size_t key_len, const char *sts,
			  char *out, size_t cap);

/* A connection string's fields (AccountName, AccountKey,
 * SharedAccessSignature, BlobEndpoint, DefaultEndpointsProtocol,
 * EndpointSuffix); absent ones "". */
struct cl_os_connstr {
	char account[256];
	char key[256];
	char sas[CL_OS_SECRET_MAX];
	char blob_endpoint[512];
	char protocol[16];
	char suffix[128];
	int dev;                     /* UseDevelopmentStorage=true */
};
int cl_os_connstr_parse(const char *cs, struct cl_os_connstr *out);

/* Percent-encodes src (AWS's rules: all but A-Z a-z 0-9 - . _ ~, and '/'
 * too when keep_slash). */
int cl_os_encode(const char *src, int keep_slash, char *out, size_t cap);

/* Reads a secret from a one-line file; what names the setting. */
int cl_os_read_secret(const char *path, const char *what, char *out, size_t cap);

/* Base64 both ways (OpenSSL's EVP). */
int cl_os_b64_encode(const unsigned char *in, size_t len, char *out, size_t cap);
int cl_os_b64_decode(const char *in, unsigned char *out, size_t cap, size_t *len);

/* RFC 1123 dates (Last-Modified, x-ms-date) to and from ms. */
void cl_os_http_date(int64_t ms, char *out, size_t cap);
int cl_os_parse_http_date(const char *s, int64_t *ms);

#endif
