package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestHealthCommand(t *testing.T) {
	e := newEnv(t, nil)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"korobka", "health", "--url", e.url + "/healthz"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatalf("health of a running server: %v", err)
	}
	// Without --url it asks the loopback port of KOROBKA_ADDR.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(e.url, "http://"))
	addr := func(k string) string { return map[string]string{"KOROBKA_ADDR": ":" + port}[k] }
	if err := run(context.Background(), []string{"korobka", "health"}, addr, io.Discard, io.Discard); err != nil {
		t.Fatalf("health on KOROBKA_ADDR :%s: %v", port, err)
	}
	if err := run(context.Background(), []string{"korobka", "health", "--url", e.url + "/nope"}, addr, io.Discard, io.Discard); err == nil {
		t.Error("health passed on a 404")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	if err := run(context.Background(), []string{"korobka", "health", "--url", "http://" + closed + "/healthz"}, addr, io.Discard, io.Discard); err == nil {
		t.Error("health passed with no server")
	}
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// versionAtLeast compares dotted versions (1.26.8) numerically.
func versionAtLeast(v, min string) bool {
	a, b := strings.Split(v, "."), strings.Split(min, ".")
	for i := range max(len(a), len(b)) {
		x, y := 0, 0
		if i < len(a) {
			x, _ = strconv.Atoi(a[i])
		}
		if i < len(b) {
			y, _ = strconv.Atoi(b[i])
		}
		if x != y {
			return x > y
		}
	}
	return true
}

// What a newcomer reads first stays true: the README names go.mod's exact
// Go version, says how to get the binary, the Dockerfile's Go satisfies
// go.mod, and the compose file checks health and says where login codes are.
func TestNewcomerDocsMatchTheRepository(t *testing.T) {
	goVer := regexp.MustCompile(`(?m)^go (\d+\.\d+(?:\.\d+)?)$`).FindStringSubmatch(readRepoFile(t, "go.mod"))
	if goVer == nil {
		t.Fatal("go.mod has no go line")
	}
	readme := readRepoFile(t, "README.md")
	for _, want := range []string{"Go " + goVer[1], "go build -o korobka ./cmd/korobka", "go run ./cmd/korobka lint", "minutes"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md does not say %q", want)
		}
	}
	from := regexp.MustCompile(`(?m)^FROM golang:(\d+\.\d+(?:\.\d+)?)\b`).FindStringSubmatch(readRepoFile(t, "Dockerfile"))
	if from == nil || !versionAtLeast(from[1], goVer[1]) {
		t.Errorf("Dockerfile builds with golang:%v, go.mod needs %s", from, goVer[1])
	}
	src := readRepoFile(t, "docker-compose.yml")
	var compose struct {
		Services map[string]struct {
			Healthcheck struct{ Test []string }
		}
	}
	if err := yaml.Unmarshal([]byte(src), &compose); err != nil {
		t.Fatal(err)
	}
	hc := compose.Services["korobka"].Healthcheck.Test
	if len(hc) < 3 || hc[0] != "CMD" || hc[1] != "/korobka" || hc[2] != "health" {
		t.Errorf("korobka's healthcheck is %q, want [CMD /korobka health]", hc)
	}
	if !strings.Contains(src, "docker compose logs") || !strings.Contains(src, "login code") {
		t.Error("docker-compose.yml does not say how to read login codes")
	}
}

// The repository is self-contained: no file points at design notes that
// live outside it (they are in docs/design.md).
func TestRepositoryIsSelfContained(t *testing.T) {
	outside := []string{"DESIGN" + ".md", "/work/" + "shared", "../" + "shared/", "STYLE" + ".md"}
	err := filepath.WalkDir("../..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == ".git" || n == "data" || n == "testdata" || n == "gallery" {
				return filepath.SkipDir
			}
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > 4<<20 {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range outside {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s refers to %s, which is not in the repository; link docs/design.md", p, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
