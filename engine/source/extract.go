package source

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/ocsfmap/ocsfmap/engine/internal/jsontext"
)

// NumberMode selects how Extract represents JSON numbers.
type NumberMode uint8

const (
	// Float64 decodes every number to float64, exactly like encoding/json
	// into map[string]any: integers beyond ±2^53 lose precision, and a number
	// beyond the float64 range makes the record invalid.
	Float64 NumberMode = iota
	// Lossless decodes a number to float64 when that is exact for an integer
	// literal (|n| ≤ 2^53) or the literal has a fraction or exponent and fits
	// float64; otherwise (a 64-bit ID like 1234567890123456789, or 1e400) it is
	// returned as a json.Number holding the literal. Callers must handle both.
	Lossless
	// Number returns every number as a json.Number holding the literal, like
	// encoding/json's Decoder.UseNumber.
	Number
)

// maxDepth matches encoding/json's nesting limit so both accept the same input.
const maxDepth = 10000

// An Extractor decodes selected fields of JSON object records. Build it once
// per mapping with [NewExtractor] and call [Extractor.Extract] per record.
//
// An Extractor is not safe for concurrent use: it keeps scratch buffers.
// Use one per goroutine.
//
// Strings it returns are copied out of the record into chunks of an internal
// arena (one allocation per 8 KB of text instead of one per string), so they
// stay valid after the record's bytes are reused; a retained string keeps its
// chunk alive. Likewise the interfaces holding strings and float64s point into
// shared slabs (see box.go): extracting ~35 fields costs ~2 allocations.
type Extractor struct {
	fields []string
	root   *node
	mode   NumberMode

	data  []byte // the record being extracted
	depth int

	scratch []byte // unescaped string text
	keyBuf  []byte // unescaped object key text
	arena   []byte // current string chunk; only its unused capacity is ever written
	box     boxes
	stack   []any // elements of the arrays being decoded

	// Deferred fields (see Defer): the subtrees whose fields are all
	// deferred, and per subtree where the last record has its value. data
	// keeps the record until ExtractDeferred.
	deferred []*node
	at       []span
}

// span is where a deferred value is in the record: from start (-1: the
// record has none); for a string, which was scanned already, also its end
// and what str found in it, so decoding it does not scan it again.
type span struct {
	start, end int // end is -1 for a value other than a string
	esc, high  bool
}

// node is one step of the field tree: the top-level object's keys, and below
// them the keys of dotted paths ("a.b" is key "b" of object "a").
type node struct {
	slots   []int            // dst indexes that want this whole value
	kids    map[string]*node // keys of this object that are wanted
	table   keyTable         // kids again, for lookups by key bytes
	lenMask uint64           // bit min(len(key),63) for every key in kids: a cheap pre-filter
	all     []int            // every slot of this subtree, cleared when the key repeats
	// With deferred fields: the index of this subtree in Extractor.deferred
	// when its fields are all deferred and its parent's are not (else -1),
	// and the deferred subtrees below it, forgotten when the key repeats.
	deferred int
	below    []int
}

// NewExtractor returns an Extractor for fields. Each field is a top-level key
// or a dotted path "a.b.c" naming key "c" of object "b" of object "a"; a key
// that itself contains a dot cannot be addressed. Several fields may share a
// prefix or repeat.
func NewExtractor(fields []string) *Extractor {
	e := &Extractor{fields: append([]string(nil), fields...), root: &node{}}
	for i, f := range fields {
		n := e.root
		for _, k := range strings.Split(f, ".") {
			n = n.kid(k)
		}
		n.slots = append(n.slots, i)
	}
	e.root.index()
	e.root.undefer()
	return e
}

// Defer makes fields [0,n) deferred: Extract still validates the whole
// record and decodes the other fields, but only notes where the values of
// the deferred ones are; [Extractor.ExtractDeferred] decodes them from the
// same record without scanning it again. A caller that decides from a few
// fields whether it wants a record (an integration's alert rules) so pays
// for decoding the rest only when it does. A value wanted by both a deferred
// and another field is decoded at once. Defer(0) undoes it. Between Extract
// and ExtractDeferred the Extractor keeps the record's bytes.
func (e *Extractor) Defer(n int) {
	e.deferred = e.deferred[:0]
	e.root.undefer() // the record itself is always scanned
	for _, c := range e.root.kids {
		e.deferUnder(c, n)
	}
	e.root.below = e.root.below[:0]
	for i := range e.deferred {
		e.root.below = append(e.root.below, i)
	}
	e.at = slices.Repeat([]span{{start: -1}}, len(e.deferred))
}

// undefer clears the deferral marks of n's subtree.
func (n *node) undefer() {
	n.deferred, n.below = -1, nil
	for _, c := range n.kids {
		c.undefer()
	}
}

// deferUnder marks the subtrees of n whose slots are all below limit and
// returns their indexes.
func (e *Extractor) deferUnder(n *node, limit int) []int {
	if slices.Max(n.all) < limit {
		n.deferred = len(e.deferred)
		e.deferred = append(e.deferred, n)
		return []int{n.deferred}
	}
	for _, c := range n.kids {
		n.below = append(n.below, e.deferUnder(c, limit)...)
	}
	return n.below
}

func (n *node) kid(k string) *node {
	if n.kids == nil {
		n.kids = make(map[string]*node)
	}
	c := n.kids[k]
	if c == nil {
		c = &node{}
		n.kids[k] = c
		n.lenMask |= 1 << min(len(k), 63)
	}
	return c
}

// index fills every node's all list and key table.
func (n *node) index() []int {
	n.all = append(n.all[:0], n.slots...)
	n.table = newKeyTable(n.kids)
	for _, c := range n.kids {
		n.all = append(n.all, c.index()...)
	}
	return n.all
}

func (n *node) lookup(k []byte) *node {
	if n.lenMask&(1<<min(len(k), 63)) == 0 {
		return nil
	}
	return n.table.find(k)
}

// keyTable is an open-addressing hash table from key to node. It beats a
// Go map here because its hash reads at most 16 bytes of the key: alert keys
// are short, and most keys of a record are looked up.
type keyTable struct {
	shift uint8 // 64 - log2(len(keys))
	keys  []string
	nodes []*node // nil marks an empty slot
}

func newKeyTable(kids map[string]*node) keyTable {
	lg := uint8(2)
	for 1<<lg < 4*len(kids) { // load factor ≤ 1/4 keeps probe chains short
		lg++
	}
	t := keyTable{shift: 64 - lg, keys: make([]string, 1<<lg), nodes: make([]*node, 1<<lg)}
	for k, n := range kids {
		i := t.slot([]byte(k))
		for t.nodes[i] != nil {
			i = (i + 1) & (len(t.nodes) - 1)
		}
		t.keys[i], t.nodes[i] = k, n
	}
	return t
}

func (t *keyTable) slot(k []byte) int {
	var x uint64
	if len(k) >= 8 {
		x = binary.LittleEndian.Uint64(k) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(k[len(k)-8:]), 29)
	} else {
		for _, c := range k {
			x = x<<8 | uint64(c)
		}
	}
	x ^= uint64(len(k)) << 56
	return int((x * 0x9E3779B97F4A7C15) >> t.shift)
}

func (t *keyTable) find(k []byte) *node {
	for i := t.slot(k); ; i = (i + 1) & (len(t.nodes) - 1) {
		n := t.nodes[i]
		if n == nil || t.keys[i] == string(k) { // the conversion does not allocate
			return n
		}
	}
}

// Fields returns the fields the Extractor was built with, in dst order.
func (e *Extractor) Fields() []string { return slices.Clone(e.fields) }

// SetNumberMode selects how numbers are returned; the default is Float64.
func (e *Extractor) SetNumberMode(m NumberMode) { e.mode = m }

// Extract validates raw as one JSON object and sets dst[i] to the value of
// field i: string, float64 (or json.Number, see [NumberMode]), bool,
// map[string]any, []any, or nil when the field is null or missing. Values
// follow encoding/json's rules for map[string]any: strings are unescaped
// with invalid UTF-8 and lone surrogates replaced by U+FFFD, and when a key
// repeats the last value wins.
//
// The whole record is checked, including the fields not extracted, so an
// accepted record is always valid JSON. A malformed record or a top level that
// is not an object returns a *SyntaxError with the byte offset of the problem
// (use [Record.Locate] to add the input name and line); dst is then all nil.
// dst must have at least len(fields) elements. Nothing returned refers to raw.
func (e *Extractor) Extract(raw []byte, dst []any) error {
	if len(dst) < len(e.fields) {
		return fmt.Errorf("source: extract: dst has %d slots for %d fields", len(dst), len(e.fields))
	}
	dst = dst[:len(e.fields)]
	clear(dst)
	e.forget(e.root.below)
	e.data, e.depth = raw, 0
	err := e.record(dst)
	if err != nil || len(e.deferred) == 0 {
		e.data = nil
	}
	if err != nil {
		clear(dst)
		e.forget(e.root.below)
	}
	return err
}

// ExtractDeferred decodes the deferred fields (see Defer) of the record the
// last Extract accepted into dst, the same dst; the record's bytes must not
// have changed since. Without a successful Extract before it, it sets
// nothing. It can fail only if the record's bytes did change.
func (e *Extractor) ExtractDeferred(dst []any) error {
	if e.data == nil {
		return nil
	}
	if len(dst) < len(e.fields) {
		return fmt.Errorf("source: extract: dst has %d slots for %d fields", len(dst), len(e.fields))
	}
	defer func() { e.data = nil }()
	for k, at := range e.at {
		if at.start < 0 {
			continue
		}
		e.at[k].start, e.depth = -1, 0
		n := e.deferred[k]
		if at.end >= 0 { // a string: the paths below it stay nil
			v := e.box.str(e.text(e.data[at.start+1:at.end-1], at.esc, at.high))
			for _, s := range n.slots {
				dst[s] = v
			}
			continue
		}
		if _, err := e.decode(at.start, n, dst); err != nil {
			clear(dst[:len(e.fields)])
			e.forget(e.root.below)
			return err
		}
	}
	return nil
}

// forget drops the noted positions of deferred subtrees.
func (e *Extractor) forget(subtrees []int) {
	for _, k := range subtrees {
		e.at[k].start = -1
	}
}

func (e *Extractor) record(dst []any) error {
	i := e.ws(0)
	if i >= len(e.data) {
		return e.errEOF()
	}
	var err error
	if e.data[i] == '{' {
		i, err = e.object(i, e.root, dst)
	} else {
		start := i
		if i, err = e.skip(i); err == nil {
			return &SyntaxError{Offset: int64(start), Msg: "top-level value is " + kindOf(e.data[start]) + ", not an object"}
		}
	}
	if err != nil {
		return err
	}
	if i = e.ws(i); i < len(e.data) {
		return e.errChar(i, "after top-level value")
	}
	return nil
}

func kindOf(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// ws skips JSON whitespace.
func (e *Extractor) ws(i int) int {
	for ; i < len(e.data); i++ {
		if c := e.data[i]; c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			return i
		}
	}
	return i
}

func (e *Extractor) errEOF() error {
	return &SyntaxError{Offset: int64(len(e.data)), Msg: "unexpected end of JSON input"}
}

// errChar reports the byte at i (or the end of input) as unexpected.
func (e *Extractor) errChar(i int, context string) error {
	if i >= len(e.data) {
		return e.errEOF()
	}
	return &SyntaxError{Offset: int64(i), Msg: "invalid character " + quoteChar(e.data[i]) + " " + context}
}

func (e *Extractor) push(i int) error {
	if e.depth++; e.depth > maxDepth {
		return &SyntaxError{Offset: int64(i), Msg: "exceeded max depth"}
	}
	return nil
}

// object scans the object at i (data[i] == '{'), extracting n's keys into dst
// and skipping every other value.
func (e *Extractor) object(i int, n *node, dst []any) (int, error) {
	if err := e.push(i); err != nil {
		return i, err
	}
	d := e.data
	if i = e.ws(i + 1); i < len(d) && d[i] == '}' {
		e.depth--
		return i + 1, nil
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return i, e.errChar(i, "looking for beginning of object key string")
		}
		end, esc, high, err := e.str(i)
		if err != nil {
			return end, err
		}
		key := d[i+1 : end-1]
		if esc || (high && !utf8.Valid(key)) {
			e.keyBuf = unquote(e.keyBuf[:0], key)
			key = e.keyBuf
		}
		if i = e.ws(end); i >= len(d) || d[i] != ':' {
			return i, e.errChar(i, "after object key")
		}
		i = e.ws(i + 1)
		if k := n.lookup(key); k != nil {
			i, err = e.extract(i, k, dst)
		} else {
			i, err = e.skip(i)
		}
		if err != nil {
			return i, err
		}
		if i = e.ws(i); i >= len(d) {
			return i, e.errEOF()
		}
		switch d[i] {
		case ',':
			i = e.ws(i + 1)
		case '}':
			e.depth--
			return i + 1, nil
		default:
			return i, e.errChar(i, "after object key:value pair")
		}
	}
}

// extract reads the value at i for node n.
func (e *Extractor) extract(i int, n *node, dst []any) (int, error) {
	if n.deferred >= 0 { // the last of a repeated key wins
		if i < len(e.data) && e.data[i] == '"' {
			end, esc, high, err := e.str(i)
			e.at[n.deferred] = span{start: i, end: end, esc: esc, high: high}
			return end, err
		}
		e.at[n.deferred] = span{start: i, end: -1}
		return e.skip(i)
	}
	// A repeated key replaces everything the earlier one set.
	e.forget(n.below)
	return e.decode(i, n, dst)
}

// decode reads the value at i for node n, its deferred subtrees included.
func (e *Extractor) decode(i int, n *node, dst []any) (int, error) {
	for _, s := range n.all {
		dst[s] = nil
	}
	if len(n.slots) > 0 {
		v, j, err := e.value(i)
		if err != nil {
			return j, err
		}
		for _, s := range n.slots {
			dst[s] = v
		}
		if n.kids != nil {
			n.walk(v, dst)
		}
		return j, nil
	}
	if i < len(e.data) && e.data[i] == '{' {
		return e.object(i, n, dst)
	}
	return e.skip(i) // not an object: the dotted paths below stay nil
}

// walk sets the slots of n's descendants from an already decoded value.
func (n *node) walk(v any, dst []any) {
	m, _ := v.(map[string]any)
	for k, c := range n.kids {
		cv := m[k]
		for _, s := range c.slots {
			dst[s] = cv
		}
		if c.kids != nil {
			c.walk(cv, dst)
		}
	}
}

// str scans the string literal at i (data[i] == '"') and returns the index
// after its closing quote, whether it holds escapes, and whether it holds
// non-ASCII bytes. Escapes are validated here, so unquote cannot fail.
func (e *Extractor) str(i int) (end int, esc, high bool, err error) {
	d := e.data
	i++
	for {
		// Eight bytes at a time: most of a record's bytes are plain string
		// text, and the first byte that needs a look is found without a loop.
		for i+8 <= len(d) {
			m := jsontext.Special(binary.LittleEndian.Uint64(d[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) / 8 // the lowest flagged byte is exact
			break
		}
		if i >= len(d) {
			return i, esc, high, e.errEOF()
		}
		switch c := d[i]; {
		case c == '"':
			return i + 1, esc, high, nil
		case c == '\\':
			esc = true
			if i+1 >= len(d) {
				return i + 1, esc, high, e.errEOF()
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for j := i + 2; j < i+6; j++ {
					if j >= len(d) {
						return j, esc, high, e.errEOF()
					}
					if hexVal(d[j]) < 0 {
						return j, esc, high, e.errChar(j, `in \u hexadecimal character escape`)
					}
				}
				i += 6
			default:
				return i + 1, esc, high, e.errChar(i+1, "in string escape code")
			}
		case c < 0x20:
			return i, esc, high, e.errChar(i, "in string literal")
		default:
			high = high || c >= 0x80
			i++
		}
	}
}

func hexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// number scans the number literal at i and returns its end, whether it is an
// integer literal (no fraction, no exponent), and whether it may exceed the
// float64 range (so ParseFloat must look at it).
func (e *Extractor) number(i int) (end int, isInt, big bool, err error) {
	d := e.data
	if d[i] == '-' {
		if i++; i >= len(d) {
			return i, false, false, e.errEOF()
		}
	}
	start := i
	switch {
	case d[i] == '0':
		i++
	case '1' <= d[i] && d[i] <= '9':
		for i++; i < len(d) && '0' <= d[i] && d[i] <= '9'; i++ {
		}
	default:
		return i, false, false, e.errChar(i, "in numeric literal")
	}
	big = i-start > 300
	isInt = true
	if i < len(d) && d[i] == '.' {
		isInt = false
		if i++; i >= len(d) {
			return i, false, false, e.errEOF()
		}
		if d[i] < '0' || d[i] > '9' {
			return i, false, false, e.errChar(i, "after decimal point in numeric literal")
		}
		for i++; i < len(d) && '0' <= d[i] && d[i] <= '9'; i++ {
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		isInt, big = false, true
		if i++; i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) {
			return i, false, false, e.errEOF()
		}
		if d[i] < '0' || d[i] > '9' {
			return i, false, false, e.errChar(i, "in exponent of numeric literal")
		}
		for i++; i < len(d) && '0' <= d[i] && d[i] <= '9'; i++ {
		}
	}
	return i, isInt, big, nil
}

// literal checks that the bytes at i spell word (true, false or null).
func (e *Extractor) literal(i int, word string) (int, error) {
	for j := 1; j < len(word); j++ {
		if i+j >= len(e.data) {
			return i + j, e.errEOF()
		}
		if e.data[i+j] != word[j] {
			return i + j, e.errChar(i+j, "in literal "+word+" (expecting "+quoteChar(word[j])+")")
		}
	}
	return i + len(word), nil
}

// skip validates the value at i without decoding or allocating.
func (e *Extractor) skip(i int) (int, error) {
	d := e.data
	if i >= len(d) {
		return i, e.errEOF()
	}
	switch c := d[i]; {
	case c == '"':
		end, _, _, err := e.str(i)
		return end, err
	case c == '{':
		return e.object(i, nilNode, nil)
	case c == '[':
		if err := e.push(i); err != nil {
			return i, err
		}
		if i = e.ws(i + 1); i < len(d) && d[i] == ']' {
			e.depth--
			return i + 1, nil
		}
		for {
			var err error
			if i, err = e.skip(i); err != nil {
				return i, err
			}
			if i = e.ws(i); i >= len(d) {
				return i, e.errEOF()
			}
			switch d[i] {
			case ',':
				i = e.ws(i + 1)
			case ']':
				e.depth--
				return i + 1, nil
			default:
				return i, e.errChar(i, "after array element")
			}
		}
	case c == 't':
		return e.literal(i, "true")
	case c == 'f':
		return e.literal(i, "false")
	case c == 'n':
		return e.literal(i, "null")
	case c == '-' || ('0' <= c && c <= '9'):
		end, _, big, err := e.number(i)
		if err == nil && big && e.mode == Float64 {
			_, err = e.float(i, end)
		}
		return end, err
	}
	return i, e.errChar(i, "looking for beginning of value")
}

// nilNode wants no keys: object() with it only validates.
var nilNode = &node{}

// value decodes the value at i.
func (e *Extractor) value(i int) (any, int, error) {
	d := e.data
	if i >= len(d) {
		return nil, i, e.errEOF()
	}
	switch c := d[i]; {
	case c == '"':
		end, esc, high, err := e.str(i)
		if err != nil {
			return nil, end, err
		}
		return e.box.str(e.text(d[i+1:end-1], esc, high)), end, nil
	case c == '{':
		return e.mapValue(i)
	case c == '[':
		return e.arrayValue(i)
	case c == 't':
		end, err := e.literal(i, "true")
		return true, end, err
	case c == 'f':
		end, err := e.literal(i, "false")
		return false, end, err
	case c == 'n':
		end, err := e.literal(i, "null")
		return nil, end, err
	case c == '-' || ('0' <= c && c <= '9'):
		end, isInt, big, err := e.number(i)
		if err != nil {
			return nil, end, err
		}
		v, err := e.numberValue(i, end, isInt, big)
		return v, end, err
	}
	return nil, i, e.errChar(i, "looking for beginning of value")
}

func (e *Extractor) mapValue(i int) (any, int, error) {
	if err := e.push(i); err != nil {
		return nil, i, err
	}
	d := e.data
	m := map[string]any{}
	if i = e.ws(i + 1); i < len(d) && d[i] == '}' {
		e.depth--
		return m, i + 1, nil
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return nil, i, e.errChar(i, "looking for beginning of object key string")
		}
		end, esc, high, err := e.str(i)
		if err != nil {
			return nil, end, err
		}
		key := e.text(d[i+1:end-1], esc, high)
		if i = e.ws(end); i >= len(d) || d[i] != ':' {
			return nil, i, e.errChar(i, "after object key")
		}
		var v any
		if v, i, err = e.value(e.ws(i + 1)); err != nil {
			return nil, i, err
		}
		m[key] = v
		if i = e.ws(i); i >= len(d) {
			return nil, i, e.errEOF()
		}
		switch d[i] {
		case ',':
			i = e.ws(i + 1)
		case '}':
			e.depth--
			return m, i + 1, nil
		default:
			return nil, i, e.errChar(i, "after object key:value pair")
		}
	}
}

func (e *Extractor) arrayValue(i int) (any, int, error) {
	if err := e.push(i); err != nil {
		return nil, i, err
	}
	d := e.data
	if i = e.ws(i + 1); i < len(d) && d[i] == ']' {
		e.depth--
		return []any{}, i + 1, nil // encoding/json returns an empty, non-nil slice
	}
	// Elements collect on e.stack (nested arrays above their parent's) so the
	// result is allocated once at its final size.
	base := len(e.stack)
	defer func() {
		clear(e.stack[base:])
		e.stack = e.stack[:base]
	}()
	for {
		v, j, err := e.value(i)
		if err != nil {
			return nil, j, err
		}
		e.stack = append(e.stack, v)
		if i = e.ws(j); i >= len(d) {
			return nil, i, e.errEOF()
		}
		switch d[i] {
		case ',':
			i = e.ws(i + 1)
		case ']':
			e.depth--
			return append([]any(nil), e.stack[base:]...), i + 1, nil
		default:
			return nil, i, e.errChar(i, "after array element")
		}
	}
}

// maxExact is 2^53: every integer of at most this magnitude is exact in float64.
const maxExact = 1 << 53

func (e *Extractor) numberValue(i, end int, isInt, big bool) (any, error) {
	lit := e.data[i:end]
	switch e.mode {
	case Number:
		return json.Number(e.intern(lit)), nil
	case Lossless:
		if isInt && !exactInt(lit) {
			return json.Number(e.intern(lit)), nil
		}
		if isInt {
			if f, ok := smallInt(lit); ok {
				return e.box.float(f), nil
			}
		}
		f, err := e.float(i, end)
		if err != nil {
			return json.Number(e.intern(lit)), nil
		}
		return e.box.float(f), nil
	}
	if isInt && !big {
		if f, ok := smallInt(lit); ok {
			return e.box.float(f), nil
		}
	}
	f, err := e.float(i, end)
	if err != nil {
		return nil, err
	}
	return e.box.float(f), nil
}

// smallInt converts an integer literal of at most 15 digits without strconv.
func smallInt(lit []byte) (float64, bool) {
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	if len(lit) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range lit {
		n = n*10 + int64(c-'0')
	}
	f := float64(n)
	if neg {
		f = -f
	}
	return f, true
}

// exactInt reports whether an integer literal's magnitude is at most 2^53.
func exactInt(lit []byte) bool {
	if lit[0] == '-' {
		lit = lit[1:]
	}
	if len(lit) != 16 {
		return len(lit) < 16
	}
	var n uint64
	for _, c := range lit {
		n = n*10 + uint64(c-'0')
	}
	return n <= maxExact
}

// float parses the (already validated) number literal data[i:end].
func (e *Extractor) float(i, end int) (float64, error) {
	lit := e.data[i:end]
	// ParseFloat keeps nothing of its argument (its errors copy the text), so
	// viewing the bytes as a string without copying is safe.
	f, err := parseFloat(unsafe.String(unsafe.SliceData(lit), len(lit)))
	if err != nil {
		msg := string(lit)
		if len(msg) > 40 {
			msg = msg[:40] + "…"
		}
		return 0, &SyntaxError{Offset: int64(i), Msg: "number " + msg + " is out of the float64 range"}
	}
	return f, nil
}

// text returns the string value of the literal content s.
func (e *Extractor) text(s []byte, esc, high bool) string {
	if esc || (high && !utf8.Valid(s)) {
		e.scratch = unquote(e.scratch[:0], s)
		s = e.scratch
	}
	return e.intern(s)
}

const (
	arenaChunk = 8 << 10 // bytes per arena chunk
	arenaMax   = 1 << 10 // longer strings get their own allocation
)

// intern copies b into the arena and returns it as a string. Only the unused
// capacity of the current chunk is written, so strings handed out earlier
// never change; a full chunk is abandoned to the garbage collector.
func (e *Extractor) intern(b []byte) string {
	n := len(b)
	switch {
	case n == 0:
		return ""
	case n > arenaMax:
		return string(b)
	case cap(e.arena)-len(e.arena) < n:
		e.arena = make([]byte, 0, arenaChunk)
	}
	start := len(e.arena)
	e.arena = append(e.arena, b...)
	return unsafe.String(&e.arena[start], n)
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
