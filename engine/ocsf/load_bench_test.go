package ocsf

import "testing"

// BenchmarkParseCatalog measures what loading a version costs the first
// mapping that names it: reading and decoding its embedded catalog.json
// (Load caches the result, so this is paid once per version and process).
func BenchmarkParseCatalog(b *testing.B) {
	for _, v := range []string{"1.1.0", "1.8.0"} {
		b.Run(v, func(b *testing.B) {
			for b.Loop() {
				if _, err := parseEmbedded(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadClassSchema is a first use of one class: load the version,
// then derive the class's JSON Schema (which reads every object the class
// reaches), as validation does.
func BenchmarkLoadClassSchema(b *testing.B) {
	for _, v := range []string{"1.1.0", "1.8.0"} {
		b.Run(v, func(b *testing.B) {
			for b.Loop() {
				c, err := parseEmbedded(v)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.JSONSchema("detection_finding", nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
