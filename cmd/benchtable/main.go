// Command benchtable is `make bench`: it runs the project's Go benchmarks once each (they are
// scenario benchmarks that report their own figures with b.ReportMetric) and prints every
// figure in one Markdown table, ready for the README.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
)

// suite is one `go test -bench` invocation: scenario benchmarks run once (1x); the API
// benchmark needs many requests for its percentiles.
type suite struct {
	pkg, bench, benchtime string
}

// suites holds the benchmarks the README's table shows.
var suites = []suite{
	{"./controller/", ".", "1x"},
	{"./httpapi/", "BenchmarkAPI", envOr("API_REQUESTS", "800") + "x"},
}

// benchLine matches "BenchmarkName-2   1   123 ns/op   4.5 unit   ...".
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$`)

func main() {
	var rows []row
	for _, s := range suites {
		cmd := exec.Command("go", "test", "-run", "^$", "-bench", s.bench, "-benchtime", s.benchtime, "-timeout", "60m", s.pkg)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			fail(err)
		}
		if err := cmd.Start(); err != nil {
			fail(err)
		}
		rows = append(rows, parse(io.TeeReader(out, os.Stderr))...)
		if err := cmd.Wait(); err != nil {
			fail(fmt.Errorf("go test -bench %s: %w", s.pkg, err))
		}
	}
	fmt.Println()
	fmt.Println("| benchmark | figure | value |")
	fmt.Println("| --- | --- | --- |")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s |\n", r.bench, r.unit, r.value)
	}
}

type row struct{ bench, unit, value string }

// parse reads go test output and returns one row per reported metric, skipping ns/op (the
// scenario's wall time is not a figure of interest) unless it is the only one.
func parse(r io.Reader) []row {
	var rows []row
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		fields := strings.Fields(m[3])
		var mine []row
		for i := 0; i+1 < len(fields); i += 2 {
			mine = append(mine, row{bench: strings.TrimPrefix(m[1], "Benchmark"), value: fields[i], unit: fields[i+1]})
		}
		if len(mine) > 1 {
			kept := mine[:0]
			for _, x := range mine {
				if x.unit != "ns/op" && x.unit != "B/op" && x.unit != "allocs/op" {
					kept = append(kept, x)
				}
			}
			mine = kept
		}
		rows = append(rows, mine...)
	}
	return rows
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchtable:", err)
	os.Exit(1)
}
