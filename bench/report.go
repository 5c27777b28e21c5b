package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PrintTable prints a result struct as a two-column table. Each exported field is a row labelled by its `label`
// tag (else its JSON name); fields tagged `label:"-"` or `json:"-"` are skipped. A nested struct (or pointer to
// one) becomes an indented section, unless it has a String method; a nil pointer is skipped. Maps print as sorted
// key=value lists. Integer fields tagged `fmt:"bytes"` also show a binary-unit size.
func PrintTable(w io.Writer, v any) {
	var rows [][2]string
	collectRows(&rows, reflect.ValueOf(v), "")
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	var b strings.Builder
	for _, r := range rows {
		if r[1] == "" {
			fmt.Fprintf(&b, "%s\n", r[0])
			continue
		}
		fmt.Fprintf(&b, "%-*s  %s\n", width, r[0], r[1])
	}
	io.WriteString(w, b.String())
}

var stringerType = reflect.TypeFor[fmt.Stringer]()

func collectRows(rows *[][2]string, v reflect.Value, indent string) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		*rows = append(*rows, [2]string{indent + "value", formatValue(v, "")})
		return
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		label := f.Tag.Get("label")
		jsonName, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if label == "-" || jsonName == "-" {
			continue
		}
		if label == "" {
			label = jsonName
		}
		if label == "" {
			label = f.Name
		}
		fv := v.Field(i)
		if strings.Contains(opts, "omitempty") && fv.IsZero() {
			continue
		}
		inner := fv
		if inner.Kind() == reflect.Pointer {
			if inner.IsNil() {
				continue
			}
			if !inner.Type().Implements(stringerType) {
				inner = inner.Elem()
			}
		}
		if inner.Kind() == reflect.Struct && !inner.Type().Implements(stringerType) && inner.Type() != reflect.TypeFor[time.Time]() {
			*rows = append(*rows, [2]string{indent + label, ""})
			collectRows(rows, inner, indent+"  ")
			continue
		}
		*rows = append(*rows, [2]string{indent + label, formatValue(fv, f.Tag.Get("fmt"))})
	}
}

func formatValue(v reflect.Value, how string) string {
	if v.Type().Implements(stringerType) && (v.Kind() != reflect.Pointer || !v.IsNil()) {
		return v.Interface().(fmt.Stringer).String()
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "-"
		}
		return formatValue(v.Elem(), how)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := v.Int()
		if how == "bytes" {
			return fmt.Sprintf("%d (%s)", n, fmtBytes(n))
		}
		return strconv.FormatInt(n, 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if how == "bytes" {
			return fmt.Sprintf("%s (%s)", fmtFloat(f), fmtBytes(int64(f)))
		}
		return fmtFloat(f)
	case reflect.Map:
		if v.Len() == 0 {
			return "none"
		}
		parts := make([]string, 0, v.Len())
		for it := v.MapRange(); it.Next(); {
			parts = append(parts, fmt.Sprintf("%v=%v", it.Key().Interface(), it.Value().Interface()))
		}
		sort.Strings(parts)
		return strings.Join(parts, ", ")
	case reflect.Slice:
		if v.Len() == 0 {
			return "none"
		}
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return strings.Join(parts, "; ")
	}
	return fmt.Sprint(v.Interface())
}

func fmtFloat(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	prec := 2
	if a := math.Abs(f); a != 0 && a < 0.1 {
		prec = 4
	}
	s := strconv.FormatFloat(f, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// fmtBytes formats a byte count in binary units.
func fmtBytes(n int64) string {
	a := math.Abs(float64(n))
	switch {
	case a >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case a >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case a >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func roundTo(f float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(f*p) / p
}

// writeJSON writes v as one JSON line.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// String prints a latency summary on one line.
func (s LatencySummary) String() string {
	if s.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s ms  (n=%d, mean %s)",
		fmtFloat(s.P50), fmtFloat(s.P90), fmtFloat(s.P99), fmtFloat(s.Max), s.Count, fmtFloat(s.Mean))
}
