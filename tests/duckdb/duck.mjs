// duck.mjs — runs SQL in an in-memory DuckDB and prints the result as one
// JSON object: {"columns": [{"name", "type"}], "rows": [[...], ...]}.
// Values are DuckDB's JSON forms (BIGINT as a string, TIMESTAMP WITH TIME
// ZONE as "YYYY-MM-DD HH:MM:SS[.ffffff]+00", NULL as null).
//
//   node duck.mjs 'SQL' ['SQL'...]   (the last statement's result is printed)
//   node duck.mjs --timed 'SETUP' 'TIMED'   prints {"ms": ..} for TIMED only
// An argument @FILE stands for the SQL in FILE (no shell quoting to get right).
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const args = process.argv.slice(2).map((a) => a.startsWith('@') ? readFileSync(a.slice(1), 'utf8') : a);
const timed = args[0] === '--timed';
if (timed)
	args.shift();
if (args.length === 0) {
	process.stderr.write('usage: node duck.mjs [--timed] SQL...\n');
	process.exit(2);
}
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
await con.run("SET TimeZone = 'UTC'");
try {
	let result;
	for (let i = 0; i < args.length; i++) {
		const last = i === args.length - 1;
		const t0 = performance.now();
		if (!last) {
			await con.run(args[i]);
			continue;
		}
		result = await con.runAndReadAll(args[i]);
		const ms = performance.now() - t0;
		if (timed) {
			console.log(JSON.stringify({ ms }));
		} else {
			const columns = result.columnNames().map((name, c) => ({
				name, type: result.columnType(c).toString() }));
			console.log(JSON.stringify({ columns, rows: result.getRowsJson() }));
		}
	}
} catch (e) {
	process.stderr.write(`duckdb: ${e.message}\n`);
	process.exit(1);
}
