package chattest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/korobka/korobka/schemas"
)

// The contract's documents live at these URLs for the JSON Schema compiler:
// layout.schema.json declares its $id there, so openapi.yaml's relative
// $ref 'layout.schema.json' resolves to it. Nothing is fetched: the loader
// reads schemas.FS only.
const (
	schemaBase  = "https://korobka.dev/schemas/"
	openAPIFile = "openapi.yaml"
	openAPIURL  = schemaBase + openAPIFile
)

// OpenAPI is the loaded contract, schemas/openapi.yaml, with every schema
// compiled; safe for concurrent use. Tests use it to check each HTTP answer
// and WebSocket frame of the real server against what shells were promised.
type OpenAPI struct {
	doc        map[string]any
	paths      []*pathItem
	schemas    map[string]*jsonschema.Schema // components/schemas, by name
	frames     map[string]*jsonschema.Schema // WsServerFrame by type (its discriminator)
	notAllowed *response                     // components/responses/MethodNotAllowed
}

type pathItem struct {
	template string
	segs     []string // "" segments included; "{x}" is a parameter
	literals int      // how many segs are not parameters (more wins)
	wildcard bool     // x-wildcard: the last parameter takes the rest, slashes too
	ops      map[string]*operation
}

type operation struct {
	name      string // "GET /v1/dialogs/{id} (getDialog)"
	request   map[string]*jsonschema.Schema
	responses map[string]*response
}

type response struct {
	content map[string]*jsonschema.Schema // media type -> schema; nil for non-JSON bodies
	headers []string                      // required headers
}

var (
	loadOnce   sync.Once
	loaded     *OpenAPI
	loadErr    error
	errPrinter = message.NewPrinter(language.English)
)

// LoadOpenAPI parses and compiles schemas/openapi.yaml from the embedded
// schemas.FS. It is loaded once per process; the result is shared.
func LoadOpenAPI() (*OpenAPI, error) {
	loadOnce.Do(func() { loaded, loadErr = loadOpenAPI(schemas.FS) })
	return loaded, loadErr
}

// MustLoadOpenAPI is LoadOpenAPI for tests: a contract that does not load
// fails t.
func MustLoadOpenAPI(t testing.TB) *OpenAPI {
	t.Helper()
	o, err := LoadOpenAPI()
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	return o
}

func loadOpenAPI(fsys fs.FS) (*OpenAPI, error) {
	data, err := fs.ReadFile(fsys, openAPIFile)
	if err != nil {
		return nil, err
	}
	var raw any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", openAPIFile, err)
	}
	// Round-trip through JSON so the document holds exactly the values a
	// JSON Schema compiler expects (string keys, json.Number).
	js, err := json.Marshal(jsonShaped(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", openAPIFile, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return nil, err
	}
	root, ok := doc.(map[string]any)
	if !ok || root["openapi"] == nil {
		return nil, fmt.Errorf("%s: not an OpenAPI document", openAPIFile)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.UseLoader(fsSchemaLoader{fsys})
	if err := c.AddResource(openAPIURL, doc); err != nil {
		return nil, err
	}
	o := &OpenAPI{doc: root, schemas: map[string]*jsonschema.Schema{}, frames: map[string]*jsonschema.Schema{}}
	l := &loader{o: o, c: c}

	comps, _ := root["components"].(map[string]any)
	schemasObj, _ := comps["schemas"].(map[string]any)
	for _, name := range sortedKeys(schemasObj) {
		s, err := l.compile("/components/schemas/" + escapeToken(name))
		if err != nil {
			return nil, err
		}
		o.schemas[name] = s
	}
	if o.schemas["WsServerFrame"] == nil {
		return nil, errors.New("openapi.yaml: no components/schemas/WsServerFrame")
	}
	mapping, _ := l.at("/components/schemas/WsServerFrame/discriminator/mapping").(map[string]any)
	for typ, ref := range mapping {
		r, _ := ref.(string)
		s, err := l.compileRef(r)
		if err != nil {
			return nil, fmt.Errorf("WsServerFrame mapping %s: %w", typ, err)
		}
		o.frames[typ] = s
	}
	if o.notAllowed, err = l.response("/components/responses/MethodNotAllowed"); err != nil {
		return nil, err
	}

	paths, _ := root["paths"].(map[string]any)
	for _, tmpl := range sortedKeys(paths) {
		item, err := l.pathItem(tmpl, paths[tmpl])
		if err != nil {
			return nil, err
		}
		o.paths = append(o.paths, item)
	}
	return o, nil
}

// loader compiles the parts of the document that hold schemas.
type loader struct {
	o *OpenAPI
	c *jsonschema.Compiler
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func (l *loader) pathItem(tmpl string, v any) (*pathItem, error) {
	obj, ok := v.(map[string]any)
	if !ok || !strings.HasPrefix(tmpl, "/") {
		return nil, fmt.Errorf("openapi.yaml: bad path %q", tmpl)
	}
	item := &pathItem{template: tmpl, segs: strings.Split(tmpl, "/"), ops: map[string]*operation{}}
	for _, s := range item.segs {
		if !isParam(s) {
			item.literals++
		}
	}
	item.wildcard, _ = obj["x-wildcard"].(bool)
	if item.wildcard && !isParam(item.segs[len(item.segs)-1]) {
		return nil, fmt.Errorf("openapi.yaml: %s: x-wildcard needs a parameter as the last segment", tmpl)
	}
	base := "/paths/" + escapeToken(tmpl)
	for _, m := range methods {
		opObj, ok := obj[m].(map[string]any)
		if !ok {
			continue
		}
		M := strings.ToUpper(m)
		op := &operation{name: M + " " + tmpl, responses: map[string]*response{}}
		if id, ok := opObj["operationId"].(string); ok {
			op.name += " (" + id + ")"
		}
		ptr := base + "/" + m
		if _, ok := opObj["requestBody"]; ok {
			rb, rbPtr, err := l.resolve(ptr + "/requestBody")
			if err != nil {
				return nil, err
			}
			if op.request, err = l.content(rb, rbPtr); err != nil {
				return nil, err
			}
		}
		resps, _ := opObj["responses"].(map[string]any)
		if len(resps) == 0 {
			return nil, fmt.Errorf("openapi.yaml: %s has no responses", op.name)
		}
		for code := range resps {
			r, err := l.response(ptr + "/responses/" + escapeToken(code))
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", op.name, code, err)
			}
			op.responses[code] = r
		}
		item.ops[M] = op
	}
	if len(item.ops) == 0 {
		return nil, fmt.Errorf("openapi.yaml: %s has no operations", tmpl)
	}
	return item, nil
}

// response reads a Response Object (or a $ref to one) at ptr.
func (l *loader) response(ptr string) (*response, error) {
	obj, at, err := l.resolve(ptr)
	if err != nil {
		return nil, err
	}
	r := &response{}
	if r.content, err = l.content(obj, at); err != nil {
		return nil, err
	}
	headers, _ := obj["headers"].(map[string]any)
	for _, name := range sortedKeys(headers) {
		h, _, err := l.resolve(at + "/headers/" + escapeToken(name))
		if err != nil {
			return nil, err
		}
		if req, _ := h["required"].(bool); req {
			r.headers = append(r.headers, name)
		}
	}
	return r, nil
}

// content compiles the JSON schemas of a content map (of a response or a
// request body) at ptr; other media types map to nil.
func (l *loader) content(obj map[string]any, ptr string) (map[string]*jsonschema.Schema, error) {
	cm, _ := obj["content"].(map[string]any)
	out := make(map[string]*jsonschema.Schema, len(cm))
	for mt, v := range cm {
		media, _ := v.(map[string]any)
		var s *jsonschema.Schema
		if isJSON(mt) {
			if _, ok := media["schema"]; !ok {
				return nil, fmt.Errorf("%s: %s has no schema", ptr, mt)
			}
			var err error
			if s, err = l.compile(ptr + "/content/" + escapeToken(mt) + "/schema"); err != nil {
				return nil, err
			}
		}
		out[strings.ToLower(mt)] = s
	}
	return out, nil
}

// resolve returns the object at ptr, following a local $ref (as Response,
// Request Body, Header and Parameter Objects may be), and where it is.
func (l *loader) resolve(ptr string) (map[string]any, string, error) {
	for range 8 {
		obj, ok := l.at(ptr).(map[string]any)
		if !ok {
			return nil, "", fmt.Errorf("openapi.yaml#%s: not an object", ptr)
		}
		ref, ok := obj["$ref"].(string)
		if !ok {
			return obj, ptr, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return nil, "", fmt.Errorf("openapi.yaml#%s: only local $refs here, got %q", ptr, ref)
		}
		ptr = ref[1:]
	}
	return nil, "", fmt.Errorf("openapi.yaml#%s: $ref loop", ptr)
}

// at returns the value at a JSON pointer of the document, or nil.
func (l *loader) at(ptr string) any { return pointerGet(l.o.doc, ptr) }

func (l *loader) compile(ptr string) (*jsonschema.Schema, error) {
	s, err := l.c.Compile(openAPIURL + "#" + urlFragment(ptr))
	if err != nil {
		return nil, fmt.Errorf("compile openapi.yaml#%s: %w", ptr, err)
	}
	return s, nil
}

func (l *loader) compileRef(ref string) (*jsonschema.Schema, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("want a local $ref, got %q", ref)
	}
	return l.compile(ref[1:])
}

// fsSchemaLoader serves the other documents of the schemas folder at their
// schemaBase URLs: no network, no disk.
type fsSchemaLoader struct{ fsys fs.FS }

func (f fsSchemaLoader) Load(u string) (any, error) {
	name, ok := strings.CutPrefix(u, schemaBase)
	if !ok || !fs.ValidPath(name) {
		return nil, fmt.Errorf("schema %s: only the documents of schemas/ may be referenced", u)
	}
	data, err := fs.ReadFile(f.fsys, name)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(data))
}

// ValidateResponse checks one answer against the contract: method and
// request path (a concrete one, "/v1/dialogs/17/messages"), status,
// Content-Type and body. It fails when the path or method is undocumented,
// when the status is not documented for the operation, when the content
// type is not one documented for that status, or when a JSON body does not
// match its schema; the error names the operation, the status and the JSON
// pointer of the first violation. Non-JSON bodies (text, images, HTML) only
// have their content type checked; HEAD answers and a 304 have no body.
// Any method a documented path does not take may answer 405 with the Error
// body, and any undocumented path 404 with it (the router's answer to a
// route that does not exist).
func (o *OpenAPI) ValidateResponse(method, path string, status int, contentType string, body []byte) error {
	op, name, err := o.operation(method, path)
	if err != nil {
		if status == http.StatusNotFound && o.match(path) == nil {
			return o.notAllowed.check(method+" "+path+" (no such route)", method, status, contentType, body)
		}
		return err
	}
	var r *response
	if op == nil {
		if status != http.StatusMethodNotAllowed {
			return fmt.Errorf("openapi: %s %s: the method is not documented for %s (answered %d)", method, path, name, status)
		}
		r, name = o.notAllowed, method+" "+path+" (method not allowed)"
	} else {
		name = op.name
		if r = op.response(status); r == nil {
			return fmt.Errorf("openapi: %s: status %d is not documented (documented: %s)", name, status, strings.Join(op.statuses(), ", "))
		}
	}
	return r.check(name, method, status, contentType, body)
}

// ValidateHTTP is ValidateResponse plus the response headers the contract
// marks required for that status (Retry-After on 429s, WWW-Authenticate on
// 401s, ETag, Location…).
func (o *OpenAPI) ValidateHTTP(method, path string, status int, h http.Header, body []byte) error {
	if err := o.ValidateResponse(method, path, status, h.Get("Content-Type"), body); err != nil {
		return err
	}
	op, _, _ := o.operation(method, path)
	if op == nil {
		return nil
	}
	r := op.response(status)
	for _, name := range r.headers {
		if h.Get(name) == "" {
			return fmt.Errorf("openapi: %s %d: the required header %s is missing", op.name, status, name)
		}
	}
	return nil
}

// ValidateRequest checks a request body against the operation's documented
// request body: for JSON, its schema (strict: the server refuses unknown
// fields); for other media types (multipart), only the content type.
func (o *OpenAPI) ValidateRequest(method, path, contentType string, body []byte) error {
	op, name, err := o.operation(method, path)
	if err != nil {
		return err
	}
	if op == nil {
		return fmt.Errorf("openapi: %s %s: the method is not documented for %s", method, path, name)
	}
	if op.request == nil {
		if len(body) > 0 {
			return fmt.Errorf("openapi: %s takes no request body", op.name)
		}
		return nil
	}
	mt, s, err := pickContent(op.request, contentType)
	if err != nil {
		return fmt.Errorf("openapi: %s request: %w", op.name, err)
	}
	if s == nil {
		return nil
	}
	return validateJSON(s, body, fmt.Sprintf("%s request (%s)", op.name, mt))
}

// ValidateFrame checks one WebSocket frame the server sent against
// WsServerFrame, through its discriminator (the frame's "type"), so the
// error points into the right frame schema.
func (o *OpenAPI) ValidateFrame(frame []byte) error {
	var head struct {
		Type any `json:"type"`
	}
	if err := json.Unmarshal(frame, &head); err != nil {
		return fmt.Errorf("openapi: WebSocket frame %.200s: not a JSON object: %v", frame, err)
	}
	typ, _ := head.Type.(string)
	s := o.frames[typ]
	if s == nil {
		return fmt.Errorf("openapi: WebSocket frame %.200s: type %v is not a documented WsServerFrame type", frame, head.Type)
	}
	return validateJSON(s, frame, fmt.Sprintf("WebSocket %q frame", typ))
}

// ValidateSchema checks data against components/schemas/<name>, e.g. a
// client frame against WsClientFrame.
func (o *OpenAPI) ValidateSchema(name string, data []byte) error {
	s := o.schemas[name]
	if s == nil {
		return fmt.Errorf("openapi: no components/schemas/%s", name)
	}
	return validateJSON(s, data, name)
}

// Paths lists the documented paths with their methods, as "GET /v1/me".
func (o *OpenAPI) Paths() []string {
	var out []string
	for _, p := range o.paths {
		for m := range p.ops {
			out = append(out, m+" "+p.template)
		}
	}
	sort.Strings(out)
	return out
}

// Route returns the documented path template a request path matches
// ("/v1/dialogs/17" is "/v1/dialogs/{id}"), and whether one does.
func (o *OpenAPI) Route(path string) (string, bool) {
	if p := o.match(path); p != nil {
		return p.template, true
	}
	return "", false
}

// Wildcard reports whether a documented path's last parameter takes the
// rest of the path (x-wildcard, as gin's *name).
func (o *OpenAPI) Wildcard(template string) bool {
	for _, p := range o.paths {
		if p.template == template {
			return p.wildcard
		}
	}
	return false
}

// CheckResponse validates resp and its body (read by the caller) against
// the contract, failing t with the violation.
func CheckResponse(t testing.TB, resp *http.Response, body []byte) {
	t.Helper()
	o := MustLoadOpenAPI(t)
	if err := o.ValidateHTTP(resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, resp.Header, body); err != nil {
		t.Error(err)
	}
}

// operation finds the operation of method on path; a nil operation with a
// nil error means the path is documented but not for method (name is then
// the path's template).
func (o *OpenAPI) operation(method, path string) (*operation, string, error) {
	item := o.match(path)
	if item == nil {
		return nil, "", fmt.Errorf("openapi: %s %s: the path is not documented", method, path)
	}
	if op := item.ops[strings.ToUpper(method)]; op != nil {
		return op, op.name, nil
	}
	return nil, item.template, nil
}

// match finds the documented path of a request path: the one with the most
// literal segments, a fixed-length one before a wildcard.
func (o *OpenAPI) match(path string) *pathItem {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	segs := strings.Split(path, "/")
	var best *pathItem
	for _, p := range o.paths {
		if !p.matches(segs) {
			continue
		}
		if best == nil || p.literals > best.literals || p.literals == best.literals && best.wildcard && !p.wildcard {
			best = p
		}
	}
	return best
}

func (p *pathItem) matches(segs []string) bool {
	n := len(p.segs)
	if p.wildcard {
		// The wildcard takes segs[n-1:], joined: possibly empty ("/app/").
		if len(segs) < n {
			return false
		}
		n--
	} else if len(segs) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if isParam(p.segs[i]) {
			if segs[i] == "" {
				return false
			}
		} else if p.segs[i] != segs[i] {
			return false
		}
	}
	return true
}

func (op *operation) response(status int) *response {
	code := strconv.Itoa(status)
	if r := op.responses[code]; r != nil {
		return r
	}
	if r := op.responses[code[:1]+"XX"]; r != nil {
		return r
	}
	return op.responses["default"]
}

func (op *operation) statuses() []string {
	var out []string
	for code := range op.responses {
		out = append(out, code)
	}
	sort.Strings(out)
	return out
}

func (r *response) check(name, method string, status int, contentType string, body []byte) error {
	if len(r.content) == 0 {
		if len(body) > 0 {
			return fmt.Errorf("openapi: %s %d: documented without a body, got %d bytes (%s)", name, status, len(body), contentType)
		}
		return nil
	}
	if method == http.MethodHead && len(body) == 0 && contentType == "" {
		return nil // HEAD answers carry a GET's headers and no body
	}
	mt, s, err := pickContent(r.content, contentType)
	if err != nil {
		return fmt.Errorf("openapi: %s %d: %w", name, status, err)
	}
	if s == nil || method == http.MethodHead {
		return nil
	}
	return validateJSON(s, body, fmt.Sprintf("%s %d (%s)", name, status, mt))
}

// pickContent finds the documented media type of contentType: exact, then
// type/*, then */*. Parameters (charset) are ignored.
func pickContent(content map[string]*jsonschema.Schema, contentType string) (string, *jsonschema.Schema, error) {
	if contentType == "" {
		return "", nil, fmt.Errorf("no Content-Type; documented: %s", strings.Join(sortedKeys(content), ", "))
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", nil, fmt.Errorf("Content-Type %q: %v", contentType, err)
	}
	major, _, _ := strings.Cut(mt, "/")
	for _, k := range []string{mt, major + "/*", "*/*"} {
		if s, ok := content[k]; ok {
			return k, s, nil
		}
	}
	return "", nil, fmt.Errorf("Content-Type %s is not documented; documented: %s", mt, strings.Join(sortedKeys(content), ", "))
}

// validateJSON parses data and validates it, reporting the first
// violation's JSON pointer first and the full report after it.
func validateJSON(s *jsonschema.Schema, data []byte, what string) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("openapi: %s: the body is not JSON: %v (%.200q)", what, err, data)
	}
	err = s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("openapi: %s: %w", what, err)
	}
	leaf := ve
	for len(leaf.Causes) > 0 {
		leaf = leaf.Causes[0]
	}
	return &ViolationError{What: what, Pointer: jsonPointer(leaf.InstanceLocation),
		Message: leaf.ErrorKind.LocalizedString(errPrinter), Err: ve, Body: data}
}

// ViolationError is a body that does not match its schema.
type ViolationError struct {
	What    string // the operation and status, or the frame
	Pointer string // JSON pointer of the first violation in the body ("" is the root)
	Message string // what is wrong there
	Err     *jsonschema.ValidationError
	Body    []byte
}

func (e *ViolationError) Error() string {
	ptr := e.Pointer
	if ptr == "" {
		ptr = "(root)"
	}
	return fmt.Sprintf("openapi: %s: at %s: %s\nbody: %.500s\n%v", e.What, ptr, e.Message, e.Body, e.Err)
}

func (e *ViolationError) Unwrap() error { return e.Err }

func isParam(seg string) bool {
	return len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}'
}

func isJSON(mt string) bool {
	mt = strings.ToLower(mt)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// escapeToken escapes one JSON pointer token (RFC 6901).
func escapeToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unescapeToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

func jsonPointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

// urlFragment percent-encodes a JSON pointer for a URL's fragment ("{id}").
func urlFragment(ptr string) string {
	toks := strings.Split(ptr, "/")
	for i, t := range toks {
		toks[i] = url.PathEscape(t)
	}
	return strings.Join(toks, "/")
}

// pointerGet returns the value at a JSON pointer, or nil.
func pointerGet(doc any, ptr string) any {
	if ptr == "" {
		return doc
	}
	v := doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = unescapeToken(tok)
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// jsonShaped turns a decoded YAML value into one encoding/json can write:
// mappings with non-string keys (a bare 200) get string keys.
func jsonShaped(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonShaped(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonShaped(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonShaped(e)
		}
		return x
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
