package service

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	integfile "github.com/ocsfmap/ocsfmap/engine/integration"
	"github.com/ocsfmap/ocsfmap/engine/internal/atomicfile"
)

// Whose data a folder holds.
//
// An integration's data folder is named after it. An integration deleted
// (its file removed) and a new one made with the same name would find the
// old folder and deliver its undelivered alerts to the new destination.
// The folder records the integration it belongs to by its External ID: the
// console and `ocsfmap integration init` generate one for every new
// integration, and it is the one value of the file that is not fixed by
// hand after a typo (the role ARN, bucket and region are pasted from AWS
// and corrected by a reload). A folder of another is moved aside, whole,
// never delivered by the new one; a reload that changes the External ID is
// refused (Reload).

const identityFile = "identity.json"

// retiredDir holds folders moved aside; '@' is not allowed in an
// integration name, so it cannot be one's data folder.
const retiredDir = "@retired"

type identity struct {
	Name string `json:"name"`
	// ExternalID is the SHA-256 of the External ID (kept out of files and
	// logs but the integration file).
	ExternalID string `json:"external_id_sha256"`
}

func identityOf(integ *integfile.Integration) identity {
	h := sha256.Sum256([]byte(integ.ExternalID))
	return identity{Name: integ.Name, ExternalID: hex.EncodeToString(h[:])}
}

// claimDataDir makes dir (<data>/<name>) integ's data folder. A folder
// recorded for another integration of the same name is moved to
// <data>/@retired/<time>/<name>/, where `serve --data <data>/@retired/<time>`
// with the old integration file would deliver what it holds. A folder
// without a record (new, or made by a version that kept none) is taken.
func claimDataDir(dataDir, dir string, integ *integfile.Integration, log *slog.Logger) error {
	if err := mkdirPrivate(dataDir); err != nil {
		return err
	}
	want := identityOf(integ)
	b, err := os.ReadFile(filepath.Join(dir, identityFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		var have identity
		if err := json.Unmarshal(b, &have); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, identityFile), err)
		}
		if have == want {
			return mkdirPrivate(dir)
		}
		aside := filepath.Join(dataDir, retiredDir, time.Now().UTC().Format("20060102T150405.000000000Z"), integ.Name)
		if err := mkdirPrivate(filepath.Dir(aside)); err != nil {
			return err
		}
		if err := os.Rename(dir, aside); err != nil {
			return fmt.Errorf("moving aside the data of an earlier integration named %q: %w", integ.Name, err)
		}
		log.Warn("the data folder belonged to an earlier integration of the same name (another External ID): "+
			"moved aside, whole; what it had not delivered stays there", "moved_to", aside)
	}
	if err := mkdirPrivate(dir); err != nil {
		return err
	}
	return recordIdentity(dir, integ)
}

// recordIdentity records integ as dir's integration.
func recordIdentity(dir string, integ *integfile.Integration) error {
	b, err := json.MarshalIndent(identityOf(integ), "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, identityFile), b, atomicfile.Options{})
}

// errNewExternalID refuses, at a reload, an integration file whose External
// ID changed: it is another custom source, which must not inherit what this
// one accepted.
var errNewExternalID = errors.New("external_id changed: a new External ID is a new integration, which starts afresh: " +
	"restart to apply it (this integration's data folder, with what it has not delivered, is then moved to " + retiredDir + "/ in the data folder)")
