package engine

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/ocsfmap/ocsfmap/engine/integration"
	"github.com/ocsfmap/ocsfmap/engine/store"
)

// LocalLake is a Destination that is a folder laid out like the Security
// Lake bucket. Files are written in place (complete under a hidden name,
// fsynced, then renamed), so staging them elsewhere and moving them would
// only make every partition folder twice; a batch delivered again
// overwrites them by name. A mapping of several classes writes each under
// prefix/<class>/. prefix "" is ext/<the mapping's vendor>/.
func (m *Mapping) LocalLake(dir, prefix string) Destination {
	if prefix == "" {
		prefix = "ext/" + strings.SplitN(m.Plan.Name, "/", 2)[0] + "/"
	}
	return localLake{dir: dir, prefix: prefix, perClass: len(m.Plans) > 1}
}

type localLake struct {
	dir, prefix string
	perClass    bool
}

func (l localLake) KeyPrefix(class string) string {
	if l.perClass {
		return l.prefix + class + "/"
	}
	return l.prefix
}

func (l localLake) Staging(string) string { return l.dir }

// inPlace: Staging is the lake itself, never emptied.
func (localLake) inPlace() bool { return true }

// Put has nothing left to do: the file is in place.
func (localLake) Put(context.Context, string, string) error { return nil }

// IntegrationLake is a Destination that is an integration's Security Lake
// bucket: each class under its custom source's prefix, staged in the
// integration's staging folder, uploaded (with retries) through dl, which
// keeps the assumed role's credentials and the status.
func IntegrationLake(integ *integration.Integration, dl *store.Deliverer) Destination {
	return integrationLake{integ: integ, dl: dl}
}

type integrationLake struct {
	integ *integration.Integration
	dl    *store.Deliverer
}

func (l integrationLake) KeyPrefix(class string) string { return l.integ.ClassKeyPrefix(class) }

func (l integrationLake) Staging(batchID string) string {
	return filepath.Join(l.integ.StagingDir, BatchFolder(batchID))
}

func (l integrationLake) Put(ctx context.Context, key, path string) error {
	return l.dl.Upload(ctx, key, path)
}
