package protoevents_test

// The committed code under gen/ must be exactly what `make proto` (buf
// generate with the pinned protoc-gen-go) writes. This test compiles the
// .proto files in-process with protocompile and runs protoc-gen-go's own
// generator on them, so it needs neither buf nor protoc and takes well under
// a second. protoc-gen-go comes from this module's build list, the same
// version the Makefile builds for buf (see `tool` in go.mod).

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/cmd/protoc-gen-go/internal_gengo"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

const (
	protoDir = "proto" // the buf module (buf.yaml: modules[0].path)
	genDir   = "gen"   // the plugin's out (buf.gen.yaml)
	// genParam is the plugin's opt from buf.gen.yaml.
	genParam = "paths=source_relative"
)

func TestGeneratedCodeIsUpToDate(t *testing.T) {
	t.Parallel()

	want := generate(t)
	got := readGenerated(t)

	for name, wantContent := range want {
		gotContent, ok := got[name]
		if !ok {
			t.Errorf("%s/%s is missing; run make proto", genDir, name)
			continue
		}
		if !bytes.Equal(gotContent, wantContent) {
			t.Errorf("%s/%s differs from what protoc-gen-go generates; run make proto\n%s",
				genDir, name, diffHint(wantContent, gotContent))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s/%s has no .proto source; run make proto (it cleans %s/)", genDir, name, genDir)
		}
	}
}

// generate compiles every .proto file under protoDir and returns what
// protoc-gen-go makes of them, keyed by the path relative to genDir.
func generate(t *testing.T) map[string][]byte {
	t.Helper()

	files := protoFiles(t)
	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			ImportPaths: []string{protoDir},
		}),
		// Comments become doc comments in the Go code; standard mode keeps
		// the same ones protoc (and buf) hands to plugins.
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := compiler.Compile(context.Background(), files...)
	if err != nil {
		t.Fatalf("compile %s: %v", protoDir, err)
	}

	req := &pluginpb.CodeGeneratorRequest{
		FileToGenerate: files,
		Parameter:      proto.String(genParam),
		ProtoFile:      descriptorsInImportOrder(compiled),
		// buf sends no compiler version, so the header reads "protoc (unknown)".
	}
	plugin, err := protogen.Options{}.New(req)
	if err != nil {
		t.Fatalf("protogen: %v", err)
	}
	for _, f := range plugin.Files {
		if f.Generate {
			internal_gengo.GenerateFile(plugin, f)
		}
	}
	resp := plugin.Response()
	if resp.Error != nil {
		t.Fatalf("protoc-gen-go: %s", resp.GetError())
	}

	out := make(map[string][]byte, len(resp.File))
	for _, f := range resp.File {
		out[f.GetName()] = []byte(f.GetContent())
	}
	return out
}

// protoFiles lists the .proto files under protoDir, relative to it, in the
// order buf passes them (sorted by path).
func protoFiles(t *testing.T) []string {
	t.Helper()

	var files []string
	err := filepath.WalkDir(protoDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".proto" {
			return err
		}
		rel, err := filepath.Rel(protoDir, path)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatalf("list %s: %v", protoDir, err)
	}
	if len(files) == 0 {
		t.Fatalf("no .proto files under %s", protoDir)
	}
	slices.Sort(files)
	return files
}

// descriptorsInImportOrder returns the compiled files and everything they
// import, each after its imports, as a CodeGeneratorRequest must list them.
func descriptorsInImportOrder(files []linker.File) []*descriptorpb.FileDescriptorProto {
	var (
		out  []*descriptorpb.FileDescriptorProto
		seen = map[string]bool{}
		add  func(fd protoreflect.FileDescriptor)
	)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		// A linker.Result keeps the descriptor exactly as compiled, with the
		// json_name and source info protoc would set.
		if res, ok := fd.(linker.Result); ok {
			out = append(out, res.FileDescriptorProto())
			return
		}
		out = append(out, protodesc.ToFileDescriptorProto(fd))
	}
	for _, f := range files {
		add(f)
	}
	return out
}

// readGenerated returns the committed Go files under genDir, keyed by the
// path relative to it.
func readGenerated(t *testing.T) map[string][]byte {
	t.Helper()

	out := map[string][]byte{}
	err := filepath.WalkDir(genDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(genDir, path)
		out[filepath.ToSlash(rel)] = content
		return err
	})
	if err != nil {
		t.Fatalf("read %s: %v", genDir, err)
	}
	return out
}

// diffHint shows the first line where the committed file departs from the
// generated one, with a little context: enough to see what changed.
func diffHint(want, got []byte) string {
	const around = 3
	wantLines := strings.Split(string(want), "\n")
	gotLines := strings.Split(string(got), "\n")

	i := 0
	for i < len(wantLines) && i < len(gotLines) && wantLines[i] == gotLines[i] {
		i++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "first difference at line %d (- generated, + committed):\n", i+1)
	for _, l := range wantLines[max(0, i-around):i] {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	for _, l := range wantLines[i:min(len(wantLines), i+around)] {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	for _, l := range gotLines[i:min(len(gotLines), i+around)] {
		fmt.Fprintf(&b, "+ %s\n", l)
	}
	return b.String()
}
