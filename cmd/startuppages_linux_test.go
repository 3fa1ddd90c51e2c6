package main

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReleaseStartupPagesShrinksTheBinarysRSS(t *testing.T) {
	if onTmpfs() {
		// GOTMPDIR or /tmp on tmpfs: the pages are memory, not a file's.
		t.Skip("the test binary lies on tmpfs, whose pages the kernel cannot reclaim; the manager's image keeps it on disk")
	}
	before := rssFileKiB(t)
	if err := releaseStartupPages(); err != nil {
		t.Fatal(err)
	}
	after := rssFileKiB(t)
	t.Logf("the binary's mapped pages: %d KiB before, %d KiB after", before, after)
	// The test binary's start-up ran the same package inits as the
	// manager's, so most of its mapped pages are never used again.
	if after > before/2 {
		t.Errorf("the binary's mapped pages went from %d KiB to %d KiB; want at least half released", before, after)
	}
}

// onTmpfs reports whether the running binary lies on tmpfs.
func onTmpfs() bool {
	var fs unix.Statfs_t
	return unix.Statfs("/proc/self/exe", &fs) == nil && fs.Type == unix.TMPFS_MAGIC
}

// rssFileKiB is the process's file-backed RSS.
func rssFileKiB(t *testing.T) int {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kib, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("reading %q: %v", line, err)
			}
			return kib
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

func TestReleasedPagesAreReadBackOneByOne(t *testing.T) {
	if err := releaseStartupPages(); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	// Each mapping's header line is followed by its fields, VmFlags last;
	// "rr" is the kernel's random-read flag, which turns read-around off.
	readOnly, marked := 0, 0
	var current string
	for line := range strings.Lines(string(smaps)) {
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 6 && strings.Contains(fields[0], "-") && strings.Join(fields[5:], " ") == exe && !strings.Contains(fields[1], "w"):
			current = fields[0]
			readOnly++
		case len(fields) >= 6 && strings.Contains(fields[0], "-"):
			current = ""
		case current != "" && fields[0] == "VmFlags:":
			if slices.Contains(fields[1:], "rr") {
				marked++
			} else {
				t.Errorf("the binary's read-only mapping %s is not marked for random reads: VmFlags %v", current, fields[1:])
			}
		}
	}
	if readOnly == 0 || marked != readOnly {
		t.Errorf("%d of the binary's %d read-only mappings marked for random reads", marked, readOnly)
	}
}

func TestBinaryMappingsAreTheBinarysReadOnlyOnes(t *testing.T) {
	maps := `00400000-01ce7000 r-xp 00000000 fd:00 123 /opt/ready gate/manager
01ce7000-038a8000 r--p 018e7000 fd:00 123 /opt/ready gate/manager
038a8000-03966000 rw-p 034a8000 fd:00 123 /opt/ready gate/manager
03966000-059b6000 rw-p 00000000 00:00 0
7f3ef550e000-7f3ef5664000 r-xp 00028000 fd:00 456 /usr/lib/x86_64-linux-gnu/libc.so.6
7f3ef5664000-7f3ef56b7000 r--p 0017e000 fd:00 123 /opt/ready gate/manager (deleted)
zzzz r-xp 00000000 fd:00 123 /opt/ready gate/manager
`
	got := binaryMappings([]byte(maps), "/opt/ready gate/manager")
	want := []mapping{{0x400000, 0x1ce7000}, {0x1ce7000, 0x38a8000}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("binaryMappings = %#v, want %#v", got, want)
	}
}
