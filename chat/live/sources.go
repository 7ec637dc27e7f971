package live

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"sync"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/renderer"
)

// Source is one named data source of the screens: what a screen's
// `data: {x: {source: NAME, ...}}` reads (docs/screens.md, "Data").
type Source struct {
	// Fetch answers a query for the caller. Its result is marshalled to
	// JSON and bound as JSON-shaped values, the shapes the REST API
	// answers, so a screen sees what an integration sees.
	Fetch func(ctx context.Context, c *Caller, q renderer.Query) (any, error)
	// Version, when set, is a change counter of the source's data for the
	// query: a 304 then reads only the counter. Without it the version is
	// a hash of the fetched data.
	Version func(ctx context.Context, c *Caller, q renderer.Query) (string, error)
	// Public sources answer signed-out callers (the login screen's
	// content); the others answer them 401.
	Public bool
}

// Sources is the registry of data sources by name. A name ending in "."
// registers a family: "content." answers "content.tariffs",
// "content.news" and every other collection.
type Sources struct {
	exact  map[string]Source
	family map[string]Source
}

// NewSources returns the messenger's data sources over svc and content:
// me, user, contacts, dialogs.list, dialog, messages, media and
// content.<name>.
// docs/screens.md lists their arguments and shapes.
func NewSources(svc Service, content ContentReader) *Sources {
	s := &Sources{exact: map[string]Source{}, family: map[string]Source{}}
	s.Register("me", Source{Fetch: func(ctx context.Context, c *Caller, q renderer.Query) (any, error) {
		return svc.Me(ctx, c.P)
	}})
	s.Register("user", Source{Fetch: func(ctx context.Context, c *Caller, q renderer.Query) (any, error) {
		id, err := chat.ParseID(q.Arg("id"))
		if err != nil {
			return nil, err
		}
		return svc.User(ctx, c.P, id)
	}})
	// Contacts come sorted from the store and a user has at most
	// chat.DefaultContactsMax of them, so a page is an offset into that
	// order: cursor is the decimal count of contacts already shown.
	s.Register("contacts", Source{Fetch: func(ctx context.Context, c *Caller, q renderer.Query) (any, error) {
		off := 0
		if cur := q.Arg("cursor"); cur != "" {
			n, err := strconv.Atoi(cur)
			if err != nil || n < 0 || n > chat.DefaultContactsMax {
				return nil, &chat.Error{Kind: chat.KindInvalid, Code: "invalid_param", Message: "param cursor must be a cursor from the screen's load_more"}
			}
			off = n
		}
		limit := argInt(q, "limit", 0)
		if limit <= 0 || limit > chat.DefaultContactsMax {
			limit = chat.DefaultContactsMax
		}
		users, err := svc.Contacts(ctx, c.P, "", min(off+limit+1, chat.DefaultContactsMax))
		if err != nil {
			return nil, err
		}
		users = users[min(off, len(users)):]
		next := ""
		if len(users) > limit {
			users = users[:limit]
			next = strconv.Itoa(off + limit)
		}
		return map[string]any{"users": users, "next_cursor": next}, nil
	}})
	s.Register("dialogs.list", Source{
		Fetch: func(ctx context.Context, c *Caller, q renderer.Query) (any, error) {
			return svc.Dialogs(ctx, c.P, q.Arg("cursor"), argInt(q, "limit", 0))
		},
		Version: func(ctx context.Context, c *Caller, q renderer.Query) (string, error) {
			return svc.DialogsVersion(ctx, c.P)
		},
	})
	// A chat screen reads a dialog and its messages: one counter serves
	// both, read once per request.
	dialogVersion := func(arg string) func(ctx context.Context, c *Caller, q renderer.Query) (string, error) {
		return func(ctx context.Context, c *Caller, q renderer.Query) (string, error) {
			id, err := chat.ParseID(q.Arg(arg))
			if err != nil {
				return "", err
			}
			return c.once("dialog\x00"+chat.FormatID(id), func() (string, error) {
				return svc.DialogVersion(ctx, c.P, id)
			})
		}
	}
	s.Register("dialog", Source{
		Fetch: func(ctx context.Context, c *Caller, q renderer.Query) (any, error) {
			id, err := chat.ParseID(q.Arg("id"))
			if err != nil {
				return nil, err
			}
			return svc.Dialog(ctx, c.P, id)
		},
		Version: dialogVersion("id"),
	})
	s.Register("messages", Source{
		Fetch: func(ctx context.Context, c *Caller, q renderer.Query) (any, error) {
			id, err := chat.ParseID(q.Arg("dialog_id"))
			if err != nil {
				return nil, err
			}
			before := int64(0)
			if b := q.Arg("before"); b != "" {
				// A page cursor: the seq of the oldest message shown.
				if before, err = strconv.ParseInt(b, 10, 64); err != nil || before < 1 {
					return nil, &chat.Error{Kind: chat.KindInvalid, Code: "invalid_param", Message: "param cursor must be a cursor from the screen's load_more"}
				}
			}
			msgs, err := svc.History(ctx, c.P, id, before, argInt(q, "limit", 0))
			if err != nil {
				return nil, err
			}
			return map[string]any{"messages": msgs}, nil
		},
		Version: dialogVersion("dialog_id"),
	})
	// media is a dialog's gallery of one kind (GET /v1/dialogs/{id}/media);
	// it changes with the dialog, so the dialog's counter versions it.
	s.Register("media", Source{
		Fetch: func(ctx context.Context, c *Caller, q renderer.Query) (any, error) {
			id, err := chat.ParseID(q.Arg("dialog_id"))
			if err != nil {
				return nil, err
			}
			return svc.DialogMedia(ctx, c.P, id, q.Arg("kind"), q.Arg("cursor"), argInt(q, "limit", 0))
		},
		Version: dialogVersion("dialog_id"),
	})
	if g, ok := svc.(GroupService); ok {
		// A group's members with their roles, paged by user id: the
		// group_info screen (a dialog's view carries only the first 20).
		s.Register("members", Source{
			Fetch: func(ctx context.Context, c *Caller, q renderer.Query) (any, error) {
				id, err := chat.ParseID(q.Arg("dialog_id"))
				if err != nil {
					return nil, err
				}
				return g.GroupMembers(ctx, c.P, id, q.Arg("cursor"), argInt(q, "limit", 0))
			},
			Version: dialogVersion("dialog_id"),
		})
	}
	s.Register("content.", Source{
		Public: true,
		Fetch: func(ctx context.Context, c *Caller, q renderer.Query) (any, error) {
			docs, err := content.Content(ctx, strings.TrimPrefix(q.Source, "content."), true)
			if err != nil {
				return nil, err
			}
			n := min(argInt(q, "limit", len(docs)), len(docs))
			items := make([]json.RawMessage, 0, n)
			for _, doc := range docs[:n] {
				items = append(items, withID(doc))
			}
			return map[string]any{"items": items}, nil
		},
	})
	return s
}

// withID is a document's data as a screen binds it: with the document's
// id as "id" when the data has none (a collection whose schema does not
// carry it), so item ids and actions can name it.
func withID(d chat.ContentDoc) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(d.Data, &m); err != nil || m["id"] != nil {
		return d.Data
	}
	id, _ := json.Marshal(d.ID)
	m["id"] = id
	out, err := json.Marshal(m)
	if err != nil {
		return d.Data
	}
	return out
}

// GroupService is the optional ability of a Service to page a group's
// members (chat.Service has it); NewSources registers the members source
// when svc has it.
type GroupService interface {
	GroupMembers(ctx context.Context, p chat.Principal, dialogID int64, cursor string, limit int) (chat.MemberPage, error)
}

// Register adds or replaces a source. A name ending in "." is a family.
func (s *Sources) Register(name string, src Source) {
	if strings.HasSuffix(name, ".") {
		s.family[name] = src
		return
	}
	s.exact[name] = src
}

// lookup finds the source of a query's name: an exact name first, then the
// family of its prefix up to the first dot.
func (s *Sources) lookup(name string) (Source, bool) {
	if src, ok := s.exact[name]; ok {
		return src, true
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		src, ok := s.family[name[:i+1]]
		return src, ok
	}
	return Source{}, false
}

// errSignedOut answers a signed-out caller of a source that needs a user.
var errSignedOut = chat.Errorf(chat.KindUnauthorized, "missing_token", "This screen needs a signed-in user.")

// Caller is who a screen request is for, and the request's memory: each
// query is fetched once and both the ETag (Version) and the render (Fetch)
// use that result, so a 200 costs one fetch and a 304 one counter read.
type Caller struct {
	P      chat.Principal
	Authed bool // false: signed out, P is zero

	sources *Sources
	mu      sync.Mutex
	memo    map[string]fetched
	counts  map[string]string
}

type fetched struct {
	raw     []byte // the data as JSON; decoded only when rendering
	data    any
	version string
}

var _ renderer.Provider = (*Caller)(nil)

// scope returns the provider of one request for viewer (nil: signed out).
func (s *Sources) scope(viewer *chat.Principal) *Caller {
	c := &Caller{sources: s, memo: map[string]fetched{}}
	if viewer != nil {
		c.P, c.Authed = *viewer, true
	}
	return c
}

// once reads a counter at most once per request under key.
func (c *Caller) once(key string, read func() (string, error)) (string, error) {
	if v, ok := c.counts[key]; ok {
		return v, nil
	}
	v, err := read()
	if err != nil {
		return "", err
	}
	if c.counts == nil {
		c.counts = map[string]string{}
	}
	c.counts[key] = v
	return v, nil
}

// Version implements renderer.Provider.
func (c *Caller) Version(ctx context.Context, q renderer.Query) (string, error) {
	f, err := c.get(ctx, q, false)
	return f.version, err
}

// Fetch implements renderer.Provider.
func (c *Caller) Fetch(ctx context.Context, q renderer.Query) (any, string, error) {
	f, err := c.get(ctx, q, true)
	return f.data, f.version, err
}

// get answers a query once per request. A source with a counter takes its
// version from it, read before the data, so data newer than its token can
// only cause an extra 200 later, never a wrong 304; other sources are small
// and take a hash of their data, identical on every node and equal exactly
// when the data is.
func (c *Caller) get(ctx context.Context, q renderer.Query, decode bool) (fetched, error) {
	src, ok := c.sources.lookup(q.Source)
	if !ok {
		return fetched{}, chat.Errorf(chat.KindInternal, "internal", "screens: unknown data source %q", q.Source)
	}
	if !src.Public && !c.Authed {
		return fetched{}, errSignedOut
	}
	key := q.Source
	for _, a := range q.Args {
		key += "\x00" + a.Name + "=" + a.Value
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.memo[key]
	if !ok {
		if src.Version != nil {
			v, err := src.Version(ctx, c, q)
			if err != nil {
				return fetched{}, err
			}
			f.version = v
		} else {
			raw, err := c.fetchJSON(ctx, src, q)
			if err != nil {
				return fetched{}, err
			}
			sum := sha256.Sum256(raw)
			f.raw, f.version = raw, base64.RawURLEncoding.EncodeToString(sum[:12])
		}
	}
	if decode && f.data == nil {
		if f.raw == nil {
			raw, err := c.fetchJSON(ctx, src, q)
			if err != nil {
				return fetched{}, err
			}
			f.raw = raw
		}
		if err := json.Unmarshal(f.raw, &f.data); err != nil {
			return fetched{}, err
		}
	}
	c.memo[key] = f
	return f, nil
}

func (c *Caller) fetchJSON(ctx context.Context, src Source, q renderer.Query) ([]byte, error) {
	v, err := src.Fetch(ctx, c, q)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// argInt reads an integer argument; absent or malformed is def.
func argInt(q renderer.Query, name string, def int) int {
	n, err := strconv.Atoi(q.Arg(name))
	if err != nil || n < 0 {
		return def
	}
	return n
}
