/*
 * The synthetic hospital. See cl_generate.h.
 */
#include "cl_generate.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

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
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static long pick(struct rng *r, long n)
{
	return (long)(next(r) % (uint64_t)n);
}

static double uniform(struct rng *r)
{
	return (double)(next(r) >> 11) / (double)(1ull << 53);
}

static void ts(int64_t us, char *buf)
{
	cl_time_format_rfc3339(us, buf, 40, 0);
}

static FILE *open_out(const char *dir, const char *name)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return fopen(path, "w");
}

struct patient {
	char id[24], family[32], given[32], gender[8], birth[11], city[16], ward[8];
	int marital;
};

/* ---- patients.xlsx ---- */

struct xbuf {
	char *p;
	size_t len, cap;
};

static void xput(struct xbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n >= 0 && b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap ? b->cap * 2 + (size_t)n : 65536 + (size_t)n;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
}

/* Adds a part dated `when` (seconds), so the same content gives the same
 * bytes whenever it is written. */
static int add_part(zip_t *z, const char *name, struct xbuf *b, time_t when)
{
	zip_source_t *s = zip_source_buffer(z, b->p, b->len, 1);
	zip_int64_t i;

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

int cl_generate(const char *out_dir, int n, uint64_t seed, struct cl_generate_counts *c)
{
	struct rng r = { seed * 0x2545f4914f6cdd1dull + 1 };
	char dir[PATH_MAX], path[PATH_MAX + 32], a[40], b[40];
	/* everything counts back from today's midnight (UTC), never from the
	 * clock's second, so a seed gives the same hospital all day long */
	int64_t today = cl_time_now_us() / DAY * DAY;
	int npr = n / 10 > 4 ? n / 10 : 4, nnurse = n / 4 + 8;
	struct patient *p = cl_calloc((size_t)n, sizeof(*p));
	FILE *f;
	int rc;

	memset(c, 0, sizeof(*c));
	if (!p)
		return cl_error_set(CL_ENOMEM, "no memory");
	snprintf(dir, sizeof(dir), "%s/fhir", out_dir);
	rc = cl_fs_mkdirs(dir);
	if (rc) {
		cl_free(p);
		return rc;
	}
	for (int i = 0; i < n; i++) {
		int female = (int)pick(&r, 2);

		snprintf(p[i].id, sizeof(p[i].id), "patient-%04d", i + 1);
		snprintf(p[i].family, sizeof(p[i].family), "%s", families[pick(&r, 12)]);
		snprintf(p[i].given, sizeof(p[i].given), "%s",
			 female ? given_f[pick(&r, 6)] : given_m[pick(&r, 6)]);
		snprintf(p[i].gender, sizeof(p[i].gender), "%s", female ? "female" : "male");
		cl_time_format_day(today - (18 + pick(&r, 75)) * 365 * DAY - pick(&r, 365) * DAY,
				   p[i].birth);
		snprintf(p[i].city, sizeof(p[i].city), "%s", cities[pick(&r, 4)]);
		snprintf(p[i].ward, sizeof(p[i].ward), "%s", wards[i % 4]);
		p[i].marital = (int)pick(&r, 3);
	}
	/* FHIR: practitioners, patients, encounters */
	snprintf(path, sizeof(path), "%s/patients.ndjson", dir);
	f = fopen(path, "w");
	if (!f) {
		cl_free(p);
		return cl_error_set(CL_EIO, "cannot write %s", path);
	}
	for (int k = 0; k < npr; k++) {
		fprintf(f, "{\"resourceType\":\"Practitioner\",\"id\":\"practitioner-%04d\",\"name\":"
			   "[{\"family\":\"%s\",\"given\":[\"%s\"]}],\"gender\":\"%s\"}\n", k + 1,
			families[pick(&r, 12)], k % 2 ? given_f[pick(&r, 6)] : given_m[pick(&r, 6)],
			k % 2 ? "female" : "male");
		c->practitioners++;
	}
	for (int i = 0; i < n; i++) {
		static const char *const mar[] = { "S", "M", "W" };
		static const char *const mar_text[] = { "single", "married", "widowed" };
		int visits = 1 + (int)pick(&r, 3);

		fprintf(f, "{\"resourceType\":\"Patient\",\"id\":\"%s\",\"name\":[{\"family\":\"%s\","
			   "\"given\":[\"%s\"]}],\"gender\":\"%s\",\"birthDate\":\"%s\",\"maritalStatus\":"
			   "{\"coding\":[{\"code\":\"%s\"}],\"text\":\"%s\"},"
			   "\"address\":[{\"city\":\"%s\",\"country\":\"IE\"}]}\n",
			p[i].id, p[i].family, p[i].given, p[i].gender, p[i].birth, mar[p[i].marital],
			mar_text[p[i].marital], p[i].city);
		c->patients++;
		for (int v = 0; v < visits; v++) {
			int64_t start = today - (1 + pick(&r, 360)) * DAY + (8 + pick(&r, 9)) * HOUR;

			ts(start, a);
			ts(start + HOUR / 2, b);
			fprintf(f, "{\"resourceType\":\"Encounter\",\"id\":\"enc-%s-v%d\",\"status\":"
				   "\"finished\",\"class\":{\"code\":\"AMB\"},\"subject\":{\"reference\":"
				   "\"Patient/%s\"},\"participant\":[{\"individual\":{\"reference\":"
				   "\"Practitioner/practitioner-%04ld\"}}],\"period\":{\"start\":\"%s\","
				   "\"end\":\"%s\"}}\n", p[i].id, v, p[i].id, pick(&r, npr) + 1, a, b);
			c->encounters++;
		}
		if (uniform(&r) < 0.6) {
			/* an admission; some still in bed, some back within 30 days */
			int64_t start = today - pick(&r, 80) * DAY - pick(&r, 24) * HOUR;
			int64_t end = start + (1 + pick(&r, 9)) * DAY + pick(&r, 24) * HOUR;
			int in_bed = end > today;

			ts(start, a);
			ts(end, b);
			fprintf(f, "{\"resourceType\":\"Encounter\",\"id\":\"enc-%s-a1\",\"status\":\"%s\","
				   "\"class\":{\"code\":\"IMP\"},\"subject\":{\"reference\":\"Patient/%s\"},"
				   "\"period\":{\"start\":\"%s\"%s%s%s},\"location\":[{\"location\":"
				   "{\"display\":\"%s\"}}],\"reasonCode\":[{\"coding\":[{\"code\":\"%s\"}],"
				   "\"text\":\"%s\"}]}\n", p[i].id, in_bed ? "in-progress" : "finished",
				p[i].id, a, in_bed ? "" : ",\"end\":\"", in_bed ? "" : b, in_bed ? "" : "\"",
				p[i].ward, i % 2 ? "233604007" : "22298006",
				i % 2 ? "Pneumonia" : "Myocardial infarction");
			c->encounters++;
			c->admissions++;
			if (!in_bed && uniform(&r) < 0.25) {
				int64_t back = end + (2 + pick(&r, 25)) * DAY;

				if (back < today - DAY) {
					ts(back, a);
					ts(back + 2 * DAY, b);
					fprintf(f, "{\"resourceType\":\"Encounter\",\"id\":\"enc-%s-a2\","
						   "\"status\":\"finished\",\"class\":{\"code\":\"IMP\"},"
						   "\"subject\":{\"reference\":\"Patient/%s\"},\"period\":"
						   "{\"start\":\"%s\",\"end\":\"%s\"},\"location\":[{\"location\":"
						   "{\"display\":\"%s\"}}]}\n", p[i].id, p[i].id, a, b,
						p[i].ward);
					c->encounters++;
					c->admissions++;
					c->readmissions++;
				}
			}
		}
	}
	fclose(f);

	/* devices: one monitor per patient, as the simulator names them */
	f = open_out(out_dir, "devices.csv");
	fprintf(f, "device_id,type,ward,bed,patient_id,status\n");
	for (int i = 0; i < n; i++, c->devices++)
		fprintf(f, "monitor-%04d,bedside-monitor,%s,%c-%02d,%s,active\n", i + 1, p[i].ward,
			'A' + i % 4, i / 4 + 1, p[i].id);
	fclose(f);

	/* staff: nurses on every ward, the practitioners as physicians */
	f = open_out(out_dir, "staff.csv");
	fprintf(f, "staff_id,name,role,ward,practitioner_id,fte,start_date\n");
	for (int k = 0; k < nnurse; k++, c->staff++) {
		cl_time_format_day(today - (30 + pick(&r, 3000)) * DAY, a);
		fprintf(f, "nurse-%04d,%s %s,nurse,%s,,%.1f,%s\n", k + 1, given_f[pick(&r, 6)],
			families[pick(&r, 12)], wards[k % 4], uniform(&r) < 0.8 ? 1.0 : 0.5, a);
	}
	for (int k = 0; k < npr; k++, c->staff++)
		fprintf(f, "doctor-%04d,Dr %s,physician,%s,practitioner-%04d,1.0,\n", k + 1,
			families[pick(&r, 12)], wards[k % 4], k + 1);
	fclose(f);

	/* shifts: the last 7 days, two a day per ward; sometimes short */
	f = open_out(out_dir, "shifts.csv");
	fprintf(f, "shift_id,staff_id,ward,role,start,end,required_staff\n");
	for (int d = 7; d >= 1; d--) {
		for (int h = 0; h < 2; h++) {
			for (int w = 0; w < 4; w++) {
				int64_t start = today - d * DAY + (h ? 19 : 7) * HOUR;
				int need = w < 2 ? 4 : 3, have = need - (uniform(&r) < 0.2 ? 1 : 0);

				ts(start, a);
				ts(start + 12 * HOUR, b);
				for (int k = 0; k < have; k++, c->shifts++)
					fprintf(f, "sh-%d-%d-%d-n%d,nurse-%04d,%s,nurse,%s,%s,%d\n", d, h, w, k,
						(int)((w + 4 * (k + h * 4 + d)) % nnurse) + 1, wards[w], a, b,
						need);
				fprintf(f, "sh-%d-%d-%d-d,doctor-%04d,%s,physician,%s,%s,1\n", d, h, w,
					(w % npr) + 1, wards[w], a, b);
				c->shifts++;
			}
		}
	}
	fclose(f);

	/* bookings, communications, surveys */
	f = open_out(out_dir, "bookings.csv");
	fprintf(f, "booking_id,patient_id,practitioner_id,clinic,channel,booked,appointment,status\n");
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < 2; k++, c->bookings++) {
			int64_t appt = today + (pick(&r, 120) - 90) * DAY + (9 + pick(&r, 8)) * HOUR;
			double u = uniform(&r);
			const char *status = appt > today ? "booked"
					     : u < 0.8 ? "attended" : u < 0.92 ? "no_show" : "cancelled";

			ts(appt - (1 + pick(&r, 30)) * DAY, a);
			ts(appt, b);
			fprintf(f, "bk-%04d-%d,%s,practitioner-%04ld,%s,%s,%s,%s,%s\n", i + 1, k, p[i].id,
				pick(&r, npr) + 1, i % 2 ? "Cardiology" : "Respiratory",
				channels[pick(&r, 4)], a, b, status);
		}
	}
	fclose(f);
	f = open_out(out_dir, "communications.csv");
	fprintf(f, "message_id,patient_id,staff_id,channel,direction,ts,duration_s,topic\n");
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < 3; k++, c->communications++) {
			long ch = pick(&r, 4);

			ts(today - pick(&r, 60) * DAY - pick(&r, 86400) * 1000000ll, a);
			fprintf(f, "msg-%04d-%d,%s,nurse-%04ld,%s,%s,%s,%ld,%s\n", i + 1, k, p[i].id,
				pick(&r, nnurse) + 1, channels[ch], pick(&r, 2) ? "inbound" : "outbound",
				a, ch == 0 ? 60 + pick(&r, 600) : 0, topics[pick(&r, 4)]);
		}
	}
	fclose(f);
	f = open_out(out_dir, "surveys.csv");
	fprintf(f, "response_id,patient_id,encounter_id,ts,channel,question,score,comment\n");
	for (int i = 0; i < n; i += 2) {
		ts(today - pick(&r, 60) * DAY, a);
		for (int q = 0; q < 3; q++, c->surveys++)
			fprintf(f, "sv-%04d-%d,%s,,%s,%s,%s,%ld,\n", i + 1, q, p[i].id, a,
				channels[1 + pick(&r, 3)], questions[q], 2 + pick(&r, 4));
	}
	fclose(f);

	snprintf(path, sizeof(path), "%s/patients.xlsx", out_dir);
	rc = write_xlsx(path, p, n, (time_t)(today / 1000000));
	cl_free(p);
	return rc;
}
