package main

import (
	"fmt"
	"io"
	"math"
	"slices"
)

// perCall divides a server counter by the calls it served in the
// measured window.
func perCall(v int64, r result) float64 {
	if r.Spent.Calls == 0 {
		return math.NaN()
	}
	return float64(v) / float64(r.Spent.Calls)
}

// stat is a median with its range.
type stat struct{ med, lo, hi float64 }

func statOf(vs []float64) stat {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return stat{med, s[0], s[n-1]}
}

// summarize prints, per protocol, one row per configuration: medians (and
// the range of req/s) over the reps, and the ratio of the median req/s to
// bare connect-go's.
func summarize(w io.Writer, results []result, configs []config) {
	for _, proto := range []string{"grpc", "json", "rest"} {
		rows := map[string][]result{}
		for _, r := range results {
			if r.Protocol == proto {
				rows[r.Config] = append(rows[r.Config], r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s (medians of %d reps; range of req/s in brackets)\n\n", map[string]string{
			"grpc": "gRPC over h2c, 4 connections × 16 streams",
			"json": "Connect JSON over HTTP/1.1, 64 connections",
			"rest": "REST (POST /v1/echo, JSON) over HTTP/1.1, 64 connections; × bare against bare connect-go's Connect JSON",
		}[proto], len(rows[firstWith(rows, configs)]))
		fmt.Fprintln(w, "| server | req/s | × bare | CPU µs/call | allocs/call | reads/call | writes/call | GCs |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
		var bare float64
		against := proto
		if proto == "rest" {
			against = "json" // bare connect-go has no REST route: its JSON call is the same call
		}
		var bareRuns []result
		for _, r := range results {
			if r.Protocol == against && r.Config == "bare" {
				bareRuns = append(bareRuns, r)
			}
		}
		if len(bareRuns) > 0 {
			bare = statOf(pluck(bareRuns, func(r result) float64 { return r.ReqPerS })).med
		}
		for _, c := range configs {
			rs := rows[c.name]
			if len(rs) == 0 {
				continue
			}
			rps := statOf(pluck(rs, func(r result) float64 { return r.ReqPerS }))
			ratio := "—"
			if bare > 0 {
				ratio = fmt.Sprintf("%.2f", rps.med/bare)
			}
			fmt.Fprintf(w, "| %s | %.0f [%.0f–%.0f] | %s | %.1f | %.1f | %.2f | %.2f | %.0f |\n", c.name,
				rps.med, rps.lo, rps.hi, ratio,
				statOf(pluck(rs, func(r result) float64 { return perCall(r.Spent.CPUNanos, r) / 1000 })).med,
				statOf(pluck(rs, func(r result) float64 { return perCall(r.Spent.Mallocs, r) })).med,
				statOf(pluck(rs, func(r result) float64 { return perCall(r.Spent.Reads, r) })).med,
				statOf(pluck(rs, func(r result) float64 { return perCall(r.Spent.Writes, r) })).med,
				statOf(pluck(rs, func(r result) float64 { return float64(r.Spent.GCs) })).med)
		}
	}
}

func pluck(rs []result, f func(result) float64) []float64 {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = f(r)
	}
	return vs
}

// firstWith names the first configuration with rows.
func firstWith(rows map[string][]result, configs []config) string {
	for _, c := range configs {
		if len(rows[c.name]) > 0 {
			return c.name
		}
	}
	return ""
}
