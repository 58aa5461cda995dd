package store

import (
	"reflect"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/internal/expiring"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
)

// A read that a local change overtook (the change committed and dropped
// the entry while the read was under way) is answered but not cached:
// the next read goes to the database again instead of serving the row
// from before the change for a TTL.
func TestCachedEvidenceRacedReadNotCached(t *testing.T) {
	clk := testclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s := &Store{now: clk.Now, evidence: expiring.New[string, fieldwatch.Evidence](8), evidenceTTL: 2 * time.Second}
	const id = "0193a5b0-7e4c-7c3a-9f1e-000000000001"
	reads := 0
	old := fieldwatch.Evidence{ID: id, Thumbnails: []int{}}
	got, err := s.cachedEvidence(id, func() (fieldwatch.Evidence, error) {
		reads++
		s.forgetEvidence(id) // SetThumbnails commits while the old row is on its way
		return old, nil
	})
	if err != nil || got.ID != id {
		t.Fatalf("raced read = %+v, %v", got, err)
	}
	fresh := fieldwatch.Evidence{ID: id, Thumbnails: []int{320}}
	read := func() (fieldwatch.Evidence, error) { reads++; return fresh, nil }
	got, _ = s.cachedEvidence(id, read)
	if reads != 2 || len(got.Thumbnails) != 1 {
		t.Fatalf("after a raced read: %d reads, thumbnails %v; want a second read and the new row", reads, got.Thumbnails)
	}
	// An unraced read is cached: the third answer comes without a read.
	if got, _ = s.cachedEvidence(id, read); reads != 2 || len(got.Thumbnails) != 1 {
		t.Fatalf("after an unraced read: %d reads, want it served from the cache", reads)
	}
}

// cloneEvidence shares nothing with its argument, whatever fields
// Evidence gains: every pointer, slice and map reachable from a fully
// filled Evidence must be a copy.
func TestCloneEvidenceSharesNothing(t *testing.T) {
	var e fieldwatch.Evidence
	fill(reflect.ValueOf(&e).Elem())
	c := cloneEvidence(e)
	if !reflect.DeepEqual(c, e) {
		t.Fatalf("clone differs:\n%+v\n%+v", c, e)
	}
	shared(t, "Evidence", reflect.ValueOf(e), reflect.ValueOf(c))
}

// fill sets every pointer, slice and map under v to a non-empty value.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.String:
		v.SetString("x")
	}
}

// shared fails t for memory a and b both reach.
func shared(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	switch a.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		if a.IsNil() {
			t.Errorf("%s: nil after fill", path)
			return
		}
		if a.UnsafePointer() == b.UnsafePointer() {
			t.Errorf("%s: shared by the clone", path)
		}
		switch a.Kind() {
		case reflect.Pointer:
			shared(t, path, a.Elem(), b.Elem())
		case reflect.Slice:
			shared(t, path+"[0]", a.Index(0), b.Index(0))
		}
	case reflect.Struct:
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				shared(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
			}
		}
	}
}
