package source_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/ocsfmap/ocsfmap/engine/source"
)

// Read an NDJSON stream and extract the fields a mapping needs; a bad line
// is reported with its input and line and the stream goes on.
func Example() {
	input := `{"alert_id":"a-1","risk":"High","age":3,"tags":["env:prod"],"resource":{"region":"us-east-1"},"noise":{"x":[1,2]}}
{"alert_id":"a-2","risk":
{"alert_id":"a-3","risk":"Low"}
`
	r := source.NewReader("alerts.ndjson", strings.NewReader(input))
	e := source.NewExtractor([]string{"alert_id", "risk", "age", "tags", "resource.region"})
	vals := make([]any, 5)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("input error:", err)
			return
		}
		if err := e.Extract(rec.Raw, vals); err != nil {
			fmt.Println("dead letter:", rec.Locate(err))
			continue
		}
		fmt.Printf("%v\n", vals)
	}
	// Output:
	// [a-1 High 3 [env:prod] us-east-1]
	// dead letter: alerts.ndjson:2: invalid JSON at byte 25: unexpected end of JSON input
	// [a-3 Low <nil> <nil> <nil>]
}
