package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/renderer"
)

// screenData answers one screen request's data queries from the chat
// service, as the caller sees them. It lives for one request: each query
// is fetched once and both the ETag (Version) and the render (Fetch) use
// that result, so a 200 costs one fetch and a 304 costs one fetch and no
// render. A version is a hash of the data itself: identical on every node,
// and equal exactly when the data is.
type screenData struct {
	svc     *chat.Service
	content chat.ContentStore
	p       chat.Principal
	authed  bool

	mu   sync.Mutex
	memo map[string]fetched
}

type fetched struct {
	raw     []byte // the data as JSON; decoded only when rendering
	data    any
	version string
}

var _ renderer.Provider = (*screenData)(nil)

func newScreenData(svc *chat.Service, content chat.ContentStore, p chat.Principal, authed bool) *screenData {
	return &screenData{svc: svc, content: content, p: p, authed: authed, memo: map[string]fetched{}}
}

func (d *screenData) Version(ctx context.Context, q renderer.Query) (string, error) {
	f, err := d.get(ctx, q, false)
	return f.version, err
}

func (d *screenData) Fetch(ctx context.Context, q renderer.Query) (any, string, error) {
	f, err := d.get(ctx, q, true)
	return f.data, f.version, err
}

// get answers a query once per request. Dialog screens take their version
// from the dialogs' change counters, so a 304 reads no message; other
// sources are small and take a hash of their data. The data is kept as
// JSON, the shapes the REST API answers, and decoded into the values the
// renderer binds only when a render needs it.
func (d *screenData) get(ctx context.Context, q renderer.Query, decode bool) (fetched, error) {
	key := q.Source
	for _, a := range q.Args {
		key += "\x00" + a.Name + "=" + a.Value
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.memo[key]
	if !ok {
		// The counter is read before the data, so data newer than its
		// token can only cause an extra 200 later, never a wrong 304.
		v, counted, err := d.counter(ctx, q)
		if err != nil {
			return fetched{}, err
		}
		f.version = v
		if !counted {
			if f.raw, err = d.fetchJSON(ctx, q); err != nil {
				return fetched{}, err
			}
			sum := sha256.Sum256(f.raw)
			f.version = base64.RawURLEncoding.EncodeToString(sum[:12])
		}
	}
	if decode && f.data == nil {
		if f.raw == nil {
			raw, err := d.fetchJSON(ctx, q)
			if err != nil {
				return fetched{}, err
			}
			f.raw = raw
		}
		if err := json.Unmarshal(f.raw, &f.data); err != nil {
			return fetched{}, err
		}
	}
	d.memo[key] = f
	return f, nil
}

// counter reads the change counter of a dialog source; counted is false for
// sources that have none.
func (d *screenData) counter(ctx context.Context, q renderer.Query) (v string, counted bool, err error) {
	if !d.authed {
		return "", false, nil
	}
	switch q.Source {
	case "dialogs.list":
		v, err = d.svc.DialogsVersion(ctx, d.p)
		return v, true, err
	case "dialog", "messages":
		arg := "id"
		if q.Source == "messages" {
			arg = "dialog_id"
		}
		id, err := chat.ParseID(q.Arg(arg))
		if err != nil {
			return "", false, err
		}
		// A chat screen reads the dialog and its messages: one counter.
		key := "\x01dialog\x00" + chat.FormatID(id)
		if f, ok := d.memo[key]; ok {
			return f.version, true, nil
		}
		v, err = d.svc.DialogVersion(ctx, d.p, id)
		if err == nil {
			d.memo[key] = fetched{version: v}
		}
		return v, true, err
	}
	return "", false, nil
}

func (d *screenData) fetchJSON(ctx context.Context, q renderer.Query) ([]byte, error) {
	v, err := d.query(ctx, q)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// query runs one source.
func (d *screenData) query(ctx context.Context, q renderer.Query) (any, error) {
	if name, ok := strings.CutPrefix(q.Source, "content."); ok {
		docs, err := d.content.Content(ctx, name, true)
		if err != nil {
			return nil, err
		}
		limit := argInt(q, "limit", len(docs))
		items := make([]json.RawMessage, 0, min(limit, len(docs)))
		for _, doc := range docs[:min(limit, len(docs))] {
			items = append(items, doc.Data)
		}
		return map[string]any{"items": items}, nil
	}
	if !d.authed {
		return nil, chat.Errorf(chat.KindUnauthorized, "missing_token", "This screen needs a signed-in user.")
	}
	switch q.Source {
	case "me":
		return d.svc.Me(ctx, d.p)
	case "user":
		id, err := chat.ParseID(q.Arg("id"))
		if err != nil {
			return nil, err
		}
		return d.svc.User(ctx, d.p, id)
	case "contacts":
		users, err := d.svc.Contacts(ctx, d.p, "", argInt(q, "limit", 0))
		if err != nil {
			return nil, err
		}
		return map[string]any{"users": users, "next_cursor": ""}, nil
	case "dialogs.list":
		return d.svc.Dialogs(ctx, d.p, q.Arg("cursor"), argInt(q, "limit", 0))
	case "dialog":
		id, err := chat.ParseID(q.Arg("id"))
		if err != nil {
			return nil, err
		}
		return d.svc.Dialog(ctx, d.p, id)
	case "messages":
		id, err := chat.ParseID(q.Arg("dialog_id"))
		if err != nil {
			return nil, err
		}
		msgs, err := d.svc.History(ctx, d.p, id, int64(argInt(q, "before", 0)), argInt(q, "limit", 0))
		if err != nil {
			return nil, err
		}
		return map[string]any{"messages": msgs}, nil
	}
	return nil, fmt.Errorf("screens: unknown data source %q", q.Source)
}

// argInt reads an integer argument; absent or malformed is def.
func argInt(q renderer.Query, name string, def int) int {
	n, err := strconv.Atoi(q.Arg(name))
	if err != nil || n < 0 {
		return def
	}
	return n
}

// renderError maps the renderer's codes onto the one error table.
func renderError(err error) error {
	var re *renderer.Error
	if !errors.As(err, &re) {
		return err
	}
	switch re.Code {
	case renderer.CodeUnknownScreen:
		return chat.Errorf(chat.KindNotFound, "unknown_screen", "No such screen.")
	case renderer.CodeMissingParam, renderer.CodeInvalidParam:
		return &chat.Error{Kind: chat.KindInvalid, Code: re.Code, Message: re.Message}
	}
	return err
}
