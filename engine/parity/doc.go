// Package parity holds the law that ties `ocsfmap map` to `ocsfmap run`:
// every record `map --validate full` writes is, read back from the lake
// `run` writes (with pqarrow and with DuckDB), the same record once nulls
// are dropped, and valid against the full JSON Schema of its OCSF version.
// Analysts test with `map` and ship with `run`; the two must agree.
//
// The package is its tests: a property test over every shipped mapping and
// generated, fuzzed alerts (go test), and a fuzz target that runs the same
// law on mutated alerts for as long as asked (go test -fuzz FuzzParity).
package parity
