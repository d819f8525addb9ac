package engine

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A dead-letter file with MaxRaw keeps the start of a long record, cut on
// a character boundary, and says it was cut and how long the record was.
func TestDeadLetterFileMaxRaw(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.ndjson")
	w := &DeadLetterFile{Path: path, MaxRaw: 10}
	for _, raw := range [][]byte{[]byte("short"), []byte("ééééééééé"), {0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}} {
		d := &DeadLetter{Code: "R400", Reason: "test"}
		d.SetRaw(raw)
		if err := w.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	f, _ := os.Open(path)
	defer f.Close()
	var got []DeadLetter
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var d DeadLetter
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		got = append(got, d)
	}
	if len(got) != 3 || got[0].Raw != "short" || got[0].RawTruncated {
		t.Fatalf("short record: %+v", got)
	}
	if got[1].Raw != strings.Repeat("é", 5) || !got[1].RawTruncated || got[1].RawBytes != 18 {
		t.Fatalf("text record: %+v", got[1])
	}
	b, _ := base64.StdEncoding.DecodeString(got[2].RawBase64)
	if len(b) != 10 || b[0] != 0xff || !got[2].RawTruncated || got[2].RawBytes != 12 {
		t.Fatalf("binary record: %+v", got[2])
	}
}
