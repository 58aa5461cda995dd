package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/fieldwatch/fieldwatch"
)

const evilName = `=HYPERLINK("http://evil.example","白沙镇")`

func ptr(f float64) *float64 { return &f }

// fixture is a month of three townships: a core one and a periphery one
// tied at 89.5 (so both rank first overall), and a general one without a
// letter. The core one has a metric with no value, the periphery one a
// name that a spreadsheet would run as a formula.
func fixture() fieldwatch.Assessment {
	frozenAt := time.Date(2026, 6, 3, 1, 0, 0, 0, time.UTC)
	return fieldwatch.Assessment{
		Month:      "2026-05",
		Frozen:     true,
		FrozenAt:   &frozenAt,
		FrozenBy:   "u-admin",
		ComputedAt: time.Date(2026, 6, 2, 16, 0, 0, 0, time.UTC),
		Townships: []fieldwatch.TownshipScore{
			{
				Code: "511602001", Name: "城关镇", Zone: fieldwatch.ZoneCore, LetterID: "L1",
				Score: ptr(89.5), RankInZone: 1, RankOverall: 1,
				Indicators: []fieldwatch.IndicatorScore{
					{Indicator: fieldwatch.Indicator{Metric: fieldwatch.MetricClosedOnTimeRate, Rule: fieldwatch.RuleLinear, Target: 95, Floor: 60, Weight: 40},
						Value: ptr(88), Points: 32},
					{Indicator: fieldwatch.Indicator{Metric: fieldwatch.MetricOverdueCases, Rule: fieldwatch.RuleDeduct, Target: 0, PointsPer: 2.5, Weight: 30},
						Value: ptr(1), Points: 27.5},
					{Indicator: fieldwatch.Indicator{Metric: fieldwatch.MetricValidPatrolRate, Rule: fieldwatch.RuleLinear, Target: 90, Floor: 50, Weight: 30},
						Value: nil, Points: 30},
				},
			},
			{
				Code: "511602002", Name: evilName, Zone: fieldwatch.ZonePeriphery, LetterID: "L2",
				Score: ptr(89.5), RankInZone: 1, RankOverall: 1,
				Indicators: []fieldwatch.IndicatorScore{
					// Listed out of catalogue order: columns must not follow it.
					{Indicator: fieldwatch.Indicator{Metric: fieldwatch.MetricEvidenceFound, Category: fieldwatch.CategoryOpenBurning, Rule: fieldwatch.RuleDeduct, Target: 0, PointsPer: 0.5, Weight: 50},
						Value: ptr(1), Points: 49.5},
					{Indicator: fieldwatch.Indicator{Metric: fieldwatch.MetricClosedOnTimeRate, Rule: fieldwatch.RuleLinear, Target: 95, Floor: 60, Weight: 50},
						Value: ptr(88), Points: 40},
				},
			},
			{
				Code: "511602003", Name: "新桥乡", Zone: fieldwatch.ZoneGeneral,
				Indicators: []fieldwatch.IndicatorScore{},
			},
		},
	}
}

func TestWriteCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCSV(&buf, fixture()); err != nil {
		t.Fatal(err)
	}
	body, ok := bytes.CutPrefix(buf.Bytes(), []byte(utf8BOM))
	if !ok {
		t.Fatalf("no UTF-8 BOM: starts %q", buf.Bytes()[:min(8, buf.Len())])
	}
	got, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"月份", "区域类型", "总排名", "区域内排名", "乡镇代码", "乡镇名称", "总分",
			"指标", "指标类别", "计分规则", "目标值", "下限", "每次扣分", "权重", "实际值", "得分"},
		{"2026-05", "核心区", "1", "1", "511602001", "城关镇", "89.5", "按期整改率(%)", "", "线性计分", "95", "60", "", "40", "88", "32"},
		{"2026-05", "核心区", "1", "1", "511602001", "城关镇", "89.5", "逾期案件数", "", "扣分制", "0", "", "2.5", "30", "1", "27.5"},
		{"2026-05", "核心区", "1", "1", "511602001", "城关镇", "89.5", "有效巡河率(%)", "", "线性计分", "90", "50", "", "30", "", "30"},
		{"2026-05", "外围区", "1", "1", "511602002", "'" + evilName, "89.5", "发现问题数", "露天焚烧", "扣分制", "0", "", "0.5", "50", "1", "49.5"},
		{"2026-05", "外围区", "1", "1", "511602002", "'" + evilName, "89.5", "按期整改率(%)", "", "线性计分", "95", "60", "", "50", "88", "40"},
		{"2026-05", "一般区", "", "", "511602003", "新桥乡", "", "未签订责任书", "", "", "", "", "", "", "", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d:\n%q", len(got), len(want), got)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("record %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
}

func TestCellText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"Equals", "=1+2", "'=1+2"},
		{"Plus", "+86", "'+86"},
		{"Minus", "-2+3", "'-2+3"},
		{"At", "@SUM(A1)", "'@SUM(A1)"},
		{"Tab", "\t=1", "'\t=1"},
		{"CarriageReturn", "\r=1", "'\r=1"},
		{"Empty", "", ""},
		{"Chinese", "城关镇", "城关镇"},
		{"EqualsInside", "a=b", "a=b"},
		{"Apostrophe", "'=1", "'=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cellText(tc.in); got != tc.want {
				t.Errorf("cellText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestCSVRowByName: a row lays out by the header's names, a missing
// column is empty, and a name that is not a column is an error.
func TestCSVRowByName(t *testing.T) {
	header := csvHeader()
	rec, err := csvRow{colPoints: "3", colMonth: "2025-03"}.record(header)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec) != len(header) || rec[0] != "2025-03" || rec[len(rec)-1] != "3" || rec[1] != "" {
		t.Errorf("record %q", rec)
	}
	if _, err := (csvRow{"月分": "2025-03"}).record(header); err == nil {
		t.Error("an unknown column was accepted")
	}
}

func mustWriteXLSX(t *testing.T, a fieldwatch.Assessment) *excelize.File {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteXLSX(&buf, a); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func mustRows(t *testing.T, f *excelize.File, sheet string) [][]string {
	t.Helper()
	rows, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestWriteXLSX(t *testing.T) {
	f := mustWriteXLSX(t, fixture())

	if got, want := f.GetSheetList(), []string{"汇总", "核心区", "外围区", "一般区"}; !slices.Equal(got, want) {
		t.Fatalf("sheets %q, want %q", got, want)
	}

	// GetRows drops trailing empty cells of a row.
	for _, tc := range []struct {
		sheet string
		want  [][]string
	}{
		{"汇总", [][]string{
			{"总排名", "区域内排名", "乡镇代码", "乡镇名称", "区域类型", "总分",
				"按期整改率(%)", "逾期案件数", "发现问题数(露天焚烧)", "有效巡河率(%)", "备注"},
			{"1", "1", "511602001", "城关镇", "核心区", "89.5", "32", "27.5", "", "30"},
			{"1", "1", "511602002", evilName, "外围区", "89.5", "40", "", "49.5"},
			{"", "", "511602003", "新桥乡", "一般区", "", "", "", "", "", "未签订责任书"},
		}},
		{"核心区", [][]string{
			{"区域内排名", "总排名", "乡镇代码", "乡镇名称", "总分",
				"按期整改率(%) 实际值", "按期整改率(%) 得分", "逾期案件数 实际值", "逾期案件数 得分",
				"有效巡河率(%) 实际值", "有效巡河率(%) 得分", "备注"},
			{"1", "1", "511602001", "城关镇", "89.5", "88", "32", "1", "27.5", "", "30"},
		}},
		{"外围区", [][]string{
			{"区域内排名", "总排名", "乡镇代码", "乡镇名称", "总分",
				"按期整改率(%) 实际值", "按期整改率(%) 得分", "发现问题数(露天焚烧) 实际值", "发现问题数(露天焚烧) 得分", "备注"},
			{"1", "1", "511602002", evilName, "89.5", "88", "40", "1", "49.5"},
		}},
		{"一般区", [][]string{
			{"区域内排名", "总排名", "乡镇代码", "乡镇名称", "总分", "备注"},
			{"", "", "511602003", "新桥乡", "", "未签订责任书"},
		}},
	} {
		t.Run("Rows/"+tc.sheet, func(t *testing.T) {
			got := mustRows(t, f, tc.sheet)
			if len(got) != len(tc.want) {
				t.Fatalf("%d rows, want %d:\n%q", len(got), len(tc.want), got)
			}
			for i := range tc.want {
				if !slices.Equal(got[i], tc.want[i]) {
					t.Errorf("row %d:\n got %q\nwant %q", i+1, got[i], tc.want[i])
				}
			}
		})
	}

	// Excelize writes numbers without a t attribute, which OOXML defines
	// as a number and GetCellType reports as unset; an empty cell is unset
	// too, hence the check on the value.
	for _, tc := range []struct {
		sheet, cell string
		number      bool
	}{
		{"汇总", "A2", true},  // 总排名
		{"汇总", "F2", true},  // 总分
		{"汇总", "G2", true},  // points
		{"汇总", "C2", false}, // a code is text: it is an identifier
		{"汇总", "D3", false}, // the formula-like name stays text
		{"核心区", "F2", true}, // value
		{"核心区", "K2", true}, // points of a metric without value
	} {
		t.Run("Type/"+tc.sheet+"!"+tc.cell, func(t *testing.T) {
			typ, err := f.GetCellType(tc.sheet, tc.cell)
			if err != nil {
				t.Fatal(err)
			}
			v, err := f.GetCellValue(tc.sheet, tc.cell)
			if err != nil {
				t.Fatal(err)
			}
			_, perr := strconv.ParseFloat(v, 64)
			isNumber := (typ == excelize.CellTypeNumber || typ == excelize.CellTypeUnset) && perr == nil
			if isNumber != tc.number {
				t.Errorf("type %v value %q: number %v, want %v", typ, v, isNumber, tc.number)
			}
			if !tc.number && typ != excelize.CellTypeSharedString && typ != excelize.CellTypeInlineString {
				t.Errorf("type %v, want a string", typ)
			}
		})
	}

	t.Run("EmptyCells", func(t *testing.T) {
		for _, cell := range []string{"A4", "B4", "F4"} {
			if v, err := f.GetCellValue("汇总", cell); err != nil || v != "" {
				t.Errorf("汇总!%s = %q, %v; want empty", cell, v, err)
			}
		}
		if v, _ := f.GetCellValue("核心区", "J2"); v != "" {
			t.Errorf("核心区!J2 (no value) = %q, want empty", v)
		}
	})

	t.Run("Header", func(t *testing.T) {
		for _, sheet := range f.GetSheetList() {
			id, err := f.GetCellStyle(sheet, "A1")
			if err != nil {
				t.Fatal(err)
			}
			style, err := f.GetStyle(id)
			if err != nil {
				t.Fatal(err)
			}
			if style.Font == nil || !style.Font.Bold {
				t.Errorf("%s!A1 not bold", sheet)
			}
			panes, err := f.GetPanes(sheet)
			if err != nil {
				t.Fatal(err)
			}
			if !panes.Freeze || panes.YSplit != 1 || panes.XSplit != 4 {
				t.Errorf("%s panes %+v, want frozen at the header and four columns", sheet, panes)
			}
			if w, err := f.GetColWidth(sheet, "D"); err != nil || w < 8 {
				t.Errorf("%s column D width %v, %v", sheet, w, err)
			}
		}
	})

	t.Run("DocProps", func(t *testing.T) {
		p, err := f.GetDocProps()
		if err != nil {
			t.Fatal(err)
		}
		if p.Title != "乡镇月度考核 2026-05" || p.ContentStatus != "已冻结 2026-06-03T01:00:00Z u-admin" {
			t.Errorf("title %q, status %q", p.Title, p.ContentStatus)
		}
	})
}

func TestWriteXLSXEmpty(t *testing.T) {
	f := mustWriteXLSX(t, fieldwatch.Assessment{Month: "2026-05"})
	if got, want := f.GetSheetList(), []string{"汇总", "核心区", "外围区", "一般区"}; !slices.Equal(got, want) {
		t.Fatalf("sheets %q, want %q", got, want)
	}
	for _, sheet := range f.GetSheetList() {
		if rows := mustRows(t, f, sheet); len(rows) != 1 {
			t.Errorf("%s: %d rows, want the header only", sheet, len(rows))
		}
	}
}

type failWriter struct{}

var errDisk = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDisk }

func TestWriteError(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func() error
	}{
		{"CSV", func() error { return WriteCSV(failWriter{}, fixture()) }},
		{"XLSX", func() error { return WriteXLSX(failWriter{}, fixture()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.write(); !errors.Is(err, errDisk) {
				t.Errorf("error %v, want %v", err, errDisk)
			}
		})
	}
}

func ExampleWriteCSV() {
	a := fieldwatch.Assessment{Month: "2026-05", Townships: []fieldwatch.TownshipScore{{
		Code: "511602001", Name: "城关镇", Zone: fieldwatch.ZoneCore, LetterID: "L1",
		Score: ptr(95), RankInZone: 1, RankOverall: 1,
		Indicators: []fieldwatch.IndicatorScore{{
			Indicator: fieldwatch.Indicator{Metric: fieldwatch.MetricOverdueCases, Rule: fieldwatch.RuleDeduct, PointsPer: 5, Weight: 100},
			Value:     ptr(1), Points: 95,
		}},
	}}}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, a); err != nil {
		fmt.Println(err)
		return
	}
	_, _ = os.Stdout.Write(bytes.TrimPrefix(buf.Bytes(), []byte("\ufeff")))
	// Output:
	// 月份,区域类型,总排名,区域内排名,乡镇代码,乡镇名称,总分,指标,指标类别,计分规则,目标值,下限,每次扣分,权重,实际值,得分
	// 2026-05,核心区,1,1,511602001,城关镇,95,逾期案件数,,扣分制,0,,5,100,1,95
}
