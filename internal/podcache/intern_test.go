package podcache

import (
	"fmt"
	"maps"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

func sameMap(a, b map[string]string) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func sameString(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

// copied is s in memory of its own, as a watch decodes it.
func copied(s string) string { return string([]byte(s)) }

func TestInternerSharesEqualSets(t *testing.T) {
	in := NewInterner()
	first := in.Set(map[string]string{"app": "web", "pod-template-hash": "5d4f"})
	second := in.Set(map[string]string{copied("pod-template-hash"): copied("5d4f"), copied("app"): copied("web")})
	if !sameMap(first, second) {
		t.Error("two pods with the same labels hold two maps")
	}
	if other := in.Set(map[string]string{"app": "web", "pod-template-hash": "6e5a"}); sameMap(first, other) || other["pod-template-hash"] != "6e5a" {
		t.Errorf("a pod of another template got %v", other)
	}
	if s := in.String(copied("web")); !sameString(s, first["app"]) {
		t.Error("the set's values are not the shared strings")
	}
}

func TestInternerNeverMixesSetsUp(t *testing.T) {
	// Sets that a separator-joined key would encode alike: annotation
	// values may hold any byte.
	for _, sets := range [][2]map[string]string{
		{{"a": "b", "c": "d"}, {"a": "b\x00c\x00d"}},
		{{"a": "b", "c": "d"}, {"a": "b\x01c\x01d"}},
		{{"ab": ""}, {"a": "b"}},
		{{"": "ab"}, {"a": "b"}},
	} {
		in := NewInterner()
		first, second := in.Set(maps.Clone(sets[0])), in.Set(maps.Clone(sets[1]))
		if !maps.Equal(first, sets[0]) || !maps.Equal(second, sets[1]) {
			t.Errorf("%q then %q came back as %q and %q", sets[0], sets[1], first, second)
		}
	}
}

func TestInternerIsBounded(t *testing.T) {
	in := NewInterner()
	for i := range 3 * internedSets {
		set := map[string]string{"statefulset.kubernetes.io/pod-name": fmt.Sprintf("web-%d", i)}
		if got := in.Set(set); !maps.Equal(got, set) {
			t.Fatalf("set %d came back as %v", i, got)
		}
	}
	if len(in.sets) > internedSets || len(in.strings) > internedStrings {
		t.Errorf("the tables hold %d sets and %d strings, over their caps %d and %d", len(in.sets), len(in.strings), internedSets, internedStrings)
	}

	long := strings.Repeat("x", longestInterned+1)
	if _, kept := in.strings[in.String(long)]; kept {
		t.Error("a long string was interned")
	}
	big := map[string]string{"note": strings.Repeat("y", longestInternedSet)}
	if got := in.Set(big); !sameMap(got, big) {
		t.Error("a set over the size cap was copied into the table")
	}
	many := map[string]string{}
	for i := range mostSetEntries + 1 {
		many[fmt.Sprint(i)] = ""
	}
	if got := in.Set(many); !sameMap(got, many) {
		t.Error("a set of more entries than the cap was copied into the table")
	}
}

// TestInternerRetainsLittle: a tenant that fills the sets table with the
// largest sets it shares, then deletes its pods, leaves the operator
// holding at most about 2 MiB.
func TestInternerRetainsLittle(t *testing.T) {
	in := NewInterner()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range internedSets - 1 {
		set := map[string]string{"i": fmt.Sprint(i)}
		for k := 0; len(set) < mostSetEntries; k++ {
			set[fmt.Sprintf("k%02d", k)] = strings.Repeat("v", longestInternedSet/mostSetEntries-8)
		}
		in.Set(set)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(in)
	if len(in.sets) < internedSets/2 {
		t.Fatalf("only %d sets were shared: the test no longer fills the table", len(in.sets))
	}
	if retained := int64(after.HeapAlloc) - int64(before.HeapAlloc); retained > 5<<19 {
		t.Errorf("the Interner holds %.1f MiB for %d sets no pod holds any more, want at most 2.5 MiB", float64(retained)/(1<<20), len(in.sets))
	}
}
