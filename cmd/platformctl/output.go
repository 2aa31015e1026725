package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// Output formats of -o.
const (
	outTable = "table"
	outWide  = "wide"
	outJSON  = "json"
	outYAML  = "yaml"
)

// outputFlag is -o. Only the formats in allowed are accepted.
type outputFlag struct {
	format  string
	allowed []string
}

func addOutputFlag(cmd *cobra.Command, allowed ...string) *outputFlag {
	o := &outputFlag{allowed: allowed}
	cmd.Flags().StringVarP(&o.format, "output", "o", outTable, "output format: "+strings.Join(allowed, "|"))
	return o
}

// check refuses an unknown format before any request is sent.
func (o *outputFlag) check(cmd *cobra.Command) error {
	if !slices.Contains(o.allowed, o.format) {
		return usagef(cmd, "unknown output format %q (want %s)", o.format, strings.Join(o.allowed, ", "))
	}
	return nil
}

// machine reports whether the format is json or yaml: then the API's own document is printed.
func (o *outputFlag) machine() bool { return o.format == outJSON || o.format == outYAML }

// printRaw prints a document exactly as the API sent it: as indented JSON (the same members in
// the same order, whitespace aside), or converted to YAML.
func (o *outputFlag) printRaw(w io.Writer, raw []byte) error {
	switch o.format {
	case outYAML:
		y, err := yaml.JSONToYAML(raw)
		if err != nil {
			return fmt.Errorf("convert the answer to YAML: %w", err)
		}
		_, err = w.Write(y)
		return err
	default:
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return fmt.Errorf("the server's answer is not JSON: %w", err)
		}
		buf.WriteByte('\n')
		_, err := w.Write(buf.Bytes())
		return err
	}
}

// listDocument assembles the pages platformctl read into one document of the API's own list
// shape, {"items": [...], "nextCursor": null}: every item as the server sent it, and null
// because every page was read.
func listDocument(items []json.RawMessage) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"items":[`)
	for i, it := range items {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(it)
	}
	buf.WriteString(`],"nextCursor":null}`)
	return buf.Bytes()
}
