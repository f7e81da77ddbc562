package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// waitIdle waits, up to limit, until the machine's CPUs were at least 90 %
// idle over half a second, and returns the busy fraction it last saw (so a
// run that had to start on a busy machine says so in -out).
func waitIdle(limit time.Duration) float64 {
	deadline := time.Now().Add(limit)
	for {
		busy0, total0 := cpuTimes()
		time.Sleep(500 * time.Millisecond)
		busy1, total1 := cpuTimes()
		frac := 0.0
		if total1 > total0 {
			frac = float64(busy1-busy0) / float64(total1-total0)
		}
		if frac < 0.10 || time.Now().After(deadline) {
			return frac
		}
	}
}

// cpuTimes reads the busy and total jiffies of all CPUs from /proc/stat.
func cpuTimes() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}
