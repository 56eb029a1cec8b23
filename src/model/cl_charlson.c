/*
 * The Charlson comorbidity categories and their codes. See cl_charlson.h;
 * docs/ml.md shows the same table.
 */
#include "cl_charlson.h"

#include <stddef.h>
#include <string.h>

const struct cl_charlson_category cl_charlson_categories[CL_CHARLSON_CATEGORIES] = {
	[CL_CHARLSON_MI] = { "myocardial infarction", 1,
		{ { "22298006", "Myocardial infarction" },
		  { "401303003", "Acute ST segment elevation myocardial infarction" } },
		{ "I21", "I22", "I25.2" },
		{ { "I21.4", "Non-ST elevation (NSTEMI) myocardial infarction" },
		  { "I25.2", "Old myocardial infarction" } }, -1 },
	[CL_CHARLSON_CHF] = { "congestive heart failure", 1,
		{ { "42343007", "Congestive heart failure" }, { "84114007", "Heart failure" } },
		{ "I09.9", "I11.0", "I13.0", "I13.2", "I25.5", "I42.0", "I42.5-I42.9", "I43", "I50",
		  "P29.0" },
		{ { "I50.9", "Heart failure, unspecified" },
		  { "I50.22", "Chronic systolic (congestive) heart failure" } }, -1 },
	[CL_CHARLSON_PVD] = { "peripheral vascular disease", 1,
		{ { "400047006", "Peripheral vascular disease" },
		  { "233985008", "Abdominal aortic aneurysm" } },
		{ "I70", "I71", "I73.1", "I73.8", "I73.9", "I77.1", "I79.0", "I79.2", "K55.1",
		  "K55.8", "K55.9", "Z95.8", "Z95.9" },
		{ { "I73.9", "Peripheral vascular disease, unspecified" },
		  { "I71.4", "Abdominal aortic aneurysm, without rupture" } }, -1 },
	[CL_CHARLSON_CVD] = { "cerebrovascular disease", 1,
		{ { "230690007", "Cerebrovascular accident" },
		  { "266257000", "Transient ischemic attack" } },
		{ "G45", "G46", "H34.0", "I60-I69" },
		{ { "I63.9", "Cerebral infarction, unspecified" },
		  { "G45.9", "Transient cerebral ischemic attack, unspecified" } }, -1 },
	[CL_CHARLSON_DEMENTIA] = { "dementia", 1,
		{ { "52448006", "Dementia" }, { "26929004", "Alzheimer's disease" } },
		{ "F00-F03", "F05.1", "G30", "G31.1" },
		{ { "F03.90", "Unspecified dementia without behavioral disturbance" },
		  { "G30.9", "Alzheimer's disease, unspecified" } }, -1 },
	[CL_CHARLSON_CPD] = { "chronic pulmonary disease", 1,
		{ { "13645005", "Chronic obstructive lung disease" }, { "195967001", "Asthma" } },
		{ "I27.8", "I27.9", "J40-J47", "J60-J67", "J68.4", "J70.1", "J70.3" },
		{ { "J44.9", "Chronic obstructive pulmonary disease, unspecified" },
		  { "J45.909", "Unspecified asthma, uncomplicated" } }, -1 },
	[CL_CHARLSON_RHEUM] = { "rheumatic disease", 1,
		{ { "69896004", "Rheumatoid arthritis" },
		  { "55464009", "Systemic lupus erythematosus" } },
		{ "M05", "M06", "M31.5", "M32-M34", "M35.1", "M35.3", "M36.0" },
		{ { "M06.9", "Rheumatoid arthritis, unspecified" },
		  { "M32.9", "Systemic lupus erythematosus, unspecified" } }, -1 },
	[CL_CHARLSON_PUD] = { "peptic ulcer disease", 1,
		{ { "13200003", "Peptic ulcer" }, { "397825006", "Gastric ulcer" } },
		{ "K25-K28" },
		{ { "K27.9", "Peptic ulcer, site unspecified, unspecified as acute or chronic, "
			     "without hemorrhage or perforation" },
		  { "K25.9", "Gastric ulcer, unspecified as acute or chronic, without hemorrhage "
			     "or perforation" } }, -1 },
	[CL_CHARLSON_MILD_LIVER] = { "mild liver disease", 1,
		{ { "19943007", "Cirrhosis of liver" }, { "128302006", "Chronic hepatitis C" } },
		{ "B18", "K70.0-K70.3", "K70.9", "K71.3-K71.5", "K71.7", "K73", "K74", "K76.0",
		  "K76.2-K76.4", "K76.8", "K76.9", "Z94.4" },
		{ { "K74.60", "Unspecified cirrhosis of liver" },
		  { "B18.2", "Chronic viral hepatitis C" } }, -1 },
	[CL_CHARLSON_DM] = { "diabetes without chronic complications", 1,
		{ { "44054006", "Diabetes mellitus type 2" },
		  { "46635009", "Diabetes mellitus type 1" } },
		{ "E10.0-E10.1", "E10.6", "E10.8-E10.9", "E11.0-E11.1", "E11.6", "E11.8-E11.9",
		  "E12.0-E12.1", "E12.6", "E12.8-E12.9", "E13.0-E13.1", "E13.6", "E13.8-E13.9",
		  "E14.0-E14.1", "E14.6", "E14.8-E14.9" },
		{ { "E11.9", "Type 2 diabetes mellitus without complications" },
		  { "E10.9", "Type 1 diabetes mellitus without complications" } }, -1 },
	[CL_CHARLSON_DM_COMPL] = { "diabetes with chronic complications", 2,
		{ { "127013003", "Disorder of kidney due to diabetes mellitus" },
		  { "230572002", "Neuropathy due to diabetes mellitus" },
		  { "4855003", "Retinopathy due to diabetes mellitus" } },
		{ "E10.2-E10.5", "E10.7", "E11.2-E11.5", "E11.7", "E12.2-E12.5", "E12.7",
		  "E13.2-E13.5", "E13.7", "E14.2-E14.5", "E14.7" },
		{ { "E11.22", "Type 2 diabetes mellitus with diabetic chronic kidney disease" },
		  { "E11.40", "Type 2 diabetes mellitus with diabetic neuropathy, unspecified" } },
		CL_CHARLSON_DM },
	[CL_CHARLSON_HEMIPLEGIA] = { "hemiplegia or paraplegia", 2,
		{ { "50582007", "Hemiplegia" }, { "60389000", "Paraplegia" } },
		{ "G04.1", "G11.4", "G80.1", "G80.2", "G81", "G82", "G83.0-G83.4", "G83.9" },
		{ { "G81.90", "Hemiplegia, unspecified affecting unspecified side" },
		  { "G82.20", "Paraplegia, unspecified" } }, -1 },
	[CL_CHARLSON_RENAL] = { "renal disease", 2,
		{ { "709044004", "Chronic kidney disease" },
		  { "46177005", "End-stage renal disease" } },
		{ "I12.0", "I13.1", "N03.2-N03.7", "N05.2-N05.7", "N18", "N19", "N25.0",
		  "Z49.0-Z49.2", "Z94.0", "Z99.2" },
		{ { "N18.4", "Chronic kidney disease, stage 4 (severe)" },
		  { "N18.6", "End stage renal disease" } }, -1 },
	[CL_CHARLSON_MALIGNANCY] = { "any malignancy, including lymphoma and leukaemia", 2,
		{ { "363406005", "Malignant neoplasm of colon" },
		  { "254837009", "Malignant neoplasm of breast" },
		  { "363358000", "Malignant tumor of lung" },
		  { "399068003", "Malignant tumor of prostate" } },
		{ "C00-C26", "C30-C34", "C37-C41", "C43", "C45-C58", "C60-C76", "C81-C85", "C88",
		  "C90-C97" },
		{ { "C18.9", "Malignant neoplasm of colon, unspecified" },
		  { "C34.90", "Malignant neoplasm of unspecified part of unspecified bronchus or "
			      "lung" } }, -1 },
	[CL_CHARLSON_SEVERE_LIVER] = { "moderate or severe liver disease", 3,
		{ { "34742003", "Portal hypertension" }, { "28670008", "Esophageal varices" } },
		{ "I85.0", "I85.9", "I86.4", "I98.2", "K70.4", "K71.1", "K72.1", "K72.9", "K76.5",
		  "K76.6", "K76.7" },
		{ { "K76.6", "Portal hypertension" },
		  { "I85.00", "Esophageal varices without bleeding" } }, CL_CHARLSON_MILD_LIVER },
	[CL_CHARLSON_METASTATIC] = { "metastatic solid tumour", 6,
		{ { "128462008", "Secondary malignant neoplastic disease" },
		  { "94222008", "Secondary malignant neoplasm of bone" } },
		{ "C77-C80" },
		{ { "C78.00", "Secondary malignant neoplasm of unspecified lung" },
		  { "C79.51", "Secondary malignant neoplasm of bone" } }, CL_CHARLSON_MALIGNANCY },
	[CL_CHARLSON_HIV] = { "AIDS/HIV", 6,
		{ { "86406008", "Human immunodeficiency virus infection" },
		  { "62479008", "Acquired immune deficiency syndrome" } },
		{ "B20-B22", "B24" },
		{ { "B20", "Human immunodeficiency virus [HIV] disease" } }, -1 },
};

/* code without its dot into out (at most cap - 1 characters). */
static void undotted(const char *code, char *out, size_t cap)
{
	size_t n = 0;

	for (; *code && n + 1 < cap; code++)
		if (*code != '.')
			out[n++] = *code;
	out[n] = '\0';
}

/* 1 when the ICD-10 code (undotted) falls under pattern ("I25.2",
 * "C00-C26"). */
static int icd10_matches(const char *code, const char *pattern)
{
	char lo[16], hi[16];
	const char *dash = strchr(pattern, '-');
	size_t n;

	if (!dash) {
		undotted(pattern, lo, sizeof(lo));
		return strncmp(code, lo, strlen(lo)) == 0;
	}
	n = (size_t)(dash - pattern) < sizeof(lo) ? (size_t)(dash - pattern) : sizeof(lo) - 1;
	memcpy(hi, pattern, n);
	hi[n] = '\0';
	undotted(hi, lo, sizeof(lo));
	undotted(dash + 1, hi, sizeof(hi));
	n = strlen(lo);
	return strlen(code) >= n && strncmp(code, lo, n) >= 0 && strncmp(code, hi, n) <= 0;
}

int cl_charlson_category_of(const char *code)
{
	char u[32];

	if (!code || !*code)
		return -1;
	if (strspn(code, "0123456789") == strlen(code)) {
		for (int k = 0; k < CL_CHARLSON_CATEGORIES; k++) {
			const struct cl_charlson_code *sct = cl_charlson_categories[k].snomed;

			for (int j = 0; j < CL_CHARLSON_CODES_MAX && sct[j].code; j++)
				if (strcmp(code, sct[j].code) == 0)
					return k;
		}
		return -1;
	}
	undotted(code, u, sizeof(u));
	for (int k = 0; k < CL_CHARLSON_CATEGORIES; k++) {
		const char *const *prefixes = cl_charlson_categories[k].icd10;

		for (int j = 0; j < CL_CHARLSON_PREFIXES_MAX && prefixes[j]; j++)
			if (icd10_matches(u, prefixes[j]))
				return k;
	}
	return -1;
}

int cl_charlson_index(uint32_t categories)
{
	int sum = 0;

	for (int k = 0; k < CL_CHARLSON_CATEGORIES; k++)
		if (categories & (1u << k) && cl_charlson_categories[k].supersedes >= 0)
			categories &= ~(1u << cl_charlson_categories[k].supersedes);
	for (int k = 0; k < CL_CHARLSON_CATEGORIES; k++)
		if (categories & (1u << k))
			sum += cl_charlson_categories[k].weight;
	return sum;
}
