package columnar

import (
	"fmt"
	"strconv"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/internal/jsontext"
	"github.com/ocsfmap/ocsfmap/engine/plan"
)

// appendValueJSON appends one slot value as JSON. The node's kind decides how
// an Int is written: datetime_t as an RFC 3339 string, booleans as true/false.
func appendValueJSON(dst []byte, kind plan.Kind, v *plan.Value) ([]byte, error) {
	switch v.Kind {
	case plan.Null:
		return append(dst, "null"...), nil
	case plan.String:
		return jsontext.AppendString(dst, v.Str), nil
	case plan.Int:
		switch kind {
		case plan.KindDatetime:
			dst = append(dst, '"')
			dst = time.UnixMilli(v.Int).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
			return append(dst, '"'), nil
		case plan.KindBool:
			return strconv.AppendBool(dst, v.Int != 0), nil
		}
		return strconv.AppendInt(dst, v.Int, 10), nil
	case plan.Float:
		return jsontext.AppendFloat(dst, v.Float), nil
	case plan.Bool:
		return strconv.AppendBool(dst, v.Int != 0), nil
	case plan.List:
		dst = append(dst, '[')
		var err error
		for i := range v.List {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendValueJSON(dst, kind, &v.List[i]); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case plan.JSON:
		return jsontext.AppendValue(dst, v.JSON)
	}
	return dst, fmt.Errorf("unknown value kind %d", v.Kind)
}
