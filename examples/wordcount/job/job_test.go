package job

import (
	"bytes"
	"slices"
	"testing"
)

func TestCorpusIsDeterministic(t *testing.T) {
	s := Spec{ID: "t", Files: 3, WordsPerFile: 500, Seed: 42}
	if !slices.Equal(s.File(1), s.File(1)) {
		t.Error("file 1 differs between two calls")
	}
	if slices.Equal(s.File(0), s.File(1)) {
		t.Error("files 0 and 1 are the same")
	}
}

func TestCountsRoundTrip(t *testing.T) {
	s := Spec{ID: "t", Files: 4, WordsPerFile: 1000, Seed: 1}
	c := Sequential(s)
	got, err := Decode(c.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Encode(), c.Encode()) || got.Result() != c.Result() {
		t.Errorf("decoded counts %v, encoded %v", got.Result(), c.Result())
	}
	if _, err := Decode([]byte("word\n")); err == nil {
		t.Error("Decode accepted a line without a count")
	}
}

func TestVocabularyIsUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, w := range vocabulary {
		if seen[w] {
			t.Errorf("%q twice in the vocabulary", w)
		}
		seen[w] = true
	}
}
