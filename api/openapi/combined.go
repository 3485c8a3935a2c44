package openapi

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Combined is the description of the API behind the front door: the
// /tickets paths of both services, with the components they use, in one
// document (ticketsys.yaml is it, generated; the Go client is generated from
// it). It is built from command.yaml and query.yaml, which stay the source
// of truth.
func Combined() ([]byte, error) {
	var cmd, qry yaml.Node
	if err := yaml.Unmarshal(command, &cmd); err != nil {
		return nil, fmt.Errorf("command.yaml: %w", err)
	}
	if err := yaml.Unmarshal(query, &qry); err != nil {
		return nil, fmt.Errorf("query.yaml: %w", err)
	}
	out, q := cmd.Content[0], qry.Content[0]
	out.HeadComment = ""
	out.Content[0].HeadComment = "" // command.yaml's own header
	cmd.HeadComment = "Generated from command.yaml and query.yaml by `make openapi` (api/openapi/combine); do not edit.\n" +
		"The API behind the front door (:8000): the ticket paths of both services. The Go client (client/)\n" +
		"is generated from this file."

	info := get(out, "info")
	set(info, "title", str("ticketsys API"))
	set(info, "summary", str("Ticket writes and reads of the ticketsys CQRS ticket backend, through its front door."))
	set(info, "description", str("Writes go to the command service, reads to the query service; the front door "+
		"routes `GET` and `HEAD` to the query service and everything else to the command service. Each service "+
		"describes itself, with its health and metrics endpoints, at its own `GET /openapi.yaml`; the front "+
		"door serves this description at `GET /openapi.yaml` and its reference page at `GET /docs`.\n"))
	var servers yaml.Node
	if err := yaml.Unmarshal([]byte("- url: http://127.0.0.1:8000\n  description: the front door, as make dev runs it\n"), &servers); err != nil {
		return nil, err
	}
	set(out, "servers", servers.Content[0])

	var tags yaml.Node
	if err := yaml.Unmarshal([]byte("- name: tickets\n  description: Create, read, change and delete tickets.\n"), &tags); err != nil {
		return nil, err
	}
	set(out, "tags", tags.Content[0])

	// Security: each service's default (tickets:write, tickets:read) moves
	// onto its operations that do not name their own.
	ownSecurity(out)
	ownSecurity(q)
	del(out, "security")

	// Paths: the ticket paths; a path both serve gets both's operations.
	paths := get(out, "paths")
	kept := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i < len(paths.Content); i += 2 {
		if isTickets(paths.Content[i].Value) {
			kept.Content = append(kept.Content, paths.Content[i], paths.Content[i+1])
		}
	}
	qp := get(q, "paths")
	for i := 0; i < len(qp.Content); i += 2 {
		name, item := qp.Content[i].Value, qp.Content[i+1]
		if !isTickets(name) {
			continue
		}
		if have := get(kept, name); have != nil {
			// The query service's path-level parameters (the list's
			// filters) that the command service's path lacks move onto
			// its operations.
			extra := missing(get(item, "parameters"), get(have, "parameters"))
			for j := 0; j < len(item.Content); j += 2 {
				key, op := item.Content[j].Value, item.Content[j+1]
				if key == "parameters" || get(have, key) != nil {
					continue
				}
				if len(extra) > 0 {
					params := get(op, "parameters")
					if params == nil {
						params = &yaml.Node{Kind: yaml.SequenceNode}
						set(op, "parameters", params)
					}
					params.Content = append(slices.Clone(extra), params.Content...)
				}
				have.Content = append(have.Content, item.Content[j], op)
			}
			continue
		}
		kept.Content = append(kept.Content, qp.Content[i], item)
	}
	set(out, "paths", kept)

	// Components: the union; those of one name are identical in both
	// (TestSharedComponentsAreIdentical).
	comps, qc := get(out, "components"), get(q, "components")
	for i := 0; i < len(qc.Content); i += 2 {
		section := qc.Content[i].Value
		have := get(comps, section)
		if have == nil {
			comps.Content = append(comps.Content, qc.Content[i], qc.Content[i+1])
			continue
		}
		from := qc.Content[i+1]
		for j := 0; j < len(from.Content); j += 2 {
			if get(have, from.Content[j].Value) == nil {
				have.Content = append(have.Content, from.Content[j], from.Content[j+1])
			}
		}
	}

	prune(comps, kept)

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&cmd); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// missing returns the parameters (all $refs) of from that are not in have.
func missing(from, have *yaml.Node) []*yaml.Node {
	if from == nil {
		return nil
	}
	var out []*yaml.Node
	for _, p := range from.Content {
		found := false
		if have != nil {
			for _, h := range have.Content {
				found = found || scalar(get(h, "$ref")) == scalar(get(p, "$ref"))
			}
		}
		if !found {
			out = append(out, p)
		}
	}
	return out
}

func scalar(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}

// ownSecurity copies doc's top-level security onto every operation that has
// none of its own.
func ownSecurity(doc *yaml.Node) {
	sec := get(doc, "security")
	if sec == nil {
		return
	}
	paths := get(doc, "paths")
	for i := 1; i < len(paths.Content); i += 2 {
		item := paths.Content[i]
		for j := 0; j+1 < len(item.Content); j += 2 {
			op := item.Content[j+1]
			if item.Content[j].Value == "parameters" || op.Kind != yaml.MappingNode || get(op, "security") != nil {
				continue
			}
			set(op, "security", sec)
		}
	}
}

// prune drops the components that nothing reachable from paths refers to
// (the health and metrics endpoints' schemas, for one).
func prune(comps, paths *yaml.Node) {
	used := map[string]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			if ref := get(n, "$ref"); ref != nil && !used[ref.Value] {
				used[ref.Value] = true
				section, name, _ := strings.Cut(strings.TrimPrefix(ref.Value, "#/components/"), "/")
				if target := get(get(comps, section), name); target != nil {
					walk(target)
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(paths)
	for i := 0; i+1 < len(comps.Content); i += 2 {
		section := comps.Content[i].Value
		if section == "securitySchemes" {
			continue
		}
		m := comps.Content[i+1]
		for j := 0; j+1 < len(m.Content); {
			if !used["#/components/"+section+"/"+m.Content[j].Value] {
				m.Content = append(m.Content[:j], m.Content[j+2:]...)
				continue
			}
			j += 2
		}
	}
}

// del removes key from mapping m.
func del(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

func isTickets(path string) bool { return path == "/tickets" || strings.HasPrefix(path, "/tickets/") }

// get returns the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// set replaces key's value in mapping m, or appends it.
func set(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, str(key), v)
}

func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if strings.Contains(s, "\n") {
		n.Style = yaml.LiteralStyle
	}
	return n
}
