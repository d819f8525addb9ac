package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/filter"
	"github.com/ocsfmap/ocsfmap/engine/lake"
	"github.com/ocsfmap/ocsfmap/engine/store"
)

func init() {
	register(command{name: "run", summary: "map alerts into Parquet in the Security Lake layout (a folder, or S3 with -c)", run: runRun})
}

// defaultMemory keeps a run within the 300 MB a small container or a
// Lambda-sized host gives it.
const defaultMemory = 256 << 20

// bufferBudget is the lake writer's share of the run's memory: Arrow
// buffers of rows waiting for their file (the sort into a spill run copies
// them once more), besides the mapping workers, the Parquet encoder and
// the collector's headroom.
func bufferBudget(memory int64) int64 { return memory * 3 / 8 }

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
	f.memory = defaultMemory
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

	var integ *store.Integration
	var rules *filter.Filter
	if f.integration != "" {
		if integ, err = loadIntegration(f.integration, stderr); err != nil {
			return err
		}
		if f.mapping == "" {
			f.mapping = integ.Mapping
		}
		if rules, err = compileRules(integ, stderr); err != nil {
			return err
		}
		f.out = integ.StagingDir
		f.prefix = integ.KeyPrefix()
	}
	m, err := loadMapping(f.mapping, stderr)
	if err != nil {
		return err
	}
	if f.source == "" {
		f.source = strings.SplitN(m.Plan.Name, "/", 2)[0]
	}
	if f.dead == "" {
		f.dead = filepath.Join(f.out, "dead-letters.ndjson")
		if integ != nil {
			f.dead = filepath.Join(integ.StateDir, "dead-letters.ndjson")
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, nil))

	var uploader *store.Uploader
	var uploadErr error
	var uploadMu sync.Mutex
	onFile := func(lake.FileInfo) {}
	if integ != nil {
		// A first signal stops reading; what is staged is still uploaded.
		// A second one stops the uploads too (the files stay staged).
		upCtx, cancelUploads := context.WithCancel(context.Background())
		defer cancelUploads()
		go func() {
			<-ctx.Done()
			again := make(chan os.Signal, 1)
			signal.Notify(again, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(again)
			select {
			case <-again:
				cancelUploads()
			case <-upCtx.Done():
			}
		}()
		d, err := integ.Deliverer(upCtx, store.DeliverOptions{Logger: log})
		if err != nil {
			return err
		}
		// Files an earlier run staged go first.
		if uploader, err = d.Start(upCtx, integ.StagingDir, 0); err != nil {
			return err
		}
		onFile = func(fi lake.FileInfo) {
			if err := uploader.Submit(upCtx, fi.Key, fi.Path); err != nil {
				uploadMu.Lock()
				uploadErr = errors.Join(uploadErr, err)
				uploadMu.Unlock()
			}
		}
	}
	region, account := m.Plan.PartitionSlots()
	w, err := lake.New(m.Plan.Root, lake.Options{
		Dir: f.out, Source: f.source, Prefix: f.prefix,
		RegionKey: f.regionKey, AccountKey: f.accountKey,
		RollBytes: int64(f.rollSize), RollAge: f.rollAge,
		TimeSlot: m.Plan.TimeSlot(), RegionSlot: region, AccountSlot: account,
		DefaultRegion: f.defaultRegion, DefaultAccount: f.defaultAccount,
		MaxBuffered: bufferBudget(int64(f.memory)),
		OnFile:      onFile,
	})
	if err != nil {
		return usageError{err}
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// Arrow buffers live on the Go heap, so with the default GOGC the
		// heap would grow to twice them; the soft limit makes the collector
		// run earlier instead.
		// An eighth stays outside it: the merge reads spilled runs through
		// memory maps, and their mapped pages count towards the process's
		// memory but not the Go heap.
		debug.SetMemoryLimit(int64(f.memory) - int64(f.memory)/8)
	}
	// The 5-minute roll must happen on an idle stream too.
	ticker := time.NewTicker(5 * time.Second)
	tickDone := make(chan struct{})
	go func() {
		defer close(tickDone)
		for {
			select {
			case now := <-ticker.C:
				w.Tick(now)
			case <-ctx.Done():
				return
			case <-tickDone:
				return
			}
		}
	}()

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
	deadFile := &engine.DeadLetterFile{Path: f.dead}
	prog := newProgress(stderr, f.quiet)
	start := time.Now()
	counts, runErr := m.Run(ctx, inputs(files, stdin), engine.Options{
		Sink: lakeSink{w}, DeadLetters: deadFile, Filter: rules, Validation: mode, Workers: f.workers,
		Progress: prog.update,
	})
	ticker.Stop()
	stop() // ends the ticker goroutine; the writer still flushes below
	<-tickDone
	// Close writes every buffered partition, even after SIGINT/SIGTERM.
	if err := w.Close(context.Background()); err != nil {
		runErr = errors.Join(runErr, err)
	}
	deadFile.Close()
	prog.done()
	stats := w.Stats()
	fmt.Fprintln(stderr, summary(counts, time.Since(start), f.dead))
	fmt.Fprintf(stderr, "files %d, %s, %d partitions under %s\n", stats.Files, humanBytes(stats.Bytes), stats.Partitions, filepath.Join(f.out, strings.Trim(f.prefixOr(), "/")))
	for rule, n := range counts.ByRule {
		fmt.Fprintf(stderr, "rule %q exported %d\n", rule, n)
	}
	if uploader != nil {
		report, err := uploader.Close()
		uploadErr = errors.Join(uploadErr, err)
		fmt.Fprintf(stderr, "delivered %d objects, %s to s3://%s/%s", report.Objects, humanBytes(report.Bytes), integ.Bucket, integ.KeyPrefix())
		if report.Failed > 0 {
			fmt.Fprintf(stderr, "; %d files failed and stay staged in %s for the next run", report.Failed, integ.StagingDir)
		}
		fmt.Fprintln(stderr)
		runErr = errors.Join(runErr, uploadErr)
	}
	if runErr != nil {
		return runErr
	}
	if f.strict && counts.DeadLettered > 0 {
		return exitError{1}
	}
	return nil
}

func (f *runFlags) prefixOr() string {
	if f.prefix != "" {
		return f.prefix
	}
	return "ext/" + f.source
}

// lakeSink hands mapped records to the lake writer; a record without a
// usable partition value is dead-lettered.
type lakeSink struct{ w *lake.Writer }

func (lakeSink) WantsJSON() bool { return false }

func (s lakeSink) Write(r *engine.Result) error {
	err := s.w.Write(&r.Rec)
	var pe *lake.PartitionError
	if errors.As(err, &pe) {
		return &engine.RecordError{Code: "R405", Msg: pe.Error()}
	}
	return err
}

// compileRules compiles the integration's alert rules. With no rules every
// alert is exported; with rules, only alerts an enabled rule matches.
func compileRules(integ *store.Integration, stderr io.Writer) (*filter.Filter, error) {
	if len(integ.Rules) == 0 {
		return nil, nil
	}
	rules := make([]filter.Rule, len(integ.Rules))
	for i, r := range integ.Rules {
		rules[i] = filter.Rule{Name: r.Name, Enabled: r.Enabled, Scope: r.Scope, Pos: r.ScopePos}
	}
	f, diags := filter.Compile(rules)
	if diags.HasErrors() {
		for i := range diags {
			diags[i].Source = sourceLineOf(diags[i].Pos)
		}
		fmt.Fprint(stderr, diags.Render())
		return nil, usageError{fmt.Errorf("%s: alert rules: %d error(s)", integ.File, countErrors(diags))}
	}
	if f.Rules() == 0 {
		// Every rule disabled: nothing would be exported. Say so loudly.
		return f, usagef("%s: every alert rule is disabled: no alert would be exported", integ.File)
	}
	return f, nil
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
