package console

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fieldwatch/fieldwatch"
)

func names[T ~string](list []T) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	return out
}

func readAsset(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(assets, "assets/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// i18nKeys returns the message keys of each language of i18n.js.
func i18nKeys(t *testing.T) map[string][]string {
	t.Helper()
	src := readAsset(t, "i18n.js")
	lang := regexp.MustCompile(`(?m)^  "?([a-zA-Z-]+)"?: \{$`)
	key := regexp.MustCompile(`(?m)^    "([^"]+)": `)
	out := map[string][]string{}
	locs := lang.FindAllStringSubmatchIndex(src, -1)
	for i, l := range locs {
		end := len(src)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		name := src[l[2]:l[3]]
		for _, m := range key.FindAllStringSubmatch(src[l[1]:end], -1) {
			out[name] = append(out[name], m[1])
		}
	}
	if len(out["zh-CN"]) == 0 || len(out["en"]) == 0 {
		t.Fatalf("i18n.js: no zh-CN or en messages found (%d languages)", len(out))
	}
	return out
}

// TestLabelsFollowTheDomain: the console's labels (i18n.js, in both
// languages) name exactly the domain's values of each enumeration it
// shows, so a new value cannot reach the console unlabelled and a removed
// one leaves no label behind.
func TestLabelsFollowTheDomain(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		values []string
		// exact: the prefix holds this enumeration's labels only.
		exact bool
	}{
		{"category", names(fieldwatch.Categories()), true},
		{"flag", names(fieldwatch.Flags()), true},
		{"role", names(fieldwatch.Roles()), true},
		{"zone", names(fieldwatch.Zones()), true},
		{"level", names(fieldwatch.ChiefLevels()), true},
		{"severity", names(fieldwatch.Severities()), true},
		{"state", names(fieldwatch.CaseStates()), true},
		{"action", names(fieldwatch.CaseActions()), true},
		{"escalation", names(fieldwatch.Escalations()), true},
		{"event", names(fieldwatch.CaseEventKinds()), true},
		{"rule", names(fieldwatch.ScoreRules()), true},
		{"metric", names(fieldwatch.Metrics()), true},
		{"review", fieldwatch.ReviewStates(), false},
	} {
		for lang, keys := range i18nKeys(t) {
			var got []string
			for _, k := range keys {
				if v, ok := strings.CutPrefix(k, tc.prefix+"."); ok {
					got = append(got, v)
				}
			}
			for _, v := range tc.values {
				if !slices.Contains(got, v) {
					t.Errorf("i18n.js %s: no label %s.%s", lang, tc.prefix, v)
				}
			}
			if !tc.exact {
				continue
			}
			for _, v := range got {
				if !slices.Contains(tc.values, v) {
					t.Errorf("i18n.js %s: label %s.%s for a value the domain does not have", lang, tc.prefix, v)
				}
			}
		}
	}
}

// TestListsFollowTheDomain: the lists the map's filters offer (map.js),
// the severities a case is opened with (evidence.js), and the category
// colours (style.css) are the domain's.
func TestListsFollowTheDomain(t *testing.T) {
	mapJS := readAsset(t, "map.js")
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"categories", names(fieldwatch.Categories())},
		{"flags", names(fieldwatch.Flags())},
		{"reviewStates", fieldwatch.ReviewStates()},
	} {
		m := regexp.MustCompile(`const ` + tc.name + ` = \[([^\]]*)\]`).FindStringSubmatch(mapJS)
		if m == nil {
			t.Errorf("map.js: no list %s", tc.name)
			continue
		}
		var got []string
		for _, q := range regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(m[1], -1) {
			got = append(got, q[1])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("map.js %s = %v, want the domain's %v", tc.name, got, tc.want)
		}
	}
	if want := `["` + strings.Join(names(fieldwatch.Severities()), `", "`) + `"]`; !strings.Contains(readAsset(t, "evidence.js"), want) {
		t.Errorf("evidence.js does not offer the severities %s", want)
	}
	css := readAsset(t, "style.css")
	for _, c := range fieldwatch.Categories() {
		for _, rule := range []string{"--cat-" + string(c) + ":", ".fw-cat-" + string(c) + " ", ".chip.fw-cat-" + string(c) + " "} {
			if !strings.Contains(css, rule) {
				t.Errorf("style.css: no %s for category %s", rule, c)
			}
		}
	}
}
