package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/filter"
	"github.com/ocsfmap/ocsfmap/engine/integration"
	"github.com/ocsfmap/ocsfmap/engine/lake"
	"github.com/ocsfmap/ocsfmap/engine/store"
)

func init() {
	register(command{name: "run", summary: "map alerts into Parquet in the Security Lake layout (a folder, or S3 with -c)", run: runRun})
}

type runFlags struct {
	mapping, out, integration     string
	source, prefix                string
	regionKey, accountKey         string
	defaultRegion, defaultAccount string
	dead, validation              string
	rollSize, memory              byteSize
	rollAge                       time.Duration
	workers                       int
	strict, quiet                 bool
	cpuProfile, memProfile        string
}

func runRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "(-m MAPPING -o DIR | -c INTEGRATION) [flags] [FILE…|-]", stderr)
	var f runFlags
	fs.StringVar(&f.mapping, "m", "", "mapping file")
	fs.StringVar(&f.mapping, "mapping", "", "mapping file")
	fs.StringVar(&f.out, "o", "", "output folder, laid out like the Security Lake bucket")
	fs.StringVar(&f.integration, "c", "", "integration file: deliver to its Security Lake bucket")
	fs.StringVar(&f.source, "source", "", "custom source name for the default prefix ext/<source>/ (default: the mapping's vendor)")
	fs.StringVar(&f.prefix, "prefix", "", "key prefix instead of ext/<source>/")
	fs.StringVar(&f.regionKey, "region-key", "region", "partition key name for the region")
	fs.StringVar(&f.accountKey, "account-key", "accountId", "partition key name for the account (the vendor page writes accountid)")
	fs.StringVar(&f.defaultRegion, "default-region", "", "region for records without one (empty: dead-letter them)")
	fs.StringVar(&f.defaultAccount, "default-account", "", "account for records without one (empty: dead-letter them)")
	f.rollSize = lake.DefaultRollBytes
	fs.Var(&f.rollSize, "roll-size", "start a new file when a partition's data reaches `SIZE` (bytes, or e.g. 64MiB)")
	fs.DurationVar(&f.rollAge, "roll-age", lake.DefaultRollAge, "start a new file when a partition's oldest row is this old")
	fs.StringVar(&f.dead, "dead-letter", "", "dead-letter file (default: dead-letters.ndjson beside the output)")
	fs.StringVar(&f.validation, "validate", "plan", "plan | full (see ocsfmap map -h)")
	fs.IntVar(&f.workers, "workers", 0, "mapping goroutines (0: one per core)")
	fs.BoolVar(&f.strict, "strict", false, "exit 1 when any record is dead-lettered")
	fs.BoolVar(&f.quiet, "q", false, "no progress output")
	f.memory = engine.DefaultMemory
	fs.Var(&f.memory, "memory", "memory the run aims to stay within, a `SIZE` (e.g. 512MiB, 2GiB): bounds the rows buffered before they spill to disk; an eighth less is the Go runtime's soft limit unless GOMEMLIMIT is set")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	fs.StringVar(&f.memProfile, "memprofile", "", "write an allocation profile of the run to this file at the end (go tool pprof)")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case f.integration != "" && f.out != "":
		return usagef("-o and -c exclude each other: -c delivers to the integration's bucket")
	case f.integration == "" && f.out == "":
		return usagef("give -o DIR (a local lake) or -c INTEGRATION (Security Lake)")
	}
	mode, err := validationMode(f.validation)
	if err != nil {
		return err
	}

	var integ *integration.Integration
	if f.integration != "" {
		if integ, err = loadIntegration(f.integration, stderr); err != nil {
			return err
		}
		if f.mapping == "" {
			f.mapping = integ.Mapping
		}
	}
	m, err := loadMapping(f.mapping, stderr)
	if err != nil {
		return err
	}
	if integ != nil {
		// -m may replace the file's mapping: its classes must still each
		// have their custom source.
		if d := integ.CheckClasses(m.Classes()); d.HasErrors() {
			fmt.Fprint(stderr, d.Render())
			return usageError{fmt.Errorf("%s: %d error(s)", f.integration, countErrors(d))}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A first signal stops reading; what was read is still written and
	// uploaded. A second one stops the uploads too (the files stay staged).
	closeCtx, cancelClose := context.WithCancel(context.Background())
	defer cancelClose()
	go func() {
		<-ctx.Done()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(again)
		select {
		case <-again:
			cancelClose()
		case <-closeCtx.Done():
		}
	}()
	var rules *filter.Filter
	if integ != nil {
		if rules, err = engine.CompileRules(integ); err != nil {
			var rerr *engine.RulesError
			if errors.As(err, &rerr) {
				for i := range rerr.Diags {
					rerr.Diags[i].Source = sourceLineOf(rerr.Diags[i].Pos)
				}
				fmt.Fprint(stderr, rerr.Diags.Render())
			}
			return usageError{err}
		}
	}
	prog := newProgress(stderr, f.quiet)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg := engine.DeliverConfig{
		Integration: integ, Rules: rules,
		RegionKey: f.regionKey, AccountKey: f.accountKey,
		DefaultRegion: f.defaultRegion, DefaultAccount: f.defaultAccount,
		RollBytes: int64(f.rollSize), RollAge: f.rollAge, Memory: int64(f.memory),
		Validation: mode, Workers: f.workers, DeadLetters: f.dead,
		Progress: prog.update,
		Logger:   log,
	}
	var where []string // what the summary says the files are under, per class
	if integ != nil {
		dl, err := integ.Deliverer(ctx, store.DeliverOptions{Logger: log})
		if err != nil {
			return err
		}
		cfg.Destination = engine.IntegrationLake(integ, dl)
		if cfg.DeadLetters == "" {
			cfg.DeadLetters = filepath.Join(integ.StateDir, "dead-letters.ndjson")
		}
		for _, class := range m.Classes() {
			where = append(where, "s3://"+integ.Bucket+"/"+integ.ClassKeyPrefix(class))
		}
	} else {
		prefix := f.prefix
		if prefix == "" && f.source != "" {
			prefix = "ext/" + f.source + "/"
		}
		cfg.Destination = m.LocalLake(f.out, prefix)
		if cfg.DeadLetters == "" {
			cfg.DeadLetters = filepath.Join(f.out, "dead-letters.ndjson")
		}
		for _, class := range m.Classes() {
			where = append(where, filepath.Join(f.out, strings.Trim(cfg.Destination.KeyPrefix(class), "/")))
		}
	}
	setMemoryLimit(int64(f.memory), int64(f.memory)/8)

	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if f.memProfile != "" {
		defer func() {
			if err := writeHeapProfile(f.memProfile); err != nil {
				fmt.Fprintf(stderr, "ocsfmap: memprofile: %v\n", err)
			}
		}()
	}
	start := time.Now()
	batch := engine.Batch{ID: runBatchID(files), Inputs: inputs(files, stdin), ReadCtx: ctx, Stream: readsStdin(files)}
	// A first signal stops reading (ReadCtx); a second stops the uploads too.
	rep, runErr := m.Deliver(closeCtx, batch, cfg)
	stop()
	var oerr *engine.OptionsError
	if errors.As(runErr, &oerr) {
		return usageError{runErr}
	}
	counts := rep.Counts
	prog.done()
	fmt.Fprintln(stderr, summary(counts, time.Since(start), rep.DeadLetters))
	var bytes, uploaded, upBytes int64
	for _, fo := range rep.Files {
		bytes += fo.Bytes
		if fo.Err == nil {
			uploaded++
			upBytes += fo.Bytes
		}
	}
	fmt.Fprintf(stderr, "files %d, %s, %d partitions under %s\n", len(rep.Files), humanBytes(bytes), rep.Partitions, strings.Join(where, " and "))
	for rule, n := range counts.ByRule {
		fmt.Fprintf(stderr, "rule %q exported %d\n", rule, n)
	}
	for rule, e := range counts.ByScopeError {
		first, _, _ := strings.Cut(e.First, "\n")
		fmt.Fprintf(stderr, "rule %q: scope failed for %d alerts (first at %s:%d: %s)\n", rule, e.N, e.Input, e.Line, first)
	}
	if integ != nil {
		fmt.Fprintf(stderr, "delivered %d objects, %s to %s", uploaded, humanBytes(upBytes), strings.Join(where, " and "))
		if failed := int64(len(rep.Files)) - uploaded; failed > 0 {
			fmt.Fprintf(stderr, "; %d files failed: run again to deliver them", failed)
		}
		fmt.Fprintln(stderr)
	}
	if runErr != nil {
		return runErr
	}
	if f.strict && counts.DeadLettered > 0 {
		return exitError{1}
	}
	return nil
}

// setMemoryLimit makes the Go runtime's soft limit the memory a command
// aims for less what it holds outside the Go heap, unless GOMEMLIMIT is
// set. Arrow buffers live on the Go heap, so with the default GOGC the heap
// would grow to twice them; the soft limit makes the collector run earlier
// instead. run keeps an eighth outside (the merge reads spilled runs
// through memory maps, whose pages count towards the process but not the
// heap); serve a quarter (an idle serve is ~45 MB of RSS outside the heap:
// with an eighth, 8 accepted 16 MiB alerts peaked 0.3 % over --memory).
func setMemoryLimit(memory, outside int64) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memory - outside)
	}
}

func sourceLineOf(p diag.Pos) string {
	src, err := os.ReadFile(p.File)
	if err != nil {
		return ""
	}
	return diag.SourceLine(src, p.Line)
}

// writeHeapProfile writes the allocation profile (every allocation since
// the start, and what is live) for go tool pprof -sample_index=alloc_space.
func writeHeapProfile(path string) error {
	pf, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(pf, 0); err != nil {
		pf.Close()
		return err
	}
	return pf.Close()
}

// runBatchID names a run's batch after its input files (path, size,
// modification time): running again over the same files, after a crash or
// not, rebuilds the same object keys and overwrites rather than duplicates.
// A run that reads stdin is a batch of its own.
func runBatchID(files []string) string {
	h := sha256.New()
	if readsStdin(files) {
		var r [16]byte
		rand.Read(r[:])
		h.Write(r[:])
	}
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00", f)
		if abs, err := filepath.Abs(f); err == nil {
			fmt.Fprintf(h, "%s\x00", abs)
		}
		if fi, err := os.Stat(f); err == nil {
			fmt.Fprintf(h, "%d\x00%d\x00", fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return fmt.Sprintf("run-%x", h.Sum(nil)[:16])
}

func readsStdin(files []string) bool { return len(files) == 0 || slices.Contains(files, "-") }
