// Package configdoc renders the configuration reference (docs/configuration.md)
// from the config structs themselves, so the documentation cannot drift from
// what the loaders accept: a test regenerates it and compares.
package configdoc

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Keys lists every YAML key path of v's type with its kind, depth first in
// field order. Inline structs are flattened; maps show their value keys under
// "<name>".
func Keys(v any) [][2]string {
	var out [][2]string
	walk(reflect.TypeOf(v), "", &out, map[reflect.Type]bool{})
	return out
}

var durationType = reflect.TypeOf(time.Duration(0))

func walk(t reflect.Type, prefix string, out *[][2]string, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return
	}
	seen[t] = true
	defer delete(seen, t)
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			walk(f.Type, prefix, out, seen)
			continue
		}
		if name == "" {
			continue // not configurable from YAML
		}
		key := prefix + name
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		*out = append(*out, [2]string{key, kind(ft)})
		switch ft.Kind() {
		case reflect.Struct:
			if ft != reflect.TypeOf(time.Time{}) {
				walk(ft, key+".", out, seen)
			}
		case reflect.Slice:
			walk(ft.Elem(), key+"[].", out, seen)
		case reflect.Map:
			walk(ft.Elem(), key+".<name>.", out, seen)
		}
	}
}

func kind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		return "duration (e.g. 30s, 1h)"
	case t.Kind() == reflect.Struct:
		return "section"
	case t.Kind() == reflect.Slice:
		if e := t.Elem(); e.Kind() == reflect.Struct {
			return "list of sections"
		}
		return "list of " + kind(t.Elem())
	case t.Kind() == reflect.Map:
		return fmt.Sprintf("map of %s to %s", kind(t.Key()), kind(t.Elem()))
	}
	return t.Kind().String()
}

// Markdown renders one config's keys as a table under a heading.
func Markdown(title, intro string, v any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n%s\n\n| Key | Type |\n|---|---|\n", title, intro)
	for _, k := range Keys(v) {
		fmt.Fprintf(&b, "| `%s` | %s |\n", k[0], k[1])
	}
	return b.String()
}
