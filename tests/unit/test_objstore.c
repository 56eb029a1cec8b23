/*
 * The object storage client without a server (objstore/): storage URIs
 * and what they address, credentials from the environment and the
 * settings (which win), Azure connection strings, Azure's shared-key
 * string-to-sign and signature against vectors worked out by hand from
 * the "Authorize with Shared Key" specification (signed independently
 * with `openssl dgst -sha256 -mac HMAC`), the listing and error XML of
 * both stores, and HTTP dates.
 */
#include "cl_test.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "objstore/cl_objstore.h"
#include "objstore/cl_objstore_int.h"
#include "objstore/cl_objstore_xml.h"

#define DEV_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

static void clear_env(void)
{
	static const char *const vars[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
		"AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY",
		"AZURE_STORAGE_SAS_TOKEN",
	};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

static void test_is_uri(void **state)
{
	(void)state;
	assert_true(cl_objstore_is_uri("s3://b/p"));
	assert_true(cl_objstore_is_uri("abfss://c@a.dfs.core.windows.net/p"));
	assert_true(cl_objstore_is_uri("abfs://c@a.dfs.core.windows.net/p"));
	assert_true(cl_objstore_is_uri("az://c/p"));
	assert_false(cl_objstore_is_uri("/data/lake"));
	assert_false(cl_objstore_is_uri("file:///x"));
	assert_false(cl_objstore_is_uri("http://x"));
	assert_false(cl_objstore_is_uri(NULL));
}

static void test_s3_uri(void **state)
{
	struct cl_objstore *s = NULL;
	struct cl_config c;

	(void)state;
	clear_env();
	assert_int_equal(cl_objstore_open("s3://bucket/lake", NULL, &s), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "AWS_ACCESS_KEY_ID"));
	setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
	assert_int_equal(cl_objstore_open("s3://bucket/lake", NULL, &s), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "AWS_SECRET_ACCESS_KEY"));
	setenv("AWS_SECRET_ACCESS_KEY", "sekrit", 1);

	/* AWS itself: virtual-host style in the default region */
	assert_int_equal(cl_objstore_open("s3://bucket/lake/silver/", NULL, &s), CL_OK);
	assert_string_equal(cl_objstore_uri(s), "s3://bucket/lake/silver");
	assert_string_equal(s->container, "bucket");
	assert_string_equal(s->prefix, "lake/silver/");
	assert_string_equal(s->region, "us-east-1");
	assert_false(s->path_style);
	assert_string_equal(s->host_style, "https://bucket.s3.us-east-1.amazonaws.com");
	assert_null(strstr(cl_error_detail(), "sekrit"));
	cl_objstore_close(s);

	/* an endpoint: path style; the region from AWS_DEFAULT_REGION */
	setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/", 1);
	assert_int_equal(cl_objstore_open("s3://bucket", NULL, &s), CL_OK);
	assert_string_equal(s->prefix, "");
	assert_string_equal(s->endpoint, "http://127.0.0.1:9000");
	assert_string_equal(s->region, "eu-west-1");
	assert_true(s->path_style);
	cl_objstore_close(s);
	setenv("AWS_REGION", "eu-north-1", 1);
	setenv("AWS_ENDPOINT_URL_S3", "https://s3.example.net", 1);
	assert_int_equal(cl_objstore_open("s3://bucket", NULL, &s), CL_OK);
	assert_string_equal(s->endpoint, "https://s3.example.net");
	assert_string_equal(s->region, "eu-north-1");
	cl_objstore_close(s);

	/* the settings win over the environment */
	assert_int_equal(cl_config_init(&c), 0);
	assert_int_equal(cl_config_set(&c, "objstore.s3_endpoint", "http://minio:9000"), 0);
	assert_int_equal(cl_config_set(&c, "objstore.s3_region", "ap-south-1"), 0);
	assert_int_equal(cl_config_set(&c, "objstore.s3_access_key_id", "OTHER"), 0);
	assert_int_equal(cl_config_set(&c, "objstore.s3_path_style", "virtual"), 0);
	assert_int_equal(cl_objstore_open("s3://bucket/x", &c, &s), CL_OK);
	assert_string_equal(s->endpoint, "http://minio:9000");
	assert_string_equal(s->region, "ap-south-1");
	assert_string_equal(s->access_key, "OTHER");
	assert_string_equal(s->host_style, "http://bucket.minio:9000");
	cl_objstore_close(s);
	assert_int_equal(cl_config_set(&c, "objstore.s3_secret_access_key_file", "/nonexistent"), 0);
	assert_int_equal(cl_objstore_open("s3://bucket/x", &c, &s), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "s3_secret_access_key_file"));
	cl_config_free(&c);

	/* malformed */
	assert_int_equal(cl_objstore_open("s3://", NULL, &s), CL_EINVAL);
	assert_int_equal(cl_objstore_open("s3:///lake", NULL, &s), CL_EINVAL);
	assert_int_equal(cl_objstore_open("s3://Bad_Bucket/x", NULL, &s), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "Bad_Bucket"));
	assert_int_equal(cl_objstore_open("s3://b/x?y=1", NULL, &s), CL_EINVAL);
	assert_int_equal(cl_objstore_open("/local/path", NULL, &s), CL_EINVAL);
	assert_null(s);
	clear_env();
}

static void test_azure_uri(void **state)
{
	struct cl_objstore *s = NULL;

	(void)state;
	clear_env();
	assert_int_equal(cl_objstore_open("abfss://c1@acct.dfs.core.windows.net/a/b", NULL, &s),
			 CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "AZURE_STORAGE_CONNECTION_STRING"));
	setenv("AZURE_STORAGE_KEY", DEV_KEY, 1);
	assert_int_equal(cl_objstore_open("abfss://c1@acct.dfs.core.windows.net/a/b/", NULL, &s),
			 CL_OK);
	assert_int_equal(s->kind, CL_OS_AZURE);
	assert_string_equal(s->account, "acct");
	assert_string_equal(s->container, "c1");
	assert_string_equal(s->prefix, "a/b/");
	assert_string_equal(s->endpoint, "https://acct.blob.core.windows.net");
	assert_int_equal(s->key_len, 64);
	cl_objstore_close(s);
	/* a sovereign cloud's suffix carries over */
	assert_int_equal(cl_objstore_open("abfs://c1@acct.dfs.core.chinacloudapi.cn", NULL, &s),
			 CL_OK);
	assert_string_equal(s->endpoint, "https://acct.blob.core.chinacloudapi.cn");
	assert_string_equal(s->prefix, "");
	cl_objstore_close(s);

	/* az:// takes the account from the environment */
	assert_int_equal(cl_objstore_open("az://c1/p", NULL, &s), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "no storage account"));
	setenv("AZURE_STORAGE_ACCOUNT", "envacct", 1);
	assert_int_equal(cl_objstore_open("az://c1/p", NULL, &s), CL_OK);
	assert_string_equal(s->account, "envacct");
	cl_objstore_close(s);

	/* a connection string (Azurite's) wins over the separate variables */
	setenv("AZURE_STORAGE_CONNECTION_STRING",
	       "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" DEV_KEY
	       ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://x", 1);
	unsetenv("AZURE_STORAGE_ACCOUNT");
	assert_int_equal(cl_objstore_open("az://c1/p", NULL, &s), CL_OK);
	assert_string_equal(s->account, "devstoreaccount1");
	assert_string_equal(s->endpoint, "http://127.0.0.1:10000/devstoreaccount1");
	cl_objstore_close(s);

	/* a key file named in the settings wins over the connection string */
	{
		struct cl_config c;
		char path[] = "/tmp/carelake-objstore-key-XXXXXX";
		int fd = mkstemp(path);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "d3Jvbmcgd3Jvbmc=\n", 17), 17);
		close(fd);
		assert_int_equal(cl_config_init(&c), 0);
		assert_int_equal(cl_config_set(&c, "objstore.azure_key_file", path), 0);
		assert_int_equal(cl_config_set(&c, "objstore.azure_endpoint", "https://x.example/"),
				 0);
		assert_int_equal(cl_objstore_open("az://c1/p", &c, &s), CL_OK);
		assert_int_equal(s->key_len, 11);
		assert_memory_equal(s->key, "wrong wrong", 11);
		assert_string_equal(s->endpoint, "https://x.example");
		cl_objstore_close(s);
		unlink(path);
		assert_int_equal(cl_objstore_open("az://c1/p", &c, &s), CL_EINVAL);
		assert_non_null(strstr(cl_error_detail(), "objstore.azure_key_file"));
		cl_config_free(&c);
	}

	/* a SAS token alone */
	clear_env();
	setenv("AZURE_STORAGE_ACCOUNT", "acct", 1);
	setenv("AZURE_STORAGE_SAS_TOKEN", "?sv=2021-08-06&sig=abc%3D", 1);
	assert_int_equal(cl_objstore_open("az://c1", NULL, &s), CL_OK);
	assert_int_equal(s->key_len, 0);
	assert_string_equal(s->sas, "sv=2021-08-06&sig=abc%3D");
	cl_objstore_close(s);

	/* malformed */
	setenv("AZURE_STORAGE_KEY", "not base64!", 1);
	unsetenv("AZURE_STORAGE_SAS_TOKEN");
	assert_int_equal(cl_objstore_open("az://c1", NULL, &s), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "base64"));
	assert_null(strstr(cl_error_detail(), "not base64!"));
	assert_int_equal(cl_objstore_open("abfss://nocontainer/x", NULL, &s), CL_EINVAL);
	assert_int_equal(cl_objstore_open("abfss://c@/x", NULL, &s), CL_EINVAL);
	clear_env();
}

static void test_connstr(void **state)
{
	struct cl_os_connstr cs;

	(void)state;
	assert_int_equal(cl_os_connstr_parse("DefaultEndpointsProtocol=https;AccountName=acc;"
					     "AccountKey=a2V5;EndpointSuffix=core.windows.net",
					     &cs), CL_OK);
	assert_string_equal(cs.account, "acc");
	assert_string_equal(cs.key, "a2V5");
	assert_string_equal(cs.protocol, "https");
	assert_string_equal(cs.suffix, "core.windows.net");
	assert_string_equal(cs.blob_endpoint, "");
	/* a SAS keeps its '=' and '&' */
	assert_int_equal(cl_os_connstr_parse("BlobEndpoint=https://acc.blob.core.windows.net/;"
					     "SharedAccessSignature=sv=2021&sig=x%2By%3D", &cs), CL_OK);
	assert_string_equal(cs.sas, "sv=2021&sig=x%2By%3D");
	assert_string_equal(cs.blob_endpoint, "https://acc.blob.core.windows.net/");
	assert_int_equal(cl_os_connstr_parse("UseDevelopmentStorage=true", &cs), CL_OK);
	assert_string_equal(cs.account, "devstoreaccount1");
	assert_string_equal(cs.blob_endpoint, "http://127.0.0.1:10000/devstoreaccount1");
	assert_int_equal(cl_os_connstr_parse("AccountName", &cs), CL_EINVAL);
	assert_int_equal(cl_os_connstr_parse("DefaultEndpointsProtocol=ftp", &cs), CL_EINVAL);
}

static void test_shared_key(void **state)
{
	struct cl_objstore s;
	struct cl_os_req put = { .method = "PUT", .key = "dir/file a.json", .body_len = 11,
				 .content_md5 = "XrY7u+Ae7tCTyyK7j1rNww==", .if_none_match = 1,
				 .blob = 1 };
	struct cl_os_req list = { .method = "GET", .nparams = 5 };
	const char *date = "Sun, 06 Dec 2026 23:00:00 GMT";
	char sts[2048], sig[64];

	(void)state;
	memset(&s, 0, sizeof(s));
	strcpy(s.account, "myaccount");
	assert_int_equal(cl_os_b64_decode(DEV_KEY, s.key, sizeof(s.key), &s.key_len), 0);
	assert_int_equal(cl_os_azure_string_to_sign(&s, &put, "/mycontainer/dir/file%20a.json",
						    date, "2021-08-06", sts, sizeof(sts)), 0);
	assert_string_equal(sts, "PUT\n\n\n11\nXrY7u+Ae7tCTyyK7j1rNww==\napplication/octet-stream\n"
				 "\n\n\n*\n\n\nx-ms-blob-type:BlockBlob\n"
				 "x-ms-date:Sun, 06 Dec 2026 23:00:00 GMT\nx-ms-version:2021-08-06\n"
				 "/myaccount/mycontainer/dir/file%20a.json");
	assert_int_equal(cl_os_azure_signature(s.key, s.key_len, sts, sig, sizeof(sig)), 0);
	assert_string_equal(sig, "C1wC54S8RATtE12Wmzx5KG94FzMVxIN3inHsoxaFqA0=");

	/* the query's parameters sorted by name, values decoded */
	list.params[0] = (struct cl_os_param){ "restype", "container" };
	list.params[1] = (struct cl_os_param){ "prefix", "lake/" };
	list.params[2] = (struct cl_os_param){ "maxresults", "3" };
	list.params[3] = (struct cl_os_param){ "comp", "list" };
	list.params[4] = (struct cl_os_param){ "marker", "lake/k 2" };
	assert_int_equal(cl_os_azure_string_to_sign(&s, &list, "/mycontainer", date, "2021-08-06",
						    sts, sizeof(sts)), 0);
	assert_string_equal(sts, "GET\n\n\n\n\n\n\n\n\n\n\n\n"
				 "x-ms-date:Sun, 06 Dec 2026 23:00:00 GMT\nx-ms-version:2021-08-06\n"
				 "/myaccount/mycontainer\ncomp:list\nmarker:lake/k 2\nmaxresults:3\n"
				 "prefix:lake/\nrestype:container");
	assert_int_equal(cl_os_azure_signature(s.key, s.key_len, sts, sig, sizeof(sig)), 0);
	assert_string_equal(sig, "MaLNulnJgjebe6c9LSRW2xWeCjMg1shkz0Bmbgbz9o0=");
}

static void test_encode_dates(void **state)
{
	char out[64];
	int64_t ms = 0;

	(void)state;
	assert_int_equal(cl_os_encode("a b/c+d~é", 1, out, sizeof(out)), 0);
	assert_string_equal(out, "a%20b/c%2Bd~%C3%A9");
	assert_int_equal(cl_os_encode("a/b", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "a%2Fb");
	assert_int_equal(cl_os_encode("abcdef", 0, out, 4), CL_ETOOBIG);
	cl_os_http_date(1796598000000LL, out, sizeof(out));
	assert_string_equal(out, "Sun, 06 Dec 2026 23:00:00 GMT");
	assert_int_equal(cl_os_parse_http_date(out, &ms), 0);
	assert_int_equal(ms, 1796598000000LL);
	assert_int_equal(cl_os_parse_http_date("Sun, 06 Foo 2026 23:00:00 GMT", &ms), CL_EPARSE);
	assert_int_equal(cl_os_parse_http_date("yesterday", &ms), CL_EPARSE);
}

static void test_xml(void **state)
{
	static const char s3v2[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>b</Name><Prefix>lake/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
		"<IsTruncated>true</IsTruncated>"
		"<Contents><Key>lake/a</Key><LastModified>2026-12-06T23:00:00.000Z</LastModified>"
		"<ETag>&quot;bb6cb5c68df4652941caf652a366f2d8&quot;</ETag><Size>7</Size></Contents>"
		"<Contents><Key>lake/b &amp; c</Key><LastModified>2026-12-06T23:00:01.500Z"
		"</LastModified><ETag>\"abc-2\"</ETag><Size>12345678901</Size></Contents>"
		"<NextContinuationToken>tok+/=</NextContinuationToken></ListBucketResult>";
	static const char azure[] =
		"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		"<EnumerationResults ServiceEndpoint=\"http://x/\" ContainerName=\"c\">"
		"<Prefix>lake/</Prefix><MaxResults>3</MaxResults><Blobs>"
		"<Blob><Name>lake/a</Name><Properties>"
		"<Last-Modified>Sun, 06 Dec 2026 23:00:00 GMT</Last-Modified>"
		"<Content-Length>7</Content-Length><Content-MD5>u2y1xo30ZSlByvZSo2by2A==</Content-MD5>"
		"</Properties></Blob></Blobs><NextMarker>2!80!xyz</NextMarker></EnumerationResults>";
	static const char err[] =
		"<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code>"
		"<Message>Server failed to authenticate the request.\nRequestId:1</Message></Error>";
	static const char xxe[] =
		"<?xml version=\"1.0\"?><!DOCTYPE e [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<Error><Code>&x;</Code><Message>m</Message></Error>";
	struct cl_os_page p = { 0 };
	char code[64], msg[128];

	(void)state;
	assert_int_equal(cl_os_xml_page(s3v2, sizeof(s3v2) - 1, &p), 0);
	assert_int_equal(p.n, 2);
	assert_true(p.truncated);
	assert_true(p.v2);
	assert_string_equal(p.next, "tok+/=");
	assert_string_equal(p.items[0].key, "lake/a");
	assert_int_equal(p.items[0].size, 7);
	assert_int_equal(p.items[0].mtime_ms, 1796598000000LL);
	assert_string_equal(p.items[0].md5, "bb6cb5c68df4652941caf652a366f2d8");
	assert_string_equal(p.items[1].key, "lake/b & c");
	assert_int_equal(p.items[1].size, 12345678901LL);
	assert_int_equal(p.items[1].mtime_ms, 1796598001500LL);
	assert_string_equal(p.items[1].md5, "");
	cl_os_page_free(&p);

	assert_int_equal(cl_os_xml_page(azure, sizeof(azure) - 1, &p), 0);
	assert_int_equal(p.n, 1);
	assert_true(p.truncated);
	assert_string_equal(p.next, "2!80!xyz");
	assert_int_equal(p.items[0].mtime_ms, 1796598000000LL);
	assert_int_equal(p.items[0].size, 7);
	assert_string_equal(p.items[0].md5, "bb6cb5c68df4652941caf652a366f2d8");
	cl_os_page_free(&p);

	assert_int_equal(cl_os_xml_page("<x/>", 4, &p), CL_EPARSE);
	assert_int_equal(cl_os_xml_page("<ListBucketResult><Contents></Contents>"
					"</ListBucketResult>", 58, &p), CL_EPARSE);
	cl_os_page_free(&p);
	assert_int_equal(cl_os_xml_page("", 0, &p), CL_EPARSE);

	assert_int_equal(cl_os_xml_error(err, sizeof(err) - 1, code, sizeof(code), msg,
					 sizeof(msg)), 0);
	assert_string_equal(code, "AuthenticationFailed");
	assert_string_equal(msg, "Server failed to authenticate the request. RequestId:1");
	/* a DTD (and its entities) is refused: nothing fetched or expanded */
	assert_int_equal(cl_os_xml_error(xxe, sizeof(xxe) - 1, code, sizeof(code), msg,
					 sizeof(msg)), CL_EPARSE);
	assert_null(strstr(code, "root:"));
	assert_int_equal(cl_os_xml_error("not xml", 7, code, sizeof(code), msg, sizeof(msg)),
			 CL_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_uri),      cmocka_unit_test(test_s3_uri),
		cmocka_unit_test(test_azure_uri),   cmocka_unit_test(test_connstr),
		cmocka_unit_test(test_shared_key),  cmocka_unit_test(test_encode_dates),
		cmocka_unit_test(test_xml),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
