package validate

import (
	"github.com/ocsfmap/ocsfmap/engine/ocsf"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/message"
)

// OCSF's scalar types (ip_t, port_t, mac_t …) constrain values beyond their
// JSON type: dictionary.json gives patterns, ranges and lengths, which
// ocsf-server's JSON Schema export leaves out (every string-derived type is
// just "string"). The generated schema files follow the export; in the
// compiled form only, each attribute of a checked type gets a keyword of
// our own that runs the version's check (engine/ocsf's Scalar), so a
// violation comes with its pointer like any other.

// scalarKeyword holds {"version": "1.1.0", "type": "ip_t"}.
const scalarKeyword = "x-ocsfmap-scalar"

// ScalarKeyword is the Violation.Keyword of a value its OCSF scalar type
// refuses.
const ScalarKeyword = "ocsf_type"

var scalarVocab = vocabulary("urn:ocsfmap:vocab:scalar", compileScalar)

// addScalars marks the typed attributes of a decoded class schema: the
// class's properties and those of each object under $defs, whose names are
// the catalog's.
func addScalars(doc any, cat *ocsf.Catalog, class string) {
	root, _ := doc.(map[string]any)
	mark := func(schema map[string]any, attrs map[string]*ocsf.Attr) {
		props, _ := schema["properties"].(map[string]any)
		for name, p := range props {
			a, ok := attrs[name]
			if !ok || cat.Scalar(a.Type) == nil {
				continue
			}
			prop, _ := p.(map[string]any)
			if items, ok := prop["items"].(map[string]any); ok && a.IsArray {
				prop = items
			}
			if prop != nil {
				prop[scalarKeyword] = map[string]any{"version": cat.Version, "type": a.Type}
			}
		}
	}
	if cl, ok := cat.Class(class); ok {
		mark(root, cl.Attrs)
	}
	defs, _ := root["$defs"].(map[string]any)
	for name, d := range defs {
		if o, ok := cat.Object(name); ok {
			def, _ := d.(map[string]any)
			mark(def, o.Attrs)
		}
	}
}

type scalarCheck struct{ s *ocsf.Scalar }

func compileScalar(_ *jsonschema.CompilerContext, obj map[string]any) (jsonschema.SchemaExt, error) {
	spec, ok := obj[scalarKeyword].(map[string]any)
	if !ok {
		return nil, nil
	}
	version, _ := spec["version"].(string)
	typ, _ := spec["type"].(string)
	cat, err := ocsf.Load(version)
	if err != nil {
		return nil, err
	}
	s := cat.Scalar(typ)
	if s == nil {
		return nil, nil
	}
	return &scalarCheck{s}, nil
}

// Validate checks a value of the right JSON type only: a wrong type is the
// type keyword's error.
func (c *scalarCheck) Validate(ctx *jsonschema.ValidatorContext, v any) {
	msg := ""
	if s, ok := v.(string); ok {
		msg = c.s.CheckString(s)
	} else if n, _, isInt, fits := numberOf(v); isInt && fits {
		msg = c.s.CheckInt(n)
	}
	if msg != "" {
		ctx.AddError(&scalarError{msg})
	}
}

// scalarError is the error kind of a refused value.
type scalarError struct{ msg string }

func (e *scalarError) KeywordPath() []string                   { return []string{ScalarKeyword} }
func (e *scalarError) LocalizedString(*message.Printer) string { return e.msg }
