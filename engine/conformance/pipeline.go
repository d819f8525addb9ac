package conformance

import (
	"bytes"
	"runtime"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// job is a batch of one file's records (NDJSON lines or a Parquet record
// batch), checked by a worker and reported by the reporting goroutine in
// the order jobs were made, so problems come out in file order whatever
// the number of workers. A job can also carry only file-level problems.
type job struct {
	files int       // 1 on the first job of a file: counts it
	pre   []Problem // file-level problems, reported before the records
	lake  *lakeFile // the lake checks of the file's rows; nil outside a lake
	cols  *columns  // a Parquet file's columns, checked with its first record

	path    string
	lines   [][]byte // NDJSON
	lineNos []int64
	rec     arrow.RecordBatch // Parquet, retained until checked
	row0    int64             // row number before rec's first row

	res  []result
	done chan struct{}
}

type result struct {
	loc   loc
	probs []Problem
	facts recordFacts
}

// The in-flight jobs per worker: what bounds memory (a batch each).
const jobsPerWorker = 3

// start launches the workers and the reporting goroutine of one Check.
func (c *Checker) start() {
	workers := runtime.GOMAXPROCS(0)
	c.work = make(chan *job, workers*jobsPerWorker)
	c.order = make(chan *job, workers*jobsPerWorker)
	c.reported = make(chan struct{})
	c.workers = &sync.WaitGroup{}
	for range workers {
		c.workers.Add(1)
		go func() {
			defer c.workers.Done()
			for j := range c.work {
				c.run(j)
			}
		}()
	}
	go func() {
		defer close(c.reported)
		for j := range c.order {
			<-j.done
			c.report1(j)
		}
	}()
}

// stop waits for every job to be checked and reported.
func (c *Checker) stop() {
	close(c.work)
	close(c.order)
	c.workers.Wait()
	<-c.reported
}

// submit queues a job: in order for reporting, and to a worker when it
// has records.
func (c *Checker) submit(j *job) {
	j.done = make(chan struct{})
	c.order <- j
	if j.lines == nil && j.rec == nil {
		close(j.done)
		return
	}
	c.work <- j
}

// run checks a job's records on a worker.
func (c *Checker) run(j *job) {
	defer close(j.done)
	if j.rec != nil {
		c.runParquet(j)
		j.rec.Release()
		return
	}
	j.res = make([]result, len(j.lines))
	for i, line := range j.lines {
		l := loc{file: j.path, line: j.lineNos[i]}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
		if err != nil {
			j.res[i] = result{loc: l, probs: []Problem{{File: l.file, Line: l.line, Rule: RuleJSON, Message: "not valid JSON: " + err.Error()}}}
			continue
		}
		probs, facts := c.checkRecord(l, doc)
		j.res[i] = result{loc: l, probs: probs, facts: facts}
	}
}

// report1 counts and reports one checked job, on the reporting goroutine.
func (c *Checker) report1(j *job) {
	c.sum.Files += j.files
	for _, p := range j.pre {
		c.emit(p)
	}
	for _, r := range j.res {
		if j.cols != nil && !j.cols.checked && r.facts.class != nil {
			j.cols.checked = true
			for _, p := range unknownColumns(j.path, j.cols.schema, r.facts.cat, r.facts.class) {
				c.emit(p)
			}
		}
		c.sum.Records++
		n := len(r.probs)
		for _, p := range r.probs {
			c.emit(p)
		}
		if j.lake != nil {
			n += c.lakeRow(j.lake, r.loc, r.facts)
		}
		if n > 0 {
			c.sum.Invalid++
		}
	}
}
