package exprenv

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

func init() {
	register(Func{
		Name: "tags_kv",
		Doc: `tags_kv(v): tags as a list of "k:v" strings, from a list of strings, a list of {key,value}/{Key,Value}/{name,value} objects, ` +
			`an object {k: v} (sorted by key), or one string "a:b,c:d" (JSON text of the above is decoded first); blanks dropped; nil -> [].`,
		Fn:    fnTagsKV,
		Types: []any{new(func(any) []string)},
	})
}

func fnTagsKV(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, arity("tags_kv", 1, len(args))
	}
	return tagsKV(args[0])
}

// tagsKV never returns a nil slice: an alert without tags maps to an empty
// labels list, the same shape as one with tags.
func tagsKV(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return []string{}, nil
	case []string:
		out := make([]string, 0, len(x))
		for _, s := range x {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	case string:
		return tagsFromString(x)
	}
	// The entries stay on this stack frame for the common few tags.
	var buf [8]tagEntry
	entries, err := addTags(buf[:0], v)
	if err != nil {
		return nil, err
	}
	return joinTags(entries), nil
}

func tagsFromString(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return []string{}, nil
	}
	// Some exports stringify the tags array or object; decode it rather than
	// split JSON on commas. Text that only looks like JSON falls through.
	if s[0] == '[' || s[0] == '{' {
		var decoded any
		if err := json.Unmarshal([]byte(s), &decoded); err == nil {
			if _, isString := decoded.(string); !isString {
				return tagsKV(decoded)
			}
		}
	}
	out := make([]string, 0, strings.Count(s, ",")+1)
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out, nil
}

// tagEntry is a finished tag (pair false) or a key and value still to
// join. Tags are collected first and every "k:v" is written into one shared
// string at the end: one allocation for all pairs instead of one per tag.
type tagEntry struct {
	k, v string
	pair bool
}

func addTags(es []tagEntry, v any) ([]tagEntry, error) {
	switch x := v.(type) {
	case []any:
		var err error
		for _, item := range x {
			if es, err = addTagItem(es, item); err != nil {
				return nil, err
			}
		}
		return es, nil
	case map[string]any:
		return addTagMap(es, x)
	case map[string]string:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			es = addTagPair(es, k, x[k])
		}
		return es, nil
	}
	return addTagItem(es, v)
}

func addTagItem(es []tagEntry, item any) ([]tagEntry, error) {
	switch x := item.(type) {
	case nil:
		return es, nil
	case string:
		if x = strings.TrimSpace(x); x != "" {
			es = append(es, tagEntry{k: x})
		}
		return es, nil
	case map[string]any:
		if k, v, ok := keyValueObject(x); ok {
			vs, _, err := scalarString(v)
			if err != nil {
				return nil, err
			}
			return addTagPair(es, k, vs), nil
		}
		// [{"env": "prod"}, {"team": "x"}]: small objects that are tags.
		return addTagMap(es, x)
	}
	s, _, err := scalarString(item)
	if err != nil {
		return nil, err
	}
	if s = strings.TrimSpace(s); s != "" {
		es = append(es, tagEntry{k: s})
	}
	return es, nil
}

func addTagMap(es []tagEntry, m map[string]any) ([]tagEntry, error) {
	var kb [16]string
	keys := kb[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vs, _, err := scalarString(m[k])
		if err != nil {
			return nil, err
		}
		es = addTagPair(es, k, vs)
	}
	return es, nil
}

// addTagPair records "k:v". A pair without a key is dropped: it cannot be
// told apart from noise. An empty value keeps the colon ("backup:") so that
// tag_key and tag_value read every produced tag the same way.
func addTagPair(es []tagEntry, k, v string) []tagEntry {
	k = strings.TrimSpace(k)
	if k == "" {
		return es
	}
	return append(es, tagEntry{k: k, v: strings.TrimSpace(v), pair: true})
}

func joinTags(es []tagEntry) []string {
	out := make([]string, len(es))
	size := 0
	for _, e := range es {
		if e.pair {
			size += len(e.k) + 1 + len(e.v)
		}
	}
	var b strings.Builder
	b.Grow(size)
	for _, e := range es {
		if e.pair {
			b.WriteString(e.k)
			b.WriteByte(':')
			b.WriteString(e.v)
		}
	}
	joined, off := b.String(), 0
	for i, e := range es {
		if !e.pair {
			out[i] = e.k
			continue
		}
		n := len(e.k) + 1 + len(e.v)
		out[i] = joined[off : off+n]
		off += n
	}
	return out
}

// keyValueObject recognises the tag object shapes of AWS ({Key, Value}),
// Azure/GCP exports ({key, value}) and label APIs ({name, value}).
func keyValueObject(m map[string]any) (key string, value any, ok bool) {
	for _, kf := range [...]string{"key", "Key", "name", "Name"} {
		k, found := m[kf]
		if !found {
			continue
		}
		ks, isString := k.(string)
		if !isString {
			return "", nil, false
		}
		for _, vf := range [...]string{"value", "Value"} {
			if v, found := m[vf]; found {
				return ks, v, true
			}
		}
		// {"key": "backup"} alone: a tag without a value.
		if len(m) == 1 {
			return ks, nil, true
		}
	}
	return "", nil, false
}
