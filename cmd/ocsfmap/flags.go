package main

import (
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/diag"
)

// newFlags returns a flag set that prints its usage to stderr.
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ocsfmap %s %s\n\nflags:\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags anywhere among the arguments (ocsfmap map in.json -m x.yaml).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, exitError{0}
			}
			return nil, exitError{2}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// inputs turns file arguments into pipeline inputs; none or "-" is stdin.
func inputs(args []string, stdin io.Reader) []engine.Input {
	if len(args) == 0 {
		args = []string{"-"}
	}
	out := make([]engine.Input, 0, len(args))
	for _, a := range args {
		path := a
		if path == "-" {
			out = append(out, engine.ReaderInput("<stdin>", func() (io.ReadCloser, error) { return io.NopCloser(stdin), nil }))
			continue
		}
		out = append(out, engine.FileInput(path))
	}
	return out
}

var stdin io.Reader = os.Stdin

// loadMapping loads a mapping, printing its diagnostics.
func loadMapping(path string, stderr io.Writer) (*engine.Mapping, error) {
	if path == "" {
		return nil, usagef("-m MAPPING is required")
	}
	m, err := engine.Load(path)
	if err != nil {
		if l, ok := err.(diag.List); ok {
			fmt.Fprint(stderr, l.Render())
			return nil, usageError{fmt.Errorf("%s: %d error(s)", path, countErrors(l))}
		}
		return nil, usageError{err}
	}
	return m, nil
}

func countErrors(l diag.List) int {
	n := 0
	for _, d := range l {
		if d.Severity == diag.Error {
			n++
		}
	}
	return n
}

// summary is the one-line account of a run printed on stderr.
func summary(c engine.Counts, elapsed time.Duration, deadPath string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "read %d, written %d, dead-lettered %d, filtered %d", c.Read, c.Written, c.DeadLettered, c.Filtered)
	if c.ScopeErrors > 0 {
		fmt.Fprintf(&b, ", scope errors %d", c.ScopeErrors)
	}
	if c.ByClass != nil {
		classes := slices.Sorted(maps.Keys(c.ByClass))
		for i, class := range classes {
			classes[i] = fmt.Sprintf("%s %d", class, c.ByClass[class])
		}
		fmt.Fprintf(&b, "; written per class: %s", strings.Join(classes, ", "))
	}
	if c.DeadLettered > 0 {
		parts := []string{}
		for _, code := range c.SortedCodes() {
			parts = append(parts, fmt.Sprintf("%s %d", code, c.ByCode[code]))
		}
		fmt.Fprintf(&b, " (%s; see %s)", strings.Join(parts, ", "), deadPath)
	}
	secs := elapsed.Seconds()
	if secs > 0 {
		fmt.Fprintf(&b, " in %.2fs (%.0f records/s, %.1f MB/s)", secs, float64(c.Read)/secs, float64(c.Bytes)/secs/1e6)
	}
	return b.String()
}

// gzipIfNamed wraps w in gzip when the file name ends in .gz.
func gzipIfNamed(name string, w io.WriteCloser) io.WriteCloser {
	if !strings.HasSuffix(name, ".gz") {
		return w
	}
	return &gzipFile{Writer: gzip.NewWriter(w), f: w}
}

type gzipFile struct {
	*gzip.Writer
	f io.Closer
}

func (g *gzipFile) Close() error {
	if err := g.Writer.Close(); err != nil {
		return err
	}
	return g.f.Close()
}

// byteSize is a flag value in bytes, written with an optional binary unit:
// 268435456, 256MiB, 1GiB (KiB, MiB, GiB; KB, MB, GB read the same).
type byteSize int64

var sizeUnits = []struct {
	suffix string
	shift  uint
}{{"GiB", 30}, {"GB", 30}, {"G", 30}, {"MiB", 20}, {"MB", 20}, {"M", 20}, {"KiB", 10}, {"KB", 10}, {"K", 10}, {"B", 0}}

func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range sizeUnits {
		if strings.HasSuffix(u.suffix, "iB") && n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(s string) error {
	num, shift := strings.TrimSpace(s), uint(0)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, shift = strings.TrimSpace(rest), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64>>shift {
		return fmt.Errorf("%q is not a size (e.g. 512MiB, 2GiB)", s)
	}
	*b = byteSize(n << shift)
	return nil
}
