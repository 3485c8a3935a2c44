package stack

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Instruction is one Dockerfile instruction with its continuation lines
// joined: Cmd upper-cased (RUN, COPY, ...), Args the rest, Line where it began.
type Instruction struct {
	Cmd  string
	Args string
	Line int
}

// Stage is a FROM and the instructions up to the next FROM.
type Stage struct {
	From         string // the base image, as written (ARGs not expanded)
	Name         string // AS name, or ""
	Instructions []Instruction
}

// Dockerfile is a parsed Dockerfile: the global ARGs before the first FROM,
// then its stages in order.
type Dockerfile struct {
	Args   []Instruction
	Stages []Stage
}

// ParseDockerfile reads the instructions of a Dockerfile. It knows what the
// checks need: comments, blank lines, backslash continuations (with comment
// lines inside them, which Docker drops too) and FROM ... AS; heredocs and
// a custom escape character are rejected rather than misread.
func ParseDockerfile(r io.Reader) (*Dockerfile, error) {
	df := &Dockerfile{}
	sc := bufio.NewScanner(r)
	var cur strings.Builder
	start, n := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			if strings.HasPrefix(strings.ToLower(line), "# escape=") && n == 1 {
				return nil, fmt.Errorf("line %d: a custom escape character is not supported", n)
			}
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, cont := strings.CutSuffix(line, `\`); cont {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		if err := df.add(cur.String(), start); err != nil {
			return nil, err
		}
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("line %d: the file ends inside a continued instruction", start)
	}
	if len(df.Stages) == 0 {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return df, nil
}

func (df *Dockerfile) add(text string, line int) error {
	cmd, args, _ := strings.Cut(text, " ")
	in := Instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: line}
	if strings.Contains(in.Args, "<<") && (in.Cmd == "RUN" || in.Cmd == "COPY") {
		return fmt.Errorf("line %d: heredocs are not supported", line)
	}
	if in.Cmd != "FROM" {
		if len(df.Stages) == 0 {
			if in.Cmd != "ARG" {
				return fmt.Errorf("line %d: %s before the first FROM", line, in.Cmd)
			}
			df.Args = append(df.Args, in)
			return nil
		}
		last := &df.Stages[len(df.Stages)-1]
		last.Instructions = append(last.Instructions, in)
		return nil
	}
	var fields []string
	for _, f := range strings.Fields(in.Args) {
		if !strings.HasPrefix(f, "--") { // --platform=...
			fields = append(fields, f)
		}
	}
	st := Stage{}
	switch {
	case len(fields) == 1:
		st.From = fields[0]
	case len(fields) == 3 && strings.EqualFold(fields[1], "AS"):
		st.From, st.Name = fields[0], fields[2]
	default:
		return fmt.Errorf("line %d: cannot read FROM %s", line, in.Args)
	}
	df.Stages = append(df.Stages, st)
	return nil
}

// Final is the stage the image is made of.
func (df *Dockerfile) Final() Stage { return df.Stages[len(df.Stages)-1] }

// Stage returns the stage called name.
func (df *Dockerfile) Stage(name string) (Stage, bool) {
	for _, s := range df.Stages {
		if s.Name == name {
			return s, true
		}
	}
	return Stage{}, false
}

// All returns the arguments of every instruction cmd in the stage, in order.
func (s Stage) All(cmd string) []string {
	var out []string
	for _, in := range s.Instructions {
		if in.Cmd == cmd {
			out = append(out, in.Args)
		}
	}
	return out
}

// Last returns the arguments of the stage's last instruction cmd, or "".
func (s Stage) Last(cmd string) string {
	all := s.All(cmd)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}
