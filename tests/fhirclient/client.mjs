// A FHIR app's session against carelake, made by fhir-kit-client (npm), a
// real FHIR R4 client: the CapabilityStatement, read and vread, a search
// paged with the client's own nextPage, a compartment search, instance
// history and $everything paged to the end, a transaction and a batch.
// Each step checks what came
// back; the first wrong answer ends the run with a message and exit code 1.
//   node client.mjs BASE_URL TOKEN PATIENT_ID
import { Client } from 'fhir-kit-client';

const [base, token, patient] = process.argv.slice(2);
const client = new Client({ baseUrl: base, bearerToken: token });

function check(ok, what) {
  if (!ok) {
    console.error(`fhir-kit-client: ${what}`);
    process.exit(1);
  }
}

// every page of a search, through the client's nextPage; ids once each
async function all(first) {
  const seen = new Set();
  let bundle = first, pages = 0;
  const total = first.total;
  while (bundle) {
    pages++;
    for (const e of bundle.entry ?? []) {
      const key = `${e.resource.resourceType}/${e.resource.id}`;
      check(!seen.has(key), `${key} came twice`);
      seen.add(key);
    }
    bundle = (await client.nextPage({ bundle })) ?? null;
  }
  return { seen, total, pages };
}

const cs = await client.capabilityStatement();
check(cs.resourceType === 'CapabilityStatement' && cs.fhirVersion === '4.0.1',
  'no R4 CapabilityStatement');
const pat = cs.rest[0].resource.find((r) => r.type === 'Patient');
check(pat && pat.interaction.some((i) => i.code === 'search-type') &&
  pat.operation.some((o) => o.name === 'everything'), 'Patient search or $everything not listed');

const p = await client.read({ resourceType: 'Patient', id: patient });
check(p.resourceType === 'Patient' && p.id === patient && p.meta.versionId === '1',
  `read Patient/${patient}`);
const v1 = await client.vread({ resourceType: 'Patient', id: patient, version: '1' });
check(v1.id === patient, 'vread');
const h = await client.history({ resourceType: 'Patient', id: patient });
check(h.type === 'history' && h.total === 1, 'history');

const obs = await all(await client.search({
  resourceType: 'Observation', searchParams: { patient: `Patient/${patient}`, _count: '4' } }));
check(obs.seen.size === obs.total && obs.total > 4 && obs.pages === Math.ceil(obs.total / 4),
  `Observation search: ${obs.seen.size} seen of ${obs.total} in ${obs.pages} pages`);
const comp = await all(await client.search({
  resourceType: 'Observation', compartment: { resourceType: 'Patient', id: patient } }));
check(comp.seen.size === obs.total, 'compartment search');

const everything = await all(await client.operation({
  name: 'everything', resourceType: 'Patient', id: patient, method: 'GET',
  input: { _count: '9' } }));
check(everything.seen.size === everything.total && everything.seen.has(`Patient/${patient}`) &&
  [...obs.seen].every((k) => everything.seen.has(k)),
  `$everything: ${everything.seen.size} of ${everything.total}`);

// a resource that is not there: the client sees the 404 and its OperationOutcome
try {
  await client.read({ resourceType: 'Patient', id: 'nobody-here' });
  check(false, 'a missing Patient was read');
} catch (e) {
  check(e.response?.status === 404 && e.response?.data?.resourceType === 'OperationOutcome',
    `a missing Patient: ${e.message}`);
}
// a transaction: a Patient by urn:uuid and an Observation naming it, the
// reference rewritten to the id the server gave
const tx = await client.transaction({ body: {
  resourceType: 'Bundle', type: 'transaction', entry: [
    { fullUrl: 'urn:uuid:5b0c2f2e-0d3e-4f51-9a57-7c1d7b9e0001',
      resource: { resourceType: 'Patient', name: [{ family: 'Kit' }] },
      request: { method: 'POST', url: 'Patient' } },
    { resource: { resourceType: 'Observation', status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: 'urn:uuid:5b0c2f2e-0d3e-4f51-9a57-7c1d7b9e0001' },
      effectiveDateTime: '2026-11-21T10:00:00Z',
      valueQuantity: { value: 64, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' } },
      request: { method: 'POST', url: 'Observation' } }] } });
check(tx.type === 'transaction-response' && tx.entry.length === 2 &&
  tx.entry.every((e) => e.response.status === '201 Created' && e.response.etag === 'W/"1"'),
  `transaction: ${JSON.stringify(tx)}`);
const [newPatient, newObs] = tx.entry.map((e) => e.response.location.split('/')[1]);
const readObs = await client.read({ resourceType: 'Observation', id: newObs });
check(readObs.subject.reference === `Patient/${newPatient}`, 'the transaction\'s reference');
// a batch: one entry written, one refused on its own
const batch = await client.batch({ body: {
  resourceType: 'Bundle', type: 'batch', entry: [
    { resource: { resourceType: 'Practitioner', id: 'kit-dr', name: [{ family: 'Kit' }] },
      request: { method: 'PUT', url: 'Practitioner/kit-dr' } },
    { request: { method: 'DELETE', url: 'Practitioner/nobody-here' } }] } });
check(batch.type === 'batch-response' && batch.entry[0].response.status === '201 Created' &&
  batch.entry[1].response.status === '404 Not Found' &&
  batch.entry[1].response.outcome?.resourceType === 'OperationOutcome',
  `batch: ${JSON.stringify(batch)}`);
check((await client.read({ resourceType: 'Practitioner', id: 'kit-dr' })).id === 'kit-dr',
  'the batch\'s Practitioner');
console.log(JSON.stringify({ observations: obs.total, everything: everything.total }));
