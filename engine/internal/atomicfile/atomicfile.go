// Package atomicfile writes a file so that a reader, or a crash, sees
// either the old file or the whole new one: the content goes to a temporary
// file beside it, is synced, renamed over the name, and the folder is
// synced so the rename itself survives a power loss.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrExists is returned by Write with NoReplace when path exists.
var ErrExists = errors.New("file exists")

// Options say how Write publishes the file.
type Options struct {
	Perm os.FileMode // the file's mode (0600 when zero)
	// NoReplace fails with ErrExists instead of replacing a file at path,
	// even one that appears while the content is written (a hard link, not
	// a rename, publishes it).
	NoReplace bool
}

// WriteFile writes data to path; see Write.
func WriteFile(path string, data []byte, o Options) error {
	return Write(path, o, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write publishes what content writes as path. On any error the temporary
// file is removed (on a full disk, a half-written copy must not keep holding
// the space) and path is as it was.
func Write(path string, o Options, content func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	perm := o.Perm
	if perm == 0 {
		perm = 0o600
	}
	err = tmp.Chmod(perm)
	if err == nil {
		err = content(tmp)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if o.NoReplace {
		if err = os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
			err = fmt.Errorf("%s: %w", path, ErrExists)
		}
		os.Remove(tmp.Name())
	} else {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir makes the entries of dir (a file created, renamed or removed)
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}
