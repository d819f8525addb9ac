package diag

import (
	"reflect"
	"testing"
)

func TestRender(t *testing.T) {
	d := Diagnostic{Code: "M304", Pos: Pos{File: "m.yaml", Line: 2, Column: 5}, Message: "no attribute \"titel\"",
		Suggest: []string{"title"}, Detail: "see ocsfmap explain", Source: "\t  finding.titel: {from: x}"}
	want := "m.yaml:2:5: error[M304]: no attribute \"titel\" (did you mean \"title\"?)\n" +
		"    2 | \t  finding.titel: {from: x}\n" +
		"      | \t   ^\n" +
		"      = see ocsfmap explain\n"
	if got := d.Render(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"activity_id", "activity_name", "title", "type_id", "cluster_name", "uid"}
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"titel", []string{"title"}},
		{"activity", []string{"activity_id", "activity_name"}},
		{"TypeId", []string{"type_id"}},
		{"clusterName", []string{"cluster_name"}},
		{"zzz", nil},
		{"id", []string{"uid"}},
		{"q", nil}, // too short to be near anything
	} {
		if got := Suggest(tc.in, names); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Suggest(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestSourceLine(t *testing.T) {
	src := []byte("a\r\nbb\n\nccc")
	for n, want := range map[int]string{1: "a", 2: "bb", 3: "", 4: "ccc", 5: ""} {
		if got := SourceLine(src, n); got != want {
			t.Errorf("line %d = %q, want %q", n, got, want)
		}
	}
}
