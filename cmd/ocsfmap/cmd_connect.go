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
	dst, err := store.NewS3(ctx, in.S3Options())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Testing %s → s3://%s/%s (%s)\n", in.Name, in.Bucket, in.KeyPrefix(), in.Region)
	rep, cerr := dst.Connect(ctx, in.KeyPrefix(), *probe)
	for _, s := range rep.Steps {
		fmt.Fprintf(stdout, "  ok  %s\n", s)
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
