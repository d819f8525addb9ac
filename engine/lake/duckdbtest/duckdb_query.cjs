// Runs DuckDB queries for the engine/lake interop test.
// usage: node duckdb_query.cjs MODULES_DIR < {"name": "SQL", ...}
// Prints {"name": [row objects as JSON], ...}. MODULES_DIR is where
// .ci/tools-duckdb.sh installed @duckdb/node-api (it has node_modules/).
'use strict';
const path = require('path');
const fs = require('fs');

async function main() {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: node duckdb_query.cjs MODULES_DIR');
  const { DuckDBInstance } = require(path.join(dir, 'node_modules', '@duckdb', 'node-api'));
  const queries = JSON.parse(fs.readFileSync(0, 'utf8'));
  const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await inst.connect();
  const out = {};
  for (const [name, sql] of Object.entries(queries)) {
    try {
      const r = await conn.runAndReadAll(sql);
      out[name] = r.getRowObjectsJson();
    } catch (e) {
      throw new Error(`query ${name}: ${e.message}\n${sql}`);
    }
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });
