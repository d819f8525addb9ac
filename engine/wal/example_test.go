package wal_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/ocsfmap/ocsfmap/engine/wal"
)

// An ingest handler appends a request's alerts and answers only once Append
// returns; the delivery job reads from its cursor and frees what it
// delivered.
func Example() {
	dir, _ := os.MkdirTemp("", "wal-example")
	defer os.RemoveAll(dir)
	l, err := wal.Open(dir, wal.Options{MaxBytes: 1 << 30})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	if rep := l.Repaired(); rep != nil {
		log.Printf("cut torn tail of %s at %d: %s", rep.Segment, rep.Offset, rep.Reason)
	}

	first, last, err := l.Append(context.Background(), []byte(`{"id":1}`), []byte(`{"id":2}`))
	if err != nil { // wal.ErrFull → 503 Retry-After
		log.Fatal(err)
	}
	fmt.Println("durable:", first, last)

	cursor := l.First()
	cursor, err = l.Read(cursor, func(lsn wal.LSN, rec []byte) error {
		fmt.Printf("%d %s\n", lsn, rec)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Once the files holding records below cursor are confirmed delivered:
	if err := l.TruncateFront(cursor); err != nil {
		log.Fatal(err)
	}
	// Output:
	// durable: 1 2
	// 1 {"id":1}
	// 2 {"id":2}
}
