// duck.mjs — runs SQL in an in-memory DuckDB and prints the result as one
// JSON object: {"columns": [{"name", "type"}], "rows": [[...], ...]}.
// Values are DuckDB's JSON forms (BIGINT as a string, TIMESTAMP WITH TIME
// ZONE as "YYYY-MM-DD HH:MM:SS[.ffffff]+00", NULL as null).
//
//   node duck.mjs 'SQL' ['SQL'...]   (the last statement's result is printed)
//   node duck.mjs --timed 'SETUP' 'TIMED'   prints {"ms": ..} for TIMED only
//   node duck.mjs --serve    reads one SQL statement a line, each a JSON
//                            string, and prints one result a line: the
//                            object above, or {"error": "..."}; a fresh
//                            in-memory database for each, so nothing is
//                            cached between them. Ends at end of input.
// An argument @FILE stands for the SQL in FILE (no shell quoting to get right).
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { DuckDBInstance } from '@duckdb/node-api';

async function open() {
	const db = await DuckDBInstance.create(':memory:');
	const con = await db.connect();
	await con.run("SET TimeZone = 'UTC'");
	return con;
}

function asJson(result) {
	const columns = result.columnNames().map((name, c) => ({
		name, type: result.columnType(c).toString() }));
	return JSON.stringify({ columns, rows: result.getRowsJson() });
}

if (process.argv[2] === '--serve') {
	for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
		if (line === '')
			continue;
		let out;
		try {
			const con = await open();
			out = asJson(await con.runAndReadAll(JSON.parse(line)));
			con.closeSync();
		} catch (e) {
			out = JSON.stringify({ error: e.message });
		}
		process.stdout.write(out + '\n');
	}
	process.exit(0);
}

const args = process.argv.slice(2).map((a) => a.startsWith('@') ? readFileSync(a.slice(1), 'utf8') : a);
const timed = args[0] === '--timed';
if (timed)
	args.shift();
if (args.length === 0) {
	process.stderr.write('usage: node duck.mjs [--timed] SQL...\n');
	process.exit(2);
}
const con = await open();
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
			console.log(asJson(result));
		}
	}
} catch (e) {
	process.stderr.write(`duckdb: ${e.message}\n`);
	process.exit(1);
}
