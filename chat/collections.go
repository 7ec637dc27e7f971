package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Collection is a content collection as an admin defined it: a name that
// screens bind as content.<name>, a title for the admin page, and the JSON
// Schema (draft 2020-12 unless it says otherwise) every document's data
// must satisfy. Schemas are self-contained: a $ref may point only inside
// the schema itself, never at a file or a URL.
type Collection struct {
	Name   string          `json:"name"`
	Title  string          `json:"title"`
	Schema json.RawMessage `json:"schema"`
	// Form makes the collection a form: clients submit to
	// POST /v1/forms/<name> what its schema accepts (forms.go).
	Form bool `json:"form"`
	// Tags are the collection's content tags (ValidTag, at most MaxTags):
	// every document of a tagged collection carries them, and a form's
	// submitters interacted with them (broadcast segments by tag,
	// Segment.Tag). A document carries its own in its data's "tags".
	Tags      []string  `json:"tags"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ContentDocView is a document in the admin API's wire form.
type ContentDocView struct {
	ID        string          `json:"id"`
	Position  int             `json:"position"`
	Published bool            `json:"published"`
	Data      json.RawMessage `json:"data"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// View returns the document's wire form.
func (d ContentDoc) View() ContentDocView {
	return ContentDocView{ID: d.ID, Position: d.Position, Published: d.Published, Data: d.Data, UpdatedAt: d.UpdatedAt}
}

// DocumentInput is an admin's write of one document. Nil fields keep what
// the document has; a new document without a Position goes last, and
// without Published stays a draft.
type DocumentInput struct {
	Data      json.RawMessage
	Position  *int
	Published *bool
}

// Content collection limits: every read of a collection (a screen fetch)
// is bounded by them.
const (
	MaxCollections         = 100
	MaxDocsPerCollection   = 500
	MaxCollectionSchemaLen = 64 << 10 // bytes of JSON
	MaxContentDocLen       = 64 << 10 // bytes of JSON
	MaxCollectionTitleLen  = 200      // characters
)

// ContentTopic is the broker topic of content changes: its payload is the
// name of a collection that changed. The gateway of every node subscribes
// to it and patches the screens that watch content:<name>.
const ContentTopic = "content"

// Errors of the collection API.
var (
	ErrInvalidCollectionName = &Error{Kind: KindInvalid, Code: "invalid_collection", Message: "A collection name is 1 to 64 of a-z, 0-9 and _, starting with a letter."}
	ErrInvalidDocumentID     = &Error{Kind: KindInvalid, Code: "invalid_document_id", Message: "A document id is 1 to 64 of a-z, 0-9, _ and -."}
	ErrNoCollection          = &Error{Kind: KindNotFound, Code: "no_collection", Message: "No such collection."}
	ErrNoDocument            = &Error{Kind: KindNotFound, Code: "no_document", Message: "No such document."}
	ErrTooManyCollections    = &Error{Kind: KindConflict, Code: "too_many_collections", Message: fmt.Sprintf("A deployment holds at most %d collections.", MaxCollections)}
	ErrCollectionFull        = &Error{Kind: KindConflict, Code: "collection_full", Message: fmt.Sprintf("A collection holds at most %d documents.", MaxDocsPerCollection)}
)

// MaxTags is how many content tags a collection or a document carries at
// most.
const MaxTags = 16

// ErrInvalidTags answers tags that are not a list of valid tags.
var ErrInvalidTags = &Error{Kind: KindInvalid, Code: "invalid_tags", Message: fmt.Sprintf("Tags are at most %d of 1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit.", MaxTags)}

var tagRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// ValidTag reports whether t can be a content tag: 1 to 32 of a-z, 0-9,
// _ and -, starting with a letter or a digit ("sale", "spb-2026").
func ValidTag(t string) bool { return tagRE.MatchString(t) }

// cleanTags checks tags and returns them sorted without repeats (never
// nil).
func cleanTags(tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		if !ValidTag(t) {
			return nil, ErrInvalidTags
		}
		out = append(out, t)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxTags {
		return nil, ErrInvalidTags
	}
	return out, nil
}

// DocumentTags returns the content tags a document's data carries: the
// strings of its top-level "tags" array (anything else there is no tag).
func DocumentTags(data json.RawMessage) []string {
	var d struct {
		Tags []json.RawMessage `json:"tags"`
	}
	if json.Unmarshal(data, &d) != nil {
		return nil
	}
	var out []string
	for _, raw := range d.Tags {
		var t string
		if json.Unmarshal(raw, &t) == nil && ValidTag(t) {
			out = append(out, t)
		}
	}
	return out
}

var (
	collectionNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	documentIDRE     = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
)

// ValidCollectionName reports whether name can name a collection (and so
// a content.<name> source and a /v1/forms/<name> endpoint).
func ValidCollectionName(name string) bool { return collectionNameRE.MatchString(name) }

// CollectionStore keeps the definitions of content collections; the
// documents are in ContentStore.
type CollectionStore interface {
	// PutCollection creates or replaces a collection's definition and
	// reports whether it was created. A new one beyond MaxCollections is
	// ErrTooManyCollections.
	PutCollection(ctx context.Context, c Collection) (created bool, err error)
	// SeedCollection stores c when no collection has its name and reports
	// whether it did: a definition an admin changed is never overwritten.
	SeedCollection(ctx context.Context, c Collection) (bool, error)
	// Collection returns one definition, or ErrNoCollection.
	Collection(ctx context.Context, name string) (Collection, error)
	// Collections returns every definition by name.
	Collections(ctx context.Context) ([]Collection, error)
	// PutContentDoc creates or replaces a document and reports whether it
	// was created. A document with no position goes after the last one
	// (pos < 0); a new one beyond MaxDocsPerCollection is
	// ErrCollectionFull.
	PutContentDoc(ctx context.Context, d ContentDoc) (ContentDoc, bool, error)
	// ContentDoc returns one document, or ErrNoDocument.
	ContentDoc(ctx context.Context, collection, id string) (ContentDoc, error)
	// DeleteContentDoc removes a document, or answers ErrNoDocument.
	DeleteContentDoc(ctx context.Context, collection, id string) error
	// ReorderContent gives the documents the positions of their ids in
	// ids, which must name every document of the collection once
	// (ErrInvalidOrder otherwise).
	ReorderContent(ctx context.Context, collection string, ids []string, now time.Time) error
}

// ErrInvalidOrder answers a reorder that does not name every document of
// the collection exactly once.
var ErrInvalidOrder = &Error{Kind: KindInvalid, Code: "invalid_order", Message: "Name every document of the collection exactly once."}

// schemaCache keeps compiled schemas by collection, keyed by the
// definition's text so that a redefinition on any node is picked up.
type schemaCache struct {
	mu sync.Mutex
	m  map[string]compiledSchema
}

type compiledSchema struct {
	text string
	s    *jsonschema.Schema
}

// schemaOf returns c's compiled schema.
func (s *Service) schemaOf(c Collection) (*jsonschema.Schema, error) {
	s.schemas.mu.Lock()
	defer s.schemas.mu.Unlock()
	if s.schemas.m == nil {
		s.schemas.m = map[string]compiledSchema{}
	}
	if cs, ok := s.schemas.m[c.Name]; ok && cs.text == string(c.Schema) {
		return cs.s, nil
	}
	sch, err := CompileCollectionSchema(c.Schema)
	if err != nil {
		return nil, err
	}
	s.schemas.m[c.Name] = compiledSchema{text: string(c.Schema), s: sch}
	return sch, nil
}

// noLoader refuses every $ref that leaves the schema: a schema an admin
// sends never makes the server read a file or fetch a URL.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s: a collection schema may only refer inside itself", url)
}

// CompileCollectionSchema compiles a collection's JSON Schema with
// santhosh-tekuri/jsonschema: formats are asserted (a "date-time" must be
// one), and references outside the schema are refused. A schema that does
// not compile is 400 invalid_schema.
func CompileCollectionSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	if len(raw) > MaxCollectionSchemaLen {
		return nil, Errorf(KindTooLarge, "schema_too_large", "A collection schema is at most %d bytes.", MaxCollectionSchemaLen)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, Errorf(KindInvalid, "invalid_schema", "The schema is not JSON.")
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, Errorf(KindInvalid, "invalid_schema", "The schema must be a JSON object.")
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.AssertFormat()
	const url = "urn:korobka:collection"
	if err := c.AddResource(url, doc); err != nil {
		return nil, &Error{Kind: KindInvalid, Code: "invalid_schema", Message: "The schema does not compile: " + firstLine(err.Error()), Err: err}
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Code: "invalid_schema", Message: "The schema does not compile: " + firstLine(err.Error()), Err: err}
	}
	return sch, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

var schemaPrinter = message.NewPrinter(language.English)

// ValidateDocument checks data against a compiled collection schema. A
// mismatch is 400 schema_mismatch whose Path points at the failing value
// (the deepest first cause) and whose message is the schema's complaint.
func ValidateDocument(sch *jsonschema.Schema, data json.RawMessage) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return Errorf(KindInvalid, "invalid_json", "The document is not JSON.")
	}
	err = sch.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	leaf := ve
	for len(leaf.Causes) > 0 {
		leaf = leaf.Causes[0]
	}
	loc := leaf.InstanceLocation
	if req, ok := leaf.ErrorKind.(*kind.Required); ok && len(req.Missing) > 0 {
		// Point at the first missing property, not at its object.
		loc = append(slices.Clip(loc), req.Missing[0])
	}
	path := pointer(loc)
	msg := leaf.ErrorKind.LocalizedString(schemaPrinter)
	where := path
	if where == "" {
		where = "the document"
	}
	return &Error{Kind: KindInvalid, Code: "schema_mismatch", Message: where + ": " + msg, Path: path}
}

// pointer writes a JSON Pointer (RFC 6901) of the tokens.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}

// collection reads a definition for a use that needs it to exist.
func (s *Service) collection(ctx context.Context, name string) (Collection, error) {
	if !ValidCollectionName(name) {
		return Collection{}, ErrNoCollection
	}
	return s.store.Collection(ctx, name)
}

// DefineCollection creates or replaces a collection's definition (admins
// only). A new schema must hold for every document the collection already
// has: the first that fails it is reported (409 documents_mismatch, with
// the document's id and the failing path) and nothing changes.
//
// tags are the collection's content tags (Collection.Tags; 400
// invalid_tags unless each is ValidTag and there are at most MaxTags).
func (s *Service) DefineCollection(ctx context.Context, p Principal, name, title string, schema json.RawMessage, form bool, tags []string) (Collection, bool, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return Collection{}, false, err
	}
	if !ValidCollectionName(name) {
		return Collection{}, false, ErrInvalidCollectionName
	}
	tags, err := cleanTags(tags)
	if err != nil {
		return Collection{}, false, err
	}
	if len(schema) == 0 || string(schema) == "null" {
		return Collection{}, false, &Error{Kind: KindInvalid, Code: "invalid_schema", Message: "A collection needs its schema.", Path: "/schema"}
	}
	title, err = CleanText(title, TextRule{MaxChars: MaxCollectionTitleLen, MaxRunes: 4 * MaxCollectionTitleLen, Optional: true})
	if err != nil {
		return Collection{}, false, textError(Errorf(KindInvalid, "invalid_title", "A title is at most %d characters of visible text.", MaxCollectionTitleLen), err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, schema); err != nil {
		return Collection{}, false, Errorf(KindInvalid, "invalid_schema", "The schema is not JSON.")
	}
	sch, err := CompileCollectionSchema(compact.Bytes())
	if err != nil {
		return Collection{}, false, err
	}
	docs, err := s.store.Content(ctx, name, false)
	if err != nil {
		return Collection{}, false, err
	}
	for _, d := range docs {
		if err := ValidateDocument(sch, d.Data); err != nil {
			e := ErrorOf(err)
			return Collection{}, false, &Error{Kind: KindConflict, Code: "documents_mismatch",
				Message: fmt.Sprintf("Document %q does not match the new schema: %s", d.ID, e.Message), Path: e.Path}
		}
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	c := Collection{Name: name, Title: title, Schema: compact.Bytes(), Form: form, Tags: tags, CreatedAt: now, UpdatedAt: now}
	if err := s.audit(ctx, p, "collection.define", "collection", name, map[string]any{"title": title, "form": form, "tags": tags}); err != nil {
		return Collection{}, false, err
	}
	created, err := s.store.PutCollection(ctx, c)
	if err != nil {
		return Collection{}, false, err
	}
	c, err = s.store.Collection(ctx, name)
	return c, created, err
}

// Collections lists the definitions (admins only).
func (s *Service) Collections(ctx context.Context, p Principal) ([]Collection, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return nil, err
	}
	return s.store.Collections(ctx)
}

// CollectionDocuments returns a collection's definition and every
// document, drafts included, by position (admins only).
func (s *Service) CollectionDocuments(ctx context.Context, p Principal, name string) (Collection, []ContentDoc, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return Collection{}, nil, err
	}
	c, err := s.collection(ctx, name)
	if err != nil {
		return Collection{}, nil, err
	}
	docs, err := s.store.Content(ctx, name, false)
	return c, docs, err
}

// PutDocument creates or replaces one document (admins only). Its data is
// cleaned by the text policy (CleanContent) and must satisfy the
// collection's schema: a mismatch is 400 schema_mismatch with the
// failing path, and nothing changes. The data carries the document's id
// as "id" (added when missing, 400 id_mismatch when different), so a
// schema that forbids other properties must allow it. Every change is audited and shown to open screens.
func (s *Service) PutDocument(ctx context.Context, p Principal, name, id string, in DocumentInput) (ContentDoc, bool, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return ContentDoc{}, false, err
	}
	if !documentIDRE.MatchString(id) {
		return ContentDoc{}, false, ErrInvalidDocumentID
	}
	c, err := s.collection(ctx, name)
	if err != nil {
		return ContentDoc{}, false, err
	}
	old, err := s.store.ContentDoc(ctx, name, id)
	exists := err == nil
	if err != nil && !errors.Is(err, ErrNoDocument) {
		return ContentDoc{}, false, err
	}
	d := ContentDoc{Collection: name, ID: id, Position: -1}
	if exists {
		d = old
	}
	if in.Data != nil {
		if len(in.Data) > MaxContentDocLen {
			return ContentDoc{}, false, Errorf(KindTooLarge, "document_too_large", "A document is at most %d bytes of JSON.", MaxContentDocLen)
		}
		data, err := cleanDocument(in.Data, id)
		if err != nil {
			return ContentDoc{}, false, err
		}
		d.Data = data
	} else if !exists {
		return ContentDoc{}, false, Errorf(KindInvalid, "missing_data", "A new document needs its data.")
	}
	sch, err := s.schemaOf(c)
	if err != nil {
		return ContentDoc{}, false, err
	}
	if err := ValidateDocument(sch, d.Data); err != nil {
		return ContentDoc{}, false, err
	}
	if in.Position != nil {
		if *in.Position < 0 || *in.Position > MaxDocsPerCollection {
			return ContentDoc{}, false, Errorf(KindInvalid, "invalid_position", "A position is 0 to %d.", MaxDocsPerCollection)
		}
		d.Position = *in.Position
	}
	if in.Published != nil {
		d.Published = *in.Published
	}
	d.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
	if err := s.audit(ctx, p, "content.put", "content", name+"/"+id, map[string]any{"published": d.Published, "position": d.Position, "created": !exists}); err != nil {
		return ContentDoc{}, false, err
	}
	d, created, err := s.store.PutContentDoc(ctx, d)
	if err != nil {
		return ContentDoc{}, false, err
	}
	s.contentChanged(ctx, name)
	return d, created, nil
}

// cleanDocument applies the text policy to a document's data and checks
// its id field.
func cleanDocument(raw json.RawMessage, id string) (json.RawMessage, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, Errorf(KindInvalid, "invalid_json", "The document is not JSON.")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Kind: KindInvalid, Code: "schema_mismatch", Message: "the document: must be a JSON object"}
	}
	if got, ok := m["id"]; ok && got != id {
		return nil, &Error{Kind: KindInvalid, Code: "id_mismatch", Message: "The data's id must be the document's id.", Path: "/id"}
	}
	// The data carries the document's id, so that screens can name an
	// item and schemas may require it.
	m["id"] = id
	clean, err := CleanContent(v)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Code: "invalid_text", Message: err.Error(), Err: err}
	}
	return json.Marshal(clean)
}

// DeleteDocument removes one document (admins only).
func (s *Service) DeleteDocument(ctx context.Context, p Principal, name, id string) error {
	if err := requireRole(p, RoleAdmin); err != nil {
		return err
	}
	if _, err := s.collection(ctx, name); err != nil {
		return err
	}
	if _, err := s.store.ContentDoc(ctx, name, id); err != nil {
		return err
	}
	if err := s.audit(ctx, p, "content.delete", "content", name+"/"+id, nil); err != nil {
		return err
	}
	if err := s.store.DeleteContentDoc(ctx, name, id); err != nil {
		return err
	}
	s.contentChanged(ctx, name)
	return nil
}

// ReorderDocuments orders a collection's documents as ids lists them
// (admins only): every document exactly once.
func (s *Service) ReorderDocuments(ctx context.Context, p Principal, name string, ids []string) error {
	if err := requireRole(p, RoleAdmin); err != nil {
		return err
	}
	if _, err := s.collection(ctx, name); err != nil {
		return err
	}
	if len(ids) > MaxDocsPerCollection {
		return ErrInvalidOrder
	}
	if err := s.audit(ctx, p, "content.reorder", "collection", name, map[string]any{"ids": ids}); err != nil {
		return err
	}
	if err := s.store.ReorderContent(ctx, name, ids, s.now()); err != nil {
		return err
	}
	s.contentChanged(ctx, name)
	return nil
}

// contentChanged tells every node that a collection changed, so open
// screens bound to it are patched. Screens fetched later see the change
// anyway (their ETag hashes the data): a lost publication costs only the
// live patch.
func (s *Service) contentChanged(ctx context.Context, name string) {
	if s.broker == nil {
		s.emitWebhook(ctx, EventContentChanged, map[string]any{"collection": name})
		return
	}
	if err := s.broker.Publish(context.WithoutCancel(ctx), Publication{Topic: ContentTopic, Payload: []byte(name)}); err != nil {
		s.log.WarnContext(ctx, "content change not published", "collection", name, "err", err)
	}
	s.emitWebhook(ctx, EventContentChanged, map[string]any{"collection": name})
}

// ContentImage is a published picture for content documents: put URL (or
// ThumbURL) in a document's image field.
type ContentImage struct {
	URL      string `json:"url"`
	ThumbURL string `json:"thumb_url"`
}

// ErrNotAnImage answers a content image from an upload that is not the
// caller's image.
var ErrNotAnImage = &Error{Kind: KindInvalid, Code: "invalid_upload", Message: "Publish one of your own image uploads (POST /v1/uploads)."}

// PublishContentImage makes one of the caller's image uploads a public
// content image (admins only): the upload goes through the same checks and
// re-encoding as any (POST /v1/uploads), then a public copy is made whose
// URLs never expire. Audited as content.image.
func (s *Service) PublishContentImage(ctx context.Context, p Principal, uploadID int64) (ContentImage, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return ContentImage{}, err
	}
	pub, ok := s.files.(ImagePublisher)
	if !ok {
		return ContentImage{}, &Error{Kind: KindUnavailable, Code: "unavailable", Message: "Content images are not stored on this server."}
	}
	u, err := s.store.Upload(ctx, uploadID)
	if errors.Is(err, ErrNotFound) || err == nil && (u.OwnerID != p.UserID || u.Kind != UploadImage || u.State == UploadDeleted) {
		return ContentImage{}, ErrNotAnImage
	}
	if err != nil {
		return ContentImage{}, err
	}
	key, err := pub.PublishImage(ctx, u.Key)
	if errors.Is(err, ErrNotFound) {
		return ContentImage{}, ErrNotAnImage
	}
	if err != nil {
		return ContentImage{}, err
	}
	img := ContentImage{URL: "/media/" + key + ".jpg", ThumbURL: "/media/" + key + "_thumb.jpg"}
	if err := s.audit(ctx, p, "content.image", "upload", FormatID(uploadID), map[string]string{"url": img.URL}); err != nil {
		return ContentImage{}, err
	}
	return img, nil
}
