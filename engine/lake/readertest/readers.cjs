// Reads Parquet files with two more readers than pqarrow and DuckDB, for the
// engine/lake tests: arrow-rs (npm parquet-wasm) and polars (npm
// nodejs-polars). Each file is read whole and written back as an Arrow IPC
// stream, which the Go test decodes and compares with pqarrow's reading.
// usage: node readers.cjs MODULES_DIR OUT_DIR < ["a.parquet", ...]
// writes OUT_DIR/<i>.arrow-rs.arrows and OUT_DIR/<i>.polars.arrows.
// MODULES_DIR is where .ci/tools-readers.sh installed the packages.
'use strict';
const path = require('path');
const fs = require('fs');

async function main() {
  const [dir, out] = process.argv.slice(2);
  if (!out) throw new Error('usage: node readers.cjs MODULES_DIR OUT_DIR');
  const mods = path.join(dir, 'node_modules');
  // parquet-wasm's node build is CommonJS in a "type": "module" package,
  // which Node refuses; its ESM build is initialized with the wasm bytes.
  const esm = path.join(mods, 'parquet-wasm', 'esm');
  const wasm = await import(require('url').pathToFileURL(path.join(esm, 'parquet_wasm.js')).href);
  wasm.initSync({ module: fs.readFileSync(path.join(esm, 'parquet_wasm_bg.wasm')) });
  const pl = require(path.join(mods, 'nodejs-polars'));
  const files = JSON.parse(fs.readFileSync(0, 'utf8'));
  files.forEach((file, i) => {
    try {
      const t = wasm.readParquet(new Uint8Array(fs.readFileSync(file)));
      fs.writeFileSync(path.join(out, `${i}.arrow-rs.arrows`), t.intoIPCStream());
    } catch (e) {
      throw new Error(`parquet-wasm (arrow-rs) reading ${file}: ${e.message || e}`);
    }
    try {
      const df = pl.readParquet(file);
      fs.writeFileSync(path.join(out, `${i}.polars.arrows`), df.writeIPCStream());
    } catch (e) {
      throw new Error(`nodejs-polars reading ${file}: ${e.message || e}`);
    }
  });
}

main().catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });
