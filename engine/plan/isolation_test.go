package plan

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// isolationFields reads the whole record ($env) beside a named field, the
// repro of issue 19: the environment was filled lazily and reused, so
// record B's raw_data held record A's owner (and ssn, which no rule maps).
const isolationFields = `  raw_data: {expr: 'json($env)'}
  unmapped.owner: {expr: 'owner?.name'}
  unmapped.keys: {template: keys.txt}
  unmapped.flagged: {value: true, when: '$env.flag == true'}
`

var isolationRecords = map[string]string{
	"A": `{"t": 1793528130, "id": "A", "owner": {"name": "alice", "ssn": "111"}, "flag": true}`,
	"B": `{"t": 1793528130, "id": "B", "owner": {"name": "bob", "ssn": "222"}}`,
	"C": `{"t": 1793528130, "id": "C"}`,
}

// checkIsolated checks that one mapped record holds its own input, whole,
// and nothing of another's.
func checkIsolated(m *Mapper, id string) error {
	if _, err := m.Map([]byte(isolationRecords[id])); err != nil {
		return fmt.Errorf("%s: %v", id, err)
	}
	return checkMapped(m, id)
}

// checkMapped checks the record m mapped last, id's, as checkIsolated does.
func checkMapped(m *Mapper, id string) error {
	raw := isolationRecords[id]
	doc := m.Doc()
	var in, got any
	json.Unmarshal([]byte(raw), &in)
	if err := json.Unmarshal([]byte(fmt.Sprint(doc["raw_data"])), &got); err != nil {
		return fmt.Errorf("%s: raw_data %v: %v", id, doc["raw_data"], err)
	}
	if !reflect.DeepEqual(got, in) {
		return fmt.Errorf("%s: raw_data %v, want the record %s", id, doc["raw_data"], raw)
	}
	line := string(m.AppendJSON(nil))
	for other, o := range map[string][]string{"A": {"alice", "111"}, "B": {"bob", "222"}} {
		for _, s := range o {
			if other != id && strings.Contains(line, s) {
				return fmt.Errorf("%s holds %s's %q: %s", id, other, s, line)
			}
		}
	}
	unmapped, _ := doc["unmapped"].(map[string]any)
	if _, flagged := unmapped["flagged"]; flagged != (id == "A") {
		return fmt.Errorf("%s: unmapped.flagged %v: %s", id, flagged, line)
	}
	keys := map[string]string{"A": "flag id owner t", "B": "id owner t", "C": "id t"}[id]
	if unmapped["keys"] != keys {
		return fmt.Errorf("%s: unmapped.keys %q, want %q", id, unmapped["keys"], keys)
	}
	return nil
}

func compileIsolation(t *testing.T) *Plan {
	return compileWithTemplates(t, "", isolationFields, map[string]string{
		"keys.txt": "{{ join(sort(keys($env)), \" \") }}\n",
	})
}

// TestEnvIsTheCurrentRecord maps A, B, C in turn on one Mapper: each
// output's $env is its own record, whole, and holds nothing of the others.
func TestEnvIsTheCurrentRecord(t *testing.T) {
	m := compileIsolation(t).NewMapper()
	for _, id := range []string{"A", "B", "C", "B", "A"} {
		if err := checkIsolated(m, id); err != nil {
			t.Error(err)
		}
	}
}

// TestEnvIsolatedAcrossMappers maps A, B on one goroutine and B, C on
// another, each with its own Mapper of one shared Plan, many times over
// (-race checks they share nothing mutable).
func TestEnvIsolatedAcrossMappers(t *testing.T) {
	p := compileIsolation(t)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, ids := range [][]string{{"A", "B"}, {"B", "C"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := p.NewMapper()
			for i := 0; i < 200; i++ {
				if err := checkIsolated(m, ids[i%2]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
