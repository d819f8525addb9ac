package engine_test

import (
	"fmt"

	"github.com/ocsfmap/ocsfmap/engine"
)

// Load a mapping once, then map alerts with a Mapper per goroutine.
func Example() {
	m, err := engine.Load("../mappings/zscaler-dspm/security_finding_1.1.0.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	mp := m.NewMapper()
	out, violations, err := mp.MapValidated([]byte(`{
		"alert_id": "a-1", "alert_status": "Resolved", "risk": "critical",
		"csp_event_timestamp": 1793528130, "csp": "AWS", "account_id": "123456789012", "region": "us-east-2"}`))
	if err != nil {
		fmt.Println("dead letter:", err)
		return
	}
	fmt.Println(len(violations), "violations")
	fmt.Println(string(out))
	// Output:
	// 0 violations
	// {"activity_id":3,"activity_name":"Close","category_name":"Findings","category_uid":2,"class_name":"Security Finding","class_uid":2001,"cloud":{"account":{"uid":"123456789012"},"provider":"AWS","region":"us-east-2"},"finding":{"desc":"DSPM alert (critical risk) on resource in AWS account 123456789012.","title":"DSPM alert","uid":"a-1"},"metadata":{"product":{"name":"dspm","vendor_name":"zscaler","version":"2.2"},"profiles":["cloud","datetime"],"version":"1.1.0"},"resources":[{"data":{"account_uid":"123456789012","details":"Resource unknown (unknown type) in AWS account 123456789012, region us-east-2. Owner: unknown (unknown type, via unknown source)."},"name":"","owner":{"name":"","type_id":0}}],"severity":"Critical","severity_id":5,"state":"Resolved","state_id":4,"status":"Resolved","time":1793528130000,"time_dt":"2026-11-01T10:15:30.000Z","type_name":"Security Finding: Close","type_uid":200103}
}
