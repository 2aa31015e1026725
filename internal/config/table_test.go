package config

import (
	"os"
	"strings"
	"testing"
)

// The README's configuration table must list every variable with its default, so the docs stay
// true when a setting is added.
func TestREADMEListsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	for _, v := range Vars() {
		row := "| `" + v.Env + "` | "
		i := strings.Index(string(readme), row)
		if i < 0 {
			t.Errorf("README has no configuration row for %s", v.Env)
			continue
		}
		line := string(readme[i:])
		line = line[:strings.Index(line, "\n")]
		want := "`" + v.Default + "`"
		if v.Default == "" {
			want = "(empty)"
		}
		if !strings.Contains(line, want) {
			t.Errorf("README row for %s does not show the default %s: %s", v.Env, want, line)
		}
	}
}

// MarkdownTable renders the configuration table the README carries.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n| --- | --- | --- |\n")
	for _, v := range Vars() {
		def := "`" + v.Default + "`"
		if v.Default == "" {
			def = "(empty)"
		}
		b.WriteString("| `" + v.Env + "` | " + def + " | " + v.Help + " |\n")
	}
	return b.String()
}

func TestPrintTable(t *testing.T) {
	if os.Getenv("PRINT_CONFIG_TABLE") != "" {
		t.Log("\n" + MarkdownTable())
	}
}
