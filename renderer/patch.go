package renderer

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Variant is what a live-patch fragment's output depends on besides its
// vars. The WebSocket layer groups a topic's connections by VariantKey and
// renders each fragment once per group, not once per device. Whether a
// message is the viewer's own is passed as a var (own), so it splits
// groups only where it matters.
type Variant struct {
	Langs []string
	Theme string
	Caps  Capabilities
	// TZ is the zone times are shown in (nil: UTC); Now the current time
	// for day() (zero: time.Now()); Region reads phone numbers. As in
	// Request.
	TZ     *time.Location
	Now    time.Time
	Region string
}

// VariantKey identifies the group of connections that receive identical
// fragment output from this engine: language, theme, capabilities, time
// zone and phone region. (A fragment using day() also depends on the date; callers
// that cache its output across midnight key on the date too.)
func (e *Engine) VariantKey(v Variant) string {
	return fmt.Sprintf("%d|%s|%s|%s", e.variantIndex(v.Langs, v.Theme), v.Caps.String(), zone(v.TZ).String(), v.Region)
}

// Fragment renders fragments/<name>.yaml with vars bound to its params
// (missing ones are nil) and returns one layout node.
func (e *Engine) Fragment(name string, vars map[string]any, v Variant) (json.RawMessage, error) {
	b, err := e.AppendFragment(nil, name, vars, v)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// AppendFragment is Fragment appending to dst, for callers that batch ops
// into one frame without copying.
func (e *Engine) AppendFragment(dst []byte, name string, vars map[string]any, v Variant) ([]byte, error) {
	fv, ok := e.frags[name]
	if !ok {
		return dst, &Error{Code: CodeUnknownFragment, Message: fmt.Sprintf("no fragment %q", name)}
	}
	vi := e.variantIndex(v.Langs, v.Theme)
	fr := fv[vi]
	st := e.getState()
	defer e.putState(st)
	own := st.buf
	st.buf = dst
	for range fr.nslots {
		st.vals = append(st.vals, nil)
	}
	for i, p := range fr.params {
		st.vals[i] = vars[p]
	}
	st.caps = v.Caps
	st.loc, st.now, st.region = zone(v.TZ), nowOr(v.Now), v.Region
	st.lang = e.langs[vi/2].lang
	if !fr.root.write(st) {
		st.buf = append(st.buf, "null"...)
	}
	out := st.buf
	st.buf = own // the pooled buffer stays with the pool; out belongs to the caller
	if st.over || !st.budget() {
		return dst, &Error{Code: CodeTooLarge, Message: "fragment " + name + " is too large"}
	}
	return out, nil
}

// Op is one patch operation; shells apply them in order by node id.
type Op struct {
	Op    string          `json:"op"`
	Into  string          `json:"into,omitempty"`
	At    string          `json:"at,omitempty"`
	ID    string          `json:"id,omitempty"`
	Node  json.RawMessage `json:"node,omitempty"`
	Props map[string]any  `json:"props,omitempty"`
}

// Insert adds node to the list with id into, at "start" or "end".
func Insert(into, at string, node json.RawMessage) Op {
	return Op{Op: "insert", Into: into, At: at, Node: node}
}

// Replace swaps the node with id for node (an edited message, an updated
// dialog row).
func Replace(id string, node json.RawMessage) Op { return Op{Op: "replace", ID: id, Node: node} }

// Remove deletes the node with id.
func Remove(id string) Op { return Op{Op: "remove", ID: id} }

// Set changes props of the node with id without resending it (a badge
// count, a tick status). Values must be JSON-shaped.
func Set(id string, props map[string]any) Op { return Op{Op: "set", ID: id, Props: props} }

// AppendPatch writes a {"type":"patch","screen","ops"} frame without
// reflection; screen is the screen instance, e.g. "chat:17".
func AppendPatch(dst []byte, screen string, ops ...Op) []byte {
	dst = append(dst, `{"type":"patch","screen":`...)
	dst = appendString(dst, screen)
	dst = append(dst, `,"ops":[`...)
	for i, op := range ops {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"op":`...)
		dst = appendString(dst, op.Op)
		for _, kv := range [...]struct{ k, v string }{{"into", op.Into}, {"at", op.At}, {"id", op.ID}} {
			if kv.v != "" {
				dst = append(dst, ',', '"')
				dst = append(dst, kv.k...)
				dst = append(dst, '"', ':')
				dst = appendString(dst, kv.v)
			}
		}
		if len(op.Node) > 0 {
			dst = append(dst, `,"node":`...)
			dst = append(dst, op.Node...)
		}
		if op.Props != nil {
			dst = append(dst, `,"props":`...)
			dst = appendValue(dst, op.Props)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// appendValue writes a JSON-shaped value; anything else goes through
// encoding/json.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case bool:
		if x {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case json.RawMessage:
		return append(b, x...)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e)
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendValue(b, x[k])
		}
		return append(b, '}')
	}
	if f, ok := toFloat(v); ok {
		return append(b, formatFloat(f)...)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}
