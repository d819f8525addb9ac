// Command alertgen writes realistic Zscaler DSPM cloud alerts as NDJSON to
// stdout, the same bytes for the same flags:
//
//	alertgen -n 1000 -seed 1 [-days 1] [-accounts 200] [-start 2026-11-01] [-ordered]
//
// The corpus in testdata/dspm is made with it (see cmd/alertgen/main_test.go).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/alertgen"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run returns the exit status: 0 success, 1 a write failure, 2 bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("alertgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 1000, "number of alerts")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same alerts")
	days := fs.Int("days", 1, "spread alert times over this many days")
	accounts := fs.Int("accounts", 200, "number of cloud accounts (each in 1-3 regions)")
	ordered := fs.Bool("ordered", false, "event times rise through the output, as a live stream sends them (default: random order over the window)")
	start := fs.String("start", alertgen.DefaultStart.Format("2006-01-02"), "first day of the time window, YYYY-MM-DD or RFC 3339")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "alertgen: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *n < 0 || *days < 1 || *accounts < 1 {
		fmt.Fprintln(stderr, "alertgen: -n must be >= 0, -days and -accounts >= 1")
		return 2
	}
	t0, err := parseStart(*start)
	if err != nil {
		fmt.Fprintf(stderr, "alertgen: -start: %v\n", err)
		return 2
	}
	opts := alertgen.Options{Accounts: *accounts, Days: *days, Start: t0}
	if *ordered {
		opts.Ordered = *n
	}
	if err := generate(stdout, *n, *seed, opts); err != nil {
		fmt.Fprintf(stderr, "alertgen: %v\n", err)
		return 1
	}
	return 0
}

func parseStart(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want YYYY-MM-DD or RFC 3339, got %q", s)
	}
	return t.UTC(), nil
}

func generate(w io.Writer, n int, seed uint64, opts alertgen.Options) error {
	g := alertgen.New(seed, opts)
	bw := bufio.NewWriterSize(w, 256<<10)
	var line []byte
	for range n {
		line = g.AppendNDJSON(line[:0])
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("write alerts: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write alerts: %w", err)
	}
	return nil
}
