// Package report exports a monthly township assessment as files for the
// county office: CSV in long format for re-analysis, and an XLSX workbook
// for reading, printing and passing on.
//
// Both formats keep the township order of the assessment (overall rank,
// then code), so the same assessment always yields rows in the same order.
package report

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/width"

	"github.com/fieldwatch/fieldwatch"
)

// noLetter marks a township that has no responsibility letter for the
// year: it is listed so that nobody wonders where it went, but not scored.
const noLetter = "未签订责任书"

// utf8BOM starts the CSV file. Excel on Chinese Windows reads a CSV
// without a BOM in the ANSI code page (GBK) and shows UTF-8 Chinese as
// mojibake; with the BOM it reads UTF-8.
const utf8BOM = "\ufeff"

// The CSV's columns. A row is built by column name (csvRow), so a column
// is added or moved here alone.
const (
	colMonth      = "月份"
	colZone       = "区域类型"
	colRank       = "总排名"
	colRankInZone = "区域内排名"
	colCode       = "乡镇代码"
	colName       = "乡镇名称"
	colScore      = "总分"
	colIndicator  = "指标"
	colCategory   = "指标类别"
	colRule       = "计分规则"
	colTarget     = "目标值"
	colFloor      = "下限"
	colPointsPer  = "每次扣分"
	colWeight     = "权重"
	colValue      = "实际值"
	colPoints     = "得分"
)

// csvHeader returns the CSV columns, one row per township and indicator.
func csvHeader() []string {
	return []string{colMonth, colZone, colRank, colRankInZone, colCode, colName, colScore,
		colIndicator, colCategory, colRule, colTarget, colFloor, colPointsPer, colWeight, colValue, colPoints}
}

// csvRow is a CSV row by column name; a column it lacks is empty.
type csvRow map[string]string

// record lays r out in the order of header. A name that is not a column
// is a mistake in this package, reported rather than dropped.
func (r csvRow) record(header []string) ([]string, error) {
	out := make([]string, len(header))
	for i, col := range header {
		out[i] = r[col]
	}
	for col := range r {
		if !slices.Contains(header, col) {
			return nil, fmt.Errorf("report: csv: no column %q", col)
		}
	}
	return out, nil
}

// WriteCSV writes the assessment to w as UTF-8 CSV with a BOM and Chinese
// headers (see csvHeader), one row per township and indicator, townships
// in the order of a.Townships.
//
// Empty cells mean "not applicable" or "no value": ranks and 总分 of an
// unscored township, 下限 of a deduct rule, 每次扣分 of a linear rule, and
// 实际值 when the metric had nothing to measure (such as a rate with no
// case due), which scores the full weight. A township without a letter
// gets a single row with 未签订责任书 in 指标.
//
// Text cells that a spreadsheet would read as a formula get a leading
// apostrophe (see cellText): township names come from imported GeoJSON.
func WriteCSV(w io.Writer, a fieldwatch.Assessment) error {
	if _, err := io.WriteString(w, utf8BOM); err != nil {
		return fmt.Errorf("report: csv: %w", err)
	}
	header := csvHeader()
	records := [][]string{header}
	add := func(r csvRow) error {
		rec, err := r.record(header)
		records = append(records, rec)
		return err
	}
	for _, t := range a.Townships {
		lead := func() csvRow {
			return csvRow{colMonth: cellText(a.Month), colZone: cellText(t.Zone.Label()), colRank: rankText(t.RankOverall),
				colRankInZone: rankText(t.RankInZone), colCode: cellText(t.Code), colName: cellText(t.Name),
				colScore: floatText(t.Score)}
		}
		if t.LetterID == "" {
			r := lead()
			r[colIndicator] = noLetter
			if err := add(r); err != nil {
				return err
			}
			continue
		}
		if len(t.Indicators) == 0 {
			// A letter always has indicators; if one slipped through, the
			// township still gets its row rather than vanishing.
			if err := add(lead()); err != nil {
				return err
			}
			continue
		}
		for _, ind := range t.Indicators {
			r := lead()
			r[colIndicator] = cellText(ind.Metric.Label())
			r[colCategory] = cellText(ind.Category.Label())
			r[colRule] = cellText(ind.Rule.Label())
			r[colTarget] = strconv.FormatFloat(ind.Target, 'f', -1, 64)
			switch ind.Rule {
			case fieldwatch.RuleLinear:
				r[colFloor] = strconv.FormatFloat(ind.Floor, 'f', -1, 64)
			case fieldwatch.RuleDeduct:
				r[colPointsPer] = strconv.FormatFloat(ind.PointsPer, 'f', -1, 64)
			}
			r[colWeight] = strconv.FormatFloat(ind.Weight, 'f', -1, 64)
			r[colValue] = floatText(ind.Value)
			r[colPoints] = strconv.FormatFloat(ind.Points, 'f', -1, 64)
			if err := add(r); err != nil {
				return err
			}
		}
	}
	if err := csv.NewWriter(w).WriteAll(records); err != nil {
		return fmt.Errorf("report: csv: %w", err)
	}
	return nil
}

// WriteXLSX writes the assessment to w as an XLSX workbook with the sheets
// 汇总 (one row per township, the points of each indicator), then 核心区,
// 外围区 and 一般区 (the townships of the tier with each indicator's value
// and points). The tier sheets are always there, empty when a tier has no
// township; a township of another zone appears in 汇总 only.
//
// Numbers are numeric cells; empty cells mean what they mean in WriteCSV.
// Text is stored as text, which a spreadsheet never evaluates, so unlike
// the CSV it needs no guard against formulas.
func WriteXLSX(w io.Writer, a fieldwatch.Assessment) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("report: xlsx: %w", cerr)
		}
	}()
	if err := f.SetDocProps(docProps(a)); err != nil {
		return fmt.Errorf("report: xlsx: %w", err)
	}
	header, err := f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"D9E1F2"}},
		Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center"},
	})
	if err != nil {
		return fmt.Errorf("report: xlsx: %w", err)
	}
	tables := []table{summaryTable(a)}
	for _, z := range fieldwatch.Zones() {
		tables = append(tables, tierTable(a, z))
	}
	for i, t := range tables {
		if i == 0 {
			// A new workbook has one sheet; the summary takes it so that
			// it opens first.
			err = f.SetSheetName(f.GetSheetName(0), t.name)
		} else {
			_, err = f.NewSheet(t.name)
		}
		if err != nil {
			return fmt.Errorf("report: xlsx: sheet %s: %w", t.name, err)
		}
		if err := t.write(f, header); err != nil {
			return fmt.Errorf("report: xlsx: sheet %s: %w", t.name, err)
		}
	}
	f.SetActiveSheet(0)
	if err := f.Write(w); err != nil {
		return fmt.Errorf("report: xlsx: %w", err)
	}
	return nil
}

// docProps says which month the workbook is and whether the assessment was
// frozen: an unfrozen one may still change, and a printout does not show it.
func docProps(a fieldwatch.Assessment) *excelize.DocProperties {
	status := "未冻结（暂定结果）"
	if a.Frozen {
		status = "已冻结"
		if a.FrozenAt != nil {
			status += " " + a.FrozenAt.Format(time.RFC3339)
		}
		if a.FrozenBy != "" {
			status += " " + a.FrozenBy
		}
	}
	return &excelize.DocProperties{
		Title:         "乡镇月度考核 " + a.Month,
		Subject:       a.Month,
		ContentStatus: status,
		Description:   "计算时间 " + a.ComputedAt.Format(time.RFC3339) + "；" + status,
		Language:      "zh-CN",
	}
}

// summaryTable is the 汇总 sheet: every township, its points per indicator.
func summaryTable(a fieldwatch.Assessment) table {
	cols := indicatorColumns(a.Townships)
	t := table{name: "汇总", keep: 4,
		header: []string{"总排名", "区域内排名", "乡镇代码", "乡镇名称", "区域类型", "总分"}}
	for _, c := range cols {
		t.header = append(t.header, c.label())
	}
	t.header = append(t.header, "备注")
	for _, ts := range a.Townships {
		row := []any{rankCell(ts.RankOverall), rankCell(ts.RankInZone), ts.Code, ts.Name,
			ts.Zone.Label(), floatCell(ts.Score)}
		for _, c := range cols {
			if ind, ok := c.find(ts); ok {
				row = append(row, ind.Points)
			} else {
				row = append(row, nil)
			}
		}
		t.rows = append(t.rows, append(row, note(ts)))
	}
	return t
}

// tierTable is a tier's sheet: its townships, each indicator's value and
// points, with only the indicators of the tier's letters as columns.
func tierTable(a fieldwatch.Assessment, z fieldwatch.Zone) table {
	var members []fieldwatch.TownshipScore
	for _, ts := range a.Townships {
		if ts.Zone == z {
			members = append(members, ts)
		}
	}
	cols := indicatorColumns(members)
	t := table{name: z.Label(), keep: 4,
		header: []string{"区域内排名", "总排名", "乡镇代码", "乡镇名称", "总分"}}
	for _, c := range cols {
		t.header = append(t.header, c.label()+" 实际值", c.label()+" 得分")
	}
	t.header = append(t.header, "备注")
	for _, ts := range members {
		row := []any{rankCell(ts.RankInZone), rankCell(ts.RankOverall), ts.Code, ts.Name, floatCell(ts.Score)}
		for _, c := range cols {
			if ind, ok := c.find(ts); ok {
				row = append(row, floatCell(ind.Value), ind.Points)
			} else {
				row = append(row, nil, nil)
			}
		}
		t.rows = append(t.rows, append(row, note(ts)))
	}
	return t
}

func note(ts fieldwatch.TownshipScore) any {
	if ts.LetterID == "" {
		return noLetter
	}
	return nil
}

// table is a worksheet before it is written: cells are nil (left empty),
// string, int or float64. The first keep columns name the township and
// stay in view when scrolling right.
type table struct {
	name   string
	header []string
	rows   [][]any
	keep   int
}

// write fills the sheet: a styled header row that stays in view, the rows,
// and columns wide enough for their widest cell.
func (t table) write(f *excelize.File, headerStyle int) error {
	widths := make([]int, len(t.header))
	set := func(col, row int, v any) error {
		cell, err := excelize.CoordinatesToCellName(col+1, row)
		if err != nil {
			return err
		}
		if col < len(widths) {
			widths[col] = max(widths[col], displayWidth(v))
		}
		return f.SetCellValue(t.name, cell, v)
	}
	for i, h := range t.header {
		if err := set(i, 1, h); err != nil {
			return err
		}
	}
	for r, row := range t.rows {
		for i, v := range row {
			if v == nil {
				continue
			}
			if err := set(i, r+2, v); err != nil {
				return err
			}
		}
	}
	last, err := excelize.ColumnNumberToName(len(t.header))
	if err != nil {
		return err
	}
	if err := f.SetCellStyle(t.name, "A1", last+"1", headerStyle); err != nil {
		return err
	}
	for i, w := range widths {
		name, err := excelize.ColumnNumberToName(i + 1)
		if err != nil {
			return err
		}
		// Excel's unit is the width of a digit; two for padding, and
		// bounds so an odd name neither hides nor swamps a column.
		if err := f.SetColWidth(t.name, name, name, float64(min(max(w+2, 8), 40))); err != nil {
			return err
		}
	}
	topLeft, err := excelize.CoordinatesToCellName(t.keep+1, 2)
	if err != nil {
		return err
	}
	return f.SetPanes(t.name, &excelize.Panes{Freeze: true, XSplit: t.keep, YSplit: 1,
		TopLeftCell: topLeft, ActivePane: "bottomRight",
		Selection: []excelize.Selection{{SQRef: topLeft, ActiveCell: topLeft, Pane: "bottomRight"}}})
}

// displayWidth is how many digit widths a cell's text takes: Chinese
// characters are about two.
func displayWidth(v any) int {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case int:
		s = strconv.Itoa(v)
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	}
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

// column is an indicator as a spreadsheet column. A letter names each
// metric once, except evidence_found, once per category.
type column struct {
	metric   fieldwatch.Metric
	category fieldwatch.Category
}

func (c column) label() string {
	name := c.metric.Label()
	if c.category != "" {
		name += "(" + c.category.Label() + ")"
	}
	return name
}

func (c column) find(ts fieldwatch.TownshipScore) (fieldwatch.IndicatorScore, bool) {
	for _, ind := range ts.Indicators {
		if ind.Metric == c.metric && ind.Category == c.category {
			return ind, true
		}
	}
	return fieldwatch.IndicatorScore{}, false
}

// indicatorColumns returns the indicators of any of the townships in
// catalogue order, so that the columns keep their places from month to
// month whatever order the letters list them in.
func indicatorColumns(ts []fieldwatch.TownshipScore) []column {
	var cols []column
	for _, t := range ts {
		for _, ind := range t.Indicators {
			if c := (column{ind.Metric, ind.Category}); !slices.Contains(cols, c) {
				cols = append(cols, c)
			}
		}
	}
	// Unknown metrics and categories go last, by name.
	pos := func(i int, n int) int {
		if i < 0 {
			return n
		}
		return i
	}
	metrics, categories := fieldwatch.Metrics(), append([]fieldwatch.Category{""}, fieldwatch.Categories()...)
	slices.SortFunc(cols, func(x, y column) int {
		return cmp.Or(
			cmp.Compare(pos(slices.Index(metrics, x.metric), len(metrics)),
				pos(slices.Index(metrics, y.metric), len(metrics))),
			cmp.Compare(x.metric, y.metric),
			cmp.Compare(pos(slices.Index(categories, x.category), len(categories)),
				pos(slices.Index(categories, y.category), len(categories))),
			cmp.Compare(x.category, y.category))
	})
	return cols
}

// cellText guards a CSV text cell against formula injection: a cell that
// begins with = + - @ (or a tab or carriage return, which some spreadsheets
// skip before looking) would be evaluated as a formula when the file is
// opened, so it gets a leading apostrophe, which makes it text (OWASP,
// "CSV Injection"). Numbers do not pass through here: "-1" stays a number.
func cellText(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

// rankText is a rank for CSV: 0 (unranked) is empty.
func rankText(r int) string {
	if r == 0 {
		return ""
	}
	return strconv.Itoa(r)
}

// floatText is an optional number for CSV: nil is empty.
func floatText(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}

// rankCell is a rank for XLSX: 0 (unranked) is an empty cell.
func rankCell(r int) any {
	if r == 0 {
		return nil
	}
	return r
}

// floatCell is an optional number for XLSX: nil is an empty cell.
func floatCell(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}
