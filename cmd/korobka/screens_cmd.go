package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/renderer"
	"github.com/korobka/korobka/screens"
)

// errLint reports that lint found problems (already printed).
var errLint = errors.New("lint failed")

// screensFS is the folder given, else KOROBKA_SCREENS, else the current
// folder when it is a screens folder (it holds theme.yaml), else the
// embedded screens. A folder that is not a screens folder is an error that
// names where it came from.
func screensFS(dir string, getenv func(string) string) (fs.FS, string, error) {
	from := "screens folder"
	if dir == "" {
		if dir = getenv("KOROBKA_SCREENS"); dir != "" {
			from = "KOROBKA_SCREENS"
		}
	}
	if dir == "" {
		if st, err := os.Stat("theme.yaml"); err == nil && st.Mode().IsRegular() {
			return os.DirFS("."), "this folder", nil
		}
		return screens.FS, "embedded screens", nil
	}
	if err := checkScreensDir(dir); err != nil {
		return nil, "", fmt.Errorf("%s: %w", from, err)
	}
	return os.DirFS(dir), dir, nil
}

// checkScreensDir says why dir is not a screens folder, or nil.
func checkScreensDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%q does not exist", dir)
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("%q is not a folder", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "theme.yaml")); err != nil {
		return fmt.Errorf("%q is not a screens folder: it has no theme.yaml", dir)
	}
	return nil
}

// lintCmd checks every screen, fragment, theme, strings file, content seed
// and fixture, printing file:line:col: message for each problem.
func lintCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("korobka lint", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: korobka lint [dir]   (default: $KOROBKA_SCREENS or the embedded screens)")
	}
	if err := fl.Parse(args); err != nil || fl.NArg() > 1 {
		return errUsage
	}
	fsys, where, err := screensFS(fl.Arg(0), getenv)
	if err != nil {
		return err
	}
	diags := renderer.Lint(fsys)
	for _, d := range diags {
		fmt.Fprintln(stdout, d.String())
	}
	problems := len(diags)
	if problems == 0 {
		problems = lintContentText(fsys, stdout)
	}
	if problems > 0 {
		fmt.Fprintf(stderr, "%s: %d problem(s)\n", where, problems)
		return errLint
	}
	fmt.Fprintf(stderr, "%s: ok\n", where)
	return nil
}

// lintContentText checks the content seeds against the text policy
// (chat.CleanContent), which the renderer cannot know, and prints each
// item that breaks it. It returns the number of problems.
func lintContentText(fsys fs.FS, stdout io.Writer) int {
	seeds, err := renderer.LoadContentSeeds(fsys)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0 // no content folder: nothing to check
		}
		fmt.Fprintln(stdout, err)
		return 1
	}
	n := 0
	for _, name := range slices.Sorted(maps.Keys(seeds)) {
		for _, d := range seeds[name] {
			if _, err := chat.CleanContent(d.Data); err != nil {
				fmt.Fprintf(stdout, "content/%s.yaml: item %q: %v\n", name, d.ID, err)
				n++
			}
		}
	}
	return n
}

// renderCmd prints one screen's layout for fixture data, as a shell would
// receive it.
func renderCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("korobka render", flag.ContinueOnError)
	fl.SetOutput(stderr)
	data := fl.String("data", "", "fixture JSON: {\"params\",\"viewer\",\"data\"} (required)")
	lang := fl.String("lang", "en", "language")
	theme := fl.String("theme", "light", "light or dark")
	dir := fl.String("screens", "", "screens folder (default: $KOROBKA_SCREENS or the embedded screens)")
	brand := fl.String("brand", "", "themes/<brand>/theme.yaml instead of theme.yaml (default: $KOROBKA_BRAND)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: korobka render NAME --data fixture.json [--lang ru] [--theme dark] [--screens dir] [--brand name]")
		fl.PrintDefaults()
	}
	// The screen name may come before, between or after the flags: the
	// standard flag package stops at the first argument that is not one,
	// so parse again after each.
	var names []string
	for {
		if err := fl.Parse(args); err != nil {
			return errUsage
		}
		if fl.NArg() == 0 {
			break
		}
		names, args = append(names, fl.Arg(0)), fl.Args()[1:]
	}
	if len(names) != 1 || *data == "" {
		fl.Usage()
		return errUsage
	}
	name := names[0]
	fsys, _, err := screensFS(*dir, getenv)
	if err != nil {
		return err
	}
	if *brand == "" {
		*brand = getenv("KOROBKA_BRAND")
	}
	if fsys, err = renderer.BrandFS(fsys, *brand); err != nil {
		return err
	}
	raw, err := os.ReadFile(*data)
	if err != nil {
		return err
	}
	fx, err := renderer.ParseFixture(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", *data, err)
	}
	eng, diags, err := renderer.Load(fsys)
	if err != nil {
		for _, d := range diags {
			fmt.Fprintln(stderr, d.String())
		}
		return errLint
	}
	out, _, err := eng.AppendRender(ctx, nil, fx.Request(name, *lang, *theme), fx.Provider())
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, out, "", "  "); err != nil {
		return err
	}
	pretty.WriteByte('\n')
	_, err = stdout.Write(pretty.Bytes())
	return err
}
