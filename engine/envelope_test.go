package engine

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
)

// TestRunEnvelope: a mapping that declares input.records reads the records of
// envelope documents (gzip, one line, as CloudTrail delivers its files), single
// documents beside them, and empty envelopes as nothing; a dead letter names
// the record's line and its index in the envelope.
func TestRunEnvelope(t *testing.T) {
	src, err := os.ReadFile(shipped[0])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Symlink(mustAbs(t, "../mappings/zscaler-dspm/templates"), filepath.Join(dir, "templates"))
	path := filepath.Join(dir, "m.yaml")
	src = bytes.Replace(src, []byte("\nfields:"), []byte("\ninput: {records: [alerts, Alerts]}\nfields:"), 1)
	os.WriteFile(path, src, 0o644)
	m := load(t, path)

	good := corpus(t, 5, 7)
	var doc bytes.Buffer
	doc.WriteString(`{"next_token":"x","alerts":[`)
	doc.Write(bytes.Join([][]byte{good[0], good[1], []byte(`{"alert_id":"no-time"}`), good[2]}, []byte(",")))
	doc.WriteString(`],"count":4}` + "\n")
	doc.WriteString(`{"Alerts":[]}` + "\n")
	doc.Write(good[3]) // a single alert without an envelope
	doc.WriteString("\n" + `{"Alerts":[` + string(good[4]) + "]}\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(doc.Bytes())
	zw.Close()

	sink, dead := &collect{}, &deadCollect{}
	counts, err := m.Run(t.Context(), []Input{bytesInput("page.json.gz", gz.Bytes())}, Options{Sink: sink, DeadLetters: dead, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if counts.Read != 6 || counts.Written != 5 || counts.DeadLettered != 1 {
		t.Fatalf("counts %+v, want 6 read, 5 written, 1 dead letter", counts)
	}
	if len(dead.items) != 1 || dead.items[0].Line != 1 || dead.items[0].Index != 3 || dead.items[0].Raw != `{"alert_id":"no-time"}` {
		t.Fatalf("dead letters %+v, want the third element of line 1's envelope", dead.items)
	}
}
