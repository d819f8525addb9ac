package alertgen

import "github.com/ocsfmap/ocsfmap/engine/internal/jsontext"

// appendValue writes one field value. Alerts are made of what encoding/json
// decodes into, which jsontext writes; anything else is a bug here.
func (g *Generator) appendValue(dst []byte, v any) []byte {
	out, err := jsontext.AppendValue(dst, v)
	if err != nil {
		panic("alertgen: " + err.Error())
	}
	return out
}
