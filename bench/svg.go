package bench

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// A small SVG line chart on logarithmic axes, for the suite's charts (no dependencies, deterministic output).

type chartSeries struct {
	Name   string
	Color  string
	Dashed bool
	X, Y   []float64 // points; Y <= 0 are left out (nothing measured)
}

type lineChart struct {
	Title, XLabel, YLabel string
	XUnit, YUnit          string // appended to values in tooltips
	Series                []chartSeries
	Width, Height         int
}

const (
	chartLeft   = 72
	chartRight  = 250
	chartTop    = 44
	chartBottom = 56
)

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

// logRange returns the decade-padded log10 range covering vals (all > 0).
func logRange(vals []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if v > 0 {
			lo, hi = min(lo, math.Log10(v)), max(hi, math.Log10(v))
		}
	}
	if math.IsInf(lo, 1) {
		return 0, 1
	}
	pad := max(0.08, (hi-lo)*0.08)
	lo, hi = lo-pad, hi+pad
	if hi-lo < 0.6 {
		mid := (lo + hi) / 2
		lo, hi = mid-0.3, mid+0.3
	}
	return lo, hi
}

// logTicks returns the tick values in [10^lo, 10^hi]: powers of ten, with 2 and 5 between them when the range is
// short.
func logTicks(lo, hi float64) []float64 {
	var out []float64
	steps := []float64{1}
	if hi-lo < 3.5 {
		steps = []float64{1, 2, 5}
	}
	for e := math.Floor(lo); e <= math.Ceil(hi); e++ {
		for _, s := range steps {
			v := s * math.Pow(10, e)
			if l := math.Log10(v); l >= lo-1e-9 && l <= hi+1e-9 {
				out = append(out, v)
			}
		}
	}
	return out
}

// fmtTick prints an axis value compactly: 0.5, 2, 1k, 20k, 1M.
func fmtTick(v float64) string {
	switch {
	case v >= 1e6:
		return trimFloat(v/1e6) + "M"
	case v >= 1e3:
		return trimFloat(v/1e3) + "k"
	}
	return trimFloat(v)
}

// fmtYTick prints a value axis tick in full: 0.5, 20, 1,000.
func fmtYTick(v float64) string {
	if v >= 1000 {
		return fmtCount(v)
	}
	return trimFloat(v)
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// SVG renders the chart.
func (c *lineChart) SVG() []byte {
	w, h := c.Width, c.Height
	if w == 0 {
		w = 820
	}
	if h == 0 {
		h = 420
	}
	var xs, ys []float64
	for _, s := range c.Series {
		for i := range s.X {
			if i < len(s.Y) && s.Y[i] > 0 && s.X[i] > 0 {
				xs, ys = append(xs, s.X[i]), append(ys, s.Y[i])
			}
		}
	}
	xlo, xhi := logRange(xs)
	ylo, yhi := logRange(ys)
	pw, ph := float64(w-chartLeft-chartRight), float64(h-chartTop-chartBottom)
	px := func(v float64) float64 { return chartLeft + (math.Log10(v)-xlo)/(xhi-xlo)*pw }
	py := func(v float64) float64 { return chartTop + ph - (math.Log10(v)-ylo)/(yhi-ylo)*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", chartLeft, xmlEscaper.Replace(c.Title))
	// Grid and ticks.
	for _, v := range logTicks(xlo, xhi) {
		x := px(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`+"\n", x, chartTop, x, chartTop+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, chartTop+ph+16, fmtTick(v))
	}
	for _, v := range logTicks(ylo, yhi) {
		y := py(v)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`+"\n", chartLeft, y, chartLeft+pw, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", chartLeft-6, y+4, fmtYTick(v))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="#444444"/>`+"\n", chartLeft, chartTop, pw, ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", chartLeft+pw/2, h-14, xmlEscaper.Replace(c.XLabel))
	fmt.Fprintf(&b, `<text x="16" y="%.1f" text-anchor="middle" transform="rotate(-90 16 %.1f)">%s</text>`+"\n",
		chartTop+ph/2, chartTop+ph/2, xmlEscaper.Replace(c.YLabel))
	// Series.
	for i, s := range c.Series {
		type pt struct{ x, y float64 }
		var pts []pt
		for j := range s.X {
			if j < len(s.Y) && s.Y[j] > 0 && s.X[j] > 0 {
				pts = append(pts, pt{s.X[j], s.Y[j]})
			}
		}
		sort.Slice(pts, func(a, b int) bool { return pts[a].x < pts[b].x })
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		if len(pts) > 1 {
			var coords []string
			for _, p := range pts {
				coords = append(coords, fmt.Sprintf("%.1f,%.1f", px(p.x), py(p.y)))
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(coords, " "), s.Color, dash)
		}
		for _, p := range pts {
			fill := s.Color
			if s.Dashed {
				fill = "#ffffff"
			}
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s" stroke="%s" stroke-width="2"><title>%s: %s%s, %s%s</title></circle>`+"\n",
				px(p.x), py(p.y), fill, s.Color, xmlEscaper.Replace(s.Name), fmtTick(p.x), c.XUnit, trimFloat(p.y), c.YUnit)
		}
		// Legend.
		ly := chartTop + 10 + i*20
		lx := chartLeft + int(pw) + 16
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", lx, ly, lx+28, ly, s.Color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", lx+34, ly+4, xmlEscaper.Replace(s.Name))
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}
