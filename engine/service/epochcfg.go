package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/internal/atomicfile"
	"github.com/ocsfmap/ocsfmap/engine/store"
	"github.com/ocsfmap/ocsfmap/engine/wal"
)

// The configuration an epoch was cut under.
//
// An epoch's object keys and rows come from its range of the log and from
// the configuration: the prefix, source version and partition rules name
// the files, the mapping and alert rules fill them. Some files of a closing
// epoch may be uploaded when the service stops; the rebuild after a restart
// must make the same files, or those already uploaded stay beside the new
// ones: duplicates. So the closing epoch records, beside the state, the
// integration file's bytes and the mapping file's hash, and is rebuilt with
// them. Where the files go (bucket, region, role) is the current
// configuration's: a bucket fixed by a reload is used by the next upload.

// epochRecord is <data>/<name>/epochs/<from>.json.
type epochRecord struct {
	From          wal.LSN `json:"from"`
	File          string  `json:"integration_file"`
	Integration   string  `json:"integration"` // the file's bytes as loaded
	Mapping       string  `json:"mapping"`
	MappingSHA256 string  `json:"mapping_sha256"`
}

func (in *integration) epochConfigPath(from wal.LSN) string {
	return filepath.Join(in.dir, "epochs", fmt.Sprintf("%020d.json", from))
}

// writeEpochConfig records, durably, the configuration ep was filled under.
func (in *integration) writeEpochConfig(ep epoch) error {
	l := ep.cfg
	b, err := json.MarshalIndent(epochRecord{From: ep.From, File: l.integ.File, Integration: string(l.src),
		Mapping: l.integ.Mapping, MappingSHA256: l.mappingSum}, "", "  ")
	if err != nil {
		return err
	}
	path := in.epochConfigPath(ep.From)
	if err := mkdirPrivate(filepath.Dir(path)); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, atomicfile.Options{})
}

// removeEpochConfig drops the record of a committed epoch.
func (in *integration) removeEpochConfig(ep epoch) {
	if err := os.Remove(in.epochConfigPath(ep.From)); err != nil && !errors.Is(err, os.ErrNotExist) {
		in.log.Warn("cannot remove the configuration of a delivered epoch", "err", err)
	}
}

// closingConfig is the configuration the closing epoch was cut under, once
// it can be loaded as it was. Until then the status is Failed with the
// reason, and it is tried again every 10 s (the mapping may be restored);
// nil when ctx ends first.
func (in *integration) closingConfig(ctx context.Context, ep epoch) *loaded {
	for {
		l, err := in.readEpochConfig(ep)
		if err == nil {
			in.epochErr.Store(nil)
			return l
		}
		msg := err.Error()
		in.epochErr.Store(&msg)
		in.log.Error("cannot rebuild the closing epoch", "err", msg)
		if sleep(ctx, 10*time.Second); ctx.Err() != nil {
			return nil
		}
	}
}

func (in *integration) readEpochConfig(ep epoch) (*loaded, error) {
	path := in.epochConfigPath(ep.From)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		// Cut by a version that recorded none, or removed by the operator
		// to rebuild with the current configuration (docs/serve.md).
		in.log.Warn("the closing epoch has no recorded configuration: it is rebuilt with the current one", "from", ep.From, "to", ep.To)
		return in.cfg.Load(), nil
	}
	if err != nil {
		return nil, err
	}
	var rec epochRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if cur := in.cfg.Load(); bytes.Equal(cur.src, []byte(rec.Integration)) && cur.mappingSum == rec.MappingSHA256 {
		return cur, nil
	}
	l, err := compile(rec.File, []byte(rec.Integration), rec.MappingSHA256)
	if err != nil {
		return nil, fmt.Errorf("log records %d to %d were cut into files under an earlier configuration (%s, mapping %s sha256 %s) "+
			"that no longer loads: %v. Restore that mapping file; or remove %s to rebuild them with the current configuration "+
			"(files already uploaded under other keys would stay: duplicates)",
			ep.From, ep.To, rec.File, rec.Mapping, rec.MappingSHA256, err, path)
	}
	in.setPaths(l)
	if l.integ.Name != in.name {
		return nil, fmt.Errorf("%s: recorded for integration %q, not %q", path, l.integ.Name, in.name)
	}
	in.log.Info("rebuilding the closing epoch with the configuration it was cut under", "from", ep.From, "to", ep.To, "mapping", rec.Mapping)
	return l, nil
}

// uploaderFor returns the uploader for the files of an epoch cut under ec:
// the current one (the bucket, region and role as configured now), unless
// the epoch's files are under other prefixes (a custom source per class)
// than the current configuration's; then one to the current destination
// that takes the epoch's prefixes.
func (in *integration) uploaderFor(ctx context.Context, ec *loaded) (*store.Deliverer, error) {
	cur := in.cfg.Load()
	if cur.dl == nil {
		return nil, errors.New("no uploader: the AWS configuration did not load")
	}
	if slices.Equal(ec.integ.KeyPrefixes(), cur.integ.KeyPrefixes()) {
		return cur.dl, nil
	}
	integ := *ec.integ
	integ.Bucket, integ.Region, integ.RoleARN, integ.ExternalID, integ.PathStyle =
		cur.integ.Bucket, cur.integ.Region, cur.integ.RoleARN, cur.integ.ExternalID, cur.integ.PathStyle
	return in.newUploader(ctx, &integ)
}
