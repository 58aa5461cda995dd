package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/fieldwatch/fieldwatch/geo"
)

// payload is one upload's photo: a real JPEG followed by random bytes up to
// the wanted size, so that every request carries distinct bytes
// (docs/reliability.md#g4: otherwise only the idempotent replay path is measured)
// and still decodes, since JPEG decoders stop at the end-of-image marker.
type payload struct {
	data     []byte
	sum      [sha256.Size]byte
	category string
}

// basePhoto is a test photo and the category its manifest gives it.
type basePhoto struct {
	name     string
	data     []byte
	category string
	at       *geo.Point // the EXIF position, if the photo has one
}

// loadPhotos reads the JPEGs listed in dir/manifest.json.
func loadPhotos(dir string) ([]basePhoto, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("photos: %w", err)
	}
	var m struct {
		Photos []struct {
			File     string   `json:"file"`
			Category string   `json:"category"`
			Lon      *float64 `json:"exif_lon"`
			Lat      *float64 `json:"exif_lat"`
		} `json:"photos"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("photos: manifest: %w", err)
	}
	var out []basePhoto
	for _, p := range m.Photos {
		if !strings.HasSuffix(p.File, ".jpg") || p.Category == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.Base(p.File)))
		if err != nil {
			return nil, fmt.Errorf("photos: %w", err)
		}
		if !bytes.HasPrefix(b, []byte{0xff, 0xd8}) || !bytes.HasSuffix(b, []byte{0xff, 0xd9}) {
			return nil, fmt.Errorf("photos: %s does not start with SOI and end with EOI", p.File)
		}
		bp := basePhoto{name: p.File, data: b, category: p.Category}
		if p.Lon != nil && p.Lat != nil {
			bp.at = &geo.Point{Lon: *p.Lon, Lat: *p.Lat}
		}
		out = append(out, bp)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("photos: no JPEG with a category in %s/manifest.json", dir)
	}
	return out, nil
}

// payloadSource makes payloads that are distinct within a run and across
// runs: the random tails come from one ChaCha8 stream seeded per run.
type payloadSource struct {
	photos []basePhoto
	rng    *rand.ChaCha8
	next   int
	seen   map[[sha256.Size]byte]bool // every payload made, to prove distinctness
}

func newPayloadSource(photos []basePhoto, seed [32]byte) *payloadSource {
	return &payloadSource{photos: photos, rng: rand.NewChaCha8(seed), seen: map[[sha256.Size]byte]bool{}}
}

// make returns n payloads of exactly size bytes each.
func (s *payloadSource) make(n int, size int64) ([]payload, error) {
	out := make([]payload, n)
	for i := range out {
		base := s.photos[s.next%len(s.photos)]
		s.next++
		if int64(len(base.data))+8 > size {
			return nil, fmt.Errorf("payload: %s (%d bytes) does not fit in %d bytes", base.name, len(base.data), size)
		}
		b := make([]byte, size)
		n := copy(b, base.data)
		tail := b[n:]
		// The tail starts with the payload's sequence number, so even two
		// equal random streams could not give equal payloads.
		binary.BigEndian.PutUint64(tail, uint64(s.next))
		if _, err := s.rng.Read(tail[8:]); err != nil {
			return nil, err
		}
		p := payload{data: b, sum: sha256.Sum256(b), category: base.category}
		if s.seen[p.sum] {
			return nil, errors.New("payload: two payloads share a SHA-256")
		}
		s.seen[p.sum] = true
		out[i] = p
	}
	return out, nil
}
