package job

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Counts maps a word to how many times it occurs.
type Counts map[string]int64

// Count counts words.
func Count(words []string) Counts {
	c := Counts{}
	for _, w := range words {
		c[w]++
	}
	return c
}

// Add adds o's counts to c.
func (c Counts) Add(o Counts) {
	for w, n := range o {
		c[w] += n
	}
}

// Encode returns the canonical text of c: a "word count" line per word,
// sorted by word. Equal counts encode to equal bytes.
func (c Counts) Encode() []byte {
	var b bytes.Buffer
	for _, w := range slices.Sorted(maps.Keys(c)) {
		fmt.Fprintf(&b, "%s %d\n", w, c[w])
	}
	return b.Bytes()
}

// Decode parses the text Encode returns.
func Decode(data []byte) (Counts, error) {
	c := Counts{}
	for line := range strings.Lines(string(data)) {
		w, n, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		count, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil || w == "" {
			return nil, fmt.Errorf("decode counts: bad line %q", line)
		}
		c[w] += count
	}
	return c, nil
}

// Result summarizes c.
func (c Counts) Result() Result {
	r := Result{Distinct: len(c)}
	for _, n := range c {
		r.Total += n
	}
	sum := sha256.Sum256(c.Encode())
	r.SHA256 = hex.EncodeToString(sum[:])
	return r
}

// Sequential counts the whole corpus of s in one loop, with no store and
// no components: what the distributed job must match exactly.
func Sequential(s Spec) Counts {
	c := Counts{}
	for i := range s.Files {
		c.Add(Count(s.File(i)))
	}
	return c
}
