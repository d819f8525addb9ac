package exprenv

import (
	"strings"
	"testing"
)

func TestTagKeyValue(t *testing.T) {
	tests := []struct {
		in         any
		key, value string
	}{
		{"env:prod", "env", "prod"},
		{" env : prod ", "env", "prod"},
		{"arn:aws:iam::123456789012:role/x", "arn", "aws:iam::123456789012:role/x"},
		{"env=prod", "env", "prod"},
		{"url=http://x", "url=http", "//x"}, // any ':' wins over '='
		{"a=b:c", "a=b", "c"},
		{"backup", "backup", ""},
		{"backup:", "backup", ""},
		{":orphan", "", "orphan"},
		{"", "", ""},
		{nil, "", ""},
		{"所有者:山田", "所有者", "山田"},
		{float64(5), "5", ""},
	}
	for _, tt := range tests {
		k, err1 := fnTagKey(tt.in)
		v, err2 := fnTagValue(tt.in)
		if err1 != nil || err2 != nil || k != tt.key || v != tt.value {
			t.Errorf("tag_key/tag_value(%#v) = %#v, %#v; want %q, %q", tt.in, k, v, tt.key, tt.value)
		}
	}
}

// FuzzTagSplit: key and value never hold the blanks they were trimmed of,
// and for tags tags_kv builds ("k:v" with k free of ':' and '='), the split
// gives k and v back.
func FuzzTagSplit(f *testing.F) {
	f.Add("env", "prod")
	f.Add("url", "http://x=y")
	f.Add(" 所有者 ", "山田")
	f.Fuzz(func(t *testing.T, k, v string) {
		tag := k + ":" + v
		gk, _ := fnTagKey(tag)
		gv, _ := fnTagValue(tag)
		if s := gk.(string); s != strings.TrimSpace(s) {
			t.Fatalf("tag_key(%q) = %q not trimmed", tag, s)
		}
		if strings.ContainsAny(k, ":") {
			return
		}
		if gk != strings.TrimSpace(k) || gv != strings.TrimSpace(v) {
			t.Fatalf("split(%q) = %q, %q; want %q, %q", tag, gk, gv, strings.TrimSpace(k), strings.TrimSpace(v))
		}
	})
}
