package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/exprenv"
)

const vendorTableIntro = `# The vendor's DSPM table and the shipped mappings

The Zscaler DSPM page maps its cloud alert fields to OCSF in one table. Some of its rows are not OCSF
attributes in any version (` + "`activity`, `finding.threat_category`, `finding.theme`, `finding.age`, `cloud.org_name`, `cloud.resource_uid`, `resources.0.clusterName/clusterType/associatedCloud`, `resources.Owner.TypeId`" + `),
some exist only in 1.0.0-rc.2 (` + "`cloud.account_uid`, `cloud.account_name`, `cloud.org_uid`, `resources.0.account_uid`, `resources.0.details`" + `),
and ` + "`metadata.version: 2.2`" + ` is the product's version, not the OCSF version validators need. Written as the
vendor wrote them, these rows are load errors (` + "`ocsfmap vet`" + ` says which and suggests the repair). The
shipped mappings re-home each one and record why, beside the rule (` + "`deviation:`" + `).

Decisions that hold in every mapping:
- ` + "`activity` → `activity_name`" + `, derived from ` + "`activity_id`" + `'s enum; ` + "`resources.Owner.TypeId`" + ` is a typo of
  ` + "`resources[0].owner.type_id`" + `.
- Fields without an OCSF home go under ` + "`unmapped`" + `, or ` + "`resources[0].data`" + ` (json_t) where the version has it.
- ` + "`metadata.version`" + ` is the mapping's OCSF version; the vendor's 2.2 goes to ` + "`metadata.product.version`" + `.
- ` + "`time`" + ` falls back to ` + "`alert_updated_dt`" + `, then ` + "`alert_created_dt`" + `; an alert with no usable time is
  dead-lettered (R403), never stamped with the ingest clock.
- alert_status → activity_id / state_id (status_id in 1.3.0), and risk → severity_id, case-insensitive:
  Open 1/1, Reopened 2/1, In Progress 2/2, Snoozed and Ignored 2/3, Resolved and Closed 3/4 (2 Update
  before 1.1.0, which has no Close), anything else 99/99; Critical 5, High 4, Medium 3, Low 2, Info and
  Informational 1, missing or empty 0, other text 99. For 99 Other the caption is the source's own value.
- The Security Lake partition takes ` + "`region`" + ` from the alert's resource region (` + "`cloud.region`" + `), and the
  account from ` + "`account_id`" + `, as ` + "`external_<id>`" + ` for Azure and GCP (AWS's rule for accounts outside AWS).
- ` + "`attacks.*`" + ` rows are "NA" in the vendor table: no ATT&CK data, so no ` + "`attacks`" + ` (a version alone is an
  invalid attack object in 1.1.0+).

This file's tables are generated from the mappings' ` + "`deviation:`" + ` entries by ` + "`go test ./engine -run TestVendorTableDoc -update`" + `.
`

// TestVendorTableDoc keeps docs/vendor-table.md in step with the mappings'
// recorded deviations.
func TestVendorTableDoc(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(vendorTableIntro)
	for _, path := range shipped {
		m := load(t, path)
		p := m.Plan
		fmt.Fprintf(&b, "\n## %s (OCSF %s, %s, %d)\n\n", filepath.Base(path), p.OCSFVersion, p.Class.Caption, p.Class.UID)
		b.WriteString("| OCSF path | why it departs from the vendor table |\n|---|---|\n")
		for _, d := range p.Deviations() {
			fmt.Fprintf(&b, "| `%s` | %s |\n", d.Path, strings.ReplaceAll(d.Reason, "|", "\\|"))
		}
	}
	doc := "../docs/vendor-table.md"
	if *update {
		if err := os.WriteFile(doc, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(doc)
	if err != nil || !bytes.Equal(want, b.Bytes()) {
		t.Fatalf("%s is out of date with the mappings: go test ./engine -run TestVendorTableDoc -update", doc)
	}
}

// TestMappingFormatDocCoversHelpers keeps the reference listing every helper.
func TestMappingFormatDocCoversHelpers(t *testing.T) {
	doc, err := os.ReadFile("../docs/mapping-format.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range exprenv.Funcs() {
		if !bytes.Contains(doc, []byte("`"+name+"(")) {
			t.Errorf("docs/mapping-format.md does not describe %s()", name)
		}
	}
}
