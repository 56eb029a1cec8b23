/*
 * cl_objstore_azure.c — Azure Blob Storage (and ADLS Gen2 accounts, whose
 * blobs the Blob endpoint serves): credentials from a connection string,
 * an account key or a SAS token; the endpoint; and the shared-key
 * signature ("Authorize with Shared Key", version 2009-09-19 and later):
 * an HMAC-SHA256, keyed with the account key, over the string-to-sign
 *
 *   VERB \n Content-Encoding \n Content-Language \n Content-Length \n
 *   Content-MD5 \n Content-Type \n Date \n If-Modified-Since \n If-Match \n
 *   If-None-Match \n If-Unmodified-Since \n Range \n
 *   CanonicalizedHeaders (x-ms-*, lower case, sorted, "name:value\n")
 *   CanonicalizedResource ("/" account encoded-path, then "\nname:value"
 *   for each query parameter, sorted by name)
 *
 * with Content-Length empty when it is 0 and Date empty (x-ms-date is
 * sent instead). An emulator's endpoint carries the account in its path
 * (http://127.0.0.1:10000/devstoreaccount1), which then appears twice in
 * the canonical resource, as the specification says for path-style URLs.
 */
#include "objstore/cl_objstore_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/cl_error.h"
#include "core/cl_time.h"

#define MS_VERSION "2021-08-06"

/* Azurite's well-known development account (public, in Microsoft's docs). */
#define DEV_ACCOUNT "devstoreaccount1"
#define DEV_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define DEV_ENDPOINT "http://127.0.0.1:10000/devstoreaccount1"

static int field(char *out, size_t cap, const char *v, size_t n, const char *what)
{
	if (n >= cap)
		return cl_error_set(CL_ETOOBIG, "the connection string's %s is too long", what);
	memcpy(out, v, n);
	out[n] = '\0';
	return CL_OK;
}

int cl_os_connstr_parse(const char *cs, struct cl_os_connstr *out)
{
	const char *p = cs;

	memset(out, 0, sizeof(*out));
	while (*p) {
		const char *end = strchr(p, ';'), *eq;
		size_t n = end ? (size_t)(end - p) : strlen(p), klen;
		int rc = CL_OK;

		eq = memchr(p, '=', n);
		if (n == 0) {
			p = end ? end + 1 : p + n;
			continue;
		}
		if (!eq)
			return cl_error_set(CL_EINVAL, "the Azure connection string has a part "
						       "without '=' (expected Name=value;...)");
		klen = (size_t)(eq - p);
		const char *v = eq + 1;
		size_t vlen = n - klen - 1;

#define IS(name) (klen == strlen(name) && strncasecmp(p, name, klen) == 0)
		if (IS("AccountName"))
			rc = field(out->account, sizeof(out->account), v, vlen, "AccountName");
		else if (IS("AccountKey"))
			rc = field(out->key, sizeof(out->key), v, vlen, "AccountKey");
		else if (IS("SharedAccessSignature"))
			rc = field(out->sas, sizeof(out->sas), v, vlen, "SharedAccessSignature");
		else if (IS("BlobEndpoint"))
			rc = field(out->blob_endpoint, sizeof(out->blob_endpoint), v, vlen,
				   "BlobEndpoint");
		else if (IS("DefaultEndpointsProtocol"))
			rc = field(out->protocol, sizeof(out->protocol), v, vlen,
				   "DefaultEndpointsProtocol");
		else if (IS("EndpointSuffix"))
			rc = field(out->suffix, sizeof(out->suffix), v, vlen, "EndpointSuffix");
		else if (IS("UseDevelopmentStorage"))
			out->dev = vlen == 4 && strncasecmp(v, "true", 4) == 0;
		/* other parts (QueueEndpoint, ...) are not the Blob service's */
#undef IS
		if (rc)
			return rc;
		p = end ? end + 1 : p + n;
	}
	if (out->protocol[0] && strcmp(out->protocol, "http") != 0 &&
	    strcmp(out->protocol, "https") != 0)
		return cl_error_set(CL_EINVAL, "the connection string's DefaultEndpointsProtocol "
					       "is not http or https");
	if (out->dev) {
		if (!out->account[0])
			strcpy(out->account, DEV_ACCOUNT);
		if (!out->key[0] && !out->sas[0])
			strcpy(out->key, DEV_KEY);
		if (!out->blob_endpoint[0])
			strcpy(out->blob_endpoint, DEV_ENDPOINT);
	}
	return CL_OK;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int set_key(struct cl_objstore *s, const char *b64)
{
	if (cl_os_b64_decode(b64, s->key, sizeof(s->key), &s->key_len) != 0 || s->key_len == 0)
		return cl_error_set(CL_EINVAL, "%s: the Azure account key is not base64 (copy it "
					       "whole from the portal's Access keys)", s->uri);
	return CL_OK;
}

static int set_sas(struct cl_objstore *s, const char *sas)
{
	if (*sas == '?')
		sas++;
	if (strlen(sas) >= sizeof(s->sas))
		return cl_error_set(CL_ETOOBIG, "the Azure SAS token is too long");
	strcpy(s->sas, sas);
	return CL_OK;
}

int cl_os_azure_configure(struct cl_objstore *s, const char *uri_account, const char *uri_suffix)
{
	const struct cl_objstore_settings *st = &s->set;
	struct cl_os_connstr cs;
	const char *v, *account = NULL;
	char secret[CL_OS_SECRET_MAX];
	int rc;

	memset(&cs, 0, sizeof(cs));
	if ((v = env("AZURE_STORAGE_CONNECTION_STRING"))) {
		rc = cl_os_connstr_parse(v, &cs);
		if (rc)
			return rc;
	}
	/* the account: the settings, the URI, the connection string, the environment */
	if (st->azure_account[0])
		account = st->azure_account;
	else if (uri_account[0])
		account = uri_account;
	else if (cs.account[0])
		account = cs.account;
	else
		account = env("AZURE_STORAGE_ACCOUNT");
	if (!account)
		return cl_error_set(CL_EINVAL,
				    "%s names no storage account: use abfss://container@ACCOUNT."
				    "dfs.core.windows.net/path, or set AZURE_STORAGE_ACCOUNT, "
				    "AZURE_STORAGE_CONNECTION_STRING or objstore.azure_account", s->uri);
	if (strlen(account) >= sizeof(s->account))
		return cl_error_set(CL_EINVAL, "the storage account name is too long");
	strcpy(s->account, account);
	if (uri_account[0] && st->azure_account[0] && strcmp(uri_account, st->azure_account) != 0)
		return cl_error_set(CL_EINVAL, "%s names account '%s' but objstore.azure_account "
					       "is '%s'", s->uri, uri_account, st->azure_account);
	/* the credentials of another account than the URI's are no use */
	if (cs.account[0] && strcmp(cs.account, s->account) != 0)
		memset(&cs, 0, sizeof(cs));

	/* the key, else a SAS: the settings, the connection string, the environment */
	rc = CL_OK;
	if (st->azure_key_file[0]) {
		rc = cl_os_read_secret(st->azure_key_file, "objstore.azure_key_file", secret,
				       sizeof(secret));
		if (rc == 0)
			rc = set_key(s, secret);
	} else if (st->azure_sas_token_file[0]) {
		rc = cl_os_read_secret(st->azure_sas_token_file, "objstore.azure_sas_token_file",
				       secret, sizeof(secret));
		if (rc == 0)
			rc = set_sas(s, secret);
	} else if (cs.key[0]) {
		rc = set_key(s, cs.key);
	} else if (cs.sas[0]) {
		rc = set_sas(s, cs.sas);
	} else if ((v = env("AZURE_STORAGE_KEY"))) {
		rc = set_key(s, v);
	} else if ((v = env("AZURE_STORAGE_SAS_TOKEN"))) {
		rc = set_sas(s, v);
	} else {
		rc = cl_error_set(CL_EINVAL,
				  "%s: no Azure credentials for account '%s': set "
				  "AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY or "
				  "AZURE_STORAGE_SAS_TOKEN, or objstore.azure_key_file or "
				  "objstore.azure_sas_token_file", s->uri, s->account);
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(&cs.key, sizeof(cs.key));
	OPENSSL_cleanse(&cs.sas, sizeof(cs.sas));
	if (rc)
		return rc;

	/* the endpoint */
	if (st->azure_endpoint[0])
		v = st->azure_endpoint;
	else if (cs.blob_endpoint[0])
		v = cs.blob_endpoint;
	else
		v = NULL;
	if (v) {
		size_t n;

		if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
			return cl_error_set(CL_EINVAL, "the Azure Blob endpoint '%s' is not an "
						       "http:// or https:// URL", v);
		if (strchr(v, '?'))
			return cl_error_set(CL_EINVAL, "the Azure Blob endpoint takes no query");
		if (strlen(v) >= sizeof(s->endpoint))
			return cl_error_set(CL_EINVAL, "the Azure Blob endpoint is too long");
		strcpy(s->endpoint, v);
		n = strlen(s->endpoint);
		while (n > 0 && s->endpoint[n - 1] == '/')
			s->endpoint[--n] = '\0';
	} else {
		const char *suffix = uri_suffix[0] ? uri_suffix
				     : cs.suffix[0] ? cs.suffix : "core.windows.net";

		snprintf(s->endpoint, sizeof(s->endpoint), "%s://%s.blob.%s",
			 cs.protocol[0] ? cs.protocol : "https", s->account, suffix);
	}
	return CL_OK;
}

/* The path part of a URL (from the first '/' after the host). */
static const char *url_path(const char *url)
{
	const char *p = strstr(url, "://");
	const char *slash = strchr(p ? p + 3 : url, '/');

	return slash ? slash : "/";
}

static int cmp_param(const void *a, const void *b)
{
	return strcmp(((const struct cl_os_param *)a)->name, ((const struct cl_os_param *)b)->name);
}

int cl_os_azure_string_to_sign(const struct cl_objstore *s, const struct cl_os_req *r,
			       const char *path, const char *date, const char *version,
			       char *out, size_t cap)
{
	struct cl_os_param ps[CL_OS_PARAMS_MAX];
	char len[32] = "";
	int put = strcmp(r->method, "PUT") == 0;
	size_t w;

	if (put && r->body_len > 0)
		snprintf(len, sizeof(len), "%llu", (unsigned long long)r->body_len);
	w = (size_t)snprintf(out, cap,
			     "%s\n\n\n%s\n%s\n%s\n\n\n\n%s\n\n\n"
			     "%s"
			     "x-ms-date:%s\nx-ms-version:%s\n"
			     "/%s%s",
			     r->method, len, r->content_md5 ? r->content_md5 : "",
			     put && (r->blob || r->body_len) ? "application/octet-stream" : "",
			     r->if_none_match ? "*" : "",
			     put && r->blob ? "x-ms-blob-type:BlockBlob\n" : "", date, version,
			     s->account, path);
	memcpy(ps, r->params, sizeof(ps[0]) * (size_t)r->nparams);
	qsort(ps, (size_t)r->nparams, sizeof(ps[0]), cmp_param);
	for (int i = 0; i < r->nparams && w < cap; i++)
		w += (size_t)snprintf(out + w, cap - w, "\n%s:%s", ps[i].name, ps[i].value);
	if (w >= cap)
		return cl_error_set(CL_ETOOBIG, "the request is too long to sign");
	return CL_OK;
}

int cl_os_azure_signature(const unsigned char *key, size_t key_len, const char *sts, char *out,
			  size_t cap)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)sts, strlen(sts), mac,
		  &n))
		return cl_error_set(CL_EIO, "HMAC-SHA256 failed");
	return cl_os_b64_encode(mac, n, out, cap);
}

int cl_os_azure_prepare(struct cl_objstore *s, const struct cl_os_req *r, char *url, size_t cap,
			struct curl_slist **headers)
{
	char enc[3 * CL_OS_KEY_MAX + 1], hdr[512], date[64], sts[8192], sig[64];
	int put = strcmp(r->method, "PUT") == 0, rc;
	size_t w;

	w = (size_t)snprintf(url, cap, "%s/%s", s->endpoint, s->container);
	if (r->key) {
		rc = cl_os_encode(r->key, 1, enc, sizeof(enc));
		if (rc)
			return rc;
		w += (size_t)snprintf(url + w, w < cap ? cap - w : 0, "/%s", enc);
	}
	if (w >= cap)
		return cl_error_set(CL_ETOOBIG, "the request URL is too long");
	cl_os_http_date(cl_time_now_us() / 1000, date, sizeof(date));
	if (s->key_len) {
		rc = cl_os_azure_string_to_sign(s, r, url_path(url), date, MS_VERSION, sts,
						sizeof(sts));
		if (rc == 0)
			rc = cl_os_azure_signature(s->key, s->key_len, sts, sig, sizeof(sig));
		if (rc)
			return rc;
	}
	for (int i = 0; i < r->nparams; i++) {
		rc = cl_os_encode(r->params[i].value, 0, enc, sizeof(enc));
		if (rc)
			return rc;
		w += (size_t)snprintf(url + w, w < cap ? cap - w : 0, "%c%s=%s", i ? '&' : '?',
				      r->params[i].name, enc);
	}
	if (!s->key_len && s->sas[0])
		w += (size_t)snprintf(url + w, w < cap ? cap - w : 0, "%c%s",
				      r->nparams ? '&' : '?', s->sas);
	if (w >= cap)
		return cl_error_set(CL_ETOOBIG, "the request URL is too long");

	snprintf(hdr, sizeof(hdr), "x-ms-date: %s", date);
	*headers = curl_slist_append(*headers, hdr);
	*headers = curl_slist_append(*headers, "x-ms-version: " MS_VERSION);
	if (put && r->blob)
		*headers = curl_slist_append(*headers, "x-ms-blob-type: BlockBlob");
	if (put && (r->blob || r->body_len))
		*headers = curl_slist_append(*headers, "Content-Type: application/octet-stream");
	if (r->content_md5) {
		snprintf(hdr, sizeof(hdr), "Content-MD5: %s", r->content_md5);
		*headers = curl_slist_append(*headers, hdr);
	}
	if (r->if_none_match)
		*headers = curl_slist_append(*headers, "If-None-Match: *");
	if (s->key_len) {
		snprintf(hdr, sizeof(hdr), "Authorization: SharedKey %s:%s", s->account, sig);
		*headers = curl_slist_append(*headers, hdr);
	}
	if (!*headers)
		return cl_error_set(CL_ENOMEM, "out of memory for the request's headers");
	return CL_OK;
}
