package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ocsfmap/ocsfmap/engine"
)

// deadLetters keeps the batch's dead letters where OCSFMAP_DEAD_LETTERS
// says: one JSON log line each (CloudWatch Logs keeps them), or one NDJSON
// object per batch under an S3 prefix outside the lake, written with the
// function's own credentials and named from the batch's inputs, so a
// redelivered batch overwrites its dead letters instead of repeating them.
// own are dead letters of the function itself (a body that is not JSON).
func (h *handler) deadLetters(bud budget, b *batch, path string, own []*engine.DeadLetter) error {
	if len(own) > 0 {
		w := &engine.DeadLetterFile{Path: path}
		for _, d := range own {
			if err := w.Write(d); err != nil {
				return err
			}
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if h.cfg.DeadLetters == "log" {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			h.log.Warn("dead letter", "dead_letter", json.RawMessage(sc.Bytes()))
		}
		return sc.Err()
	}
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(h.cfg.DeadLetters, "s3://"), "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	key := prefix + b.batchID() + ".ndjson"
	ctx, cancel := context.WithDeadline(context.Background(), bud.end)
	defer cancel()
	if err := h.objects.Put(ctx, bucket, key, "application/x-ndjson", f); err != nil {
		return fmt.Errorf("dead letters to s3://%s/%s: %w", bucket, key, err)
	}
	h.log.Warn("dead letters kept", "object", "s3://"+bucket+"/"+key)
	return nil
}
