package ocsf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// JSONSchema returns the JSON Schema of a class under a profile selection
// (nil: every profile, ocsf-server's default; like its ?profiles=), in the
// format ocsf-server exports: draft-07, additionalProperties false on the
// class and every object, each reachable object once under $defs and reached
// by $ref (recursion included), sorted required lists, and enum/const only
// where the attribute's own type is exactly integer_t or string_t.
// The output is deterministic: cmd/ocsf-schemagen writes it as is.
func (c *Catalog) JSONSchema(class string, profiles []string) ([]byte, error) {
	cl, ok := c.Class(class)
	if !ok {
		return nil, fmt.Errorf("ocsf %s: no class %q", c.Version, class)
	}
	id := "https://schema.ocsf.io/schema/" + c.Version + "/classes/" + cl.Name
	if profiles != nil {
		id += "?profiles=" + strings.Join(NormalizeProfiles(profiles), ",")
	}
	defs := map[string]any{}
	root := c.schemaObject(cl.Caption, cl.Attrs, cl.Constraints, profiles, defs)
	root["$schema"] = "http://json-schema.org/draft-07/schema#"
	root["$id"] = id
	if len(defs) > 0 {
		root["$defs"] = defs
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("ocsf %s: encode schema of %s: %w", c.Version, class, err)
	}
	return buf.Bytes(), nil
}

// NormalizeProfiles sorts and dedupes a profile selection (a new slice,
// never nil), so equal selections compare and cache as equal.
func NormalizeProfiles(profiles []string) []string {
	out := append([]string{}, profiles...)
	sort.Strings(out)
	j := 0
	for i, p := range out {
		if i == 0 || p != out[j-1] {
			out[j] = p
			j++
		}
	}
	return out[:j]
}

// schemaObject encodes one class or object and adds every object it reaches
// to defs (each once, which is what ends recursion). Constraints are encoded
// as ocsf-server's lib/schema/json_schema.ex does: just_one as oneOf of
// {required: [a], not: {required: [the others]}}, at_least_one as anyOf of
// {required: [a]}, and a constrained attribute is left out of required.
func (c *Catalog) schemaObject(caption string, attrs map[string]*Attr, constraints *Constraints, profiles []string, defs map[string]any) map[string]any {
	props := map[string]any{}
	var required []string
	cons := constraintsOf(attrs, constraints, profiles)
	for name, a := range attrs {
		if !applies(a, profiles) {
			continue
		}
		if a.Requirement == Required && !constrained(cons, name) {
			required = append(required, name)
		}
		props[name] = c.schemaAttr(a, profiles, defs)
	}
	out := map[string]any{"type": "object", "properties": props}
	if caption != "" {
		out["title"] = caption
	}
	// An object without properties ("object", the type of unmapped) is open.
	out["additionalProperties"] = len(props) == 0
	if len(required) > 0 {
		sort.Strings(required)
		out["required"] = required
	}
	for _, k := range cons {
		branches := make([]any, len(k.Attrs))
		for i, name := range k.Attrs {
			b := map[string]any{"required": []string{name}}
			if k.Kind == JustOne {
				others := make([]string, 0, len(k.Attrs)-1)
				for _, o := range k.Attrs {
					if o != name {
						others = append(others, o)
					}
				}
				b["not"] = map[string]any{"required": others}
			}
			branches[i] = b
		}
		if k.Kind == JustOne {
			out["oneOf"] = branches
		} else {
			out["anyOf"] = branches
		}
	}
	return out
}

func (c *Catalog) schemaAttr(a *Attr, profiles []string, defs map[string]any) map[string]any {
	var item map[string]any
	switch a.BaseType {
	case ObjectType:
		item = map[string]any{"$ref": "#/$defs/" + a.Object}
		if _, done := defs[a.Object]; !done {
			o, ok := c.Object(a.Object)
			if !ok {
				o = &Object{Name: a.Object}
			}
			defs[a.Object] = nil // placeholder: stops recursion into itself
			defs[a.Object] = c.schemaObject(o.Caption, o.Attrs, o.Constraints, profiles, defs)
		}
	case StringType:
		item = map[string]any{"type": "string"}
		if a.Type == StringType && len(a.StrEnum) > 0 {
			putEnum(item, a.StrEnum)
		}
	case IntegerType, LongType:
		item = map[string]any{"type": "integer"}
		if a.Type == IntegerType && len(a.Enum) > 0 {
			ids := make([]int64, 0, len(a.Enum))
			for id := range a.Enum {
				ids = append(ids, id)
			}
			sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
			putEnum(item, ids)
		}
	case FloatType:
		item = map[string]any{"type": "number"}
	case BooleanType:
		item = map[string]any{"type": "boolean"}
	default: // json_t: any JSON value
		item = map[string]any{}
	}
	if a.IsArray {
		item = map[string]any{"type": "array", "items": item}
	}
	if a.Caption != "" && (a.BaseType != ObjectType || a.IsArray) {
		item["title"] = a.Caption
	}
	return item
}

func putEnum[T any](m map[string]any, values []T) {
	if len(values) == 1 {
		m["const"] = values[0]
	} else {
		m["enum"] = values
	}
}
