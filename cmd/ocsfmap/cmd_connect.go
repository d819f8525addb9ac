package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/store"
)

func init() {
	register(command{name: "connect", summary: "test the connection to Amazon Security Lake and update the status", run: runConnect})
}

// runConnect is Test Connection: assume the custom source role with the
// External ID, check the bucket, optionally write and delete a probe object.
func runConnect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("connect", "-c INTEGRATION [--write-probe]", stderr)
	file := fs.String("c", "", "integration `file`")
	probe := fs.Bool("write-probe", false, "also put and delete a small probe object under the prefix")
	timeout := fs.Duration("timeout", time.Minute, "give up after this `long`")
	in, err := parseIntegration(fs, args, file, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	// One check per custom source: each class's goes through its own role.
	var cerr error
	for _, t := range in.Targets() {
		dst, err := store.NewS3(ctx, t.S3)
		if err != nil {
			return err
		}
		what := ""
		if t.Class != "" {
			what = " for " + t.Class
		}
		fmt.Fprintf(stdout, "Testing %s%s → s3://%s/%s (%s)\n", in.Name, what, in.Bucket, t.KeyPrefix, in.Region)
		var rep store.ConnectReport
		rep, cerr = dst.Connect(ctx, t.KeyPrefix, *probe)
		for _, s := range rep.Steps {
			fmt.Fprintf(stdout, "  ok  %s\n", s)
		}
		if cerr != nil {
			break
		}
	}
	if err := store.RecordCheck(in.StateDir, cerr); err != nil {
		fmt.Fprintf(stderr, "ocsfmap connect: %v\n", err)
	}
	if cerr != nil {
		fmt.Fprintf(stdout, "  FAIL %v\n", cerr)
		fmt.Fprintln(stdout, "Connection failed; status is Failed.")
		return exitError{1}
	}
	fmt.Fprintln(stdout, "Connection successful.")
	return nil
}
