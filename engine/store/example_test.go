package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ocsfmap/ocsfmap/engine/store"
)

// A run delivers what the lake writer staged; with an integration file the
// destination is the Security Lake bucket (integ.Deliverer), here a folder.
func ExampleDeliverer() {
	staging, _ := os.MkdirTemp("", "staging")
	out, _ := os.MkdirTemp("", "lake")
	defer os.RemoveAll(staging)
	defer os.RemoveAll(out)
	key := "ext/dspmalerts/region=us-east-2/accountId=123456789012/eventDay=20240105/0190a1b2.parquet"
	p := filepath.Join(staging, filepath.FromSlash(key))
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte("PAR1…PAR1"), 0o644)

	d := store.NewDeliverer(store.NewLocal(out), store.DeliverOptions{KeyPrefix: "ext/dspmalerts/"})
	rep, err := d.Deliver(context.Background(), staging)
	fmt.Println(rep.Objects, rep.Bytes, err)
	_, err = os.Stat(filepath.Join(out, filepath.FromSlash(key)))
	fmt.Println("delivered:", err == nil)
	// Output:
	// 1 11 <nil>
	// delivered: true
}
