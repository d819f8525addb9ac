// Runs one cmd/bench-compare/*.sql file in DuckDB: the mapping as SQL, from
// NDJSON to a partitioned Parquet lake. Used by compare.sh (make bench-compare).
// usage: node duckdb_copy.cjs MODULES_DIR THREADS SQL_FILE INPUT OUT_DIR
// MODULES_DIR is where .ci/tools-duckdb.sh installed @duckdb/node-api.
'use strict';
const path = require('path');
const fs = require('fs');

async function main() {
  const [dir, threads, sqlFile, input, out] = process.argv.slice(2);
  if (!out) throw new Error('usage: node duckdb_copy.cjs MODULES_DIR THREADS SQL_FILE INPUT OUT_DIR');
  const { DuckDBInstance } = require(path.join(dir, 'node_modules', '@duckdb', 'node-api'));
  const quote = (s) => s.replaceAll("'", "''");
  const sql = fs.readFileSync(sqlFile, 'utf8')
    .replaceAll('${INPUT}', quote(input))
    .replaceAll('${OUT}', quote(out))
    .replaceAll('${ORDER_BY}', process.env.DUCKDB_SORT === '0' ? '' : 'ORDER BY "time"');
  const inst = await DuckDBInstance.create(':memory:', { threads: String(threads) });
  const conn = await inst.connect();
  await conn.run(sql);
  conn.closeSync?.();
}

main().catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });
