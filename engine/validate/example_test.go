package validate_test

import (
	"fmt"

	"github.com/ocsfmap/ocsfmap/engine/validate"
)

func ExampleValidator_ValidateJSON() {
	v, err := validate.For("1.1.0", "security_finding", []string{"cloud", "datetime"})
	if err != nil {
		panic(err)
	}
	violations, _ := v.ValidateJSON([]byte(`{"class_uid": 2004, "severity_id": "high", "finding": {"uid": "f-1"}}`))
	for _, x := range violations[:4] {
		fmt.Println(x.Pointer, x.Keyword, x.Message)
	}
	// Output:
	// /activity_id required missing required attribute activity_id
	// /category_uid required missing required attribute category_uid
	// /class_uid const value must be 2001
	// /cloud required missing required attribute cloud
}
