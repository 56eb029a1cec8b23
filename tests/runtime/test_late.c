/*
 * Late data is still data, through `carelake serve`:
 *
 * - Property: random readings per patient and vital (heart rate at 1 /min
 *   resolution, temperature at 0.1 Cel), delivered in random order, in
 *   random batches, most of them far behind the watermark, with kill -9
 *   and clean restarts in between. Once a reading far ahead closes every
 *   window, the stored windows of every kind (tumbling, hopping, sliding,
 *   session) equal a batch computation over the same readings done here,
 *   on its own: count, min, max, mean, standard deviation, percentiles.
 *   Each is final or corrected, a corrected one at revision 2 or more.
 *   The Delta copy (gold/vital_rollup), read by DuckDB from the files its
 *   log names, holds the same windows, each in the partition of its day.
 * - The window still open is shown provisional, ?final=true leaves it
 *   out; a device that stops sending: its last window becomes final after
 *   the idle timeout; a late reading then corrects it, announced on the
 *   live stream as rollup_corrected, counted in /metrics and status.
 * - stream.bulk_lag: bulk bodies of current readings are refused (503,
 *   Retry-After) while the stream is behind, stored whole when sent again;
 *   small live ones go through.
 *
 * CARELAKE_TEST_SEED repeats a run's random choices (each run prints its
 * seed).
 *
 * Usage: test_late /path/to/carelake /path/to/duck.mjs
 */
#include "serve_helpers.h"
#include "cli_helpers.h"
#include "sse_helpers.h"

static const char *duck;

#include "duck_helpers.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>

#define S 1000000ll

static uint64_t rng;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int64_t pick(int64_t n)
{
	return (int64_t)(next_rand() % (uint64_t)n);
}

/* ---- the batch computation ---------------------------------------- */

static const struct {
	const char *name, *unit;
	double resolution;
} vitals_used[] = { { "heart_rate", "/min", 1 }, { "temperature", "Cel", 0.1 } };

struct reading {
	int64_t ts;
	double v;
	int patient, vital;
	char id[48];
};

struct win {
	int64_t start, end;
	long count;
	double min, max, mean, sd, p50, p90, p99;
};

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The window of values v[0..n) (n > 0): as a batch would compute it. */
static void summarise(struct win *w, const double *v, size_t n, double res)
{
	double *s = malloc(n * sizeof(*s)), sum = 0, ss = 0;
	const double ps[3] = { 0.5, 0.9, 0.99 };
	double *out[3] = { &w->p50, &w->p90, &w->p99 };

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), by_double);
	w->count = (long)n;
	w->min = s[0];
	w->max = s[n - 1];
	for (size_t i = 0; i < n; i++)
		sum += s[i];
	w->mean = sum / (double)n;
	for (size_t i = 0; i < n; i++)
		ss += (s[i] - w->mean) * (s[i] - w->mean);
	w->sd = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
	/* nearest rank, on values at the vital's resolution */
	for (int k = 0; k < 3; k++) {
		size_t rank = (size_t)ceil(ps[k] * (double)n);

		if (rank == 0)
			rank = 1;
		*out[k] = (double)lround(s[rank - 1] / res) * res;
	}
	free(s);
}

enum kind { TUMBLING, HOPPING, SLIDING, SESSION };

static const struct {
	const char *name;
	enum kind kind;
	int64_t size, hop;     /* session: size is the gap */
} windows_used[] = {
	{ "1m", TUMBLING, 60 * S, 0 },
	{ "2m-30s", HOPPING, 120 * S, 30 * S },
	{ "45s-slide", SLIDING, 45 * S, 0 },
	{ "20s-gap", SESSION, 20 * S, 0 },
};

#define SERVER_WINDOWS                                                                  \
	"stream.windows=1m=tumbling:1m, 2m-30s=hopping:2m/30s, 45s-slide=sliding:45s, " \
	"20s-gap=session:20s"

static int by_ts(const void *a, const void *b)
{
	int64_t x = ((const struct reading *)a)->ts, y = ((const struct reading *)b)->ts;

	return x < y ? -1 : x > y;
}

static int64_t floor_to(int64_t t, int64_t g)
{
	return (t >= 0 ? t / g : (t - g + 1) / g) * g;
}

/* The windows of kind wi over readings r[0..n) (one key, sorted by
 * time), into out (malloc'd); their number. */
static size_t batch_windows(int wi, const struct reading *r, size_t n, double res,
			    struct win **out)
{
	int64_t size = windows_used[wi].size;
	double *v = malloc((n + 1) * sizeof(*v));
	struct win *w = malloc((4 * n + 4) * sizeof(*w));
	size_t nw = 0;

	switch (windows_used[wi].kind) {
	case TUMBLING:
	case HOPPING: {
		int64_t hop = windows_used[wi].kind == TUMBLING ? size : windows_used[wi].hop;
		int64_t first = floor_to(r[0].ts - size, hop) + hop, last = floor_to(r[n - 1].ts, hop);

		for (int64_t st = first; st <= last; st += hop) {
			size_t k = 0;

			for (size_t i = 0; i < n; i++)
				if (r[i].ts >= st && r[i].ts < st + size)
					v[k++] = r[i].v;
			if (!k)
				continue;
			w[nw].start = st;
			w[nw].end = st + size;
			summarise(&w[nw++], v, k, res);
		}
		break;
	}
	case SLIDING:
		for (size_t i = 0; i < n; i++) {
			size_t k = 0;

			if (i + 1 < n && r[i + 1].ts == r[i].ts)
				continue;
			for (size_t j = 0; j <= i; j++)
				if (r[j].ts > r[i].ts - size)
					v[k++] = r[j].v;
			w[nw].start = r[i].ts - size;
			w[nw].end = r[i].ts;
			summarise(&w[nw++], v, k, res);
		}
		break;
	case SESSION:
		for (size_t a = 0; a < n;) {
			size_t b = a + 1, k = 0;

			while (b < n && r[b].ts - r[b - 1].ts <= size)
				b++;
			for (size_t i = a; i < b; i++)
				v[k++] = r[i].v;
			w[nw].start = r[a].ts;
			w[nw].end = r[b - 1].ts + size;
			summarise(&w[nw++], v, k, res);
			a = b;
		}
		break;
	}
	free(v);
	*out = w;
	return nw;
}

/* ---- what carelake shows ------------------------------------------ */

static json_t *get_json(const struct server *s, const char *path)
{
	struct reply r = http(s, "GET", path, s->token, NULL, 0);
	json_t *j;

	if (r.code != 200)
		fail_msg("GET %s: %ld %s", path, r.code, r.body);
	j = json_loads(r.body, 0, NULL);
	free(r.body);
	assert_non_null(j);
	return j;
}

static int near(double a, double b)
{
	double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);

	return fabs(a - b) <= 1e-9 * (m > 1 ? m : 1);
}

/* Whether the windows of one key and kind with starts in [from, to) are
 * the batch's: the stored ones (final), or those and the open ones
 * (provisional) too; if not, why, into why. */
static int same_windows(const struct server *s, const char *patient, int vi, int wi,
			const struct win *want, size_t nwant, int64_t from, int64_t to, int final,
			char *why, size_t cap)
{
	char path[400], f[40], t[40];
	json_t *j, *rows;
	size_t k = 0, i;
	json_t *o;
	int ok = 1;

	cl_time_format_rfc3339(from, f, sizeof(f), 3);
	cl_time_format_rfc3339(to, t, sizeof(t), 3);
	snprintf(path, sizeof(path),
		 "/api/v1/patients/%s/vitals?resolution=%s&from=%s&to=%s&final=%s&limit=100000",
		 patient, windows_used[wi].name, f, t, final ? "true" : "false");
	j = get_json(s, path);
	rows = json_object_get(j, "vitals");
	json_array_foreach(rows, i, o) {
		const char *status = json_string_value(json_object_get(o, "status"));
		long rev = (long)json_integer_value(json_object_get(o, "revision"));
		const struct win *w = k < nwant ? &want[k] : NULL;

		if (strcmp(json_string_value(json_object_get(o, "type")), vitals_used[vi].name) != 0)
			continue;
		k++;
		if (!w) {
			snprintf(why, cap, "an extra window at %s", json_string_value(json_object_get(o, "start")));
			ok = 0;
			break;
		}
		if (strcmp(status, "final") != 0 && !(strcmp(status, "corrected") == 0 && rev >= 2) &&
		    !(!final && strcmp(status, "provisional") == 0 && rev == 0))
			fail_msg("%s %s: window %s is %s at revision %ld", patient, windows_used[wi].name,
				 json_string_value(json_object_get(o, "start")), status, rev);
		if (json_time_of(o, "start") != w->start || json_time_of(o, "end") != w->end ||
		    json_integer_value(json_object_get(o, "count")) != w->count ||
		    json_real_value(json_object_get(o, "min")) != w->min ||
		    json_real_value(json_object_get(o, "max")) != w->max ||
		    !near(json_real_value(json_object_get(o, "mean")), w->mean) ||
		    !near(json_real_value(json_object_get(o, "stddev")), w->sd) ||
		    json_real_value(json_object_get(o, "p50")) != w->p50 ||
		    json_real_value(json_object_get(o, "p90")) != w->p90 ||
		    json_real_value(json_object_get(o, "p99")) != w->p99) {
			char bs[40];

			cl_time_format_rfc3339(w->start, bs, sizeof(bs), 3);
			snprintf(why, cap, "window %zu: stored start %s count %lld mean %.6f p90 %g; "
				 "batch start %s count %ld mean %.6f p90 %g", k - 1,
				 json_string_value(json_object_get(o, "start")),
				 (long long)json_integer_value(json_object_get(o, "count")),
				 json_real_value(json_object_get(o, "mean")),
				 json_real_value(json_object_get(o, "p90")), bs, w->count, w->mean,
				 w->p90);
			ok = 0;
			break;
		}
	}
	if (ok && k != nwant) {
		snprintf(why, cap, "%zu windows stored, the batch has %zu", k, nwant);
		ok = 0;
	}
	json_decref(j);
	return ok;
}

/* The windows of one key and kind in the Delta copy, from DuckDB's rows
 * (patient_id, vital, window, start_us, end_us, count, min, max, mean,
 * stddev, p50, p90, p99, status, revision, start_date as text), are the
 * batch's: 1 if so, else why into why. */
static int same_in_lake(json_t *rows, const char *patient, int vi, int wi, const struct win *want,
			size_t nwant, char *why, size_t cap)
{
	size_t k = 0, i;
	json_t *o;

	json_array_foreach(rows, i, o) {
		const char *t[4];
		double d[8];

		for (int c = 0; c < 3; c++)
			t[c] = json_string_value(json_array_get(o, (size_t)c));
		if (strcmp(t[0], patient) || strcmp(t[1], vitals_used[vi].name) ||
		    strcmp(t[2], windows_used[wi].name))
			continue;
		if (k == nwant) {
			snprintf(why, cap, "an extra window in the lake");
			return 0;
		}
		const struct win *w = &want[k++];
		int64_t start = strtoll(json_string_value(json_array_get(o, 3)), NULL, 10);
		int64_t end = strtoll(json_string_value(json_array_get(o, 4)), NULL, 10);
		long count = strtol(json_string_value(json_array_get(o, 5)), NULL, 10);
		const char *status = json_string_value(json_array_get(o, 13));
		long rev = strtol(json_string_value(json_array_get(o, 14)), NULL, 10);
		char day[11];

		for (int c = 0; c < 7; c++)
			d[c] = json_number_value(json_array_get(o, (size_t)(6 + c)));
		t[3] = json_string_value(json_array_get(o, 15));
		cl_time_format_day(start, day);
		if (start != w->start || end != w->end || count != w->count || d[0] != w->min ||
		    d[1] != w->max || !near(d[2], w->mean) || !near(d[3], w->sd) || d[4] != w->p50 ||
		    d[5] != w->p90 || d[6] != w->p99) {
			snprintf(why, cap, "window %zu: lake start %lld count %ld mean %.6f; batch start "
				 "%lld count %ld mean %.6f", k - 1, (long long)start, count, d[2],
				 (long long)w->start, w->count, w->mean);
			return 0;
		}
		if (!(strcmp(status, "final") == 0 && rev == 1) &&
		    !(strcmp(status, "corrected") == 0 && rev >= 2)) {
			snprintf(why, cap, "window %zu is %s at revision %ld", k - 1, status, rev);
			return 0;
		}
		if (!t[3] || strcmp(t[3], day) != 0) {
			snprintf(why, cap, "window %zu (day %s) in partition start_date=%s", k - 1, day,
				 t[3] ? t[3] : "null");
			return 0;
		}
	}
	if (k != nwant) {
		snprintf(why, cap, "%zu windows in the lake, the batch has %zu", k, nwant);
		return 0;
	}
	return 1;
}

/* Every row of the Delta table at tdir, read by DuckDB from the files its
 * log names, in key order, with each file's partition value. */
static json_t *lake_rollups(const char *tdir)
{
	json_t *files = active_files(tdir), *pv;
	size_t cap = 1 << 16, len;
	char *sql = malloc(cap);
	const char *path;
	int first = 1;

	if (!files || json_object_size(files) == 0)
		fail_msg("%s: no Delta table, or no files in it", tdir);
	len = (size_t)snprintf(sql, cap, "SELECT patient_id, vital, \"window\", start_us, end_us,"
			       " \"count\", \"min\", \"max\", mean, stddev, p50, p90, p99, status,"
			       " revision, start_date FROM (");
	json_object_foreach(files, path, pv) {
		len += (size_t)snprintf(sql + len, cap - len, "%sSELECT *, '%s' AS start_date FROM "
					"read_parquet('%s/%s', hive_partitioning = false)",
					first ? "" : " UNION ALL ",
					json_string_value(json_object_get(pv, "start_date")), tdir,
					path);
		first = 0;
	}
	snprintf(sql + len, cap - len, ") ORDER BY patient_id, vital, \"window\", start_us");
	json_t *res = duckdb(sql), *rows = json_incref(json_object_get(res, "rows"));
	free(sql);
	json_decref(res);
	json_decref(files);
	return rows;
}

/* ---- the property ------------------------------------------------- */

#define PATIENTS 5

/* Readings as device events of patient `patient` (its device the same
 * name), or of late-p<N> by their patient number when NULL. */
static void post_batch_as(const struct server *s, const struct reading *r, size_t n,
			  const char *patient)
{
	size_t cap = n * 300 + 16, len = 0;
	char *body = malloc(cap);
	struct reply rep;

	body[len++] = '[';
	for (size_t i = 0; i < n; i++) {
		char pid[32];

		if (patient)
			snprintf(pid, sizeof(pid), "%s", patient);
		else
			snprintf(pid, sizeof(pid), "late-p%d", r[i].patient);
		len += (size_t)snprintf(body + len, cap - len, "%s%s", i ? "," : "",
					test_event_at(r[i].ts, r[i].id, pid, pid,
						      vitals_used[r[i].vital].name, r[i].v,
						      vitals_used[r[i].vital].unit));
	}
	snprintf(body + len, cap - len, "]");
	char want[40];

	snprintf(want, sizeof(want), "\"accepted\":%zu,", n);
	rep = post(s, body);
	if (rep.code != 200 || !strstr(rep.body, want))
		fail_msg("posting %zu readings: %ld %s", n, rep.code, rep.body);
	free(rep.body);
	free(body);
}

static void post_batch(const struct server *s, const struct reading *r, size_t n)
{
	post_batch_as(s, r, n, NULL);
}

static void test_converges_on_batch(void **state)
{
	const char *extra[] = { "--set", SERVER_WINDOWS, "--set", "stream.lateness=5s",
				"--set", "stream.idle_flush=1h", "--set", "lake.interval=1s",
				"--set", "refine.interval=1s", NULL };
	int64_t base = floor_to(cl_time_now_us() - 3 * 3600 * S, 60 * S);
	const char *seed_env = getenv("CARELAKE_TEST_SEED");
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)cl_time_now_us();
	size_t n = 0, cap = 0;
	struct reading *r = NULL;
	char data[300];
	struct server s;
	int restarts = 0;

	(void)state;
	rng = seed | 1;
	fprintf(stderr, "seed %llu (CARELAKE_TEST_SEED repeats it)\n", (unsigned long long)seed);
	/* readings over 20 minutes, in bursts and gaps around the session gap */
	for (int p = 0; p < PATIENTS; p++)
		for (int v = 0; v < 2; v++) {
			int count = 40 + (int)pick(60);
			int64_t t = base + pick(60) * S;

			for (int i = 0; i < count; i++) {
				if (n == cap) {
					cap = cap ? cap * 2 : 256;
					r = realloc(r, cap * sizeof(*r));
				}
				/* mostly seconds apart, now and then a pause past the gap */
				t += pick(8) == 0 ? (15 + pick(20)) * S : pick(4000) * 1000 + 1000;
				r[n].ts = t;
				r[n].patient = p;
				r[n].vital = v;
				r[n].v = v == 0 ? (double)(45 + pick(120)) : 35.0 + (double)pick(50) / 10;
				snprintf(r[n].id, sizeof(r[n].id), "r%d-%d-%d", p, v, i);
				n++;
			}
		}
	/* delivered in random order */
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)pick((int64_t)i + 1);
		struct reading x = r[i];

		r[i] = r[j];
		r[j] = x;
	}
	snprintf(data, sizeof(data), "%s/property", dir);
	server_start(&s, bin, data, extra);
	/* serve makes the Delta copy before any window: what follows reaches
	 * it through the days the store notes as changed */
	{
		char first[400];
		int i;

		snprintf(first, sizeof(first), "%s/gold/vital_rollup/_delta_log/%020d.json", data, 0);
		for (i = 0; i < 100 * cl_test_slowdown() && access(first, F_OK) != 0; i++)
			usleep(100000);
		if (access(first, F_OK) != 0)
			fail_msg("serve made no Delta copy of vital_rollup (%s)", first);
	}
	for (size_t at = 0; at < n;) {
		size_t k = 1 + (size_t)pick(40);

		if (at + k > n)
			k = n - at;
		post_batch(&s, r + at, k);
		at += k;
		/* a restart now and then: killed, or stopped */
		if (at < n && restarts < 4 && pick(6) == 0) {
			if (restarts++ % 2 == 0)
				server_kill(&s);
			else
				assert_int_equal(server_stop(&s), 0);
			server_start(&s, bin, data, extra);
		}
	}
	/* a reading far ahead closes every window */
	{
		struct reading closer = { .ts = base + 2 * 3600 * S, .v = 70, .patient = PATIENTS };

		snprintf(closer.id, sizeof(closer.id), "closer");
		post_batch(&s, &closer, 1);
	}
	/* per key, sorted: the batch computation */
	struct win *wants[PATIENTS][2][4];
	size_t nwants[PATIENTS][2][4];

	qsort(r, n, sizeof(*r), by_ts);
	for (int p = 0; p < PATIENTS; p++)
		for (int v = 0; v < 2; v++) {
			struct reading *key = malloc(n * sizeof(*key));
			size_t nk = 0;
			char pid[32];

			for (size_t i = 0; i < n; i++)
				if (r[i].patient == p && r[i].vital == v)
					key[nk++] = r[i];
			snprintf(pid, sizeof(pid), "late-p%d", p);
			for (int wi = 0; wi < 4; wi++) {
				struct win *want;
				size_t nwant = batch_windows(wi, key, nk, vitals_used[v].resolution, &want);

				wants[p][v][wi] = want;
				nwants[p][v][wi] = nwant;
				char why[400] = "";
				int i;

				/* the stream catches up: the stored windows converge */
				for (i = 0; i < 300 * cl_test_slowdown(); i++) {
					if (same_windows(&s, pid, v, wi, want, nwant, base - 3600 * S,
							 base + 3600 * S, 1, why, sizeof(why)))
						break;
					usleep(100000);
				}
				if (i == 300 * cl_test_slowdown())
					fail_msg("seed %llu, %s %s, window %s: %s", (unsigned long long)seed,
						 pid, vitals_used[v].name, windows_used[wi].name, why);
			}
			free(key);
		}
	fprintf(stderr, "%zu readings, %d restarts, %ld windows corrected since the last start\n", n,
		restarts, metric(&s, "carelake_stream_rollups_corrected_total"));
	assert_int_equal(server_stop(&s), 0);

	/* the Delta copy, brought up to date by refine, is the same */
	struct result rr = run(NULL, "refine", "--data", data, NULL);
	char tdir[400];
	json_t *rows;

	if (rr.status != 0)
		fail_msg("refine: %d: %s", rr.status, rr.err);
	done(&rr);
	snprintf(tdir, sizeof(tdir), "%s/gold/vital_rollup", data);
	rows = lake_rollups(tdir);
	for (int p = 0; p < PATIENTS; p++)
		for (int v = 0; v < 2; v++)
			for (int wi = 0; wi < 4; wi++) {
				char pid[32], why[400] = "";

				snprintf(pid, sizeof(pid), "late-p%d", p);
				if (!same_in_lake(rows, pid, v, wi, wants[p][v][wi], nwants[p][v][wi], why,
						  sizeof(why)))
					fail_msg("seed %llu, the lake's %s %s, window %s: %s",
						 (unsigned long long)seed, pid, vitals_used[v].name,
						 windows_used[wi].name, why);
				free(wants[p][v][wi]);
			}
	json_decref(rows);
	free(r);
}

/* ---- open windows, the idle timeout, corrections announced --------- */

static int g_final_rows;
static const struct server *g_srv;

/* The quiet patient's 2-second windows: rows, and how many are final. */
static int quiet_windows(const struct server *s, const char *query, long *count, int *final)
{
	char path[300];
	json_t *j, *o;
	size_t i;
	int rows = 0;

	snprintf(path, sizeof(path), "/api/v1/patients/quiet/vitals?resolution=2s&%s", query);
	j = get_json(s, path);
	*count = 0;
	*final = 0;
	json_array_foreach(json_object_get(j, "vitals"), i, o) {
		rows++;
		*count += (long)json_integer_value(json_object_get(o, "count"));
		*final += strcmp(json_string_value(json_object_get(o, "status")), "provisional") != 0;
	}
	json_decref(j);
	return rows;
}

static int quiet_final(void *arg)
{
	long count;
	int final;

	(void)arg;
	return quiet_windows(g_srv, "final=true", &count, &final) > 0 &&
	       (g_final_rows = final, count == 3);
}

static void test_open_idle_corrected(void **state)
{
	const char *extra[] = { "--set", "stream.windows=2s=tumbling:2s", "--set",
				"stream.lateness=1s", "--set", "stream.idle_flush=1s", NULL };
	int64_t now = cl_time_now_us();
	struct sse_client sse = { 0 };
	char data[300], body[1200];
	struct reply r;
	struct server s;
	long count;
	int final, rows;

	(void)state;
	snprintf(data, sizeof(data), "%s/quiet", dir);
	server_start(&s, bin, data, extra);
	g_srv = &s;
	sse_open(&sse, &s, NULL);
	/* three readings just now, then the device falls silent */
	snprintf(body, sizeof(body), "[%s,", test_event_at(now - 300000, "q1", "mq", "quiet",
							   "heart_rate", 70, "/min"));
	snprintf(body + strlen(body), sizeof(body) - strlen(body), "%s,",
		 test_event_at(now - 200000, "q2", "mq", "quiet", "heart_rate", 72, "/min"));
	snprintf(body + strlen(body), sizeof(body) - strlen(body), "%s]",
		 test_event_at(now - 100000, "q3", "mq", "quiet", "heart_rate", 74, "/min"));
	r = post(&s, body);
	assert_non_null(strstr(r.body, "\"accepted\":3"));
	free(r.body);
	/* at once: the open window, provisional; closed ones only: none yet */
	for (int i = 0; i < 200 * cl_test_slowdown(); i++) {
		rows = quiet_windows(&s, "", &count, &final);
		if (count == 3)
			break;
		usleep(10000);
	}
	assert_int_equal(count, 3);
	if (final == 0) {
		rows = quiet_windows(&s, "final=true", &count, &final);
		assert_true(rows == 0 || count < 3);
	}
	/* after the idle timeout and the lateness, wall-clock time closes it */
	wait_for(quiet_final, NULL, "the quiet device's last window to become final");
	assert_true(g_final_rows > 0);
	/* a reading for that closed window comes late: corrected, announced */
	r = post(&s, test_event_at(now - 250000, "q4", "mq", "quiet", "heart_rate", 100, "/min"));
	assert_non_null(strstr(r.body, "\"accepted\":1"));
	free(r.body);
	g_want = "event: rollup_corrected";
	wait_for(sse_cond, NULL, "rollup_corrected on the live stream");
	assert_true(sse_has(&sse, "\"revision\":2"));
	assert_true(sse_has(&sse, "\"status\":\"corrected\""));
	assert_true(sse_has(&sse, "\"patient_id\":\"quiet\""));
	wait_metric(&s, "carelake_stream_rollups_corrected_total", 1);
	rows = quiet_windows(&s, "final=true", &count, &final);
	assert_int_equal(count, 4);
	sse_close(&sse);
	assert_int_equal(server_stop(&s), 0);
	/* status counts it */
	{
		char d[320];
		struct result st;

		snprintf(d, sizeof(d), "--data=%s", data);
		st = run_argv(NULL, (const char *[]){ "status", d, "--json", NULL });
		assert_int_equal(st.status, 0);
		json_t *j = json_loads(st.out, 0, NULL);

		assert_non_null(j);
		assert_true(json_integer_value(json_object_get(json_object_get(j, "rollups"),
							       "corrections")) >= 1);
		json_decref(j);
		done(&st);
	}
}

/* The windows still open, of every kind, are shown provisional, as the
 * batch computation over the readings so far gives them; with the closed
 * ones, they are all the batch's windows. */
static void test_open_windows_every_kind(void **state)
{
	const char *extra[] = { "--set", SERVER_WINDOWS, "--set", "stream.lateness=5s",
				"--set", "stream.idle_flush=1h", NULL };
	int64_t t0 = floor_to(cl_time_now_us() - 2 * 3600 * S, 60 * S);
	struct reading r[60];
	char data[300];
	struct server s;

	(void)state;
	rng = (uint64_t)t0 | 1;
	/* two minutes of heart rate, a reading every 1-3 s, a pause past the
	 * session gap in the middle */
	for (int i = 0; i < 60; i++) {
		r[i] = (struct reading){ .ts = t0 + (i ? r[i - 1].ts - t0 : 0) +
					       (i == 30 ? 25 * S : (1 + pick(3)) * S),
					 .v = (double)(60 + pick(40)) };
		snprintf(r[i].id, sizeof(r[i].id), "o%d", i);
	}
	snprintf(data, sizeof(data), "%s/open", dir);
	server_start(&s, bin, data, extra);
	post_batch_as(&s, r, 60, "open-p");
	for (int wi = 0; wi < 4; wi++) {
		struct win *want;
		size_t nwant = batch_windows(wi, r, 60, 1, &want);
		char why[400] = "";
		int i;

		for (i = 0; i < 300 * cl_test_slowdown(); i++) {
			if (same_windows(&s, "open-p", 0, wi, want, nwant, t0 - 3600 * S,
					 t0 + 3600 * S, 0, why, sizeof(why)))
				break;
			usleep(100000);
		}
		if (i == 300 * cl_test_slowdown())
			fail_msg("window %s, closed and open: %s", windows_used[wi].name, why);
		free(want);
	}
	/* the last reading's windows are still open: provisional */
	{
		char path[300];
		json_t *j;

		snprintf(path, sizeof(path), "/api/v1/patients/open-p/vitals?resolution=1m&from=%s",
			 "2000-01-01T00:00:00Z");
		j = get_json(&s, path);
		json_t *rows = json_object_get(j, "vitals");

		assert_true(json_array_size(rows) > 0);
		assert_string_equal(json_string_value(json_object_get(
					    json_array_get(rows, json_array_size(rows) - 1), "status")),
				    "provisional");
		json_decref(j);
	}
	assert_int_equal(server_stop(&s), 0);
}

/* ---- a wearable's backlog ------------------------------------------ */

/* The tachycardia alerts of patient w1: all, live ones (not
 * retrospective), retrospective ones. */
static void tachycardia(const struct server *s, json_t **list, int *live, int *retro)
{
	json_t *j = get_json(s, "/api/v1/alerts?patient=w1&limit=1000"), *o;
	size_t i;

	*live = *retro = 0;
	*list = json_array();
	json_array_foreach(json_object_get(j, "alerts"), i, o) {
		if (strcmp(json_string_value(json_object_get(o, "rule")), "tachycardia") != 0)
			continue;
		if (json_is_true(json_object_get(o, "retrospective")))
			++*retro;
		else
			++*live;
		json_array_append(*list, o);
	}
	json_decref(j);
}

static int g_retro_want;

static int retro_alerts_in(void *arg)
{
	json_t *list;
	int live, retro;

	(void)arg;
	tachycardia(g_srv, &list, &live, &retro);
	json_decref(list);
	return retro >= g_retro_want;
}

/*
 * Live readings first, then six hours of earlier readings from the same
 * patient's wearable, with two tachycardia episodes in them: the rollups
 * equal the batch computation over everything stored; the live alerts are
 * what they were; the backlog's episodes are retrospective alerts, with
 * when they happened and when they were learned, never paged as open; the
 * patient's NEWS2 is still their latest reading's.
 */
/* w1's stored NEWS2 scores the backlog's temperature. */
static int news2_has_temperature(void *arg)
{
	json_t *j = get_json(g_srv, "/api/v1/patients/w1/vitals?limit=1");
	json_t *t = json_object_get(json_object_get(json_object_get(j, "news2"), "parameters"),
				    "temperature");
	int yes = json_integer_value(t) == 2;

	(void)arg;
	json_decref(j);
	return yes;
}

static void test_wearable_backlog(void **state)
{
	const char *extra[] = { CL_TEST_ONE_READING_ALERTS, "--set", "stream.lateness=5s",
				"--set", "stream.idle_flush=1s", NULL };
	int64_t now = cl_time_now_us(), live0 = now - 60 * S;
	int64_t back0 = floor_to(now - 6 * 3600 * S - 180 * S, 60 * S), back1 = now - 180 * S;
	int64_t ep[2] = { back0 + 3600 * S, back0 + 4 * 3600 * S }, learned_from;
	size_t n = 0, cap = (size_t)((back1 - back0) / (5 * S)) + 200;
	struct reading *r = calloc(cap, sizeof(*r));
	struct sse_client sse = { 0 };
	json_t *list, *j, *o;
	int live, retro;
	char data[300];
	struct server s;
	size_t i;

	(void)state;
	rng = (uint64_t)now | 1;
	snprintf(data, sizeof(data), "%s/wearable", dir);
	server_start(&s, bin, data, extra);
	g_srv = &s;
	sse.query = "?vitals=false";
	sse_open(&sse, &s, NULL);
	/* the live minute: a steady 75 */
	for (int64_t t = live0; t <= now; t += 5 * S, n++) {
		r[n] = (struct reading){ .ts = t, .v = 75, .patient = 0, .vital = 0 };
		snprintf(r[n].id, sizeof(r[n].id), "live-%zu", n);
	}
	post_batch_as(&s, r, n, "w1");
	/* then the wearable syncs: every 5 s over six hours, 70-80, but 150
	 * for three minutes at hour 1 and hour 4 */
	size_t first = n;

	for (int64_t t = back0; t < back1; t += 5 * S, n++) {
		int in_episode = (t >= ep[0] && t < ep[0] + 180 * S) ||
				 (t >= ep[1] && t < ep[1] + 180 * S);

		r[n] = (struct reading){ .ts = t, .v = in_episode ? 150 : 70 + (double)pick(11),
					 .patient = 0, .vital = 0 };
		snprintf(r[n].id, sizeof(r[n].id), "back-%zu", n);
	}
	learned_from = cl_time_now_us();
	for (size_t at = first; at < n; at += 500)
		post_batch_as(&s, r + at, n - at < 500 ? n - at : 500, "w1");
	/* and a temperature of 39.5 five minutes before the backlog ends: late,
	 * but the patient's only temperature, so their NEWS2 takes it */
	{
		struct reading t = { .ts = back1 - 300 * S, .v = 39.5, .vital = 1 };

		snprintf(t.id, sizeof(t.id), "back-temp");
		post_batch_as(&s, &t, 1, "w1");
	}
	/* both episodes, retrospective */
	g_retro_want = 2;
	wait_for(retro_alerts_in, NULL, "the backlog's episodes as retrospective alerts");
	tachycardia(&s, &list, &live, &retro);
	assert_int_equal(live, 0);
	assert_int_equal(retro, 2);
	json_array_foreach(list, i, o) {
		int64_t opened = json_time_of(o, "opened"), closed = json_time_of(o, "closed");
		int k = opened < ep[1] - 3600 * S ? 0 : 1;

		assert_true(opened == ep[k]);                 /* its first reading over 130 */
		assert_true(closed == ep[k] + 180 * S);       /* the first back at or under 125 */
		assert_true(json_time_of(o, "learned") >= learned_from);
		assert_false(json_is_true(json_object_get(o, "open")));
	}
	json_decref(list);
	/* never shown open; none of them live on the stream */
	j = get_json(&s, "/api/v1/alerts?patient=w1&open=true");
	assert_int_equal(json_array_size(json_object_get(j, "alerts")), 0);
	json_decref(j);
	g_want = "\"retrospective\":true";
	wait_for(sse_cond, NULL, "the retrospective alerts on the live stream");
	assert_false(sse_has(&sse, "\"state\":\"open\""));
	sse_close(&sse);
	/* NEWS2: the late temperature, 39.5 (score 2), the only one it has,
	 * once the writer has stored it (the API lags the live stream by a
	 * commit); still the latest reading's pulse, 75 (score 0), not 150 */
	g_srv = &s;
	wait_for(news2_has_temperature, NULL, "NEWS2 with the backlog's temperature");
	j = get_json(&s, "/api/v1/patients/w1/vitals?limit=1");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_object_get(j, "news2"), "parameters"), "pulse")),
			 0);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_object_get(j, "news2"), "parameters"),
				 "temperature")), 2);
	json_decref(j);
	/* the backlog's rollups: the batch computation over the stored readings */
	{
		struct win *want;
		size_t nwant;
		char why[400] = "";
		int k;

		qsort(r + first, n - first, sizeof(*r), by_ts);
		nwant = batch_windows(0, r + first, n - first, 1, &want);
		for (k = 0; k < 300 * cl_test_slowdown(); k++) {
			/* to the backlog's last minute (the live readings are a
			 * minute and more later) */
			if (same_windows(&s, "w1", 0, 0, want, nwant, back0,
					 floor_to(back1, 60 * S) + 60 * S, 1, why, sizeof(why)))
				break;
			usleep(100000);
		}
		if (k == 300 * cl_test_slowdown())
			fail_msg("the backlog's minutes: %s", why);
		free(want);
	}
	assert_true(metric(&s, "carelake_alerts_retrospective_total{rule=\"tachycardia\"}") == 2);
	assert_int_equal(server_stop(&s), 0);
	free(r);
}

/* ---- bulk bodies wait while the stream is behind ------------------ */

#define BULK_SENDERS 3
#define BULK_BODIES 8
#define BULK_EVENTS 600 /* about 90 KiB: a bulk body */

struct bulk_sender {
	const struct server *s;
	int id;
	int old;                 /* an hour old: the backlog lane's */
	long refused;
};

static void *bulk_main(void *arg)
{
	struct bulk_sender *b = arg;
	/* a gateway's batches of current readings: 10 ms apart, from four
	 * minutes ago; or a wearable's of an hour ago, which go to the
	 * backlog lane and are taken even while the stream is behind */
	int64_t t0 = cl_time_now_us() - (b->old ? 3600 : 240) * S;
	size_t cap = BULK_EVENTS * 220 + 16;
	char *body = malloc(cap), ts[40];

	for (int k = 0; k < BULK_BODIES; k++) {
		size_t len = 0;
		struct reply r;

		for (int i = 0; i < BULK_EVENTS; i++) {
			int n = k * BULK_EVENTS + i;

			cl_time_format_rfc3339(t0 + (int64_t)n * 10000, ts, sizeof(ts), 3);
			len += (size_t)snprintf(body + len, cap - len,
						"{\"id\":\"bulk-%d-%d\",\"device_id\":\"bulk-w%d\","
						"\"patient_id\":\"bulk-p%d\",\"ts\":\"%s\","
						"\"type\":\"heart_rate\",\"value\":%d,"
						"\"unit\":\"/min\"}\n", b->id, n, b->id, b->id, ts,
						60 + n % 30);
		}
		assert_true(len >= 64 * 1024);
		/* a bulk sender honours the 503: sends it again a little later */
		while ((r = http(b->s, "POST", "/api/v1/events", b->s->token, body, len)).code == 503) {
			if (!strstr(r.body, "behind a backlog") || !strstr(r.headers, "Retry-After: 1"))
				fail_msg("a 503 that is not the backlog's: %s", r.body);
			if (b->old)
				fail_msg("a bulk body of hour-old readings was asked to wait: %s",
					 r.body);
			b->refused++;
			free(r.body);
			usleep(20000);
		}
		if (r.code != 200 || !strstr(r.body, "\"accepted\":600,"))
			fail_msg("bulk body %d of sender %d: %ld %.300s", k, b->id, r.code, r.body);
		free(r.body);
	}
	free(body);
	return NULL;
}

/* stream.bulk_lag: bodies of 64 KiB or more are answered 503 (nothing of
 * them stored) while the stream has more than that many records of the
 * live logs to apply, and go through when sent again; small live ones
 * always go through, and so do bulk bodies of old readings (the backlog
 * lane's). */
static void test_bulk_waits_for_stream(void **state)
{
	const char *extra[] = { "--set", "stream.bulk_lag=1", NULL };
	struct bulk_sender b[BULK_SENDERS + 1];
	pthread_t th[BULK_SENDERS + 1];
	char data[300];
	struct server s;
	long refused = 0;

	(void)state;
	snprintf(data, sizeof(data), "%s/bulk", dir);
	server_start(&s, bin, data, extra);
	for (int i = 0; i <= BULK_SENDERS; i++) {
		b[i] = (struct bulk_sender){ .s = &s, .id = i, .old = i == BULK_SENDERS };
		pthread_create(&th[i], NULL, bulk_main, &b[i]);
	}
	/* live readings meanwhile: never refused */
	for (int i = 0; i < 20; i++) {
		char id[32];
		struct reply r;

		snprintf(id, sizeof(id), "live-%d", i);
		r = post(&s, test_event(id, "live-w", "live-p", "heart_rate", 70, "/min"));
		if (r.code != 200)
			fail_msg("a live reading during the backlog: %ld %s", r.code, r.body);
		free(r.body);
		usleep(10000);
	}
	for (int i = 0; i <= BULK_SENDERS; i++) {
		pthread_join(th[i], NULL);
		refused += b[i].refused;
	}
	fprintf(stderr, "%ld bulk bodies asked to wait\n", refused);
	/* three senders against a stream one record behind: some waited */
	assert_true(refused > 0);
	assert_int_equal(metric(&s, "carelake_ingest_bulk_paused_total"), refused);
	/* every body sent again is stored whole, once */
	long want = (long)(BULK_SENDERS + 1) * BULK_BODIES * BULK_EVENTS + 20;
	int i;

	for (i = 0; i < 200 * cl_test_slowdown(); i++) {
		if (metric(&s, "carelake_stream_lag_records") == 0 &&
		    metric(&s, "carelake_store_pending_bytes") == 0)
			break;
		usleep(50000);
	}
	assert_int_equal(server_stop(&s), 0);
	assert_int_equal(query_long(data, "SELECT count(*) FROM vital_event"), want);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_bulk_waits_for_stream),
	cmocka_unit_test(test_open_idle_corrected),
	cmocka_unit_test(test_wearable_backlog),
	cmocka_unit_test(test_open_windows_every_kind),
	cmocka_unit_test(test_converges_on_batch),
};

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s /path/to/carelake /path/to/duck.mjs\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	duck = argv[2];
	SERVE_TEST_RUN(tests);
}
