// dockerfile-lint runs BuildKit's Dockerfile checks (the rules of `docker build --check`)
// on Dockerfiles without Docker and without the network: base images are not resolved.
// Exit status 1 when a rule is broken, 2 when a file cannot be parsed.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	digest "github.com/opencontainers/go-digest"
)

// offline refuses to resolve images: linting must not reach a registry.
type offline struct{}

func (offline) ResolveImageConfig(context.Context, string, sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	return "", "", nil, errors.New("offline: base images are not resolved")
}

func lint(path string) (int, error) {
	dt, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	def, err := llb.Local("context").Marshal(ctx)
	if err != nil {
		return 0, err
	}
	source := llb.NewSourceMap(nil, path, "Dockerfile", dt)
	source.Definition = def
	results, err := dockerfile2llb.DockerfileLint(ctx, dt, dockerfile2llb.ConvertOpt{SourceMap: source, MetaResolver: offline{}})
	if err != nil {
		return 0, err
	}
	for _, w := range results.Warnings {
		line := 0
		if len(w.Location.Ranges) > 0 {
			line = int(w.Location.Ranges[0].Start.Line)
		}
		fmt.Printf("%s:%d: %s: %s (%s)\n", path, line, w.RuleName, w.Detail, w.URL)
	}
	return len(results.Warnings), nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dockerfile-lint Dockerfile...")
		os.Exit(2)
	}
	broken := 0
	for _, path := range os.Args[1:] {
		n, err := lint(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(2)
		}
		broken += n
	}
	if broken > 0 {
		fmt.Fprintf(os.Stderr, "dockerfile-lint: %d problem(s)\n", broken)
		os.Exit(1)
	}
	fmt.Printf("dockerfile-lint: %d file(s), no problems\n", len(os.Args)-1)
}
