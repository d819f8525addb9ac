package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestRunDropWhenCountsFiltered: records drop_when leaves out are filtered,
// not dead-lettered, and the counts add up.
func TestRunDropWhenCountsFiltered(t *testing.T) {
	src, err := os.ReadFile(shipped[0])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Symlink(mustAbs(t, "../mappings/zscaler-dspm/templates"), filepath.Join(dir, "templates"))
	path := filepath.Join(dir, "m.yaml")
	os.WriteFile(path, bytes.Replace(src, []byte("\nfields:"), []byte("\ndrop_when: 'alert_id == \"drop-me\"'\nfields:"), 1), 0o644)
	m := load(t, path)
	good := corpus(t, 4, 9)
	data := bytes.Join(append(good, []byte(`{"alert_id": "drop-me"}`), []byte(`{"alert_id": "no-time"}`)), []byte("\n"))
	sink, dead := &collect{}, &deadCollect{}
	counts, err := m.Run(t.Context(), []Input{bytesInput("in.ndjson", data)}, Options{Sink: sink, DeadLetters: dead, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if counts.Read != 6 || counts.Filtered != 1 || counts.Written+counts.DeadLettered != 5 {
		t.Fatalf("counts %+v, want 6 read, 1 filtered, the rest written or dead-lettered", counts)
	}
	for _, d := range dead.items {
		if bytes.Contains([]byte(d.Raw), []byte("drop-me")) {
			t.Fatalf("the dropped record was dead-lettered: %+v", d)
		}
	}
}
