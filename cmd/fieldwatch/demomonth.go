package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/twpayne/go-geom"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/store"
)

// demoEpoch is when the demo county's boundaries and chiefs take effect:
// the January before last, well before the demo month.
func demoEpoch(now time.Time, loc *time.Location) time.Time {
	return time.Date(now.In(loc).Year()-1, 1, 1, 0, 0, 0, 0, loc)
}

// simClock is the demo's own time, moved forward as the month is played.
type simClock struct{ t time.Time }

func (c *simClock) Now() time.Time { return c.t }

// demoWorld is what playing the demo month needs.
type demoWorld struct {
	db      *store.Store
	photos  fieldwatch.BlobStore
	atlas   *fieldwatch.Atlas
	spool   string
	loc     *time.Location
	clock   *simClock
	rng     *rand.Rand
	intake  *fieldwatch.Intake
	cases   *fieldwatch.Casework
	patrols *fieldwatch.Patrols
	admin   fieldwatch.Actor
	admin2  fieldwatch.Actor
	insp    fieldwatch.Actor
	seq     int
}

// seedDemoMonth plays last month in the demo county, once: inspectors
// upload evidence, administrators open cases, townships and chiefs fix
// some on time, some late and some not at all, chiefs patrol their
// reaches (one skips weeks, one drives), and every township has a
// responsibility letter, so the month's assessment ranks townships on
// real differences. The photos are generated images with the phone's
// position. It does nothing when any case exists.
func seedDemoMonth(ctx context.Context, db *store.Store, photos fieldwatch.BlobStore, atlas *fieldwatch.Atlas, spool string,
	loc *time.Location, w io.Writer) error {
	if cs, err := db.ListCases(ctx, fieldwatch.CaseFilter{Limit: 1}); err != nil || len(cs) > 0 {
		return err
	}
	now := time.Now().In(loc)
	start := time.Date(now.Year(), now.Month()-1, 1, 8, 0, 0, 0, loc)
	d := &demoWorld{db: db, photos: photos, atlas: atlas, spool: spool, loc: loc, clock: &simClock{start},
		rng: rand.New(rand.NewPCG(uint64(start.Unix()), 2026))}
	var err error
	if d.intake, err = fieldwatch.NewIntake(db, photos, fieldwatch.IntakeConfig{SpoolDir: spool, Clock: d.clock.Now, Linker: atlas}); err != nil {
		return err
	}
	cal, err := fieldwatch.NewCalendar(loc, nil, nil)
	if err != nil {
		return err
	}
	d.cases = fieldwatch.NewCasework(db, db, db, fieldwatch.CaseRules{Calendar: cal, Clock: d.clock.Now})
	d.patrols = fieldwatch.NewPatrols(db, db, db, fieldwatch.PatrolConfig{Location: loc, Clock: d.clock.Now})
	for _, a := range []struct {
		dst      *fieldwatch.Actor
		username string
	}{{&d.admin, "admin"}, {&d.admin2, "admin2"}, {&d.insp, "inspector"}} {
		u, err := db.UserByUsername(ctx, a.username)
		if err != nil {
			return fmt.Errorf("demo month: %s: %w", a.username, err)
		}
		*a.dst = fieldwatch.Actor{UserID: u.ID, Role: u.Role, Townships: u.Townships}
	}
	if err := d.letters(ctx, start.Year()); err != nil {
		return err
	}
	reaches, err := atlas.Reaches(ctx, fieldwatch.ReachQuery{At: start})
	if err != nil {
		return err
	}
	if err := d.patrol(ctx, reaches, start); err != nil {
		return err
	}
	n, err := d.evidenceAndCases(ctx, reaches, start)
	if err != nil {
		return err
	}
	// The first morning of this month: the deadline job catches up.
	d.clock.t = time.Date(now.Year(), now.Month(), 1, 9, 0, 0, 0, loc)
	if _, err := d.cases.Sweep(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "demo month %s played: %d evidence items, cases and patrols on every reach\n", start.Format("2006-01"), n)
	return nil
}

// letters gives every township the same letter for year: the county's
// standard targets.
func (d *demoWorld) letters(ctx context.Context, year int) error {
	ts, err := d.db.Townships(ctx, time.Date(year, 6, 1, 0, 0, 0, 0, d.loc))
	if err != nil {
		return err
	}
	inds := []fieldwatch.Indicator{
		{Metric: fieldwatch.MetricClosedOnTimeRate, Rule: fieldwatch.RuleLinear, Floor: 50, Target: 95, Weight: 30},
		{Metric: fieldwatch.MetricOverdueCases, Rule: fieldwatch.RuleDeduct, Target: 0, PointsPer: 5, Weight: 15},
		{Metric: fieldwatch.MetricOpenBurningCases, Rule: fieldwatch.RuleDeduct, Target: 0, PointsPer: 5, Weight: 15},
		{Metric: fieldwatch.MetricValidPatrolRate, Rule: fieldwatch.RuleLinear, Floor: 50, Target: 100, Weight: 25},
		{Metric: fieldwatch.MetricEvidenceFound, Rule: fieldwatch.RuleLinear, Floor: 0, Target: 4, Weight: 15},
	}
	for _, t := range ts {
		l := fieldwatch.Letter{TownshipCode: t.Code, Year: year, SignedOn: time.Date(year, 1, 10, 0, 0, 0, 0, time.UTC),
			Indicators: inds, RecordedAt: d.clock.Now(), RecordedBy: d.admin.UserID}
		if err := d.db.CreateLetter(ctx, &l); err != nil && !isConflict(err) {
			return err
		}
	}
	return nil
}

func isConflict(err error) bool { return errors.Is(err, fieldwatch.ErrConflict) }

// patrol has each reach's village chief walk it weekly and its township
// chief monthly. Reaches on the Qing river (QH-) skip alternate weeks;
// CH-04's village chief drives one week.
func (d *demoWorld) patrol(ctx context.Context, reaches []fieldwatch.Reach, start time.Time) error {
	end := start.AddDate(0, 1, 0)
	for _, r := range reaches {
		as, err := d.db.ChiefAssignments(ctx, r.Code, start)
		if err != nil {
			return err
		}
		for _, a := range as {
			chief := fieldwatch.Actor{UserID: a.UserID, Role: fieldwatch.RoleRiverChief, Reaches: []string{r.Code}}
			var days []time.Time
			switch a.Level {
			case fieldwatch.ChiefVillage:
				for day, week := start, 0; day.Before(end); day, week = day.AddDate(0, 0, 7), week+1 {
					if r.Code[:2] == "QH" && week%2 == 1 {
						continue
					}
					days = append(days, day.Add(time.Duration(week%3)*24*time.Hour))
				}
			case fieldwatch.ChiefTownship:
				days = append(days, start.AddDate(0, 0, 12))
			}
			for i, day := range days {
				speed := 1.0 // m/s, a walk with stops to look
				if r.Code == "CH-04" && a.Level == fieldwatch.ChiefVillage && i == 1 {
					speed = 14 // by car
				}
				track := walk(r.Line, day.Add(time.Hour), speed, d.rng)
				if len(track) < 2 || !track[len(track)-1].At.Before(end) {
					continue
				}
				d.clock.t = track[len(track)-1].At.Add(10 * time.Minute)
				if _, _, err := d.patrols.Record(ctx, chief, fieldwatch.PatrolRequest{ReachCode: r.Code, Track: track,
					Key: uuid.NewString(), Note: "日常巡河"}); err != nil {
					return fmt.Errorf("demo patrol of %s: %w", r.Code, err)
				}
			}
		}
	}
	return nil
}

// walk follows a reach's line out and back at speed (m/s), a fix every
// 15 s with a few metres of GPS noise, starting at.
func walk(line *geom.MultiLineString, at time.Time, speed float64, rng *rand.Rand) geo.Track {
	if line == nil {
		return nil
	}
	length := 0.0
	for i := range line.NumLineStrings() {
		coords := line.LineString(i).Coords()
		for j := 1; j < len(coords); j++ {
			length += geo.Distance(geo.Point{Lon: coords[j-1][0], Lat: coords[j-1][1]}, geo.Point{Lon: coords[j][0], Lat: coords[j][1]})
		}
	}
	if speed < 2 {
		// A chief spends at least 40 minutes on a short reach: slower, with
		// more stops.
		speed = min(speed, 2*length/2400)
	}
	step := speed * 15
	var path []geo.Point
	for i := range line.NumLineStrings() {
		coords := line.LineString(i).Coords()
		for j := 1; j < len(coords); j++ {
			a := geo.Point{Lon: coords[j-1][0], Lat: coords[j-1][1]}
			b := geo.Point{Lon: coords[j][0], Lat: coords[j][1]}
			n := max(1, int(math.Ceil(geo.Distance(a, b)/step)))
			for k := range n {
				f := float64(k) / float64(n)
				path = append(path, geo.Point{Lon: a.Lon + f*(b.Lon-a.Lon), Lat: a.Lat + f*(b.Lat-a.Lat)})
			}
		}
		last := coords[len(coords)-1]
		path = append(path, geo.Point{Lon: last[0], Lat: last[1]})
	}
	back := slices.Clone(path)
	slices.Reverse(back)
	track := make(geo.Track, 0, 2*len(path))
	for i, p := range append(path, back...) {
		track = append(track, geo.Fix{Point: offset(p, rng.NormFloat64()*3, rng.NormFloat64()*3), At: at.Add(time.Duration(i) * 15 * time.Second)})
	}
	return track
}

// offset moves p by east and north metres.
func offset(p geo.Point, east, north float64) geo.Point {
	return geo.Point{Lon: p.Lon + east/(111320*math.Cos(p.Lat*math.Pi/180)), Lat: p.Lat + north/110540}
}

// demoStep is something that happens at a time in the demo month.
type demoStep struct {
	at time.Time
	do func() error
}

// evidenceAndCases uploads evidence along the reaches through the month
// and opens a case on every third item. Case n's fate is n mod 5: fixed
// on time; fixed late; never fixed (overdue at the month's end); returned
// once, then fixed; fixed, then recurring (reopened).
func (d *demoWorld) evidenceAndCases(ctx context.Context, reaches []fieldwatch.Reach, start time.Time) (int, error) {
	end := start.AddDate(0, 1, 0)
	var queue []demoStep
	at := func(t time.Time, f func() error) {
		if t.Before(end) {
			queue = append(queue, demoStep{t, f})
		}
	}
	uploaded, opened := 0, 0
	kinds := []struct {
		cat      fieldwatch.Category
		distance float64 // from the river, metres
		title    string
	}{
		{fieldwatch.CategoryRiverSection, 5, "河道垃圾堆放"},
		{fieldwatch.CategoryDustSite, 300, "施工工地扬尘未苫盖"},
		{fieldwatch.CategoryOpenBurning, 600, "秸秆露天焚烧"},
	}
	for day := 0; day < 27; day += 2 {
		for k, kind := range kinds {
			r := reaches[d.rng.IntN(len(reaches))]
			ls := r.Line.LineString(d.rng.IntN(r.Line.NumLineStrings()))
			c := ls.Coord(d.rng.IntN(ls.NumCoords()))
			p := offset(geo.Point{Lon: c[0], Lat: c[1]}, kind.distance, kind.distance/2)
			at(start.AddDate(0, 0, day).Add(time.Duration(1+3*k)*time.Hour), func() error {
				e, err := d.upload(ctx, d.insp, p, kind.cat)
				if err != nil {
					return err
				}
				uploaded++
				if uploaded%3 != 0 || e.TownshipCode == "" { // a point past the county's edge
					return nil
				}
				sev := []fieldwatch.Severity{fieldwatch.SeverityHigh, fieldwatch.SeverityMedium, fieldwatch.SeverityLow}[d.rng.IntN(3)]
				cs, err := d.cases.Open(ctx, d.admin, fieldwatch.CaseRequest{EvidenceIDs: []string{e.ID}, Title: kind.title,
					Category: kind.cat, Severity: sev})
				if err != nil {
					return err
				}
				d.followUp(ctx, cs, *e.Location, opened%5, at)
				opened++
				return nil
			})
		}
	}
	for len(queue) > 0 {
		i := 0
		for j := range queue {
			if queue[j].at.Before(queue[i].at) {
				i = j
			}
		}
		s := queue[i]
		queue = slices.Delete(queue, i, i+1)
		d.clock.t = s.at
		if err := s.do(); err != nil {
			return uploaded, fmt.Errorf("demo month at %s: %w", s.at.Format(time.RFC3339), err)
		}
	}
	return uploaded, nil
}

// followUp schedules what happens to a case after it opens.
func (d *demoWorld) followUp(ctx context.Context, c fieldwatch.Case, where geo.Point, fate int, at func(time.Time, func() error)) {
	who := d.admin
	verifier := d.admin2
	if c.ReachCode != "" {
		if as, err := d.db.ChiefAssignments(ctx, c.ReachCode, c.OpenedAt); err == nil {
			for _, a := range as {
				if a.Level == fieldwatch.ChiefVillage {
					who, verifier = fieldwatch.Actor{UserID: a.UserID, Role: fieldwatch.RoleRiverChief, Reaches: []string{c.ReachCode}}, d.admin
				}
			}
		}
	}
	act := func(actor fieldwatch.Actor, a fieldwatch.CaseAction, note string) func() error {
		return func() error {
			t := fieldwatch.Transition{Action: a, Note: note, Key: uuid.NewString()}
			if a == fieldwatch.ActionSubmitRectification {
				e, err := d.upload(ctx, actor, offset(where, 15, -10), c.Category)
				if err != nil {
					return err
				}
				t.EvidenceIDs = []string{e.ID}
			}
			_, err := d.cases.Transition(ctx, actor, c.ID, t)
			return err
		}
	}
	day := func(n int) time.Time { return c.OpenedAt.AddDate(0, 0, n).Add(time.Hour) }
	switch fate {
	case 0, 4: // fixed on time; 4 recurs a week later
		at(day(0).Add(2*time.Hour), act(who, fieldwatch.ActionStart, "已派人处理"))
		at(day(0).Add(6*time.Hour), act(who, fieldwatch.ActionSubmitRectification, "已整改完毕"))
		at(day(0).Add(7*time.Hour), act(verifier, fieldwatch.ActionVerify, "复核通过"))
		if fate == 4 {
			at(day(7), act(d.admin, fieldwatch.ActionReopen, "问题复发"))
		}
	case 1: // fixed after the deadline
		late := c.Deadline.Add(26 * time.Hour)
		at(day(1), act(who, fieldwatch.ActionStart, "已派人处理"))
		at(late, act(who, fieldwatch.ActionSubmitRectification, "已整改"))
		at(late.Add(3*time.Hour), act(verifier, fieldwatch.ActionVerify, "复核通过"))
	case 2: // started, never finished
		at(day(1), act(who, fieldwatch.ActionStart, "正在协调"))
	case 3: // returned once
		at(day(0).Add(2*time.Hour), act(who, fieldwatch.ActionStart, "已派人处理"))
		at(day(0).Add(6*time.Hour), act(who, fieldwatch.ActionSubmitRectification, "已清理"))
		at(day(1), act(verifier, fieldwatch.ActionReturn, "照片未显示全部区域，请补拍"))
		at(day(1).Add(2*time.Hour), act(who, fieldwatch.ActionStart, "重新处理"))
		at(day(1).Add(5*time.Hour), act(who, fieldwatch.ActionSubmitRectification, "已补拍"))
		at(day(2), act(verifier, fieldwatch.ActionVerify, "复核通过"))
	}
}

// upload stores a generated photo at p, captured at the simulated now.
func (d *demoWorld) upload(ctx context.Context, who fieldwatch.Actor, p geo.Point, cat fieldwatch.Category) (fieldwatch.Evidence, error) {
	d.seq++
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	base := color.RGBA{uint8(90 + d.rng.IntN(60)), uint8(100 + d.rng.IntN(60)), uint8(80 + d.rng.IntN(40)), 255}
	for y := range 240 {
		for x := range 320 {
			n := uint8(d.rng.IntN(24))
			img.Set(x, y, color.RGBA{base.R + n, base.G + n/2, base.B + uint8(y/12), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		return fieldwatch.Evidence{}, err
	}
	captured := d.clock.Now().Add(-5 * time.Minute)
	meta := fieldwatch.EvidenceMeta{Category: cat, CapturedAt: &captured, Note: "演示数据",
		Device: &fieldwatch.DeviceInput{Lon: p.Lon, Lat: p.Lat, Provider: "gps"}}
	raw, err := json.Marshal(map[string]any{"category": cat, "captured_at": captured, "seq": d.seq})
	if err != nil {
		return fieldwatch.Evidence{}, err
	}
	c, err := d.intake.Claim(ctx, who.UserID, uuid.NewString())
	if err != nil {
		return fieldwatch.Evidence{}, err
	}
	defer c.Release()
	sp, err := d.intake.Receive(ctx, &buf)
	if err != nil {
		return fieldwatch.Evidence{}, err
	}
	defer sp.Close()
	e, _, err := d.intake.Submit(ctx, c, meta, raw, sp)
	return e, err
}
