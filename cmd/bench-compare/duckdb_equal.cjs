// Checks that two Parquet lakes hold the same records, read back with DuckDB:
// the same partitions (region/accountId/eventDay folders), the same files in
// each (the n-th file by name against the n-th), the same rows at the same
// positions in each file, and every column's value equal, nested values
// included. Used by compare.sh (make bench-compare) on ocsfmap's lake and
// DuckDB's: a benchmark of two programs is only fair if they did the same job.
// usage: node duckdb_equal.cjs MODULES_DIR LAKE_A LAKE_B [NAME_A NAME_B]
// Prints what it compared and the first differences; exits 1 on any.
'use strict';
const path = require('path');

// DuckDB's Parquet writer cannot write TIMESTAMP(MILLIS, isAdjustedToUTC):
// TIMESTAMP_MS is written as local time, TIMESTAMPTZ always in microseconds.
// A TIMESTAMPTZ of whole milliseconds is the same instant and reads back as
// the same type, so the unit is the one physical difference let through.
const withoutTimestampUnit = (schema) => schema.replaceAll('TIMESTAMP_MILLIS', 'TIMESTAMP_MICROS');

const partKeys = ['region', 'accountId', 'eventDay'];
const rowKeys = [...partKeys, 'file_no', 'row_no'];
const q = (s) => "'" + s.replaceAll("'", "''") + "'";
const id = (s) => '"' + s.replaceAll('"', '""') + '"';

// leaves lists the paths compared in a column of DuckDB type t: the column
// itself, or for a STRUCT whether it is NULL and then each field's leaves.
function leaves(expr, name, t) {
  const fields = structFields(t);
  if (!fields) return [[name, { kind: 'value', expr: (v) => `${v}.${expr}` }]];
  return [[name + ' (NULL or not)', { kind: 'null', expr: (v) => `${v}.${expr} IS NULL` }],
    ...fields.flatMap(([f, ft]) => leaves(`${expr}[${q(f)}]`, `${name}.${f}`, ft))];
}

// structFields splits 'STRUCT(a T, "b" STRUCT(...), ...)' into [name, type]
// pairs; null for any other type (lists of structs are compared whole).
function structFields(t) {
  if (!t.startsWith('STRUCT(') || !t.endsWith(')')) return null;
  const body = t.slice(7, -1), out = [];
  let depth = 0, quoted = false, start = 0;
  for (let i = 0; i <= body.length; i++) {
    const c = body[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')') depth--;
    if (i === body.length || (!quoted && depth === 0 && c === ',')) {
      const f = body.slice(start, i).trim();
      const m = f.match(/^("(?:[^"]|"")*"|[^ ]+) (.*)$/);
      out.push([m[1].startsWith('"') ? m[1].slice(1, -1).replaceAll('""', '"') : m[1], m[2]]);
      start = i + 1;
    }
  }
  if (depth !== 0) return null;
  return out;
}

async function main() {
  const [dir, lakeA, lakeB, nameA = 'A', nameB = 'B'] = process.argv.slice(2);
  if (!lakeB) throw new Error('usage: node duckdb_equal.cjs MODULES_DIR LAKE_A LAKE_B [NAME_A NAME_B]');
  const { DuckDBInstance } = require(path.join(dir, 'node_modules', '@duckdb', 'node-api'));
  // Every file is read twice or more (schema, metadata, rows): DuckDB's
  // cache of external files would keep all of them in memory.
  const inst = await DuckDBInstance.create(':memory:', { threads: '2', enable_external_file_cache: 'false' });
  const conn = await inst.connect();
  const rows = async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJson();
  const problems = [];
  const lakes = { a: lakeA, b: lakeB }, names = { a: nameA, b: nameB };

  // The files, numbered within their partition in name order: ocsfmap
  // names them by a time-ordered UUID, DuckDB data_0, data_1, ...
  const glob = (v) => q(path.join(lakes[v], '**', '*.parquet'));
  for (const v of ['a', 'b']) {
    await conn.run(`CREATE TEMP TABLE ${v}_files AS SELECT file AS filename, region, "accountId", "eventDay",
        row_number() OVER (PARTITION BY region, "accountId", "eventDay" ORDER BY file) AS file_no
      FROM (SELECT file, regexp_extract(file, '/region=([^/]*)/', 1) AS region, regexp_extract(file, '/accountId=([^/]*)/', 1) AS "accountId",
          regexp_extract(file, '/eventDay=([^/]*)/', 1) AS "eventDay" FROM glob(${glob(v)}))`);
  }
  // Reads the given files of a lake with their partition, file number and
  // row position; an empty list reads none, with the same columns.
  const files = async (v, where) => (await rows(`SELECT filename FROM ${v}_files WHERE ${where} ORDER BY filename`)).map((r) => r.filename);
  const anyFile = {};
  for (const v of ['a', 'b']) {
    anyFile[v] = (await rows(`SELECT min(filename) AS f FROM ${v}_files`))[0].f;
    if (!anyFile[v]) throw new Error(`no Parquet files under ${lakes[v]}`);
  }
  const read = (v, list) => `(SELECT f.file_no, s.file_row_number AS row_no, s.* EXCLUDE (filename, file_row_number)
    FROM read_parquet([${(list.length ? list : [anyFile[v]]).map(q).join(', ')}], hive_partitioning = true, hive_types_autocast = false,
      filename = true, file_row_number = true) s JOIN ${v}_files f USING (filename)${list.length ? '' : ' WHERE false'})`;

  // Columns: names, order and types as DuckDB reads them.
  const cols = {};
  for (const v of ['a', 'b']) {
    cols[v] = (await rows(`DESCRIBE SELECT * EXCLUDE (file_no, row_no) FROM ${read(v, [])}`)).map((r) => [r.column_name, r.column_type]);
  }
  const colText = (c) => c.map(([n, t]) => `${n} ${t}`).join(', ');
  if (colText(cols.a) !== colText(cols.b)) {
    problems.push(`columns differ:\n  ${nameA}: ${colText(cols.a)}\n  ${nameB}: ${colText(cols.b)}`);
  }

  // The Parquet schema of every file (the leaf columns with their physical
  // types, by path), and the layout: files, row groups, codecs.
  const schema = {}, layout = {};
  for (const v of ['a', 'b']) {
    const s = await rows(`SELECT path_in_schema || ' ' || type AS leaf, string_agg(DISTINCT compression, ' ') AS codecs
      FROM parquet_metadata(${glob(v)}) GROUP BY ALL ORDER BY leaf`);
    // Converted types, and whether a timestamp is UTC: DuckDB writes no
    // logical type annotation on strings and integers, which readers take
    // from the converted type alike.
    const t = await rows(`SELECT DISTINCT concat_ws(' ', name, type, repetition_type, converted_type,
        CASE WHEN logical_type LIKE 'TimestampType%' THEN regexp_extract(logical_type, 'isAdjustedToUTC=[01]') END) AS node
      FROM parquet_schema(${glob(v)}) WHERE name NOT IN ('schema', 'duckdb_schema') ORDER BY node`);
    schema[v] = s.map((r) => r.leaf).join('\n') + '\n' + t.map((r) => r.node).join('\n');
    const l = (await rows(`SELECT count(*) AS files, sum(num_row_groups) AS row_groups, sum(num_rows) AS rows,
        (SELECT count(DISTINCT (region, "accountId", "eventDay")) FROM ${v}_files) AS partitions FROM parquet_file_metadata(${glob(v)})`))[0];
    layout[v] = { ...l, codecs: [...new Set(s.map((r) => r.codecs).join(' ').split(' '))].join(',') };
  }
  if (withoutTimestampUnit(schema.a) !== withoutTimestampUnit(schema.b)) {
    const la = new Set(schema.a.split('\n')), lb = new Set(schema.b.split('\n'));
    problems.push(`Parquet schemas differ:\n  only in ${nameA}: ${[...la].filter((x) => !lb.has(x)).join('; ')}\n  only in ${nameB}: ${[...lb].filter((x) => !la.has(x)).join('; ')}`);
  }

  // Rows: matched by partition, file number and row position. Every column
  // is compared with IS DISTINCT FROM (NULL equals NULL, lists element by
  // element); structs field by field, so that a difference is named by its
  // path (finding.desc), and whether the struct itself is NULL. One region
  // at a time: DuckDB keeps a few hundred KB per file read until the query
  // ends, and 30 days are 12,000 files a lake.
  const paths = (v) => new Map(cols[v].filter(([n]) => !partKeys.includes(n)).flatMap(([n, t]) => leaves(id(n), n, t)));
  const pa = paths('a'), pb = paths('b');
  const compared = [...pa.keys()].filter((p) => pb.has(p));
  const diffExpr = (p) => `(${pa.get(p).expr('a')}) IS DISTINCT FROM (${pb.get(p).expr('b')})`;
  const regions = (await rows(`SELECT DISTINCT region FROM (FROM a_files UNION ALL FROM b_files) ORDER BY region`)).map((r) => r.region);
  let d = 'CREATE TEMP TABLE d AS';
  for (const region of regions) {
    const where = `region = ${q(region)}`;
    await conn.run(`${d} SELECT ${rowKeys.map((k) => `coalesce(a.${id(k)}, b.${id(k)}) AS ${id(k)}`).join(', ')},
        a.row_no IS NULL AS only_b, b.row_no IS NULL AS only_a,
        list_filter([${compared.map((p) => `CASE WHEN ${diffExpr(p)} THEN ${q(p)} END`).join(', ')}], x -> x IS NOT NULL) AS cols
      FROM ${read('a', await files('a', where))} a FULL OUTER JOIN ${read('b', await files('b', where))} b USING (${rowKeys.map(id).join(', ')})
      WHERE a.row_no IS NULL OR b.row_no IS NULL OR ${compared.map(diffExpr).join(' OR ')}`);
    d = 'INSERT INTO d';
  }
  const sum = (await rows(`SELECT count_if(only_a) AS only_a, count_if(only_b) AS only_b, count_if(NOT only_a AND NOT only_b) AS rows_differing FROM d`))[0];
  const where = (r) => `region=${r.region}/accountId=${r.accountId}/eventDay=${r.eventDay} file ${r.file_no} row ${r.row_no}`;
  for (const v of ['a', 'b']) {
    const flag = `only_${v}`;
    if (Number(sum[flag]) === 0) continue;
    const first = await rows(`SELECT * FROM d WHERE ${flag} ORDER BY ALL LIMIT 3`);
    problems.push(`${sum[flag]} rows in ${names[v]} have no row at the same partition, file and position in ${names[v === 'a' ? 'b' : 'a']}; first: ${first.map(where).join('; ')}`);
  }
  const perCol = await rows(`SELECT c AS "column", count(*) AS n,
      min({region: region, accountId: "accountId", eventDay: "eventDay", file_no: file_no, row_no: row_no}) AS first
    FROM (SELECT *, unnest(cols) AS c FROM d WHERE NOT only_a AND NOT only_b) GROUP BY c ORDER BY n DESC, c`);
  const shown = 12;
  const show = (x) => { const j = JSON.stringify(x); return j.length > 400 ? `${j.slice(0, 400)}… (${j.length} characters)` : j; };
  for (const p of perCol.slice(0, shown)) {
    const k = p.first;
    const at = `region = ${q(k.region)} AND "accountId" = ${q(k.accountId)} AND "eventDay" = ${q(k.eventDay)} AND file_no = ${k.file_no}`;
    const value = async (v, leaf) => (await rows(`SELECT ${leaf.expr('r')} AS v FROM ${read(v, await files(v, at))} r WHERE row_no = ${k.row_no}`))[0].v;
    problems.push(`${p.column} differs in ${p.n} rows; first at ${where(k)}:\n  ${nameA}: ${show(await value('a', pa.get(p.column)))}\n  ${nameB}: ${show(await value('b', pb.get(p.column)))}`);
  }
  if (perCol.length > shown) problems.push(`and ${perCol.length - shown} more columns differ: ${perCol.slice(shown).map((p) => p.column).join(', ')}`);

  const lay = (v) => `${layout[v].partitions} partitions, ${layout[v].files} files, ${layout[v].row_groups} row groups, ${layout[v].rows} rows, ${layout[v].codecs}`;
  console.log(`${nameA}: ${lay('a')}`);
  console.log(`${nameB}: ${lay('b')}`);
  if (problems.length === 0) {
    console.log(`equal: every partition, file, row position, column (${cols.a.length}) and value${schema.a !== schema.b ? ' (Parquet schemas: timestamps in µs, not ms, which DuckDB cannot write)' : ''}`);
    return;
  }
  console.log(`NOT equal (${sum.rows_differing} rows differ in some column):`);
  for (const p of problems) console.log('- ' + p);
  process.exitCode = 1;
}

main().catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(2); });
