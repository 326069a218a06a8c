package status

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"github.com/paved-go/paved/internal/httpx"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The page is one HTML document with its style and script inline, built
// into the binary: no build step, no other request, nothing from outside.
var (
	//go:embed page.html
	pageHTML string
	//go:embed page.css
	pageCSS string
	//go:embed page.js
	pageJS string
)

type pageAssets struct {
	tmpl   *template.Template
	style  template.HTML
	script template.HTML
	csp    string
}

var assets = func() pageAssets {
	// The policy allows exactly the inline style and script below, by
	// hash, and requests to this origin: no other source, no framing.
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	return pageAssets{
		tmpl:   template.Must(template.New("page").Parse(pageHTML)),
		style:  template.HTML("<style>" + pageCSS + "</style>"),
		script: template.HTML("<script>" + pageJS + "</script>"),
		csp: "default-src 'none'; script-src " + hash(pageJS) + "; style-src " + hash(pageCSS) +
			"; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	}
}()

type pageData struct {
	Title        string
	Time         string
	Registration bool
	Faults       bool
	Groups       []pageGroup
	Style        template.HTML
	Script       template.HTML
}

type pageGroup struct {
	Kind string
	Rows []pageRow
}

type pageRow struct {
	ID, Name, Key, State, Health, Value, Unit, Stats string
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	d := h.take(time.Now(), false)
	data := pageData{
		Title:        h.cfg.title,
		Time:         d.Time.Format(time.RFC3339Nano),
		Registration: d.Registration,
		Faults:       d.Faults,
		Style:        h.page.style,
		Script:       h.page.script,
	}
	for _, c := range d.Components {
		if n := len(data.Groups); n == 0 || data.Groups[n-1].Kind != c.Kind {
			data.Groups = append(data.Groups, pageGroup{Kind: c.Kind})
		}
		g := &data.Groups[len(data.Groups)-1]
		g.Rows = append(g.Rows, pageRow{
			ID: ID(c), Name: c.Name, Key: c.Key, State: c.State, Health: c.Health,
			Value: formatValue(c.Value), Unit: c.Unit, Stats: statsText(c.Stats),
		})
	}
	var buf bytes.Buffer
	if err := h.page.tmpl.Execute(&buf, data); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// formatValue writes v as the page's script does: whole numbers as they
// are, others to three decimals.
func formatValue(v float64) string {
	if math.Abs(v) >= 1e15 || v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// statsText writes a component's stats as the page's script does:
// key=value pairs in the order of their JSON encoding.
func statsText(stats any) string {
	if stats == nil {
		return ""
	}
	b, err := json.Marshal(stats)
	if err != nil {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return string(b)
	}
	var sb strings.Builder
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			break
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			break
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(k.(string))
		sb.WriteByte('=')
		switch v := v.(type) {
		case json.Number:
			f, _ := v.Float64()
			sb.WriteString(formatValue(f))
		case string:
			sb.WriteString(v)
		case bool:
			sb.WriteString(strconv.FormatBool(v))
		default:
			raw, _ := json.Marshal(v)
			sb.Write(raw)
		}
	}
	return sb.String()
}
