package ocsf_test

import (
	"errors"
	"fmt"

	"github.com/ocsfmap/ocsfmap/engine/ocsf"
)

func ExampleCatalog_Resolve() {
	cat, err := ocsf.Load("1.1.0")
	if err != nil {
		panic(err)
	}
	r, _ := cat.Resolve("security_finding", nil, "resources[0].owner.type_id")
	fmt.Println(r.Path(), r.Attr.Type, r.Attr.Requirement, r.Attr.Enum[2])

	r, _ = cat.Resolve("security_finding", nil, "finding.uid")
	if s, ok := r.Deprecated(); ok {
		fmt.Println(s.Name, "deprecated since", s.Deprecated.Since)
	}

	_, err = cat.Resolve("security_finding", nil, "resources.Owner.TypeId")
	var pe *ocsf.PathError
	if errors.As(err, &pe) {
		fmt.Println(pe.Reason)
	}
	// Output:
	// resources[0].owner.type_id integer_t recommended Admin
	// finding deprecated since 1.0.0
	// resources is an array: needs an index
}
