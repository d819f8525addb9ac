// Command ocsfmap-lambda is ocsfmap's delivery job as an AWS Lambda function
// (custom runtime provided.al2023, binary "bootstrap"): SQS messages whose
// bodies are alerts (one JSON alert, NDJSON or a JSON array), and S3
// notifications of alert files dropped in a staging bucket (directly or
// through SQS), are mapped to OCSF and delivered as Parquet under the
// Security Lake keys of the integration packaged with the function.
//
// Configuration, from the environment:
//
//	OCSFMAP_INTEGRATION   the integration file (required); its mapping beside it
//	OCSFMAP_DEAD_LETTERS  "log" (default: one JSON log line per dead letter) or
//	                      s3://bucket/prefix/ (one object per batch, with the
//	                      function's own credentials; outside the lake)
//	OCSFMAP_MEMORY        bytes the delivery aims to stay within (default: half
//	                      the function's memory); suffixes KiB, MiB, GiB
//	OCSFMAP_WORK_DIR      staging, state and dead-letter files (default /tmp/ocsfmap)
//	OCSFMAP_STAGING_BUCKETS the buckets whose S3 notifications name alert files,
//	                      comma-separated; a notification of any other is refused
//	OCSFMAP_MAX_OBJECT    the largest alert file read, stored or decompressed
//	                      (default 512MiB)
//	OCSFMAP_MAX_RECORD    the longest record (a line, an array element) read
//	                      (default 16MiB); a longer one fails its message
//
// and the usual AWS variables (the function's role, AWS_REGION, endpoints).
// The mapping is compiled and the role's credentials cached once per
// container, before the first event; see docs/lambda.md.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	slog.SetDefault(log)
	cfg, err := configFromEnv()
	if err == nil {
		setMemoryLimit(cfg)
		var h *handler
		if h, err = newHandler(context.Background(), cfg, log); err == nil {
			lambda.Start(h.Invoke)
			return
		}
	}
	// An init failure: Lambda reports it and retries the container; SQS
	// keeps the messages.
	log.Error("ocsfmap-lambda cannot start", "err", err)
	os.Exit(1)
}

// config is what the environment says.
type config struct {
	Integration string
	DeadLetters string // "log" or s3://bucket/prefix/
	Memory      int64
	FunctionMB  int64 // AWS_LAMBDA_FUNCTION_MEMORY_SIZE; 0 outside Lambda
	WorkDir     string
	// StagingBuckets are the only buckets objects are read from.
	StagingBuckets       []string
	MaxObject, MaxRecord int64
}

func configFromEnv() (config, error) {
	c := config{
		Integration: os.Getenv("OCSFMAP_INTEGRATION"),
		DeadLetters: os.Getenv("OCSFMAP_DEAD_LETTERS"),
		WorkDir:     os.Getenv("OCSFMAP_WORK_DIR"),
	}
	if c.Integration == "" {
		return c, fmt.Errorf("OCSFMAP_INTEGRATION is not set: the path of the integration file packaged with the function")
	}
	if !filepath.IsAbs(c.Integration) {
		if root := os.Getenv("LAMBDA_TASK_ROOT"); root != "" {
			c.Integration = filepath.Join(root, c.Integration)
		}
	}
	if c.DeadLetters == "" {
		c.DeadLetters = "log"
	}
	if c.DeadLetters != "log" && !strings.HasPrefix(c.DeadLetters, "s3://") {
		return c, fmt.Errorf("OCSFMAP_DEAD_LETTERS %q: \"log\" or s3://bucket/prefix/", c.DeadLetters)
	}
	if c.WorkDir == "" {
		c.WorkDir = filepath.Join(os.TempDir(), "ocsfmap")
	}
	for _, b := range strings.Split(os.Getenv("OCSFMAP_STAGING_BUCKETS"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.StagingBuckets = append(c.StagingBuckets, b)
		}
	}
	c.MaxObject, c.MaxRecord = defaultMaxObject, defaultMaxRecord
	for _, v := range []struct {
		name string
		to   *int64
	}{{"OCSFMAP_MAX_OBJECT", &c.MaxObject}, {"OCSFMAP_MAX_RECORD", &c.MaxRecord}} {
		if s := os.Getenv(v.name); s != "" {
			n, err := parseBytes(s)
			if err != nil {
				return c, fmt.Errorf("%s: %w", v.name, err)
			}
			*v.to = n
		}
	}
	if mb, err := strconv.ParseInt(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 10, 64); err == nil && mb > 0 {
		c.FunctionMB = mb
	}
	if s := os.Getenv("OCSFMAP_MEMORY"); s != "" {
		n, err := parseBytes(s)
		if err != nil {
			return c, fmt.Errorf("OCSFMAP_MEMORY: %w", err)
		}
		c.Memory = n
	} else if c.FunctionMB > 0 {
		// The rest is the event itself (up to 6 MB, decoded twice), the
		// mapping, the Go runtime and the uploads' buffers.
		c.Memory = c.FunctionMB << 20 / 2
	}
	return c, nil
}

// setMemoryLimit makes the function's memory the Go runtime's soft limit
// (less a tenth for what the runtime does not count), unless GOMEMLIMIT
// says otherwise, so the collector works harder instead of the function
// being killed.
func setMemoryLimit(c config) {
	if os.Getenv("GOMEMLIMIT") != "" || c.FunctionMB == 0 {
		return
	}
	debug.SetMemoryLimit(c.FunctionMB << 20 * 9 / 10)
}

func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 256MiB)", s)
	}
	return n * mult, nil
}
