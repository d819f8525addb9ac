package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
)

func init() {
	register(command{name: "map", summary: "map alerts to OCSF JSON lines", run: runMap})
}

// jsonLines is the sink of `ocsfmap map`: one OCSF record per line.
type jsonLines struct{ w *bufio.Writer }

func (j *jsonLines) WantsJSON() bool { return true }

func (j *jsonLines) Write(r *engine.Result) error {
	j.w.Write(r.JSON)
	return j.w.WriteByte('\n')
}

func runMap(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("map", "-m MAPPING [flags] [FILE…|-]", stderr)
	var mapping, out, dead, validation string
	var strict bool
	var workers int
	fs.StringVar(&mapping, "m", "", "mapping file")
	fs.StringVar(&mapping, "mapping", "", "mapping file")
	fs.StringVar(&out, "o", "-", "output file (.gz compresses); - is stdout")
	fs.StringVar(&dead, "dead-letter", "dead-letters.ndjson", "file for records that cannot be mapped (created only when one is)")
	fs.StringVar(&validation, "validate", "plan", "plan: the checks the plan cannot prove at load time; full: also the JSON Schema, per record")
	fs.BoolVar(&strict, "strict", false, "exit 1 when any record is dead-lettered")
	fs.IntVar(&workers, "workers", 0, "mapping goroutines (0: one per core)")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	m, err := loadMapping(mapping, stderr)
	if err != nil {
		return err
	}
	mode, err := validationMode(validation)
	if err != nil {
		return err
	}
	var w io.WriteCloser = nopCloser{stdout}
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		w = gzipIfNamed(out, f)
	}
	sink := &jsonLines{w: bufio.NewWriterSize(w, 1<<16)}
	deadFile, err := engine.NewDeadLetterFile(dead)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	counts, runErr := m.Run(ctx, inputs(files, stdin), engine.Options{Sink: sink, DeadLetters: deadFile, Validation: mode, Workers: workers})
	if err := sink.w.Flush(); err != nil && runErr == nil {
		runErr = err
	}
	if err := w.Close(); err != nil && runErr == nil {
		runErr = err
	}
	deadFile.Close()
	fmt.Fprintln(stderr, summary(counts, time.Since(start), dead))
	if runErr != nil {
		return runErr
	}
	if strict && counts.DeadLettered > 0 {
		return exitError{1}
	}
	return nil
}

func validationMode(s string) (engine.Validation, error) {
	switch s {
	case "plan":
		return engine.ValidatePlan, nil
	case "full":
		return engine.ValidateFull, nil
	}
	return 0, usagef("--validate must be plan or full, not %q", s)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
