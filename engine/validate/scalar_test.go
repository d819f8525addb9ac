package validate

import (
	"reflect"
	"strings"
	"testing"
)

// TestScalarTypes: the typed values of issue 19 (item 4) are violations of
// keyword ocsf_type at their pointers, in every version that has the
// attributes; valid values are not.
func TestScalarTypes(t *testing.T) {
	bad := `{"src_endpoint": {"ip": "ec2.amazonaws.com", "port": 70000, "mac": "not-a-mac"},
		"actor": {"user": {"email_addr": "nobody"}},
		"http_request": {"url": {"url_string": "not a url"}, "x_forwarded_for": ["10.0.0.1", "proxy"]}}`
	good := `{"src_endpoint": {"ip": "192.168.200.24", "port": 443, "mac": "00:1a:2b:3c:4d:5e"},
		"actor": {"user": {"email_addr": "john_doe@example.com"}},
		"http_request": {"url": {"url_string": "http://www.example.com/x"}, "x_forwarded_for": ["10.0.0.1", "::1"]}}`
	want := []string{
		"/actor/user/email_addr",
		"/http_request/url/url_string",
		"/http_request/x_forwarded_for/1",
		"/src_endpoint/ip",
		"/src_endpoint/mac",
		"/src_endpoint/port",
	}
	for _, version := range []string{"1.1.0", "1.3.0", "1.8.0"} {
		v, err := For(version, "http_activity", nil)
		if err != nil {
			t.Fatal(err)
		}
		typed := func(doc string) (ptrs []string, msgs []string) {
			vs, err := v.ValidateJSON([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			for _, vi := range vs {
				if vi.Keyword == ScalarKeyword {
					ptrs, msgs = append(ptrs, vi.Pointer), append(msgs, vi.Message)
				}
			}
			return ptrs, msgs
		}
		ptrs, msgs := typed(bad)
		if !reflect.DeepEqual(ptrs, want) {
			t.Errorf("%s: ocsf_type violations at %v, want %v (%v)", version, ptrs, want, msgs)
		}
		if len(msgs) > 0 && !strings.Contains(strings.Join(msgs, "\n"), `"ec2.amazonaws.com" is not a valid ip_t`) {
			t.Errorf("%s: messages %v", version, msgs)
		}
		if ptrs, msgs := typed(good); len(ptrs) > 0 {
			t.Errorf("%s: valid values refused: %v %v", version, ptrs, msgs)
		}
	}
	// A value of the wrong JSON type is the type keyword's error only.
	v, _ := For("1.1.0", "http_activity", nil)
	vs, _ := v.ValidateJSON([]byte(`{"src_endpoint": {"ip": 5, "port": "x"}}`))
	for _, vi := range vs {
		if vi.Keyword == ScalarKeyword {
			t.Errorf("wrong JSON type reported as %v", vi)
		}
	}
}
