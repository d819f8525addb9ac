// Package schemas holds the generated OCSF artifacts (catalog.json and the
// class JSON Schemas under ocsf/<version>/), embedded so the binary needs
// nothing outside itself. They are written by `make schemas`
// (cmd/ocsf-schemagen); never edit them by hand.
package schemas

import "embed"

// FS holds ocsf/<version>/catalog.json and ocsf/<version>/<class>.schema.json.
//
//go:embed ocsf
var FS embed.FS
