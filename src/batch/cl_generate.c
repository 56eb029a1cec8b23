/*
 * The synthetic hospital. See cl_generate.h.
 */
#include "cl_generate.h"
#include "core/cl_error.h"
#include "core/cl_rand.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zip.h>

#define DAY (86400ll * 1000000)
#define HOUR (3600ll * 1000000)

static const char *const families[] = { "Murphy", "Kelly", "Byrne", "Walsh", "Okafor", "Nowak",
					"Silva", "Chen", "Haddad", "Larsen", "Rossi", "Dubois" };
static const char *const given_f[] = { "Aoife", "Maria", "Ngozi", "Sofia", "Mei", "Anna" };
static const char *const given_m[] = { "Sean", "Tomasz", "Luca", "Omar", "Jan", "David" };
static const char *const cities[] = { "Dublin", "Cork", "Galway", "Limerick" };
static const char *const wards[] = { "ICU-A", "ICU-B", "Ward-C", "Ward-D" };
static const char *const channels[] = { "call", "email", "sms", "online" };
static const char *const topics[] = { "appointment", "results", "medication", "billing" };
static const char *const questions[] = { "overall", "communication", "cleanliness" };

struct rng {
	uint64_t s;
};

static uint64_t next(struct rng *r)
{
	return cl_rand_next(&r->s);
}

static long pick(struct rng *r, long n)
{
	return (long)(next(r) % (uint64_t)n);
}

static double uniform(struct rng *r)
{
	return cl_rand_uniform(&r->s);
}

static void ts(int64_t us, char *buf)
{
	cl_time_format_rfc3339(us, buf, 40, 0);
}

struct patient {
	char id[24], family[32], given[32], gender[8], birth[11], city[16], ward[8];
	int marital;
};

/* ---- patients.xlsx ---- */

struct xbuf {
	char *p;
	size_t len, cap;
	int failed;      /* out of memory: the part is incomplete */
};

static void xput(struct xbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void xput(struct xbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	while (!b->failed) {
		char *np;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap ? b->cap * 2 + (size_t)n : 65536 + (size_t)n;
		np = realloc(b->p, b->cap);
		if (!np)
			b->failed = 1;
		else
			b->p = np;
	}
}

/* Adds a part dated `when` (seconds), so the same content gives the same
 * bytes whenever it is written. */
static int add_part(zip_t *z, const char *name, struct xbuf *b, time_t when)
{
	zip_source_t *s;
	zip_int64_t i;

	if (b->failed)
		return cl_error_set(CL_ENOMEM, "no memory for %s", name);
	s = zip_source_buffer(z, b->p, b->len, 1);
	b->p = NULL; /* libzip frees it; the next part starts afresh */
	b->len = b->cap = 0;
	if (!s || (i = zip_file_add(z, name, s, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8)) < 0) {
		zip_source_free(s);
		return cl_error_set(CL_EIO, "cannot add %s: %s", name, zip_strerror(z));
	}
	if (zip_file_set_mtime(z, (zip_uint64_t)i, when, 0) < 0)
		return cl_error_set(CL_EIO, "cannot date %s: %s", name, zip_strerror(z));
	return CL_OK;
}

static int write_xlsx(const char *path, const struct patient *p, int n, time_t when)
{
	static const char *const head[] = { "patient_id", "family", "given", "gender",
					    "birth_date", "marital_status", "city", "country" };
	static const char *const marital[] = { "single", "married", "widowed" };
	struct xbuf b = { 0 };
	zip_t *z;
	int err, rc = CL_OK;

	z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
	if (!z)
		return cl_error_set(CL_EIO, "cannot create %s", path);
	xput(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Types xmlns=\"http://"
		 "schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" "
		 "ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default "
		 "Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/xl/workbook."
		 "xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet."
		 "main+xml\"/><Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/"
		 "vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/><Override PartName="
		 "\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument."
		 "spreadsheetml.styles+xml\"/></Types>");
	rc = add_part(z, "[Content_Types].xml", &b, when);
	xput(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Relationships xmlns="
		 "\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1"
		 "\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
		 "officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>");
	if (rc == CL_OK)
		rc = add_part(z, "_rels/.rels", &b, when);
	xput(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<workbook xmlns=\"http"
		 "://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"http://schemas."
		 "openxmlformats.org/officeDocument/2006/relationships\"><sheets><sheet name=\"Patients"
		 "\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>");
	if (rc == CL_OK)
		rc = add_part(z, "xl/workbook.xml", &b, when);
	xput(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Relationships xmlns="
		 "\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1"
		 "\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
		 "\" Target=\"worksheets/sheet1.xml\"/><Relationship Id=\"rId2\" Type=\"http://schemas."
		 "openxmlformats.org/officeDocument/2006/relationships/styles\" Target=\"styles.xml\"/>"
		 "</Relationships>");
	if (rc == CL_OK)
		rc = add_part(z, "xl/_rels/workbook.xml.rels", &b, when);
	xput(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<styleSheet xmlns=\""
		 "http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><cellXfs count=\"2\"><xf "
		 "numFmtId=\"0\"/><xf numFmtId=\"14\" applyNumberFormat=\"1\"/></cellXfs></styleSheet>");
	if (rc == CL_OK)
		rc = add_part(z, "xl/styles.xml", &b, when);
	xput(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet xmlns=\""
		 "http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData><row r=\"1\">");
	for (int c = 0; c < 8; c++)
		xput(&b, "<c r=\"%c1\" t=\"inlineStr\"><is><t>%s</t></is></c>", 'A' + c, head[c]);
	xput(&b, "</row>");
	for (int i = 0; i < n; i++) {
		int64_t us;
		int row = i + 2;
		char midnight[32];

		snprintf(midnight, sizeof(midnight), "%sT00:00:00Z", p[i].birth);
		if (cl_time_parse_rfc3339(midnight, strlen(midnight), &us) != CL_OK)
			us = 0;
		xput(&b, "<row r=\"%d\"><c r=\"A%d\" t=\"inlineStr\"><is><t>%s</t></is></c>"
			 "<c r=\"B%d\" t=\"inlineStr\"><is><t>%s</t></is></c>"
			 "<c r=\"C%d\" t=\"inlineStr\"><is><t>%s</t></is></c>"
			 "<c r=\"D%d\" t=\"inlineStr\"><is><t>%s</t></is></c>"
			 "<c r=\"E%d\" s=\"1\"><v>%lld</v></c>"
			 "<c r=\"F%d\" t=\"inlineStr\"><is><t>%s</t></is></c>"
			 "<c r=\"G%d\" t=\"inlineStr\"><is><t>%s</t></is></c>"
			 "<c r=\"H%d\" t=\"inlineStr\"><is><t>IE</t></is></c></row>",
		     row, row, p[i].id, row, p[i].family, row, p[i].given, row, p[i].gender, row,
		     (long long)(us / DAY + 25569), row, marital[p[i].marital], row, p[i].city, row);
	}
	xput(&b, "</sheetData></worksheet>");
	if (rc == CL_OK)
		rc = add_part(z, "xl/worksheets/sheet1.xml", &b, when);
	free(b.p);
	if (rc == CL_OK && zip_close(z) != 0)
		rc = cl_error_set(CL_EIO, "cannot write %s: %s", path, zip_strerror(z));
	else if (rc != CL_OK)
		zip_discard(z);
	return rc;
}

/* ---- the hospital ---- */

/* What the writers of one hospital share: the random stream (each file
 * drawn in turn, so a seed gives the same hospital), its people, counts. */
struct gen {
	struct rng r;
	const char *out_dir;
	int64_t today;        /* midnight (UTC): a seed gives the same hospital all day */
	int n, npr, nnurse;   /* patients, practitioners, nurses */
	struct patient *p;
	struct cl_generate_counts *c;
};

/* Opens dir/name for writing into *f. */
static int open_out(const char *dir, const char *name, FILE **f)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	*f = fopen(path, "w");
	if (!*f)
		return cl_error_set(cl_error_from_errno(errno), "cannot write %s: %s", path,
				    strerror(errno));
	return CL_OK;
}

/* Closes f, saying whether everything written to it reached the file. */
static int close_out(FILE *f, const char *name)
{
	int bad = ferror(f);

	if (fclose(f) != 0 || bad)
		return cl_error_set(CL_EIO, "cannot write %s (is the disk full?)", name);
	return CL_OK;
}

/* The people: names, birth dates, cities, wards. */
static void make_patients(struct gen *g)
{
	for (int i = 0; i < g->n; i++) {
		struct patient *p = &g->p[i];
		int female = (int)pick(&g->r, 2);

		snprintf(p->id, sizeof(p->id), "patient-%04d", i + 1);
		snprintf(p->family, sizeof(p->family), "%s", families[pick(&g->r, 12)]);
		snprintf(p->given, sizeof(p->given), "%s",
			 female ? given_f[pick(&g->r, 6)] : given_m[pick(&g->r, 6)]);
		snprintf(p->gender, sizeof(p->gender), "%s", female ? "female" : "male");
		cl_time_format_day(g->today - (18 + pick(&g->r, 75)) * 365 * DAY - pick(&g->r, 365) * DAY,
				   p->birth);
		snprintf(p->city, sizeof(p->city), "%s", cities[pick(&g->r, 4)]);
		snprintf(p->ward, sizeof(p->ward), "%s", wards[i % 4]);
		p->marital = (int)pick(&g->r, 3);
	}
}

/* A patient's admission, some still in bed, some back within 30 days. */
static void write_admission(struct gen *g, FILE *f, int i)
{
	const struct patient *p = &g->p[i];
	int64_t start = g->today - pick(&g->r, 80) * DAY - pick(&g->r, 24) * HOUR;
	int64_t end = start + (1 + pick(&g->r, 9)) * DAY + pick(&g->r, 24) * HOUR;
	int in_bed = end > g->today;
	char a[40], b[40];

	ts(start, a);
	ts(end, b);
	fprintf(f, "{\"resourceType\":\"Encounter\",\"id\":\"enc-%s-a1\",\"status\":\"%s\","
		   "\"class\":{\"code\":\"IMP\"},\"subject\":{\"reference\":\"Patient/%s\"},"
		   "\"period\":{\"start\":\"%s\"%s%s%s},\"location\":[{\"location\":"
		   "{\"display\":\"%s\"}}],\"reasonCode\":[{\"coding\":[{\"code\":\"%s\"}],"
		   "\"text\":\"%s\"}]}\n", p->id, in_bed ? "in-progress" : "finished",
		p->id, a, in_bed ? "" : ",\"end\":\"", in_bed ? "" : b, in_bed ? "" : "\"",
		p->ward, i % 2 ? "233604007" : "22298006", i % 2 ? "Pneumonia" : "Myocardial infarction");
	g->c->encounters++;
	g->c->admissions++;
	if (!in_bed && uniform(&g->r) < 0.25) {
		int64_t back = end + (2 + pick(&g->r, 25)) * DAY;

		if (back < g->today - DAY) {
			ts(back, a);
			ts(back + 2 * DAY, b);
			fprintf(f, "{\"resourceType\":\"Encounter\",\"id\":\"enc-%s-a2\","
				   "\"status\":\"finished\",\"class\":{\"code\":\"IMP\"},"
				   "\"subject\":{\"reference\":\"Patient/%s\"},\"period\":"
				   "{\"start\":\"%s\",\"end\":\"%s\"},\"location\":[{\"location\":"
				   "{\"display\":\"%s\"}}]}\n", p->id, p->id, a, b, p->ward);
			g->c->encounters++;
			g->c->admissions++;
			g->c->readmissions++;
		}
	}
}

/* fhir/patients.ndjson: practitioners, patients, their visits and stays. */
static int write_fhir(struct gen *g)
{
	static const char *const mar[] = { "S", "M", "W" };
	static const char *const mar_text[] = { "single", "married", "widowed" };
	char dir[PATH_MAX], a[40], b[40];
	FILE *f;
	int rc;

	snprintf(dir, sizeof(dir), "%s/fhir", g->out_dir);
	rc = cl_fs_mkdirs(dir);
	if (rc)
		return rc;
	rc = open_out(dir, "patients.ndjson", &f);
	if (rc)
		return rc;
	for (int k = 0; k < g->npr; k++, g->c->practitioners++)
		fprintf(f, "{\"resourceType\":\"Practitioner\",\"id\":\"practitioner-%04d\",\"name\":"
			   "[{\"family\":\"%s\",\"given\":[\"%s\"]}],\"gender\":\"%s\"}\n", k + 1,
			families[pick(&g->r, 12)], k % 2 ? given_f[pick(&g->r, 6)] : given_m[pick(&g->r, 6)],
			k % 2 ? "female" : "male");
	for (int i = 0; i < g->n; i++) {
		const struct patient *p = &g->p[i];
		int visits = 1 + (int)pick(&g->r, 3);

		fprintf(f, "{\"resourceType\":\"Patient\",\"id\":\"%s\",\"name\":[{\"family\":\"%s\","
			   "\"given\":[\"%s\"]}],\"gender\":\"%s\",\"birthDate\":\"%s\",\"maritalStatus\":"
			   "{\"coding\":[{\"code\":\"%s\"}],\"text\":\"%s\"},"
			   "\"address\":[{\"city\":\"%s\",\"country\":\"IE\"}]}\n",
			p->id, p->family, p->given, p->gender, p->birth, mar[p->marital],
			mar_text[p->marital], p->city);
		g->c->patients++;
		for (int v = 0; v < visits; v++, g->c->encounters++) {
			int64_t start = g->today - (1 + pick(&g->r, 360)) * DAY + (8 + pick(&g->r, 9)) * HOUR;

			ts(start, a);
			ts(start + HOUR / 2, b);
			fprintf(f, "{\"resourceType\":\"Encounter\",\"id\":\"enc-%s-v%d\",\"status\":"
				   "\"finished\",\"class\":{\"code\":\"AMB\"},\"subject\":{\"reference\":"
				   "\"Patient/%s\"},\"participant\":[{\"individual\":{\"reference\":"
				   "\"Practitioner/practitioner-%04ld\"}}],\"period\":{\"start\":\"%s\","
				   "\"end\":\"%s\"}}\n", p->id, v, p->id, pick(&g->r, g->npr) + 1, a, b);
		}
		if (uniform(&g->r) < 0.6)
			write_admission(g, f, i);
	}
	return close_out(f, "fhir/patients.ndjson");
}

/* devices.csv: one monitor per patient, as the simulator names them. */
static int write_devices(struct gen *g)
{
	FILE *f;
	int rc = open_out(g->out_dir, "devices.csv", &f);

	if (rc)
		return rc;
	fprintf(f, "device_id,type,ward,bed,patient_id,status\n");
	for (int i = 0; i < g->n; i++, g->c->devices++)
		fprintf(f, "monitor-%04d,bedside-monitor,%s,%c-%02d,%s,active\n", i + 1, g->p[i].ward,
			'A' + i % 4, i / 4 + 1, g->p[i].id);
	return close_out(f, "devices.csv");
}

/* staff.csv: nurses on every ward, the practitioners as physicians. */
static int write_staff(struct gen *g)
{
	FILE *f;
	char a[40];
	int rc = open_out(g->out_dir, "staff.csv", &f);

	if (rc)
		return rc;
	fprintf(f, "staff_id,name,role,ward,practitioner_id,fte,start_date\n");
	for (int k = 0; k < g->nnurse; k++, g->c->staff++) {
		cl_time_format_day(g->today - (30 + pick(&g->r, 3000)) * DAY, a);
		fprintf(f, "nurse-%04d,%s %s,nurse,%s,,%.1f,%s\n", k + 1, given_f[pick(&g->r, 6)],
			families[pick(&g->r, 12)], wards[k % 4], uniform(&g->r) < 0.8 ? 1.0 : 0.5, a);
	}
	for (int k = 0; k < g->npr; k++, g->c->staff++)
		fprintf(f, "doctor-%04d,Dr %s,physician,%s,practitioner-%04d,1.0,\n", k + 1,
			families[pick(&g->r, 12)], wards[k % 4], k + 1);
	return close_out(f, "staff.csv");
}

/* shifts.csv: the last 7 days, two a day per ward; sometimes short. */
static int write_shifts(struct gen *g)
{
	FILE *f;
	char a[40], b[40];
	int rc = open_out(g->out_dir, "shifts.csv", &f);

	if (rc)
		return rc;
	fprintf(f, "shift_id,staff_id,ward,role,start,end,required_staff\n");
	for (int d = 7; d >= 1; d--)
		for (int h = 0; h < 2; h++)
			for (int w = 0; w < 4; w++) {
				int64_t start = g->today - d * DAY + (h ? 19 : 7) * HOUR;
				int need = w < 2 ? 4 : 3, have = need - (uniform(&g->r) < 0.2 ? 1 : 0);

				ts(start, a);
				ts(start + 12 * HOUR, b);
				for (int k = 0; k < have; k++, g->c->shifts++)
					fprintf(f, "sh-%d-%d-%d-n%d,nurse-%04d,%s,nurse,%s,%s,%d\n", d, h, w, k,
						(int)((w + 4 * (k + h * 4 + d)) % g->nnurse) + 1, wards[w], a, b,
						need);
				fprintf(f, "sh-%d-%d-%d-d,doctor-%04d,%s,physician,%s,%s,1\n", d, h, w,
					(w % g->npr) + 1, wards[w], a, b);
				g->c->shifts++;
			}
	return close_out(f, "shifts.csv");
}

/* bookings.csv: two a patient, past (attended, missed, cancelled) and coming. */
static int write_bookings(struct gen *g)
{
	FILE *f;
	char a[40], b[40];
	int rc = open_out(g->out_dir, "bookings.csv", &f);

	if (rc)
		return rc;
	fprintf(f, "booking_id,patient_id,practitioner_id,clinic,channel,booked,appointment,status\n");
	for (int i = 0; i < g->n; i++)
		for (int k = 0; k < 2; k++, g->c->bookings++) {
			int64_t appt = g->today + (pick(&g->r, 120) - 90) * DAY + (9 + pick(&g->r, 8)) * HOUR;
			double u = uniform(&g->r);
			const char *status = appt > g->today ? "booked"
					     : u < 0.8 ? "attended" : u < 0.92 ? "no_show" : "cancelled";

			ts(appt - (1 + pick(&g->r, 30)) * DAY, a);
			ts(appt, b);
			fprintf(f, "bk-%04d-%d,%s,practitioner-%04ld,%s,%s,%s,%s,%s\n", i + 1, k, g->p[i].id,
				pick(&g->r, g->npr) + 1, i % 2 ? "Cardiology" : "Respiratory",
				channels[pick(&g->r, 4)], a, b, status);
		}
	return close_out(f, "bookings.csv");
}

/* communications.csv: calls, emails, SMS and online messages. */
static int write_communications(struct gen *g)
{
	FILE *f;
	char a[40];
	int rc = open_out(g->out_dir, "communications.csv", &f);

	if (rc)
		return rc;
	fprintf(f, "message_id,patient_id,staff_id,channel,direction,ts,duration_s,topic\n");
	for (int i = 0; i < g->n; i++)
		for (int k = 0; k < 3; k++, g->c->communications++) {
			long ch = pick(&g->r, 4);

			ts(g->today - pick(&g->r, 60) * DAY - pick(&g->r, 86400) * 1000000ll, a);
			fprintf(f, "msg-%04d-%d,%s,nurse-%04ld,%s,%s,%s,%ld,%s\n", i + 1, k, g->p[i].id,
				pick(&g->r, g->nnurse) + 1, channels[ch],
				pick(&g->r, 2) ? "inbound" : "outbound", a,
				ch == 0 ? 60 + pick(&g->r, 600) : 0, topics[pick(&g->r, 4)]);
		}
	return close_out(f, "communications.csv");
}

/* surveys.csv: every other patient answers three questions. */
static int write_surveys(struct gen *g)
{
	FILE *f;
	char a[40];
	int rc = open_out(g->out_dir, "surveys.csv", &f);

	if (rc)
		return rc;
	fprintf(f, "response_id,patient_id,encounter_id,ts,channel,question,score,comment\n");
	for (int i = 0; i < g->n; i += 2) {
		ts(g->today - pick(&g->r, 60) * DAY, a);
		for (int q = 0; q < 3; q++, g->c->surveys++)
			fprintf(f, "sv-%04d-%d,%s,,%s,%s,%s,%ld,\n", i + 1, q, g->p[i].id, a,
				channels[1 + pick(&g->r, 3)], questions[q], 2 + pick(&g->r, 4));
	}
	return close_out(f, "surveys.csv");
}

int cl_generate(const char *out_dir, int n, uint64_t seed, struct cl_generate_counts *c)
{
	struct gen g = {
		.r = { seed * 0x2545f4914f6cdd1dull + 1 },
		.out_dir = out_dir,
		.today = cl_time_now_us() / DAY * DAY,
		.n = n,
		.npr = n / 10 > 4 ? n / 10 : 4,
		.nnurse = n / 4 + 8,
		.c = c,
	};
	char path[PATH_MAX + 32];
	int rc;

	memset(c, 0, sizeof(*c));
	g.p = cl_calloc((size_t)n, sizeof(*g.p));
	if (!g.p)
		return cl_error_set(CL_ENOMEM, "no memory for %d patients", n);
	make_patients(&g);
	rc = write_fhir(&g);
	if (rc == CL_OK)
		rc = write_devices(&g);
	if (rc == CL_OK)
		rc = write_staff(&g);
	if (rc == CL_OK)
		rc = write_shifts(&g);
	if (rc == CL_OK)
		rc = write_bookings(&g);
	if (rc == CL_OK)
		rc = write_communications(&g);
	if (rc == CL_OK)
		rc = write_surveys(&g);
	snprintf(path, sizeof(path), "%s/patients.xlsx", out_dir);
	if (rc == CL_OK)
		rc = write_xlsx(path, g.p, n, (time_t)(g.today / 1000000));
	cl_free(g.p);
	return rc;
}
