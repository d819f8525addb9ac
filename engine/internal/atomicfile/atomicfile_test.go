package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := WriteFile(path, []byte("one"), Options{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("two"), Options{Perm: 0o640}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Fatalf("content %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	// A failed write leaves the old file and no temporary one.
	boom := errors.New("disk full")
	if err := Write(path, Options{}, func(w io.Writer) error { w.Write([]byte("thr")); return boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Fatalf("after a failed write: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
	// NoReplace refuses an existing file.
	if err := WriteFile(path, []byte("x"), Options{NoReplace: true}); !errors.Is(err, ErrExists) {
		t.Fatalf("NoReplace over an existing file: %v", err)
	}
	if err := WriteFile(filepath.Join(dir, "new"), []byte("x"), Options{NoReplace: true}); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("entries %v", ents)
	}
}
