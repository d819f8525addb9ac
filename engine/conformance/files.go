package conformance

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Check validates a file or, recursively, every data file in a folder
// (*.parquet, and *.ndjson, *.jsonl, *.json, each optionally .gz), in
// lexical order. Hidden files and folders (a lake writer's spill and
// temporary files) and dead-letters.ndjson are skipped. The error is for a path that cannot be
// opened or walked; problems in the data are reported, not returned.
func (c *Checker) Check(path string) error {
	c.start()
	defer c.stop()
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return c.checkFile(path, true)
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != path && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		// ocsfmap's own dead letters hold inputs that did not become OCSF.
		if !d.IsDir() && dataFile(d.Name()) != "" && d.Name() != "dead-letters.ndjson" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		if err := c.checkFile(f, false); err != nil {
			return err
		}
	}
	return nil
}

// dataFile tells a data file's format by its name: "parquet", "ndjson" or "".
func dataFile(name string) string {
	name = strings.TrimSuffix(strings.ToLower(name), ".gz")
	switch filepath.Ext(name) {
	case ".parquet":
		return "parquet"
	case ".ndjson", ".jsonl", ".json":
		return "ndjson"
	}
	return ""
}

// checkFile checks one file; named says it was named on the command line,
// so a name without a known extension is sniffed rather than skipped.
func (c *Checker) checkFile(path string, named bool) error {
	format := dataFile(filepath.Base(path))
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if format == "" && named {
		var magic [4]byte
		n, _ := io.ReadFull(f, magic[:])
		format = "ndjson"
		if n == 4 && string(magic[:]) == "PAR1" {
			format = "parquet"
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	if format == "parquet" {
		c.checkParquet(path, f)
		return nil
	}
	c.checkNDJSON(path, f)
	return nil
}

// CheckNDJSON checks NDJSON records (plain or gzip) read from r, named
// name in problems: stdin, or any stream.
func (c *Checker) CheckNDJSON(name string, r io.Reader) {
	c.start()
	defer c.stop()
	c.checkNDJSON(name, r)
}

// ndjsonBatch is how many lines a job holds.
const ndjsonBatch = 512

// checkNDJSON checks one record per line (blank lines skipped), reading
// gzip when the data starts with its magic bytes.
func (c *Checker) checkNDJSON(path string, r io.Reader) {
	first := &job{files: 1, path: path}
	br := bufio.NewReaderSize(r, 256<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			first.pre = append(first.pre, Problem{File: path, Rule: RuleRead, Message: "gzip: " + err.Error()})
			c.submit(first)
			return
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 256<<10)
	}
	cur := first
	var line int64
	for {
		chunk, err := br.ReadSlice('\n')
		buf := append([]byte(nil), chunk...)
		for err == bufio.ErrBufferFull {
			chunk, err = br.ReadSlice('\n')
			buf = append(buf, chunk...)
		}
		if len(buf) > 0 {
			line++
			if text := bytes.TrimSpace(buf); len(text) > 0 {
				cur.lines = append(cur.lines, text)
				cur.lineNos = append(cur.lineNos, line)
				if len(cur.lines) == ndjsonBatch {
					c.submit(cur)
					cur = &job{path: path}
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			end := &job{path: path, pre: []Problem{{File: path, Line: line + 1, Rule: RuleRead, Message: fmt.Sprint(err)}}}
			c.submit(cur)
			c.submit(end)
			return
		}
	}
	c.submit(cur)
}
