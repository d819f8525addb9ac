package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ocsfmap/ocsfmap/engine/internal/atomicfile"
)

// Destination is where finished files go. Put stores the file at localPath
// under key (slash-separated, relative) and returns the stored size once the
// destination confirms it; it does not remove localPath. Implementations are
// safe for concurrent use.
type Destination interface {
	Put(ctx context.Context, key, localPath string) (int64, error)
	String() string
}

// Local is a folder laid out like the Security Lake bucket.
type Local struct {
	dir string
}

var _ Destination = (*Local)(nil)

// NewLocal returns the folder dir as a Destination.
func NewLocal(dir string) *Local { return &Local{dir: dir} }

func (l *Local) String() string { return l.dir }

// Put copies the file to dir/key through a temporary name in the target
// folder, synced before the rename, so a reader of the folder never sees a
// partial file and a crash leaves either nothing or the whole file.
func (l *Local) Put(ctx context.Context, key, localPath string) (int64, error) {
	if err := validKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	dst := filepath.Join(l.dir, filepath.FromSlash(key))
	src, err := os.Open(localPath)
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", key, err)
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, fmt.Errorf("copy %s: %w", key, err)
	}
	var n int64
	if err := atomicfile.Write(dst, atomicfile.Options{}, func(w io.Writer) (err error) {
		n, err = io.Copy(w, src)
		return err
	}); err != nil {
		return 0, fmt.Errorf("copy %s: %w", key, err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", key, err)
	}
	if fi.Size() != n {
		return 0, fmt.Errorf("copy %s: %w", key, errSizeMismatch)
	}
	return n, nil
}
