// Package schemas holds the generated OCSF artifacts under ocsf/<version>/:
// the catalog (catalog.json, classes/, objects/) and the class JSON Schemas
// (<class>.schema.json). They are written by `make schemas`
// (cmd/ocsf-schemagen) from the OCSF source data in ocsf/source/; never edit
// them by hand.
package schemas

import "embed"

// FS holds the catalogs, all the engine reads at run time, so the binary
// needs nothing outside itself. The class JSON Schemas are derived from the
// catalog when asked for (engine/ocsf's Catalog.JSONSchema) and the OCSF
// source data is read only by the generator: embedding either would only
// add megabytes.
//
//go:embed ocsf/*/catalog.json ocsf/*/classes ocsf/*/objects
var FS embed.FS
