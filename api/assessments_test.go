package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/fieldwatch/fieldwatch/api"
)

// The month's letter in every scored township of the fixture: 40 points
// for finding problems (3 or more evidence items), 20 for closing cases on
// time, 20 less 10 per open-burning case, 20 less 5 per overdue case.
var testLetter = map[string]any{"year": 2026, "signed_on": "2026-01-15", "indicators": []map[string]any{
	{"metric": "evidence_found", "rule": "linear", "floor": 0, "target": 3, "weight": 40},
	{"metric": "cases_closed_on_time_rate", "rule": "linear", "floor": 0, "target": 100, "weight": 20},
	{"metric": "open_burning_cases", "rule": "deduct", "target": 0, "points_per": 10, "weight": 20},
	{"metric": "overdue_cases", "rule": "deduct", "target": 0, "points_per": 5, "weight": 20},
}}

// Points in the demo county (EXIF positions of the test photos), by township.
var townshipPoint = map[string][2]float64{
	"130227101": {118.3, 40.14},          // 兴城镇, core
	"130227102": {118.369559, 40.181607}, // 栗乡街道, core
	"130227106": {118.27779, 40.253348},  // 洒河桥镇, periphery
	"130227110": {118.453357, 40.210197}, // 新集镇, periphery
}

// TestAssessment builds a small November in the demo county through HTTP
// and checks the scores and ranks against the sums below, done by hand:
//
//	township        zone       evidence  on time    burning  overdue   total
//	A 130227101     core       4 → 40    1/1 → 20   1 → 10   0 → 20     90
//	E 130227102     core       3 → 40    none → 20  0 → 20   0 → 20    100
//	B 130227106     periphery  3 → 40    none → 20  0 → 20   0 → 20    100
//	C 130227110     periphery  1 → 13.33 0/1 → 0    1 → 10   0 → 20  43.33 (38.33 once overdue)
//	D 130227108     general    (no activity)        → 0+20+20+20        60
//
// Overall B and E tie for first, then A third, D, C; in zone: core E 1,
// A 2; periphery B 1, C 2; general D 1. Townships without a letter are
// listed unscored. Then the month is frozen and no longer moves.
func TestAssessment(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		w := newCaseWorld(t, a) // uploads one LH-03 photo (B) as the inspector
		for _, code := range []string{"130227101", "130227102", "130227106", "130227110", "130227108"} {
			if r := a.do("POST", "/v1/townships/"+code+"/letters", w.admin, testLetter); r.status != http.StatusCreated {
				t.Fatalf("letter %s: %d %s", code, r.status, r.body)
			}
		}
		seq := 100
		upload := func(code string, captured time.Time) string {
			seq++
			p := townshipPoint[code]
			return a.mustUpload(w.admin, uniquePhoto(t, "no-exif.jpg", seq), map[string]any{"category": "dust_site",
				"captured_at": captured.Format(time.RFC3339), "device_location": map[string]any{"lon": p[0], "lat": p[1]}}).Id.String()
		}
		now := a.clock.Now()
		evA := []string{upload("130227101", now), upload("130227101", now), upload("130227101", now)}
		for range 3 {
			upload("130227102", now)
		}
		upload("130227106", now)
		upload("130227106", now) // B: with newCaseWorld's photo, 3
		evC := upload("130227110", now)

		burning := func(ev string) string {
			return w.open(t, map[string]any{"evidence_ids": []string{ev}, "title": "秸秆焚烧", "category": "open_burning", "severity": "high"}).Id.String()
		}
		caseA, caseC := burning(evA[0]), burning(evC)
		w.advance(time.Hour)
		fix := upload("130227101", a.clock.Now()) // A's fourth evidence
		for _, body := range []map[string]any{
			{"action": "start"},
			{"action": "submit_rectification", "evidence_ids": []string{fix}},
		} {
			if r := w.transition(w.admin, caseA, body); r.status != http.StatusOK {
				t.Fatalf("%v: %d %s", body["action"], r.status, r.body)
			}
		}
		if r := w.transition(w.admin2, caseA, map[string]any{"action": "verify"}); r.status != http.StatusOK {
			t.Fatalf("verify: %d %s", r.status, r.body)
		}

		// 1 December, 09:00 in China: November is over.
		w.advance(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC).Sub(a.clock.Now()))
		checkScores(t, a, w.admin, map[string]string{
			"130227101": "90 3 2", "130227102": "100 1 1", "130227106": "100 1 1", "130227110": "43.33 5 2", "130227108": "60 4 1",
			"130227103": "- - -",
		})
		// The deadline job marks C's case overdue since 30 November: an
		// unfrozen month recomputes.
		if _, err := a.cases.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkScores(t, a, w.admin, map[string]string{"130227110": "38.33 5 2", "130227101": "90 3 2"})
		var tc api.TownshipAssessment
		a.do("GET", "/v1/assessments/2026-11/townships/130227110", w.admin, nil).json(t, &tc)
		if ids := tc.Township.Indicators[3].CaseIds; len(ids) != 1 || ids[0].String() != caseC {
			t.Fatalf("C's overdue cases: %v, want %s", ids, caseC)
		}

		// The drill-down names what each value was counted from.
		var ta api.TownshipAssessment
		r := a.do("GET", "/v1/assessments/2026-11/townships/130227101", w.admin, nil)
		r.json(t, &ta)
		if r.status != http.StatusOK || len(ta.Township.Indicators) != 4 || len(ta.Township.Indicators[0].EvidenceIds) != 4 ||
			len(ta.Township.Indicators[1].CaseIds) != 1 || ta.Township.Indicators[1].CaseIds[0].String() != caseA {
			t.Fatalf("drill-down: %d %s", r.status, r.body)
		}
		// Officers read their own township's drill-down only.
		if r := a.do("GET", "/v1/assessments/2026-11/townships/130227101", w.other, nil); r.status != http.StatusOK {
			t.Fatalf("the officer of 130227101 reads it: %d", r.status)
		}
		requireProblem(t, a.do("GET", "/v1/assessments/2026-11/townships/130227101", w.officer, nil), http.StatusNotFound)
		requireProblem(t, a.do("GET", "/v1/assessments/2026-11/townships/130227101", w.ins, nil), http.StatusNotFound)

		requireProblem(t, a.do("POST", "/v1/assessments/2026-12:freeze", w.admin, nil), http.StatusConflict) // not over
		r = a.do("POST", "/v1/assessments/2026-11:freeze", w.admin, nil)
		if r.status != http.StatusCreated {
			t.Fatalf("freeze: %d %s", r.status, r.body)
		}
		requireProblem(t, a.do("POST", "/v1/assessments/2026-11:freeze", w.admin, nil), http.StatusConflict)

		// After the freeze A's case recurs: reopened, it is due in
		// December, which would take it out of November's cases due. The
		// frozen month keeps its numbers.
		if r := w.transition(w.admin, caseA, map[string]any{"action": "reopen", "note": "复燃"}); r.status != http.StatusOK {
			t.Fatalf("reopen: %d %s", r.status, r.body)
		}
		var frozen api.Assessment
		a.do("GET", "/v1/assessments/2026-11", w.ins, nil).json(t, &frozen)
		if !frozen.Frozen || frozen.FrozenBy == nil || frozen.FrozenBy.String() != w.ids["c.admin"] {
			t.Fatalf("frozen: %+v", frozen)
		}
		for _, ts := range frozen.Townships {
			if ts.Code == "130227101" && (ts.Indicators[1].Value == nil || *ts.Indicators[1].Value != 100) {
				t.Fatalf("frozen on-time rate of A changed: %s", mustJSON(ts.Indicators[1]))
			}
		}
		checkScores(t, a, w.admin, map[string]string{"130227110": "38.33 5 2", "130227101": "90 3 2"})
		evs, err := a.db.AuditEvents(context.Background(), 0, 1000)
		if err != nil || evs[len(evs)-2].Action != "assessment.freeze" {
			t.Fatalf("audit: %v (%v)", err, evs[len(evs)-2].Action)
		}

		// Exports: CSV with Chinese headers, a workbook with a sheet per tier.
		r = a.do("GET", "/v1/assessments/2026-11?format=csv", w.admin, nil)
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.body, []byte("\ufeff")))).ReadAll()
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || err != nil ||
			rows[0][0] != "月份" || len(rows) < 1+5*4 {
			t.Fatalf("csv: %d %v %q", r.status, err, r.body[:min(200, len(r.body))])
		}
		r = a.do("GET", "/v1/assessments/2026-11?format=xlsx", w.admin, nil)
		x, err := excelize.OpenReader(bytes.NewReader(r.body))
		if err != nil {
			t.Fatalf("xlsx: %v", err)
		}
		if got := strings.Join(x.GetSheetList(), ","); got != "汇总,核心区,外围区,一般区" {
			t.Fatalf("sheets %s", got)
		}
	})
}

// checkScores compares "score rank_overall rank_in_zone" per township ("-"
// for unscored) with the month's assessment.
func checkScores(t *testing.T, a *testAPI, token string, want map[string]string) {
	t.Helper()
	var as api.Assessment
	r := a.do("GET", "/v1/assessments/2026-11", token, nil)
	r.json(t, &as)
	if r.status != http.StatusOK || len(as.Townships) != 14 {
		t.Fatalf("assessment: %d, %d townships: %s", r.status, len(as.Townships), r.body)
	}
	show := func(p any) string {
		switch v := p.(type) {
		case *float64:
			if v != nil {
				return fmt.Sprint(*v)
			}
		case *int:
			if v != nil {
				return fmt.Sprint(*v)
			}
		}
		return "-"
	}
	for _, ts := range as.Townships {
		if w, ok := want[ts.Code]; ok {
			if got := show(ts.Score) + " " + show(ts.RankOverall) + " " + show(ts.RankInZone); got != w {
				t.Errorf("%s: %s, want %s", ts.Code, got, w)
			}
		}
	}
}
