package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// releaseStartupPages asks the kernel to reclaim the pages of the manager's
// own binary that it has mapped so far. Start-up runs code and reads tables
// that it never needs again: the registration of every API group in
// client-go's scheme, flag parsing, building the CEL environment, syncing the
// caches. The kernel maps a binary's pages in large blocks, so at 10,000 pods
// the binary took 47 MiB of the operator's RSS, and the working set that
// kubectl top and the VPA read; after this it takes what the operator goes
// on running. A page needed again is read back on first use, and only that
// page (MADV_RANDOM): the kernel would otherwise read and map the blocks
// around it, and at 10,000 + 10,000 pods the binary's pages grew back to
// 29 MiB against 21 MiB read page by page.
//
// A binary on tmpfs keeps its pages: they are memory, not a file's.
func releaseStartupPages() error {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return fmt.Errorf("finding the manager's binary: %w", err)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return fmt.Errorf("reading the manager's mappings: %w", err)
	}
	for _, m := range binaryMappings(maps, exe) {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_RANDOM); errno != 0 {
			return fmt.Errorf("marking the pages of %s at %#x-%#x for random reads: %w", exe, m.start, m.end, errno)
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_PAGEOUT); errno != 0 {
			return fmt.Errorf("releasing the pages of %s at %#x-%#x (MADV_PAGEOUT needs Linux 5.4): %w", exe, m.start, m.end, errno)
		}
	}
	return nil
}

// mapping is an address range of the process.
type mapping struct{ start, end uintptr }

// binaryMappings are the read-only mappings of the file exe in maps, a
// /proc/<pid>/maps listing: the binary's code and tables. Its writable data
// is the process's own and stays.
func binaryMappings(maps []byte, exe string) []mapping {
	var found []mapping
	lines := bufio.NewScanner(bytes.NewReader(maps))
	for lines.Scan() {
		// address perms offset dev inode pathname
		fields := strings.Fields(lines.Text())
		if len(fields) < 6 || strings.Join(fields[5:], " ") != exe || strings.Contains(fields[1], "w") {
			continue
		}
		start, end, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		s, errStart := strconv.ParseUint(start, 16, 64)
		e, errEnd := strconv.ParseUint(end, 16, 64)
		if errStart != nil || errEnd != nil || e <= s {
			continue
		}
		found = append(found, mapping{start: uintptr(s), end: uintptr(e)})
	}
	return found
}
