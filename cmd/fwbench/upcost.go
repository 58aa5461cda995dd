package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"os/exec"

	"golang.org/x/image/draw"
)

// UploadProfile is where the server's CPU went in a further run of uploads
// (after the measured throughput phase, same photo size and clients),
// profiled with perf: CPU per upload by stage. The photos are tiny JPEGs
// padded to the size, so their thumbnails cost next to nothing; what the
// thumbnail workers still use is measured and taken out for the
// "thumbnails off" figure.
type UploadProfile struct {
	Uploads     int     `json:"uploads"`
	PhotoBytes  int64   `json:"photo_bytes"`
	WallSeconds float64 `json:"wall_seconds"`
	// CPU is /proc's account of the profiled window (per_upload_ms per
	// upload), perf's own cost included.
	CPU     CPUUse  `json:"cpu"`
	Profile Profile `json:"profile"`
	// Stages are upload stages and the thumbnails, in ms of fieldwatch
	// CPU per upload; OtherMS is the rest of the upload (HTTP, multipart,
	// auth, logging, GC, ...): fieldwatch per upload less every stage.
	Stages  []Stage `json:"stages"`
	OtherMS float64 `json:"other_ms"`
	// NoThumbnailsMS is fieldwatch CPU per upload less the thumbnail
	// workers' share: the upload's own CPU, as with thumbnails off.
	NoThumbnailsMS  float64 `json:"no_thumbnails_ms"`
	ThumbnailsFound bool    `json:"thumbnails_found"`
}

// ThumbnailResult is the thumbnail phase: 12 MP JPEGs uploaded, then the
// server left to make their previews, profiled with perf from the first
// upload until it is idle again.
type ThumbnailResult struct {
	Photos     int    `json:"photos"`
	Pixels     string `json:"pixels"` // WxH
	PhotoBytes int64  `json:"photo_bytes"`
	// WallSeconds is the first upload to the server going idle.
	WallSeconds float64 `json:"wall_seconds"`
	Drained     bool    `json:"drained"`
	CPU         CPUUse  `json:"cpu"`
	Profile     Profile `json:"profile"`
	// Stage is the thumbnail workers' inclusive share; MSPerPhoto its CPU
	// per photo and PerSecondPerCore = 1000 / MSPerPhoto.
	Stage            Stage   `json:"stage"`
	MSPerPhoto       float64 `json:"ms_per_photo"`
	PerSecondPerCore float64 `json:"per_second_per_core"`
	// AllMSPerPhoto is all fieldwatch CPU in the window per photo (the
	// uploads included): an upper bound that needs no profile.
	AllMSPerPhoto float64 `json:"all_ms_per_photo"`
}

// perfBinary returns the perf binary's path, or "" (with a note) when
// profiles are off or perf is missing.
func (b *bench) perfBinary() string {
	if b.c.Perf == "" {
		return ""
	}
	p, err := exec.LookPath(b.c.Perf)
	if err != nil {
		b.say("no profiles: %v", err)
		return ""
	}
	return p
}

// uploadProfile sends ProfileUploads more distinct photos of the
// throughput size under perf and splits the server's CPU per upload by
// stage. It returns nil when perf is unavailable.
//
// Each photo is a 64×48 JPEG (a test photo scaled down, its EXIF kept)
// followed by random bytes up to the size: the upload's work (receive,
// hash, spool, inspect, link, store, commit) is that of any photo of the
// size, while its thumbnails cost next to nothing, so the uploads are
// measured as with thumbnails off (the server has no switch for them).
func (b *bench) uploadProfile(ctx context.Context, perfBin string, photos []basePhoto, seed [32]byte) (*UploadProfile, error) {
	c := b.c
	small, err := scaledJPEG(photos, 64, 48)
	if err != nil {
		return nil, err
	}
	seed[1] ^= 0xff // a stream of its own: distinct from the other payloads
	ps, err := newPayloadSource([]basePhoto{small}, seed).make(c.ProfileUploads, c.Size)
	if err != nil {
		return nil, err
	}
	settle(ctx, c.ServerPID, c.SettleMax)
	up := &UploadProfile{Uploads: len(ps), PhotoBytes: c.Size}
	s0, err := b.cpu.snapshot()
	if err != nil {
		return nil, err
	}
	var st LoadStats
	loaded := false // the uploads all went through: their rows exist whatever perf did
	prof, err := profileRun(ctx, perfBin, c.ServerPID, cmp.Or(c.KeepPerf, os.TempDir()), c.KeepPerf != "", func() error {
		var err error
		st, err = runLoad(ctx, b.api, ps, loadOptions{path: "profiled POST /v1/evidence", concurrency: c.Concurrency, timeout: c.PhaseTimeout})
		loaded = err == nil
		return err
	})
	if err != nil && !loaded {
		return nil, err
	} else if err != nil {
		b.say("no profile (the uploads count all the same): %v", err)
	}
	s1, err := b.cpu.snapshot()
	if err != nil {
		return nil, err
	}
	up.Uploads, up.WallSeconds, up.Profile = st.OK, st.WallSeconds, prof
	up.CPU = b.cpu.use(s0, s1, st.OK)
	fwMS := up.CPU.PerUploadMS["fieldwatch"]
	up.Stages = findStages(prof.incl, uploadStageDefs, fwMS)
	up.OtherMS, up.NoThumbnailsMS = fwMS, fwMS
	for _, s := range up.Stages {
		up.OtherMS -= s.MS
		if s.Name == thumbnailStage {
			up.NoThumbnailsMS -= s.MS
			up.ThumbnailsFound = s.Found
		}
	}
	up.OtherMS, up.NoThumbnailsMS = round3(max(up.OtherMS, 0)), round3(up.NoThumbnailsMS)
	b.say("profiled %d uploads: fieldwatch %.1f ms CPU per upload, %.1f ms without the thumbnail workers' share", st.OK, fwMS, up.NoThumbnailsMS)
	for _, s := range up.Stages {
		b.say("  %-58s %s", s.Name, s.cell())
	}
	return up, nil
}

// cell prints a stage's ms, or that its functions were not found.
func (s Stage) cell() string {
	if !s.Found {
		return "not found (no sample in a function matching `" + s.Pattern + "`)"
	}
	return f("%.2f ms (%.1f%%, `%s`)", s.MS, s.Pct, s.Symbol)
}

// thumbnails uploads ThumbPhotos distinct 12 MP JPEGs and profiles the
// server until their previews are made.
func (b *bench) thumbnails(ctx context.Context, perfBin string, photos []basePhoto, seed [32]byte) (*ThumbnailResult, error) {
	c := b.c
	big, err := scaledJPEG(photos, 4000, 3000)
	if err != nil {
		return nil, err
	}
	seed[0] ^= 0xff // a stream of its own: distinct from the other payloads
	src := newPayloadSource([]basePhoto{big}, seed)
	ps, err := src.make(c.ThumbPhotos, int64(len(big.data))+4096)
	if err != nil {
		return nil, err
	}
	tr := &ThumbnailResult{Photos: len(ps), Pixels: "4000x3000", PhotoBytes: int64(len(ps[0].data))}
	settle(ctx, c.ServerPID, c.SettleMax)
	s0, err := b.cpu.snapshot()
	if err != nil {
		return nil, err
	}
	var st LoadStats
	loaded := false // the uploads all went through: their rows exist whatever perf did
	prof, err := profileRun(ctx, perfBin, c.ServerPID, cmp.Or(c.KeepPerf, os.TempDir()), c.KeepPerf != "", func() error {
		var err error
		st, err = runLoad(ctx, b.api, ps, loadOptions{path: "12 MP POST /v1/evidence", concurrency: 4, timeout: c.PhaseTimeout})
		if err != nil {
			return err
		}
		loaded = true
		_, tr.Drained = settle(ctx, c.ServerPID, c.SettleMax)
		return nil
	})
	if err != nil && !loaded {
		return nil, err
	} else if err != nil {
		b.say("no profile (the uploads count all the same): %v", err)
	}
	s1, err := b.cpu.snapshot()
	if err != nil {
		return nil, err
	}
	tr.Photos, tr.Profile, tr.WallSeconds = st.OK, prof, prof.Seconds
	tr.CPU = b.cpu.use(s0, s1, st.OK)
	tr.AllMSPerPhoto = tr.CPU.PerUploadMS["fieldwatch"]
	tr.Stage = findStages(prof.incl, uploadStageDefs[len(uploadStageDefs)-1:], tr.AllMSPerPhoto)[0]
	if tr.Stage.Found && tr.Stage.MS > 0 {
		tr.MSPerPhoto = tr.Stage.MS
		tr.PerSecondPerCore = round3(1000 / tr.MSPerPhoto)
	}
	b.say("thumbnails: %d photos of 12 MP (%.1f MiB): %s per photo; all fieldwatch CPU %.0f ms per photo%s",
		st.OK, mib(tr.PhotoBytes), tr.Stage.cell(), tr.AllMSPerPhoto, notIf(tr.Drained, "; server still busy when the bench stopped waiting"))
	return tr, nil
}

// scaledJPEG makes a w×h JPEG from the first test photo with an EXIF
// block: its pixels scaled (bilinear), encoded at quality 90, its EXIF
// block copied, so the server links it like the original.
func scaledJPEG(photos []basePhoto, w, h int) (basePhoto, error) {
	for _, p := range photos {
		if p.at == nil {
			continue
		}
		exif := jpegAPP1(p.data)
		if exif == nil {
			continue
		}
		src, err := jpeg.Decode(bytes.NewReader(p.data))
		if err != nil {
			return basePhoto{}, fmt.Errorf("%s: %w", p.name, err)
		}
		dst := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.BiLinear.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 90}); err != nil {
			return basePhoto{}, err
		}
		enc := buf.Bytes()
		out := make([]byte, 0, len(enc)+len(exif))
		out = append(append(append(out, enc[:2]...), exif...), enc[2:]...) // SOI, APP1, the rest
		return basePhoto{name: fmt.Sprintf("%s scaled to %dx%d", p.name, w, h), data: out, category: p.category, at: p.at}, nil
	}
	return basePhoto{}, errors.New("no test photo with a position and an EXIF block to scale up")
}

// jpegAPP1 returns the first APP1 "Exif" segment of a JPEG (marker and
// length included), or nil.
func jpegAPP1(b []byte) []byte {
	for i := 2; i+4 <= len(b) && b[i] == 0xff; {
		m, n := b[i+1], int(b[i+2])<<8|int(b[i+3])
		if i+2+n > len(b) || m == 0xda {
			return nil
		}
		if m == 0xe1 && bytes.HasPrefix(b[i+4:], []byte("Exif\x00")) {
			return b[i : i+2+n]
		}
		i += 2 + n
	}
	return nil
}
