package httpapi

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat/chattest"
	"github.com/korobka/korobka/chat/live"
)

// TestOpenAPIContractRoutes checks that the contract and the router agree:
// every route registered in the gin engine is documented, and every
// documented path and method is served by a route.
func TestOpenAPIContractRoutes(t *testing.T) {
	o := chattest.MustLoadOpenAPI(t)
	screens := live.Fixed{} // routes only: nothing is rendered
	h, err := NewServer(Deps{
		Media:     http.NotFoundHandler(),
		WebSocket: http.NotFoundHandler(),
		Screens:   live.NewRenderer(screens, nil),
		Preview:   live.NewPreview(screens, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	eng, ok := h.(*gin.Engine)
	if !ok {
		t.Fatalf("NewServer returned %T, want the gin engine", h)
	}
	param := regexp.MustCompile(`[:*]([A-Za-z_]+)`)
	documented := map[string]bool{}
	for _, op := range o.Paths() {
		documented[op] = true
	}
	served := map[string]bool{}
	var routes []gin.RouteInfo
	for _, r := range eng.Routes() {
		routes = append(routes, r)
		tmpl := param.ReplaceAllString(r.Path, "{$1}")
		key := r.Method + " " + tmpl
		served[key] = true
		if !documented[key] {
			t.Errorf("route %s %s is not in openapi.yaml (as %s)", r.Method, r.Path, key)
		} else if wild := strings.Contains(r.Path, "*"); wild != o.Wildcard(tmpl) {
			t.Errorf("route %s: x-wildcard is %v in openapi.yaml, want %v", r.Path, o.Wildcard(tmpl), wild)
		}
	}
	if len(routes) < 25 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	// Paths documented beside a route's wildcard (/preview/api/screens
	// under /preview/*file) are served by that route.
	for _, op := range o.Paths() {
		if served[op] {
			continue
		}
		method, tmpl, _ := strings.Cut(op, " ")
		if !servedBy(routes, method, tmpl) {
			t.Errorf("%s is documented but no route serves it", op)
		}
	}
	keys := make([]string, 0, len(served))
	for k := range served {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("%d routes, %d documented operations", len(keys), len(documented))
}

// servedBy reports whether a gin route of method matches the template with
// its parameters filled in.
func servedBy(routes []gin.RouteInfo, method, tmpl string) bool {
	path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(tmpl, "x")
	for _, r := range routes {
		if r.Method != method {
			continue
		}
		pat := regexp.QuoteMeta(r.Path)
		pat = regexp.MustCompile(`:[A-Za-z_]+`).ReplaceAllString(pat, `[^/]+`)
		pat = regexp.MustCompile(`\\\*[A-Za-z_]+`).ReplaceAllString(pat, `.*`)
		if regexp.MustCompile("^" + pat + "$").MatchString(path) {
			return true
		}
	}
	return false
}
