package renderer

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// queryLog records the queries a render makes.
type queryLog struct {
	Provider
	queries []Query
}

func (l *queryLog) Version(ctx context.Context, q Query) (string, error) {
	l.queries = append(l.queries, q)
	return l.Provider.Version(ctx, q)
}

func (l *queryLog) Fetch(ctx context.Context, q Query) (any, string, error) {
	l.queries = append(l.queries, q)
	return l.Provider.Fetch(ctx, q)
}

// A page request puts its cursor into the paged source's cursor argument
// (before for messages), keeps the screen's other args, leaves the other
// data alone and has its own ETag; a page of a list the screen does not
// have is refused.
func TestPage(t *testing.T) {
	e := loadShipped(t)
	f := fixture(t, "chat")
	ctx := context.Background()
	req := f.Request("chat", "en", "light")
	first, err := e.ETag(ctx, req, f.Provider())
	if err != nil {
		t.Fatal(err)
	}
	req.Page = Page{Data: "messages", Cursor: "26"}
	log := &queryLog{Provider: f.Provider()}
	if _, err := e.Render(ctx, req, log, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, q := range log.queries {
		switch q.Name {
		case "messages":
			if q.Arg("before") != "26" || q.Arg("limit") != "50" || q.Arg("dialog_id") == "" {
				t.Errorf("messages page query args %v, want before=26 with the screen's dialog_id and limit", q.Args)
			}
			for i := 1; i < len(q.Args); i++ {
				if q.Args[i-1].Name >= q.Args[i].Name {
					t.Errorf("args not sorted by name: %v", q.Args)
				}
			}
		case "dialog":
			if q.Arg("before") != "" || len(q.Args) != 1 {
				t.Errorf("dialog query args %v, want only id", q.Args)
			}
		}
	}
	paged, err := e.ETag(ctx, req, f.Provider())
	if err != nil {
		t.Fatal(err)
	}
	if paged == first {
		t.Errorf("a page has the first page's etag %s", first)
	}

	for _, bad := range []Page{{Data: "dialog", Cursor: "1"}, {Data: "nope", Cursor: "1"}, {Data: "messages"}} {
		req.Page = bad
		_, err := e.ETag(ctx, req, f.Provider())
		var re *Error
		if !errors.As(err, &re) || re.Code != CodeInvalidParam {
			t.Errorf("page %+v: err %v, want %s", bad, err, CodeInvalidParam)
		}
	}
}
