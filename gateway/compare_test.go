package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"valuerx/demo"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func getPage(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

var figureRE = regexp.MustCompile(`data-figure="([a-z0-9-]+)\.(perAdministration|perCourse|perYear)\.([a-zA-Z]+)" data-value="(-?[0-9.]+)"`)

// The card links its comparison page (issue 14 item 4): an absolute URL carrying only the
// signed reference; the page shows every figure of the card's valuerx-economics extension to the
// cent, both charts, the exclusions and the provenance; tampered and expired links get a page
// with no figures.
func TestComparisonPageFromACard(t *testing.T) {
	clk := &testClock{t: time.Now()}
	e := newEnv(t, func(c *Config) { c.Now = clk.now; c.CompareTTL = 30 * time.Minute })
	status, body, _ := e.post(serviceOf("aco-herceptin-gastric-order-select"), e.demoRequest("aco-herceptin-gastric-order-select"))
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	card := decodeResponse(t, body).Cards[0]
	if len(card.Links) < 2 || card.Links[0].Type != "absolute" || !strings.HasPrefix(card.Links[0].URL, e.srv.URL+"/compare/") {
		t.Fatalf("links %+v: want the comparison first, absolute", card.Links)
	}
	url := card.Links[0].URL
	ref := strings.TrimPrefix(url, e.srv.URL+"/compare/")
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{75}$`).MatchString(ref) || strings.Contains(url, "pat-") || strings.Contains(url, "?") {
		t.Fatalf("URL %q must carry the opaque reference only", url)
	}
	if !strings.Contains(card.Detail, "[Full comparison]("+url+")") {
		t.Errorf("detail lacks the link:\n%s", card.Detail)
	}

	code, hdr, page := getPage(t, url)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %s %s\n%s", code, hdr.Get("Content-Type"), page, e.logs.String())
	}
	for h, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "Content-Security-Policy": "default-src 'none'"} {
		if !strings.Contains(hdr.Get(h), want) {
			t.Errorf("%s: %q, want %q", h, hdr.Get(h), want)
		}
	}
	// Every figure of the extension (ordered and suggested, per administration, course, year).
	var ext map[string]economics
	if err := json.Unmarshal(card.Extension, &ext); err != nil {
		t.Fatal(err)
	}
	x := ext[extensionKey]
	onPage := map[string]float64{}
	for _, m := range figureRE.FindAllStringSubmatch(page, -1) {
		v, _ := strconv.ParseFloat(m[4], 64)
		onPage[m[1]+"."+m[2]+"."+m[3]] = v
	}
	checked := 0
	for _, p := range append([]econProduct{x.Ordered}, x.Options...) {
		for span, a := range map[string]econAmounts{"perAdministration": p.PerAdministration, "perCourse": p.PerCourse, "perYear": p.PerYear} {
			for name, v := range map[string]float64{"allowed": a.Allowed, "payerPaid": a.PayerPaid, "patient": a.Patient, "secondary": a.Secondary, "organisation": a.Organisation} {
				k := p.Product + "." + span + "." + name
				got, ok := onPage[k]
				if !ok || got != v {
					t.Errorf("%s: page %v (%v), card %v", k, got, ok, v)
				}
				checked++
			}
		}
	}
	if checked != (1+len(x.Options))*15 || len(x.Options) == 0 {
		t.Errorf("checked %d figures", checked)
	}
	// Every option of the group is on the page, the excluded one with its reason.
	for _, want := range []string{`data-product="herzuma"`, "<strong>Herzuma</strong>: its FDA label does not carry", `<svg id="cost-chart"`, `<svg id="price-chart"`,
		"<polyline", "payment limit J9355 73.483 per 10 MG", "HER2-overexpressing metastatic gastric", "Medicare Shared Savings ACO"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(page, "<polyline"); n < 7 {
		t.Errorf("%d price lines, want one per trastuzumab product (7)", n)
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "https://") && strings.Contains(page, "<link rel=\"stylesheet\" href=\"https") {
		t.Error("the page must run no script and load nothing from elsewhere")
	}
	if code, _, css := getPage(t, e.srv.URL+"/compare/assets/compare.css"); code != 200 || !strings.Contains(css, "@media print") {
		t.Errorf("stylesheet: %d", code)
	}

	// Tampered: one character of the reference changed.
	b := []byte(ref)
	b[10] ^= 1
	if b[10] == '`' || b[10] == '{' || b[10] == '\\' { // stay in the URL-safe alphabet
		b[10] = 'A'
	}
	for name, u := range map[string]string{"tampered": e.srv.URL + "/compare/" + string(b), "garbage": e.srv.URL + "/compare/not-a-reference", "empty": e.srv.URL + "/compare/"} {
		code, _, page := getPage(t, u)
		if code != http.StatusNotFound || strings.Contains(page, "$") || strings.Contains(page, "Herceptin") || !strings.Contains(page, "not valid or has expired") {
			t.Errorf("%s link: %d, want 404 and a page without data:\n%s", name, code, page)
		}
	}
	// Expired: 30 minutes on.
	clk.add(30*time.Minute + time.Second)
	code, _, page = getPage(t, url)
	if code != http.StatusGone || strings.Contains(page, "$") || strings.Contains(page, "Herceptin") {
		t.Errorf("expired link: %d, want 410 and no data:\n%s", code, page)
	}
	// The access log names the route, never the reference.
	if strings.Contains(e.logs.String(), ref) || !strings.Contains(e.logs.String(), "/compare/{ref}") {
		t.Errorf("the reference must not be logged; the route must:\n%s", e.logs.String())
	}
}

// Every demo card's comparison page answers and shows every figure of that card's
// valuerx-economics to the cent: Part B and retail (one NADAC book), capitation (no payer
// payment), a preferred-product PPO, rituximab by BSA.
func TestComparisonPageForEveryDemoCard(t *testing.T) {
	e := newEnv(t)
	pages := 0
	for _, name := range demo.Requests() {
		_, body, _ := e.post(serviceOf(name), e.demoRequest(name))
		for _, card := range decodeResponse(t, body).Cards {
			if len(card.Links) == 0 || !strings.Contains(card.Links[0].URL, "/compare/") {
				t.Errorf("%s: first link %+v is not the comparison", name, card.Links)
				continue
			}
			code, _, page := getPage(t, card.Links[0].URL)
			if code != http.StatusOK {
				t.Errorf("%s: page status %d", name, code)
				continue
			}
			pages++
			var ext map[string]economics
			if err := json.Unmarshal(card.Extension, &ext); err != nil {
				t.Fatal(err)
			}
			onPage := map[string]string{}
			for _, m := range figureRE.FindAllStringSubmatch(page, -1) {
				onPage[m[1]+"."+m[2]+"."+m[3]] = m[4]
			}
			x := ext[extensionKey]
			for _, p := range append([]econProduct{x.Ordered}, x.Options...) {
				for span, a := range map[string]econAmounts{"perAdministration": p.PerAdministration, "perCourse": p.PerCourse, "perYear": p.PerYear} {
					for k, v := range map[string]float64{"allowed": a.Allowed, "payerPaid": a.PayerPaid, "patient": a.Patient, "secondary": a.Secondary, "organisation": a.Organisation} {
						if got := onPage[p.Product+"."+span+"."+k]; got != strconv.FormatFloat(v, 'f', 2, 64) {
							t.Errorf("%s: %s.%s.%s on the page %q, on the card %.2f", name, p.Product, span, k, got, v)
						}
					}
				}
			}
			if !strings.Contains(page, `<svg id="price-chart"`) || !strings.Contains(page, "<polyline") {
				t.Errorf("%s: no price chart", name)
			}
			// The page is opened without the EHR's login: the dose basis stays, the patient's
			// weight, height and measurement dates do not (they stay on the card, in the EHR).
			for _, m := range []string{"body weight of", "Mosteller:", "weight of 20", "70 kg", "180 cm"} {
				if strings.Contains(page, m) {
					t.Errorf("%s: the comparison page quotes the patient's measurements (%q)", name, m)
				}
			}
			if strings.Contains(card.Detail, "mg/kg x 70 kg (body weight of") && !strings.Contains(page, "mg/kg x the body weight on record") {
				t.Errorf("%s: the page does not say how the weight-based dose was reached", name)
			}
			if strings.Contains(card.Detail, "Mosteller:") && !strings.Contains(page, "(Mosteller, from the height and weight on record)") {
				t.Errorf("%s: the page does not say how the BSA dose was reached", name)
			}
		}
	}
	if pages < 8 {
		t.Errorf("%d pages", pages)
	}
}
